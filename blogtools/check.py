"""Checking the site before anyone sees it: `invoke check` and the gate of every deploy.

Owns the verdict on a build: the list of problems to fix (bad review fields,
missing posters, unresolved {static} and {filename} links, files that are not
UTF-8, overwritten files, a failed run),
whether the build has anything worth publishing, and the short report a
writer reads in the terminal.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from blogtools.build import BuildResult, build_site
from blogtools.site_settings import ROOT

# Pelican's only sign of a {static} link to a missing file.
MISSING_STATIC = re.compile(r"Cannot get modification stamp for (?P<path>.+?)\s*\n\s*\[Errno 2\]", re.S)
# An intra-site link ({filename}, {static}, {attach}) Pelican could not resolve,
# as written in the source (#anchor included); relative to it unless it starts with /.
UNRESOLVED_LINK = re.compile(r"^Unable to find '(?P<path>.*)', skipping url replacement")
# A source Pelican skipped, named relative to content/.
NOT_PROCESSED = re.compile(r"^Could not process (?P<path>.+)$")
SOURCE_SUFFIXES = (".md", ".markdown", ".mdown", ".rst", ".html", ".htm")


def _sources(content: Path) -> list[tuple[Path, str]]:
    return [(source, source.read_text(encoding="utf-8", errors="replace"))
            for source in sorted(content.rglob("*"))
            if source.suffix in SOURCE_SUFFIXES and source.is_file()]


def explain_missing_static(message: str, root: Path, content: Path) -> str:
    """Pelican's message about a missing {static} file, in the form of a review Problem.

    Pelican does not say which file holds the link, so the sources under
    content/ are searched for the missing path.
    """
    match = MISSING_STATIC.search(message)
    if not match:
        return message
    missing = Path(match["path"])
    try:
        linked = missing.relative_to(content).as_posix()
    except ValueError:
        return message
    shown = f"{content.name}/{linked}"
    sources = [source.relative_to(root).as_posix()
               for source, text in _sources(content) if linked in text]
    where = ", ".join(sources) or "a page"
    return f"{where}: {{static}}/{linked}: expected an existing file ({shown} does not exist)"


def explain_unresolved_link(message: str, root: Path, content: Path) -> str:
    """Pelican's "Unable to find" about an intra-site link, naming the file(s) that hold it.

    Pelican reports each missing path once per build, however many sources
    link to it, so every source with that link is named.
    """
    match = UNRESOLVED_LINK.match(message)
    if not match:
        return message
    linked = match["path"]
    # Written as {filename}path or |filename|path, perhaps followed by #anchor or ?query.
    link = re.compile(r"[{|](?P<what>filename|static|attach)[}|]" + re.escape(linked) + r"(?=[\s)>\"'#?]|$)")
    found = [(source, hit) for source, text in _sources(content) if (hit := link.search(text))]
    if not found:
        return f"a page: {linked}: expected an existing file ({message})"
    where = ", ".join(source.relative_to(root).as_posix() for source, _ in found)
    source, hit = found[0]
    path = unquote(urlsplit(linked).path)
    target = content / path.lstrip("/") if path.startswith("/") else source.parent / path
    target = Path(os.path.normpath(target))
    shown = target.relative_to(root).as_posix() if target.is_relative_to(root) else str(target)
    why = ("exists, but was not built: see its own problem" if target.is_file()
           else "does not exist")
    return f"{where}: {{{hit['what']}}}{linked}: expected an existing file ({shown} {why})"


def explain_unprocessed(message: str, root: Path, content: Path) -> str:
    """Pelican's "Could not process" about a source, saying why when the file is not UTF-8."""
    match = NOT_PROCESSED.match(message)
    if not match:
        return message
    source = content / match["path"]
    try:
        data = source.read_bytes()
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return (f"{source.relative_to(root).as_posix()}: is not UTF-8 text (byte 0x{data[exc.start]:02x} "
                f"on line {line}): expected the file saved as UTF-8")
    except OSError:
        pass
    return message


def explain(message: str, root: Path, content: Path) -> str:
    """One of Pelican's messages, rewritten to name the source file where Pelican does not."""
    for explainer in (explain_missing_static, explain_unresolved_link, explain_unprocessed):
        explained = explainer(message, root, content)
        if explained != message:
            return explained
    return message


@dataclass
class SiteCheck:
    """The verdict on one build."""

    build: BuildResult
    root: Path = ROOT

    @property
    def problems(self) -> list[str]:
        content = Path(self.root).resolve() / "content"
        return [explain(message, Path(self.root).resolve(), content)
                for message in self.build.problems]

    @property
    def reviews(self) -> int:
        return self.build.articles

    @property
    def ok(self) -> bool:
        return self.build.ok

    def emptiness(self) -> str | None:
        """Why the build must not replace a live site, or None when it has content."""
        output = self.build.output_path
        if not (output / "index.html").is_file():
            return f"the build has no index.html ({self.reviews} review pages)"
        if self.reviews == 0:
            return "the build has no review pages"
        return None

    def summary(self) -> str:
        noun = "review" if self.reviews == 1 else "reviews"
        if self.ok:
            return f"{self.reviews} {noun}, no problems"
        count = len(self.problems)
        return f"{self.reviews} {noun}, {count} problem{'s' if count != 1 else ''}"

    def report(self) -> str:
        """The summary, then one line per problem."""
        lines = [self.summary() + (":" if self.problems else "")]
        lines += [f"  - {problem}" for problem in self.problems]
        return "\n".join(lines)


def check_site(root: Path = ROOT, settings_file: str = "pelicanconf.py",
               output_path: Path | None = None, overrides: dict | None = None,
               progress: bool | None = None) -> SiteCheck:
    """Build the site from `root` and judge it.

    Without `output_path` the build goes to a temporary folder that is removed
    afterwards, so checking never disturbs output/ or a running preview. The
    build reuses the caches (posters, content, search) like any other, so
    checking an unchanged site costs what a build with warm caches does.
    """
    root = Path(root).resolve()
    settings = root / settings_file
    if output_path is not None:
        return SiteCheck(build_site(settings, output_path, overrides, root=root, progress=progress), root)
    with tempfile.TemporaryDirectory(prefix="filmreviews-check-") as folder:
        return SiteCheck(build_site(settings, Path(folder) / "site", overrides, root=root, progress=progress),
                         root)
