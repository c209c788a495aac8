"""The livereload worker: one long-lived process that keeps the site built in memory.

Owns the two passes behind `invoke livereload` (blogtools.livereload_server
starts this process and talks to it):

* the fast pass, on the main thread, for each batch of saved files: re-read
  each saved review or page into the warm site (blogtools.warm_site) and
  render its page and the pages open in a browser; copy a saved stylesheet or
  script; after a template edit, render the open pages with the new templates.
  Files go straight into output/, each replaced in one atomic step.
* the settle pass, on a second thread, right after: a whole build into a
  private folder, reading unchanged sources from memory, then `sync_tree`
  makes output/ exactly that build, touching only files whose bytes changed.
  Its generators become the warm site of the next fast pass.

A newer batch stops a settle pass at its next step (a source read, a page or
feed written, a file synced) and it starts over, so output/ never settles on
a state older than the last save. A build that fails leaves output/ as it was.
The process never reloads code: the server starts a new one when a plugin
module or a settings file changes.

Commands arrive as JSON lines on stdin; events leave as JSON lines on stdout
(whatever the build itself prints goes to stderr):

    {"op": "change", "paths": [...], "open": [...]}  saved files; output files shown in browsers
    {"event": "fast", "generation": 2, "written": [...], "notes": [...], "problems": [...], ...}
    {"event": "settled", "generation": 2, "written": [...], "deleted": [...], "problems": [...], ...}

    python -m blogtools.edit_worker --root . --settings pelicanconf.py
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing
import os
import select
import sys
import threading
import time
from pathlib import Path

from pelican import signals

from blogtools.build import build_site
from blogtools.check import SiteCheck
from blogtools.output_sync import SyncResult, sync_tree
from blogtools.site_settings import ROOT, SettingsError, read_site_settings
from blogtools.warm_site import SourceMemo, WarmSite, forget_rendered
from filmreviews import problems as plugin_problems
from reelnotes.files import atomic_write

# Where the settle pass builds, under the site root (beside the poster cache).
BUILD_FOLDER = Path("cache") / "livereload" / "build"
# Pelican must read every source through Readers.read_file, where the worker
# keeps its memo: a content cache at the generator layer would hand back whole
# pickled pages instead, which the fast pass cannot re-read into place.
BUILD_OVERRIDES = {"CONTENT_CACHING_LAYER": "reader"}
# Open pages a fast pass renders at most, besides the edited ones.
MAX_OPEN_PAGES = 8


class Superseded(BaseException):  # noqa: N818 - a signal to stop, not an error
    """A newer change arrived: the settle pass under way is out of date.

    A BaseException, so no `except Exception` in Pelican or the build catches it.
    """


class OutputError(Exception):
    """output/ is somewhere a preview must not empty (the site itself, its content)."""


def check_output(output: Path, root: Path, settings: dict) -> None:
    """Refuse an output folder that holds the site or its sources (the sync deletes
    every file there that the build did not write), or that lies among the
    watched sources (every sync would look like a new save)."""
    output = output.resolve()
    for name, folder in (("the site root", root), ("PATH", Path(settings["PATH"])),
                         ("THEME", Path(settings["THEME"]))):
        folder = folder.resolve()
        if output == folder or folder.is_relative_to(output):
            raise OutputError(f"OUTPUT_PATH: {str(output)!r}: expected a folder of its own, not one "
                              f"that holds {name} ({folder}); the preview replaces everything in it")
        if name != "the site root" and output.is_relative_to(folder):
            raise OutputError(f"OUTPUT_PATH: {str(output)!r}: expected a folder outside {name} ({folder}), "
                              "which the preview watches for saved files")


class EditWorker:
    def __init__(self, root: Path, settings_file: str, emit):
        self.root = Path(root).resolve()
        self.settings_file = settings_file
        self.settings = read_site_settings(settings_file, self.root)
        self.output = Path(self.settings["OUTPUT_PATH"]).resolve()
        check_output(self.output, self.root, self.settings)
        self.build_folder = self.root / BUILD_FOLDER
        self.emit = emit
        self.memo = SourceMemo()
        self.warm: WarmSite | None = None
        # Held while output/ or self.warm change: the fast pass holds it
        # throughout, the settle pass for each file it syncs and for the handover.
        self.lock = threading.Lock()
        self.wake = threading.Condition()
        self.generation = 0  # bumped by every batch of changes, before its fast pass
        self.requested = 0  # the latest generation whose fast pass is done
        self.done = 0  # the latest generation a settle pass finished (or failed) for
        self.started_at: dict[int, float] = {}
        self._building: int | None = None
        self._captured: dict = {}
        self._unreported: set[str] = set()  # files a stopped settle pass changed
        self._settle_thread = threading.Thread(target=self._settle_loop, name="settle", daemon=True)
        signals.generator_init.connect(self._on_generator_init, weak=False)
        signals.all_generators_finalized.connect(self._on_generators, weak=False)
        signals.finalized.connect(self._on_finalized, weak=False)
        for signal in (signals.content_object_init, signals.content_written, signals.feed_written):
            signal.connect(self._checkpoint, weak=False)

    # --- Signals seen during the settle pass's build -------------------------------

    def _in_settle(self) -> bool:
        return threading.current_thread() is self._settle_thread

    def _on_generator_init(self, generator):
        if self._in_settle():
            self.memo.install(generator)

    def _on_generators(self, generators):
        if self._in_settle():
            self._captured["generators"] = generators

    def _on_finalized(self, pelican):
        if self._in_settle():
            writers = [w for _, w in signals.get_writer.send(pelican) if isinstance(w, type)]
            from pelican.writers import Writer

            self._captured["writer_class"] = writers[0] if writers else Writer

    def _checkpoint(self, *args, **kwargs):
        if self._in_settle() and self._building is not None and self.generation != self._building:
            raise Superseded

    @contextlib.contextmanager
    def _current(self, generation: int):
        """Hold the output lock, as long as no newer change has arrived."""
        with self.lock:
            if self.generation != generation:
                raise Superseded
            yield

    # --- Fast pass (main thread) -------------------------------------------------------

    def change(self, paths: list[str], open_pages: list[str]) -> None:
        self.generation += 1
        generation = self.generation
        self.started_at[generation] = time.perf_counter()
        saved = [Path(p) for p in paths]
        with self.lock, plugin_problems.collecting() as reported:
            written, notes = self._fast_pass(saved, open_pages[:MAX_OPEN_PAGES])
        # Only the saved files' problems: a settle pass still running reports into every collection.
        shown = {self._as_in_problems(path.resolve()) for path in saved}
        self.emit({"event": "fast", "generation": generation, "written": written, "notes": notes,
                   "problems": [problem.message for problem in reported if problem.source_path in shown],
                   "seconds": time.perf_counter() - self.started_at[generation]})
        with self.wake:
            self.requested = generation
            self.wake.notify()

    def _fast_pass(self, paths: list[Path], open_pages: list[str]) -> tuple[list[str], list[str]]:
        warm = self.warm
        if warm is None:
            return [], ["the first build is still running"]
        written, notes, wanted = [], [], set()
        templates = False
        theme = Path(warm.settings["THEME"]).resolve()
        template_folders = [theme / "templates"] + [Path(p).resolve() for p in
                                                    warm.settings.get("THEME_TEMPLATES_OVERRIDES", [])]
        for path in paths:
            path = path.resolve()
            shown = self._shown(path)
            theme_file = self._theme_static_name(warm, theme, path)
            try:
                if theme_file is not None:
                    if path.is_file() and self._copy_if_changed(path, self.output / theme_file):
                        written.append(theme_file)
                elif any(path.is_relative_to(folder) for folder in template_folders):
                    templates = True
                elif not path.is_file():
                    notes.append(f"{shown}: removed")
                elif path.suffix.lstrip(".") in warm.readable:
                    refreshed = warm.refresh(path)
                    if isinstance(refreshed, str):
                        notes.append(f"{shown}: {refreshed}")
                    else:
                        wanted.add(refreshed.save_as)
            except Exception as exc:  # a broken file must not stop the loop; the settle pass says more
                notes.append(f"{shown}: {type(exc).__name__}: {exc}")
        if templates:
            warm.forget_templates()
        if wanted or templates:
            wanted.update(name for name in open_pages if name.endswith((".html", ".htm")))
            try:
                written += warm.render(self.output, sorted(wanted))
            except Exception as exc:  # e.g. a template with a syntax error
                notes.append(f"rendering {', '.join(sorted(wanted))}: {type(exc).__name__}: {exc}")
        return written, notes

    def _as_in_problems(self, path: Path) -> str:
        """A source as the plugin names it in a Problem: content/reviews/her-2013.md."""
        content = Path(self.settings["PATH"]).resolve()
        return (Path(content.name) / path.relative_to(content)).as_posix() if path.is_relative_to(content) \
            else self._shown(path)

    def _shown(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix() if path.is_relative_to(self.root) else str(path)

    @staticmethod
    def _theme_static_name(warm: WarmSite, theme: Path, path: Path) -> str | None:
        """theme/static/css/site.css -> theme/css/site.css, as Pelican copies it; else None."""
        for folder in warm.settings.get("THEME_STATIC_PATHS", ["static"]):
            base = (theme / folder).resolve()
            if path.is_relative_to(base):
                return (Path(warm.settings.get("THEME_STATIC_DIR", "theme")) / path.relative_to(base)).as_posix()
        return None

    @staticmethod
    def _copy_if_changed(source: Path, target: Path) -> bool:
        data = source.read_bytes()
        with contextlib.suppress(OSError):
            if target.read_bytes() == data:
                return False
        atomic_write(target, data, durable=False)
        return True

    # --- Settle pass (second thread) ---------------------------------------------------

    def start(self) -> None:
        """The first build: the same settle pass as after every change."""
        self.generation += 1
        self.started_at[self.generation] = time.perf_counter()
        self.requested = self.generation
        self._settle_thread.start()

    def _settle_loop(self) -> None:
        while True:
            with self.wake:
                self.wake.wait_for(lambda: self.requested > self.done and self.requested == self.generation)
                generation = self.requested
            try:
                self._settle(generation)
            except Superseded:
                continue
            except Exception as exc:  # the loop must go on; say what happened in one line
                self.emit({"event": "settled", "generation": generation, "error": f"{type(exc).__name__}: {exc}",
                           "written": [], "deleted": [], "problems": [], "articles": 0,
                           "seconds": time.perf_counter() - self.started_at.get(generation, time.perf_counter())})
            finally:
                self._building = None
            self.done = max(self.done, generation)

    def _settle(self, generation: int) -> None:
        began = time.perf_counter()
        self._building = generation
        self._captured = {}
        _remove_files(self.build_folder)
        result = build_site(self.root / self.settings_file, self.build_folder, root=self.root,
                            overrides=BUILD_OVERRIDES)
        built = time.perf_counter()
        problems = SiteCheck(result, self.root).problems
        # Pelican's other warnings, shown as a build in a process of its own shows them.
        warnings = [message for message in dict.fromkeys(result.warnings) if message not in result.problems
                    and not any(message in problem for problem in problems)]
        event = {"event": "settled", "generation": generation, "articles": result.articles,
                 "problems": problems, "warnings": warnings, "error": result.error, "written": [],
                 "deleted": [], "build_seconds": built - began}
        if result.error is None:
            synced = SyncResult()
            try:
                sync_tree(self.build_folder, self.output, keep=self.settings.get("OUTPUT_RETENTION", ()),
                          guard=lambda: self._current(generation), result=synced)
            finally:
                # What a stopped sync changed is told with the next settle
                # pass, so tabs showing those pages reload then.
                self._unreported.update(synced.changed)
            sync_seconds = time.perf_counter() - built
            generators = self._captured.get("generators")
            if generators is not None:
                warm = WarmSite(generators, self._captured.get("writer_class") or _default_writer(),
                                generators[0].settings)
                warm.producers()  # the index a fast pass looks pages up in, made here rather than then
                warm.sources()
            with self._current(generation):
                if generators is not None:
                    forget_rendered()  # the old objects' HTML, kept by Pelican per object
                    self.warm = warm
                    self.memo.keep_only(warm.sources())
            earlier, self._unreported = self._unreported - set(synced.changed), set()
            event.update(written=synced.written + sorted(earlier), deleted=synced.deleted,
                         sync_seconds=sync_seconds)
        # An error leaves output/ and the warm site as they were: nothing written is lost.
        event["seconds"] = time.perf_counter() - self.started_at.get(generation, began)
        self.emit(event)


def _remove_files(folder: Path) -> None:
    """Empty a build folder of files, keeping its folders (removing and making
    two thousand folders costs seconds on some file systems). Every file goes:
    output/ may hold hard links to them, and Pelican writes into existing files."""
    for directory, _, names in os.walk(folder):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, name))


def _default_writer():
    from pelican.writers import Writer

    return Writer


# --- The process -------------------------------------------------------------------------

def _commands(fd: int):
    """JSON commands from `fd`, one per line, until end of file."""
    pending = b""
    while True:
        select.select([fd], [], [])
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            try:
                command = json.loads(line)
            except ValueError:
                continue  # not from the server: nothing to do
            if isinstance(command, dict):
                yield command


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blogtools.edit_worker", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT)
    parser.add_argument("--settings", default="pelicanconf.py")
    args = parser.parse_args(argv)

    # Events keep the real stdout; anything else printed goes to stderr. Both
    # pipes are kept out of child processes (Pagefind, poster encoders).
    events = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    command_fd = os.dup(0)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - for the life of the process
    emitting = threading.Lock()

    def emit(event: dict) -> None:
        with emitting:
            events.write(json.dumps(event) + "\n")
            events.flush()

    # Warnings reach the user as problems in the events, once, not also as raw log lines.
    logging.getLogger().addHandler(logging.NullHandler())
    # Poster encoders must not be forked from a process with two threads.
    multiprocessing.set_start_method("forkserver", force=True)
    os.chdir(args.root)
    try:
        worker = EditWorker(args.root, args.settings, emit)
    except (SettingsError, FileNotFoundError, OutputError) as exc:
        emit({"event": "failed", "error": str(exc)})
        return 1
    worker.start()
    for command in _commands(command_fd):
        if command.get("op") == "change":
            worker.change(command.get("paths", []), command.get("open", []))
    # The server is gone: so is the preview. Skip interpreter shutdown, which
    # would wait for a build under way.
    events.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
