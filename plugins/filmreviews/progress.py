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


# --- The phases of every build, announced from Pelican's signals ----------------------------

def reading(pelican) -> None:
    """initialized"""
    phase("Reading the reviews")


def read(generator) -> None:
    """article_generator_finalized"""
    from . import content_cache

    reused = content_cache.counts()[0]
    count = len(getattr(generator, "articles", []))
    phase(f"Read {count:,} published reviews" + (f" ({reused:,} sources from the content cache)" if reused else ""))


def writing(generators) -> None:
    """all_generators_finalized"""
    phase("Writing the pages")


def reviews_written(generator, writer) -> None:
    """article_writer_finalized"""
    phase(f"Wrote the review pages, lists and feeds ({len(writer._written_files):,} files so far)")
