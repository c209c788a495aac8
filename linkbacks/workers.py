"""The threads that verify queued webmentions.

A webmention is answered at once (202) and verified later. The queue is
the database (``webmention_requests`` rows in state ``queued``), not this
process: a worker thread claims one row at a time (``claim``, with a lease),
hands its token to the webmention protocol, and claims again. So every
instance sharing the database works through every instance's webmentions,
and the rows of an instance that died are taken up by the others once its
lease runs out; nothing acknowledged lives only in a process's memory.

Verifying a slow source takes up to the fetcher's deadline (5 s), so a
plain first-in-first-out queue lets a flood of slow sources hold every
worker while a good webmention waits behind them (16 slow ones and 2
workers: 40 s). So each claimed webmention carries its keys -- its source's
site and the client that sent it -- and a free worker claims the OLDEST
queued webmention whose keys are under their caps among what this
instance's workers hold (``per_key``: at most 2 verifications of one site
at once, at most half the workers for one client). A flood from one
client, or of one slow site, never takes more than its share of an
instance, and everything else skips ahead to the free workers: a
webmention waits at most for a worker to finish one verification, and not
at all while fewer than the cap are busy with others.

``put()`` wakes a worker of this process at once (a webmention it just
accepted), a worker that claimed something wakes another (there may be
more), and rows from elsewhere are found by polling every
``poll_interval`` seconds. The threads start with ``start()``, never when
the queue is made, so building a receiver (or importing the WSGI module)
starts no thread. The waits of the webmentions this process accepted are
recorded (``waits()``) for the benchmark.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable

logger = logging.getLogger(__name__)

Keys = tuple  # ((kind, value), ...), e.g. (("host", "blog.example"), ("client", "203.0.113.7"))


def worker_name() -> str:
    """Who holds a claim, for people reading the table: host, process, and a
    random part (a restarted process may get the same pid)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class WorkQueue:
    """``workers`` daemon threads handling the tokens ``claim()`` hands out.

    ``claim(worker, skip)`` returns ``(token, keys)`` -- the token now held
    by ``worker`` -- or None; ``skip`` maps a key kind to the values that
    are at their cap (``per_key``, e.g. ``{"host": 2, "client": 4}``) among
    the tokens this queue's workers hold, and the claim must pass over
    those. ``handle(token)`` does the work; if it raises, the error is
    logged and ``on_failure(token)`` records it, and the thread goes on
    with the next. ``count_queued(up_to)`` says how many wait;
    ``release(worker)`` gives back what a stopping worker still holds.
    ``workers=0``: this process only accepts webmentions and other
    instances verify them."""

    def __init__(self, handle: Callable[[str], object], on_failure: Callable[[str], None],
                 claim: Callable[[str, dict[str, frozenset[str]]], tuple[str, Keys] | None],
                 count_queued: Callable[[int], int],
                 release: Callable[[str], object] = lambda worker: None,
                 workers: int = 8, max_queued: int = 1000, poll_interval: float = 1.0,
                 per_key: dict[str, int] | None = None):
        self.handle = handle
        self.on_failure = on_failure
        self.claim = claim
        self.count_queued = count_queued
        self.release = release
        self.workers = max(0, workers)
        self.max_queued = max_queued
        self.poll_interval = poll_interval
        self.per_key = dict(per_key or {})
        self.name = worker_name()
        self._claiming = threading.Lock()  # one claim at a time: the caps see every claim before
        self._active: Counter = Counter()  # (kind, value) -> tokens held by this queue's workers
        self._wake = threading.Condition()
        self._signals = 0  # wake-ups not taken yet (at most one per worker)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepted: OrderedDict[str, float] = OrderedDict()  # token -> when put() (monotonic)
        self._waits: deque[tuple[str, float]] = deque(maxlen=100_000)

    def start(self) -> None:
        if self._threads:
            return
        self._stopping.clear()
        for i in range(self.workers):
            worker = threading.Thread(target=self._work, args=(f"{self.name}/{i}",), name=f"webmention-{i}",
                                      daemon=True)
            worker.start()
            self._threads.append(worker)

    def full(self) -> bool:
        """True when another webmention should wait (503) until the workers catch up."""
        return self.count_queued(self.max_queued) >= self.max_queued

    def put(self, token: str | None = None) -> None:
        """A webmention was queued (its row is committed): wake a worker."""
        if token is not None:
            with self._wake:
                self._accepted[token] = time.monotonic()
                while len(self._accepted) > 100_000:  # taken by other instances: forget the oldest
                    self._accepted.popitem(last=False)
        self._signal()

    def close(self) -> None:
        """Stop the threads once they have finished what they are doing, and
        give back anything they still hold (it stays queued in the store, for
        another instance or the next start)."""
        self._stopping.set()
        self._signal(len(self._threads))
        for worker in self._threads:
            worker.join(timeout=10)
        for i in range(len(self._threads)):
            try:
                self.release(f"{self.name}/{i}")
            except Exception:
                logger.exception("webmention queue: cannot give back the claims of %s/%s", self.name, i)
        self._threads = []

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no webmention is queued (in any instance); False on timeout."""
        deadline = time.monotonic() + timeout
        while self.count_queued(1):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def waits(self) -> list[tuple[str, float]]:
        """(token, seconds between ``put`` and a worker claiming it), in the
        order claimed, for the webmentions this process accepted."""
        with self._wake:
            return list(self._waits)

    # --- the worker threads ------------------------------------------------------------

    def _signal(self, count: int = 1) -> None:
        with self._wake:
            self._signals = min(max(self.workers, 1), self._signals + count)
            self._wake.notify(count)

    def _sleep(self, timeout: float) -> None:
        """Until a signal (taking it) or ``timeout``."""
        with self._wake:
            if not self._signals:
                self._wake.wait(timeout)
            if self._signals:
                self._signals -= 1

    def _at_cap(self) -> dict[str, frozenset[str]]:
        full: dict[str, set[str]] = {}
        for (kind, value), held in self._active.items():
            if kind in self.per_key and held >= self.per_key[kind]:
                full.setdefault(kind, set()).add(value)
        return {kind: frozenset(values) for kind, values in full.items()}

    def _take(self, worker: str) -> tuple[str, Keys] | None:
        with self._claiming:
            claimed = self.claim(worker, self._at_cap())
            if claimed is None:
                return None
            token, keys = claimed
            keys = tuple(key for key in keys if key[0] in self.per_key)
            self._active.update(keys)
        with self._wake:
            queued = self._accepted.pop(token, None)
            if queued is not None:
                self._waits.append((token, time.monotonic() - queued))
        return token, keys

    def _done(self, keys: Keys) -> None:
        with self._claiming:
            self._active.subtract(keys)
            self._active += Counter()  # drop keys that reached zero

    def _work(self, worker: str) -> None:
        while not self._stopping.is_set():
            try:
                claimed = self._take(worker)
            except Exception:
                logger.exception("webmention queue: cannot claim work")
                claimed = None
            if claimed is None:
                self._sleep(self.poll_interval)
                continue
            self._signal()  # there may be more: another free worker looks too
            token, keys = claimed
            try:
                self.handle(token)
            except Exception:
                logger.exception("webmention %s: processing failed", token)
                try:
                    self.on_failure(token)
                except Exception:
                    logger.exception("webmention %s: cannot record the failure", token)
            finally:
                self._done(keys)
