"""Making a served folder equal a finished build, one whole file at a time.

Owns `sync_tree`: the livereload preview builds into a private folder and then
brings output/ up to date from it; and `compare_builds`, which says how a
served folder differs from a clean build, naming the files no build writes
the same way twice. Only files whose bytes differ are replaced,
each in one atomic step (a reader gets the old file or the new one, never
half of one), files the build no longer produced are removed, and so are the
folders they leave empty. New and changed assets land before the pages that
use them, and pages go before the assets they used, so a page served during
the sync never points at a file that is not there yet.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from reelnotes.files import files_equal

PAGE_SUFFIXES = (".html", ".htm")


@dataclass
class SyncResult:
    """What `sync_tree` did, as paths relative to the target folder (posix)."""

    written: list[str] = field(default_factory=list)  # new or changed
    deleted: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return self.written + self.deleted


def _files(folder: Path) -> dict[str, str]:
    """Every file under `folder`: relative posix name -> path (strings: ten
    thousand files are walked on every sync)."""
    found = {}
    root = os.fspath(folder)
    for directory, _, names in os.walk(root):
        prefix = os.path.relpath(directory, root).replace(os.sep, "/")
        prefix = "" if prefix == "." else prefix + "/"
        for name in names:
            found[prefix + name] = os.path.join(directory, name)
    return found


def replace_file(source, target: Path) -> None:
    """Put `source`'s bytes at `target` in one rename: hard-linked when the file
    system allows it (posters stay shared with the cache), copied otherwise."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        # A file where the build now has a folder: it is gone from the build.
        blocking = next(parent for parent in reversed(target.parents) if parent.is_file())
        blocking.unlink()
        target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)  # a folder where the build now writes a file
    staging = target.with_name(f".{target.name}.{os.getpid()}.sync")
    staging.unlink(missing_ok=True)
    try:
        try:
            os.link(source, staging)
        except OSError:
            shutil.copyfile(source, staging)
        os.replace(staging, target)
    except BaseException:
        staging.unlink(missing_ok=True)
        raise


def _is_page(name: str) -> bool:
    return name.endswith(PAGE_SUFFIXES)


def _noop_guard():
    return contextlib.nullcontext()


def sync_tree(source: str | Path, target: str | Path, *, keep: Iterable[str] = (),
              guard: Callable[[], contextlib.AbstractContextManager] = _noop_guard,
              result: SyncResult | None = None) -> SyncResult:
    """Make `target` hold exactly the files of `source`, touching only what differs.

    `keep` names top-level entries of `target` that are never removed (Pelican's
    OUTPUT_RETENTION, e.g. ".git"). Every write and removal runs inside
    `guard()`, which may hold a lock or raise to stop the sync part-way; what
    was done until then is whole files only, and is listed in `result` (pass
    one in to read it after such a stop).
    """
    source, target = Path(source), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    keep = set(keep)
    wanted = _files(source)
    present = _files(target)
    result = SyncResult() if result is None else result

    changed = [name for name, path in wanted.items()
               if name not in present or not files_equal(path, present[name])]
    # Assets first, then pages: a new page never points at an asset still missing.
    for name in sorted(changed, key=lambda n: (_is_page(n), n)):
        with guard():
            replace_file(wanted[name], target / name)
        result.written.append(name)

    gone = [name for name in present
            if name not in wanted and name.split("/", 1)[0] not in keep]
    # Pages first, then what they used.
    for name in sorted(gone, key=lambda n: (not _is_page(n), n)):
        path = target / name
        if path.is_dir() and not path.is_symlink():
            continue  # the build made a folder of that name: replaced already
        with guard():
            path.unlink(missing_ok=True)
        result.deleted.append(name)

    folders = set()
    for name in wanted:
        folder = name.rpartition("/")[0]
        while folder and folder not in folders:
            folders.add(folder)
            folder = folder.rpartition("/")[0]
    for directory, _, _ in sorted(os.walk(target), key=lambda entry: len(entry[0]), reverse=True):
        relative = os.path.relpath(directory, target).replace(os.sep, "/")
        if relative == "." or relative in folders or relative.split("/", 1)[0] in keep:
            continue
        with guard(), contextlib.suppress(OSError):  # not empty after all: leave it
            os.rmdir(directory)
    return result


# --- Comparing a served folder with a clean build -----------------------------------------

def _sitemap_entries(data: bytes) -> list[tuple]:
    namespace = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    tree = ElementTree.fromstring(data)
    return [tuple((url.findtext(f"s:{part}", default="", namespaces=namespace)) for part in
                  ("loc", "lastmod", "changefreq", "priority")) for url in tree.findall("s:url", namespace)]


HASH_IN_NAME = re.compile(r"[0-9a-f]{7,}")


def _kind(name: str) -> str:
    """A file name with its content hash left out: pagefind/filter/en_*.pf_filter."""
    return HASH_IN_NAME.sub("*", name)


def _differing(left: dict, right: dict) -> list[str]:
    return [name for name in sorted(set(left) | set(right))
            if name not in left or name not in right or not files_equal(left[name], right[name])]


def _sitemap_differs_only_in_build_time(ours: bytes, theirs: bytes) -> int | None:
    """How many entries differ only in lastmod, where each sitemap gives all of
    them one same time (the time the build ran); None if anything else differs."""
    a, b = _sitemap_entries(ours), _sitemap_entries(theirs)
    if len(a) != len(b) or any((x[0], x[2], x[3]) != (y[0], y[2], y[3]) for x, y in zip(a, b, strict=True)):
        return None
    changed = [(x[1], y[1]) for x, y in zip(a, b, strict=True) if x[1] != y[1]]
    if len({x for x, _ in changed}) > 1 or len({y for _, y in changed}) > 1:
        return None
    return len(changed)


def compare_builds(served: Path, clean: Path, clean_again: Path | None = None) -> tuple[list[str], list[str]]:
    """(differences, differences explained) between the served output and a clean build.

    With a second clean build, a file that differs between the two clean builds
    as well (same name with its hash left out) is named with that reason: no
    build of these sources writes it the same way twice.
    """
    left, right = _files(served), _files(clean)
    unstable = {_kind(name) for name in _differing(right, _files(clean_again))} if clean_again else set()
    differing, explained, unstable_seen = [], [], {}
    for name in _differing(left, right):
        if name in left and name in right and name == "sitemap.xml":
            entries = _sitemap_differs_only_in_build_time(Path(left[name]).read_bytes(),
                                                          Path(right[name]).read_bytes())
            if entries is not None:
                explained.append(f"sitemap.xml: the lastmod of {entries} undated pages (lists, plain pages) is "
                                 "the time each build ran (pelican-sitemap); every other value is the same")
                continue
        if _kind(name) in unstable:
            unstable_seen[_kind(name)] = unstable_seen.get(_kind(name), 0) + 1
            continue
        where = "different bytes" if name in left and name in right else \
            f"only in {'the served output' if name in left else 'the clean build'}"
        differing.append(f"{name}: {where}")
    for kind, count in sorted(unstable_seen.items()):
        served_count = sum(1 for name in left if _kind(name) == kind)
        clean_count = sum(1 for name in right if _kind(name) == kind)
        if served_count != clean_count:
            differing.append(f"{kind}: {served_count} files served, {clean_count} in the clean build")
        else:
            explained.append(f"{kind}: {count} name(s) or byte(s) differ, as they do between two clean builds "
                             "of the same sources (Pagefind writes these in its own order each run)")
    return differing, explained
