"""Market statistics kept from the trades: candles and each contract's trading-day figures.

``MarketStats.apply(events)`` reads the sequenced events (live and in replay alike):
trades add to the one-minute and one-day candles (UTC buckets) and to the contract's figures
of the trading day (last price, open, high, low, volume in lots, turnover in ticks x lots);
the end of day starts a new trading day. Longer minute intervals (5, 15, 60 minutes) are
built from the one-minute candles on request. Prices are ticks; the API formats them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from tokenfutures.domain.clearing.events import EndOfDayCompleted
from tokenfutures.domain.events import TradeExecuted

MINUTE = 60_000_000  # microseconds
DAY = 86_400 * 1_000_000
MINUTES_KEPT = 7 * 24 * 60  # a week of one-minute candles per contract
DAYS_KEPT = 3 * 366
INTERVALS = (60, 300, 900, 3600, 86400)  # seconds, as the API offers them


@dataclass(slots=True)
class Candle:
    start: int  # microseconds since the epoch, UTC, a multiple of the interval
    open: int
    high: int
    low: int
    close: int
    volume: int = 0

    def add(self, price: int, quantity: int) -> None:
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        self.volume += quantity

    def as_row(self) -> list[int]:
        return [self.start, self.open, self.high, self.low, self.close, self.volume]


@dataclass(slots=True)
class DayFigures:
    """One contract's trading day so far."""

    last: int | None = None
    open: int | None = None
    high: int | None = None
    low: int | None = None
    volume: int = 0
    turnover: int = 0  # ticks x lots
    trades: int = 0

    def add(self, price: int, quantity: int) -> None:
        if self.open is None:
            self.open = price
        if self.high is None or price > self.high:
            self.high = price
        if self.low is None or price < self.low:
            self.low = price
        self.last = price
        self.volume += quantity
        self.turnover += price * quantity
        self.trades += 1


class MarketStats:
    def __init__(self) -> None:
        self.minutes: dict[str, deque[Candle]] = {}
        self.days: dict[str, deque[Candle]] = {}
        self.today: dict[str, DayFigures] = {}
        self.last_price: dict[str, int] = {}  # survives the end of day

    def apply(self, events: list[Any]) -> None:
        for event in events:
            kind = type(event)
            if kind is TradeExecuted:
                self._trade(event)
            elif kind is EndOfDayCompleted:
                self.today = {}

    def _trade(self, trade: TradeExecuted) -> None:
        symbol, price, quantity = trade.symbol, trade.price, trade.quantity
        _bucket(self.minutes, symbol, trade.ts, MINUTE, MINUTES_KEPT, price, quantity)
        _bucket(self.days, symbol, trade.ts, DAY, DAYS_KEPT, price, quantity)
        figures = self.today.get(symbol)
        if figures is None:
            figures = self.today[symbol] = DayFigures()
        figures.add(price, quantity)
        self.last_price[symbol] = price

    def candles(self, symbol: str, interval: int, limit: int) -> list[Candle]:
        """The last ``limit`` candles of ``interval`` seconds, oldest first (no empty ones)."""
        if interval == 86400:
            return list(self.days.get(symbol, ()))[-limit:]
        step = interval * 1_000_000
        merged: list[Candle] = []
        for minute in self.minutes.get(symbol, ()):
            start = minute.start - minute.start % step
            if merged and merged[-1].start == start:
                last = merged[-1]
                last.high, last.low = max(last.high, minute.high), min(last.low, minute.low)
                last.close = minute.close
                last.volume += minute.volume
            else:
                merged.append(Candle(start, minute.open, minute.high, minute.low, minute.close,
                                     minute.volume))  # fmt: skip
        return merged[-limit:]

    # --- snapshots -------------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        return {
            "minutes": {s: [c.as_row() for c in q] for s, q in self.minutes.items()},
            "days": {s: [c.as_row() for c in q] for s, q in self.days.items()},
            "today": {
                s: [f.last, f.open, f.high, f.low, f.volume, f.turnover, f.trades]
                for s, f in self.today.items()
            },
            "last_price": dict(self.last_price),
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.minutes = {
            s: deque((Candle(*row) for row in rows), maxlen=MINUTES_KEPT)
            for s, rows in data["minutes"].items()
        }
        self.days = {
            s: deque((Candle(*row) for row in rows), maxlen=DAYS_KEPT)
            for s, rows in data["days"].items()
        }
        self.today = {s: DayFigures(*row) for s, row in data["today"].items()}
        self.last_price = dict(data["last_price"])


def _bucket(
    table: dict[str, deque[Candle]],
    symbol: str,
    ts: int,
    step: int,
    kept: int,
    price: int,
    quantity: int,
) -> None:
    series = table.get(symbol)
    if series is None:
        series = table[symbol] = deque(maxlen=kept)
    start = ts - ts % step
    if series and series[-1].start == start:
        series[-1].add(price, quantity)
    else:
        series.append(Candle(start, price, price, price, price, quantity))
