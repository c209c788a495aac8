"""Checking the site before anyone sees it: `invoke check` and the gate of every deploy.

Owns the verdict on a build: the list of problems to fix (bad review fields,
missing posters, unresolved {static} links, overwritten files, a failed run),
whether the build has anything worth publishing, and the short report a
writer reads in the terminal.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from blogtools.build import BuildResult, build_site
from blogtools.site_settings import ROOT


# Pelican's only sign of a {static} link to a missing file.
MISSING_STATIC = re.compile(r"Cannot get modification stamp for (?P<path>.+?)\s*\n\s*\[Errno 2\]", re.S)


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
    sources = sorted(
        source.relative_to(root).as_posix()
        for source in content.rglob("*")
        if source.suffix in (".md", ".markdown", ".rst", ".html")
        and linked in source.read_text(encoding="utf-8", errors="replace")
    )
    where = ", ".join(sources) or "a page"
    return f"{where}: {{static}}/{linked}: expected an existing file ({shown} does not exist)"


@dataclass
class SiteCheck:
    """The verdict on one build."""

    build: BuildResult
    root: Path = ROOT

    @property
    def problems(self) -> list[str]:
        content = Path(self.root).resolve() / "content"
        return [explain_missing_static(message, Path(self.root).resolve(), content)
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
               output_path: Path | None = None) -> SiteCheck:
    """Build the site from `root` and judge it.

    Without `output_path` the build goes to a temporary folder that is removed
    afterwards, so checking never disturbs output/ or a running preview.
    """
    root = Path(root).resolve()
    settings = root / settings_file
    if output_path is not None:
        return SiteCheck(build_site(settings, output_path, root=root), root)
    with tempfile.TemporaryDirectory(prefix="filmreviews-check-") as folder:
        return SiteCheck(build_site(settings, Path(folder) / "site", root=root), root)
