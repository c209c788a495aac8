"""The queue of webmentions waiting for verification, and the threads that
work through it.

A webmention is answered at once (202) and verified later: its token goes
into this queue, and a worker thread hands it to the webmention protocol.
The threads start with ``start()``, never when the queue is made, so
building a receiver (or importing the WSGI module) starts no thread.

Verifying a slow source takes up to the fetcher's deadline (5 s), so a
plain first-in-first-out queue lets a flood of slow sources hold every
worker while a good webmention waits behind them (16 slow ones and 2
workers: 40 s). Here each item carries its keys -- the source's host and
the client that sent it -- and a free worker takes the OLDEST item whose
keys are under their caps (``per_key``: at most 2 verifications of one
host at once, at most half the workers for one client). A flood from one
client, or of one slow host, never takes more than its share, and
everything else skips ahead to the free workers: a webmention waits at
most for a worker to finish one verification, and not at all while fewer
than the cap are busy with others. The waits are recorded (``waits()``)
for the benchmark.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


@dataclass
class _Item:
    token: str
    keys: tuple  # e.g. (("host", "blog.example"), ("client", "203.0.113.7"))
    queued: float = field(default_factory=time.monotonic)


class WorkQueue:
    """Tokens handled by ``workers`` daemon threads, oldest eligible first.

    ``handle(token)`` does the work; if it raises, the error is logged and
    ``on_failure(token)`` records it, and the thread goes on with the next.
    ``per_key``: how many items sharing a key kind (e.g. ``{"host": 2,
    "client": 4}``) may be worked on at once."""

    def __init__(self, handle: Callable[[str], object], on_failure: Callable[[str], None],
                 workers: int = 8, max_queued: int = 1000, per_key: dict[str, int] | None = None):
        self.handle = handle
        self.on_failure = on_failure
        self.workers = max(1, workers)
        self.max_queued = max_queued
        self.per_key = dict(per_key or {})
        self._items: deque[_Item] = deque()
        self._active: Counter = Counter()
        self._busy = 0
        self._cond = threading.Condition()
        self._closing = False
        self._threads: list[threading.Thread] = []
        self._waits: deque[tuple[str, float]] = deque(maxlen=100_000)

    def start(self, left_over: Iterable[str | tuple[str, tuple]] = ()) -> None:
        """Start the threads, then queue ``left_over`` (tokens a previous run
        never finished, or (token, keys) pairs)."""
        if self._threads:
            return
        with self._cond:
            self._closing = False
        for i in range(self.workers):
            worker = threading.Thread(target=self._work, name=f"webmention-{i}", daemon=True)
            worker.start()
            self._threads.append(worker)
        for entry in left_over:
            token, keys = entry if isinstance(entry, tuple) else (entry, ())
            self.put(token, keys)

    def full(self) -> bool:
        """True when another webmention should wait (503) until the workers catch up."""
        with self._cond:
            return len(self._items) >= self.max_queued

    def put(self, token: str, keys: tuple = ()) -> None:
        """Queue ``token``; ``keys`` are (kind, value) pairs such as ("host", "blog.example")."""
        with self._cond:
            self._items.append(_Item(token, tuple(k for k in keys if k[0] in self.per_key)))
            self._cond.notify()

    def close(self) -> None:
        """Stop the threads once they have finished what they are doing;
        what is still queued stays in the store for the next start."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        for worker in self._threads:
            worker.join(timeout=10)
        self._threads = []

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every queued token has been handled; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._items or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def waits(self) -> list[tuple[str, float]]:
        """(token, seconds it waited between ``put`` and a worker taking it), in the order taken."""
        with self._cond:
            return list(self._waits)

    def _eligible(self, item: _Item) -> bool:
        return all(self._active[key] < self.per_key[key[0]] for key in item.keys)

    def _take(self) -> _Item | None:
        with self._cond:
            while True:
                if self._closing:
                    return None
                for index, item in enumerate(self._items):
                    if self._eligible(item):
                        del self._items[index]
                        self._active.update(item.keys)
                        self._busy += 1
                        self._waits.append((item.token, time.monotonic() - item.queued))
                        return item
                self._cond.wait()

    def _done(self, item: _Item) -> None:
        with self._cond:
            self._active.subtract(item.keys)
            self._active += Counter()  # drop keys that reached zero
            self._busy -= 1
            self._cond.notify_all()  # an item waiting on these keys may go now; wait_idle may return

    def _work(self) -> None:
        while True:
            item = self._take()
            if item is None:
                return
            try:
                self.handle(item.token)
            except Exception:
                logger.exception("webmention %s: processing failed", item.token)
                try:
                    self.on_failure(item.token)
                except Exception:
                    logger.exception("webmention %s: cannot record the failure", item.token)
            finally:
                self._done(item)
