"""Showing a build's progress: a live bar on a terminal, a few plain lines otherwise.

The plugin announces what it is doing on the `filmreviews_progress` signal
(filmreviews.progress): a line per phase, and each finished poster encode.
`showing_progress()` listens while a build runs:

* on a terminal, one line per phase and a bar for the poster encodes with
  done/total, the rate and the time left (rich, which comes with Pelican,
  drawn on Pelican's own console so its log lines and the bar do not collide);
* anywhere else (CI, `invoke check > report.txt`), one plain line per phase,
  with the seconds since the build started, and nothing for single encodes.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from filmreviews.progress import progress


class _Lines:
    """Plain lines on stderr, one per phase."""

    def __init__(self, stream):
        self.stream = stream
        self.started = time.perf_counter()

    def phase(self, text: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f} s] {text}", file=self.stream, flush=True)

    def posters(self, done: int, total: int) -> None:
        pass  # one line per phase is enough off a terminal

    def close(self) -> None:
        pass


class _Live:
    """A rich progress bar for poster encodes, with phase lines printed above it."""

    def __init__(self):
        from pelican.log import console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.started = time.perf_counter()
        self.console = console
        self.bar = Progress(TextColumn("Posters"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("left"),
                            TimeRemainingColumn(), console=console, transient=True)
        self.task = None

    def phase(self, text: str) -> None:
        self.console.print(f"[dim]{time.perf_counter() - self.started:6.1f} s[/dim] {text}", highlight=False)

    def posters(self, done: int, total: int) -> None:
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task("posters", total=total, rate="")
        elapsed = self.bar.tasks[0].elapsed or 0
        rate = f"{done / elapsed:.1f}/s" if elapsed > 0 else ""
        self.bar.update(self.task, completed=done, total=total, rate=rate)

    def close(self) -> None:
        if self.task is not None:
            self.bar.stop()


@contextmanager
def showing_progress(enabled: bool | None = None, stream=None):
    """Show the plugin's progress news while the block runs.

    `enabled`: True or None shows it (a live bar when `stream` is a terminal,
    plain lines otherwise), False shows nothing. `stream` defaults to stderr.
    """
    if enabled is False:
        yield
        return
    stream = stream or sys.stderr
    display = _Live() if stream.isatty() else _Lines(stream)

    def on_news(kind, **news):
        try:
            if kind == "phase":
                display.phase(news["text"])
            elif kind == "posters":
                display.posters(news["done"], news["total"])
        except Exception:  # a display problem must never stop a build
            pass

    progress.connect(on_news)
    try:
        yield
    finally:
        progress.disconnect(on_news)
        display.close()
