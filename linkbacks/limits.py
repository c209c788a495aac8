"""Rate limits for the receiver: token buckets in memory, one per key (a
client address, or a (source, target) pair).

They live in the process, which is why the receiver runs as one process.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``per_seconds`` (token bucket, bursts allowed)."""

    requests: int
    per_seconds: float


class RateLimiter:
    """In-memory token buckets keyed by anything hashable; thread-safe."""

    def __init__(self, limit: RateLimit, clock=time.monotonic, max_keys: int = 100_000):
        self.capacity = float(limit.requests)
        self.rate = limit.requests / limit.per_seconds
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict = {}
        self._lock = threading.Lock()

    def allow(self, key) -> bool:
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_keys:
                self._prune(now)
            return allowed

    def _prune(self, now) -> None:
        full = [k for k, (t, last) in self._buckets.items() if t + (now - last) * self.rate >= self.capacity]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) > self.max_keys:  # a flood of distinct keys: keep the newest half
            keep = sorted(self._buckets.items(), key=lambda kv: kv[1][1])[len(self._buckets) // 2 :]
            self._buckets = dict(keep)
