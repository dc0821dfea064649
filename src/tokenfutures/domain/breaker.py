"""Dynamic circuit breaker (CME-style): a band around the rolling high and low of trades.

A trade at ``price`` is allowed while ``high - band <= price <= low + band``, where
``high``/``low`` are the extremes of the trades inside the rolling window; with no trade
in the window the last trade price (or the reference price) stands in for both. The window
is kept as two monotonic queues, so recording a trade and reading the range are
amortised O(1).
"""

from __future__ import annotations

from collections import deque


class CircuitBreaker:
    __slots__ = ("band", "window", "pause", "_highs", "_lows")

    def __init__(self, band: int, window: int, pause: int) -> None:
        self.band = band
        self.window = window
        self.pause = pause
        self._highs: deque[tuple[int, int]] = deque()
        self._lows: deque[tuple[int, int]] = deque()

    def _evict(self, ts: int) -> None:
        oldest = ts - self.window
        highs = self._highs
        while highs and highs[0][0] <= oldest:
            highs.popleft()
        lows = self._lows
        while lows and lows[0][0] <= oldest:
            lows.popleft()

    def record(self, ts: int, price: int) -> None:
        self._evict(ts)
        highs = self._highs
        while highs and highs[-1][1] <= price:
            highs.pop()
        highs.append((ts, price))
        lows = self._lows
        while lows and lows[-1][1] >= price:
            lows.pop()
        lows.append((ts, price))

    def extremes(self, ts: int) -> tuple[int | None, int | None]:
        """The highest and lowest trade prices inside the window ending at ``ts``."""
        self._evict(ts)
        high = self._highs[0][1] if self._highs else None
        low = self._lows[0][1] if self._lows else None
        return high, low

    def allowed(self, ts: int, anchor: int) -> tuple[int, int]:
        """The range of trade prices allowed now; ``anchor`` is used when the window is empty."""
        self._evict(ts)
        high = self._highs[0][1] if self._highs else anchor
        low = self._lows[0][1] if self._lows else anchor
        return high - self.band, low + self.band

    def restart(self, ts: int, price: int) -> None:
        """Forget the window and start again from ``price`` (a new reference or a reopening)."""
        self._highs.clear()
        self._lows.clear()
        self.record(ts, price)

    def set_band(self, band: int) -> None:
        self.band = band

    def state(self) -> tuple[object, ...]:
        return (self.band, self.window, self.pause, tuple(self._highs), tuple(self._lows))
