"""Writing the output folder: files whose bytes did not change are left alone.

Pelican opens every page and feed for writing on every build, so a rebuild
that changes nothing still gives every file a new modification time (and a
moment when it is empty). `KeepUnchangedWriter` renders into memory and
writes a file only when its bytes differ from what is there: an unchanged
site rebuilds without touching a file, rsync and a browser's cache check see
nothing new, and a changed file is replaced in one step
(`reelnotes.files.write_if_changed`).

Pelican's rules about writing one path twice still hold: a second write of a
path is an error unless it is marked as an override, and once a path was
overridden, later plain writes to it are skipped.
"""

from __future__ import annotations

import fnmatch
import io
import logging
import os
import pickle
import shutil
import signal as signal_module
from pathlib import Path

from blinker import signal
from pelican.writers import FileOverwriteFailedError, Writer

from reelnotes.files import files_equal, place, write_if_changed

logger = logging.getLogger(__name__)


class _Pending(io.StringIO):
    """A file being written: its text goes to disk when it is closed, if it changed."""

    def __init__(self, path: str | None, encoding: str):
        super().__init__()
        self.path, self.target_encoding = path, encoding

    def write(self, text) -> int:
        if isinstance(text, _Elsewhere):
            _mark_elsewhere(self.path)
            self.path = None  # the other process writes this page
            return 0
        return super().write(text)

    def close(self) -> None:
        if not self.closed and self.path is not None:
            write_if_changed(self.path, self.getvalue(), encoding=self.target_encoding)
        super().close()


class KeepUnchangedWriter(Writer):
    def write_file(self, name, template, context, *args, **kwargs):
        if _enabled and _split is None and not _split_done and name:
            _start_split(self)
        if _split is not None and template is not None:
            mine = (getattr(template, "name", None) in PAGES_OF_THE_BUILD) != _split.is_list_writer
            if not mine:
                # The other process renders it; this one still does the bookkeeping
                # (paths written, overwrites, the sitemap's signal).
                return super().write_file(name, _Unrendered(template), context, *args, **kwargs)
        return super().write_file(name, template, context, *args, **kwargs)

    def write_feed(self, *args, **kwargs):
        if is_list_writer():
            return None  # the build writes the feeds
        return super().write_feed(*args, **kwargs)

    def _open_w(self, filename, encoding, override=False):
        if filename in self._overridden_files:
            if override:
                raise FileOverwriteFailedError(f'Failed to overwrite "{filename}" a second time '
                                               "(it was overwritten before)")
            logger.info('Skipping "%s", not overwriting', filename)
            return _Pending(None, encoding)  # the overriding version stays
        if filename in self._written_files:
            if not override:
                raise FileOverwriteFailedError(f'Failed to overwrite "{filename}": this build already '
                                               "wrote it (set override=True if intended)")
            logger.info('Overwriting "%s"', filename)
        if override:
            self._overridden_files.add(filename)
        self._written_files.add(filename)
        return _Pending(filename, encoding)


def keep_unchanged_static(generator) -> None:
    """static_generator_finalized: copy static and theme files only when their bytes differ.

    Pelican copies every static file (the source posters) and the theme's
    static folder on every build, or, with STATIC_CHECK_IF_MODIFIED, trusts
    modification times, which miss a file replaced by an older one. Here the
    bytes decide: an unchanged file is left as it is.
    """
    output = Path(generator.output_path)

    def update_required(static) -> bool:
        return not files_equal(Path(generator.path) / static.source_path, output / static.save_as)

    def copy_paths(paths, source, destination, output_path, final_path=None):
        ignored = generator.settings.get("IGNORE_FILES") or ()
        for path in paths:
            origin = Path(source) / path
            target = Path(output_path) / destination / (final_path or path)
            if origin.is_file():
                target = target / origin.name if final_path else target
                _copy_if_changed(origin, target)
                continue
            for file in sorted(origin.rglob("*")):
                relative = file.relative_to(origin)
                if file.is_file() and not any(fnmatch.fnmatch(part, pattern)
                                              for part in relative.parts for pattern in ignored):
                    _copy_if_changed(file, target / relative)

    def link_or_copy(static) -> None:
        source = Path(generator.path) / static.source_path
        if not source.is_file():
            return  # a {static} link to a missing file: Pelican reports it, and copies nothing
        try:
            place(source, output / static.save_as)
        except OSError as exc:
            logger.warning("A problem occurred copying file %s to %s; %s", source, output / static.save_as, exc)

    # Pelican's StaticGenerator asks these for every file it might copy. A
    # static file is hard-linked where possible (no bytes copied), else copied;
    # never a symbolic link, which a deploy could copy as a link.
    generator._file_update_required = update_required
    generator._link_or_copy_staticfile = link_or_copy
    generator._copy_paths = copy_paths


def _copy_if_changed(source: Path, target: Path) -> None:
    if not files_equal(source, target):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


# --- Writing the pages on two cores ---------------------------------------------------------
#
# Once every generator has its context, what a build still does is mostly
# rendering pages, one after another. On a machine with more than one core,
# the writer forks a second process (the "list writer") at the first page:
# both processes go on through Pelican's generators exactly alike, and each
# renders its own share of the pages while only doing the bookkeeping for
# the others. The list writer renders every page that lists reviews (home,
# tags, archives, browse pages...), the build itself the review pages and
# pages, the feeds and everything with a side effect; all signals are muted
# in the list writer. Both stop splitting at the end of the browse pages
# (`join_list_writer`), the last generator that renders templates: there the
# list writer hands back what it logged and reported and exits, and the build
# carries on alone. A list writer never outlives its build (`abandon`).

PAGES_OF_THE_BUILD = {"article.html", "page.html"}
# Sent in the build once the list writer's pages are all on disk: (None, paths=[...]).
written_elsewhere = signal("filmreviews_pages_written_elsewhere")


class _Elsewhere(str):
    """What rendering gives for a page the other process renders: nothing to write."""


class _Unrendered:
    """A template stand-in for a page the other process renders."""

    def __init__(self, template):
        self.template = template

    def render(self, *args, **kwargs) -> str:
        return _Elsewhere("")


class _ListWriter:
    """The state of one build's split: in the build, and (a copy) in the list writer."""

    def __init__(self):
        self.pid: int | None = None  # the list writer's process id (in the build)
        self.is_list_writer = False
        self.pipe: int | None = None  # read end in the build, write end in the list writer
        self.elsewhere: list[str] = []  # pages the list writer renders (in the build)
        self.records: list[tuple[str, int, str]] = []
        self.problems: list = []


_split: _ListWriter | None = None
_split_done = False  # a build splits once: pages after the browse pages (stats...) are the build's own
_enabled = False


def write_in_two_processes(enabled: bool) -> None:
    """Whether the next builds split their pages (blogtools.build turns it on for its own builds)."""
    global _enabled
    _enabled = enabled and (os.cpu_count() or 1) > 1 and hasattr(os, "fork")


def is_list_writer() -> bool:
    return _split is not None and _split.is_list_writer


def _mark_elsewhere(path) -> None:
    if path is not None and _split is not None and not _split.is_list_writer:
        _split.elsewhere.append(str(path))
        _split.elsewhere_set.add(str(path))


def rendered_elsewhere(path) -> bool:
    return _split is not None and not _split.is_list_writer and str(path) in _split.elsewhere_set


def _start_split(writer) -> None:
    global _split, _split_done
    _split_done = True
    split = _ListWriter()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:  # the build
        os.close(write_end)
        split.pid, split.pipe = pid, read_end
        split.elsewhere_set = set()
    else:  # the list writer
        os.close(read_end)
        split.is_list_writer, split.pipe = True, write_end
        _become_list_writer(split)
    _split = split


def _become_list_writer(split: _ListWriter) -> None:
    """Nothing but rendering from here on: every signal muted, every log line kept for the build."""
    from blinker import NamedSignal
    from pelican.plugins import signals as pelican_signals

    from . import problems, progress

    for value in [*vars(pelican_signals).values(), progress.progress, written_elsewhere]:
        if isinstance(value, NamedSignal):
            value.is_muted = True

    class Keep(logging.Handler):
        def emit(self, record):
            if record.name != problems.logger.name:  # problems come back as problems
                split.records.append((record.name, record.levelno, record.getMessage()))

    keep = Keep(logging.WARNING)
    for name in ("", "pelican", "filmreviews"):
        log = logging.getLogger(name)
        for handler in list(log.handlers):
            log.removeHandler(handler)
    logging.getLogger().addHandler(keep)
    problems.divert_to(split.problems)


def join_list_writer() -> None:
    """End of the browse pages: the list writer reports and exits; the build takes it all back."""
    global _split
    split, _split = _split, None
    if split is None:
        return
    if split.is_list_writer:
        _leave(split, None)
    data = bytearray()
    while chunk := os.read(split.pipe, 1 << 16):
        data += chunk
    os.close(split.pipe)
    _, status = os.waitpid(split.pid, 0)
    try:
        report = pickle.loads(bytes(data))
    except Exception:
        report = {"error": f"the process writing the list pages stopped (status {status}) without a report"}
    from . import problems

    for name, level, message in report.get("records", ()):
        logging.getLogger(name).log(level, "%s", message)
    for problem in report.get("problems", ()):
        problems.report(problem)
    if report.get("error"):
        raise RuntimeError(f"Writing the list pages failed: {report['error']}")
    written_elsewhere.send(None, paths=split.elsewhere)


def leave_if_list_writer(error: BaseException | None) -> None:
    """The list writer must never return to the caller of the build: it reports and exits."""
    if _split is not None and _split.is_list_writer:
        _leave(_split, f"{type(error).__name__}: {error}" if error else "it ended before the browse pages")


def _leave(split: _ListWriter, error: str | None) -> None:
    try:
        payload = pickle.dumps({"records": split.records, "problems": split.problems, "error": error})
    except Exception as exc:  # something unpicklable was reported
        payload = pickle.dumps({"records": [], "problems": [], "error": f"its report could not be sent ({exc})"})
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(split.pipe, view):]
    finally:
        os._exit(0)


def abandon() -> None:
    """The build stopped half-way: stop its list writer."""
    global _split
    split, _split = _split, None
    if split is not None and not split.is_list_writer and split.pid:
        try:
            os.kill(split.pid, signal_module.SIGKILL)
            os.waitpid(split.pid, 0)
        except OSError:
            pass
        os.close(split.pipe)


def start(pelican) -> None:
    """initialized: no split from an earlier build."""
    global _split_done
    abandon()
    _split_done = False
