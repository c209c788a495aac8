"""The threads that verify queued webmentions.

A webmention is answered at once (202) and verified later. The queue is
the database (``webmention_requests`` rows in state ``queued``), not this
process: a worker thread claims one row at a time (``claim``, with a lease),
hands its token to the webmention protocol, and polls again. So every
instance sharing the database works through every instance's webmentions,
and the rows of an instance that died are taken up by the others once its
lease runs out; nothing acknowledged lives only in a process's memory.

``put()`` wakes a worker of this process at once (a webmention it just
accepted); rows from elsewhere are found by polling every
``poll_interval`` seconds. The threads start with ``start()``, never when
the queue is made, so building a receiver (or importing the WSGI module)
starts no thread.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


def worker_name() -> str:
    """Who holds a claim, for people reading the table: host, process, and a
    random part (a restarted process may get the same pid)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class WorkQueue:
    """``workers`` daemon threads handling the tokens ``claim()`` hands out.

    ``claim(worker)`` returns a token (now held by ``worker``) or None;
    ``handle(token)`` does the work; if it raises, the error is logged and
    ``on_failure(token)`` records it, and the thread goes on with the next.
    ``count_queued(up_to)`` says how many wait; ``release(worker)`` gives
    back what a stopping worker still holds. ``workers=0``: this process
    only accepts webmentions and other instances verify them."""

    def __init__(self, handle: Callable[[str], object], on_failure: Callable[[str], None],
                 claim: Callable[[str], str | None], count_queued: Callable[[int], int],
                 release: Callable[[str], object] = lambda worker: None,
                 workers: int = 2, max_queued: int = 1000, poll_interval: float = 1.0):
        self.handle = handle
        self.on_failure = on_failure
        self.claim = claim
        self.count_queued = count_queued
        self.release = release
        self.workers = max(0, workers)
        self.max_queued = max_queued
        self.poll_interval = poll_interval
        self.name = worker_name()
        self._wake = threading.Semaphore(0)
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

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
        self._wake.release()

    def close(self) -> None:
        """Stop the threads once they have finished what they are doing, and
        give back anything they still hold."""
        self._stopping.set()
        for _ in self._threads:
            self._wake.release()
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

    def _work(self, worker: str) -> None:
        while not self._stopping.is_set():
            try:
                token = self.claim(worker)
            except Exception:
                logger.exception("webmention queue: cannot claim work")
                token = None
            if token is None:
                self._wake.acquire(timeout=self.poll_interval)
                continue
            try:
                self.handle(token)
            except Exception:
                logger.exception("webmention %s: processing failed", token)
                try:
                    self.on_failure(token)
                except Exception:
                    logger.exception("webmention %s: cannot record the failure", token)
