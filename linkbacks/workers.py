"""The queue of webmentions waiting for verification, and the threads that
work through it.

A webmention is answered at once (202) and verified later: its token goes
into this queue, and a worker thread hands it to the webmention protocol.
The threads start with ``start()``, never when the queue is made, so
building a receiver (or importing the WSGI module) starts no thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable

logger = logging.getLogger(__name__)


class WorkQueue:
    """Tokens handled one at a time by ``workers`` daemon threads.

    ``handle(token)`` does the work; if it raises, the error is logged and
    ``on_failure(token)`` records it, and the thread goes on with the next."""

    def __init__(self, handle: Callable[[str], object], on_failure: Callable[[str], None],
                 workers: int = 2, max_queued: int = 1000):
        self.handle = handle
        self.on_failure = on_failure
        self.workers = max(1, workers)
        self.max_queued = max_queued
        self._queue: queue.Queue = queue.Queue()
        self._threads: list[threading.Thread] = []

    def start(self, left_over: Iterable[str] = ()) -> None:
        """Start the threads, then queue ``left_over`` (tokens a previous run
        never finished)."""
        if self._threads:
            return
        for i in range(self.workers):
            worker = threading.Thread(target=self._work, name=f"webmention-{i}", daemon=True)
            worker.start()
            self._threads.append(worker)
        for token in left_over:
            self._queue.put(token)

    def full(self) -> bool:
        """True when another webmention should wait (503) until the workers catch up."""
        return self._queue.qsize() >= self.max_queued

    def put(self, token: str) -> None:
        self._queue.put(token)

    def close(self) -> None:
        """Stop the threads once they have finished what they are doing."""
        for _ in self._threads:
            self._queue.put(None)
        for worker in self._threads:
            worker.join(timeout=10)
        self._threads = []

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every queued token has been handled; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def _work(self) -> None:
        while True:
            token = self._queue.get()
            try:
                if token is None:
                    return
                self.handle(token)
            except Exception:
                logger.exception("webmention %s: processing failed", token)
                try:
                    self.on_failure(token)
                except Exception:
                    logger.exception("webmention %s: cannot record the failure", token)
            finally:
                self._queue.task_done()
