"""What a long build is doing, for whoever shows it (blogtools.progress on a terminal).

The plugin only announces; it never prints. Two kinds of news, both sent on
the `filmreviews_progress` signal with the sender naming the kind:

* "phase": a step of the build begins, e.g. ("phase", text="Writing 2,031 pages");
* "posters": the encoder finished another job, ("posters", done=12, total=950).
"""

from __future__ import annotations

from blinker import signal

progress = signal("filmreviews_progress")


def phase(text: str) -> None:
    progress.send("phase", text=text)


def posters(done: int, total: int) -> None:
    progress.send("posters", done=done, total=total)
