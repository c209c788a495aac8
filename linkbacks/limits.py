"""Rate limits for the receiver: token buckets, one per key (a client
address, or a (source, target) pair).

``RateLimiter`` keeps them in the process's memory: right for one receiver
process on an SQLite file. ``SharedRateLimiter`` keeps them in the database
(``Store.rate_limit``), so receiver instances sharing a PostgreSQL database
share each limit: a client spreading its requests over the instances gets
no more than from one.
"""

from __future__ import annotations

import json
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


class SharedRateLimiter:
    """The same token buckets in the store's ``rate_limits`` table, under the
    limit's ``name``; thread- and instance-safe. ``clock`` is wall time
    (instances on several hosts share it through NTP)."""

    PRUNE_EVERY = 60.0  # seconds between clean-ups of full buckets, per limiter

    def __init__(self, store, name: str, limit: RateLimit, clock=time.time):
        self.store = store
        self.name = name
        self.limit = limit
        self.clock = clock
        self._next_prune = clock() + self.PRUNE_EVERY

    def allow(self, key) -> bool:
        now = self.clock()
        text = key if isinstance(key, str) else json.dumps(key)
        allowed = self.store.rate_limit(self.name, text, self.limit.requests, self.limit.per_seconds, now)
        if now >= self._next_prune:
            self._next_prune = now + self.PRUNE_EVERY
            self.store.forget_rate_limits(now)
        return allowed
