"""Rate limits as token buckets, per key, with separate budgets for orders and queries.

Rules:

- A bucket holds at most ``burst`` tokens and starts full; it refills continuously at
  ``rate_per_s`` tokens a second. A request costing ``cost`` tokens is allowed if that many
  are there (they are taken); otherwise nothing is taken and the answer is the seconds until
  enough will be (the ``Retry-After`` of a 429; HTTP wants whole seconds: round up).
- Time is passed in (``now_s``, monotonic seconds); nothing here reads a clock. A clock that
  goes backwards refills nothing.
- :class:`RateLimiter` keeps two budgets per key: ``orders`` (50/s, burst 100) and
  ``queries`` (20/s, burst 40) by default. The key is any string: an API key id, or an
  ``ip:`` prefixed address for unauthenticated traffic. At most ``max_keys`` keys (10,000)
  are tracked; beyond that the least recently used is forgotten, and comes back with full
  buckets, so the bound must stay above the number of keys active within a refill period.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping

DEFAULT_BUDGETS: Mapping[str, tuple[float, int]] = {
    "orders": (50.0, 100),
    "queries": (20.0, 40),
}
MAX_KEYS = 10_000
_EPSILON = 1e-9  # float refill slack: 0.02 s at 50/s is one token, not 0.9999999


class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate_per_s``; starts full."""

    __slots__ = ("rate_per_s", "burst", "_tokens", "_last_s")

    def __init__(self, rate_per_s: float, burst: int) -> None:
        if not (rate_per_s > 0 and math.isfinite(rate_per_s)):
            raise ValueError(f"rate_per_s: must be a positive number, got {rate_per_s!r}")
        if burst < 1:
            raise ValueError(f"burst: must be at least 1, got {burst!r}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._last_s: float | None = None

    def available(self, now_s: float) -> float:
        """The tokens there at ``now_s`` (nothing taken, nothing changed)."""
        if self._last_s is None or now_s <= self._last_s:
            return self._tokens
        return min(float(self.burst), self._tokens + (now_s - self._last_s) * self.rate_per_s)

    def take(self, now_s: float, cost: float = 1) -> float:
        """0.0 and ``cost`` tokens taken if they are there; else the seconds to wait."""
        if not 0 <= cost <= self.burst:
            raise ValueError(f"cost: must be between 0 and the burst {self.burst}, got {cost!r}")
        self._tokens = self.available(now_s)
        if self._last_s is None or now_s > self._last_s:
            self._last_s = now_s
        if self._tokens + _EPSILON >= cost:
            self._tokens = max(0.0, self._tokens - cost)
            return 0.0
        return (cost - self._tokens) / self.rate_per_s


class RateLimiter:
    """Token buckets per key and budget, for at most ``max_keys`` keys (least recently used
    forgotten first). Safe to share between threads."""

    def __init__(
        self,
        budgets: Mapping[str, tuple[float, int]] = DEFAULT_BUDGETS,
        max_keys: int = MAX_KEYS,
    ) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys: must be at least 1, got {max_keys!r}")
        for name, (rate, burst) in budgets.items():
            TokenBucket(rate, burst)  # checks the numbers, naming the rule
            if not name:
                raise ValueError("budgets: a budget name must be non-empty")
        self.budgets = dict(budgets)
        self.max_keys = max_keys
        self._keys: OrderedDict[str, dict[str, TokenBucket]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, key: str, budget: str, now_s: float, cost: float = 1) -> float:
        """0.0 if ``key`` may spend ``cost`` from ``budget`` now (it is spent); else the
        seconds to wait before retrying."""
        self._budget(budget)
        with self._lock:
            buckets = self._keys.get(key)
            if buckets is None:
                buckets = self._keys[key] = {}
                while len(self._keys) > self.max_keys:
                    self._keys.popitem(last=False)
            else:
                self._keys.move_to_end(key)
            bucket = buckets.get(budget)
            if bucket is None:
                bucket = buckets[budget] = TokenBucket(*self.budgets[budget])
            return bucket.take(now_s, cost)

    def remaining(self, key: str, budget: str, now_s: float) -> int:
        """Whole tokens left in ``key``'s ``budget`` at ``now_s`` (for a header); a key not
        tracked has the full burst. Does not count as a use of the key."""
        rate_burst = self._budget(budget)
        with self._lock:
            bucket = self._keys.get(key, {}).get(budget)
            if bucket is None:
                return rate_burst[1]
            return math.floor(bucket.available(now_s) + _EPSILON)

    def limit(self, budget: str) -> int:
        """The burst of ``budget`` (for a ``limit`` header)."""
        return self._budget(budget)[1]

    def __len__(self) -> int:
        return len(self._keys)

    def _budget(self, budget: str) -> tuple[float, int]:
        found = self.budgets.get(budget)
        if found is None:
            raise ValueError(f"budget: {budget!r} is not one of {', '.join(self.budgets)}")
        return found
