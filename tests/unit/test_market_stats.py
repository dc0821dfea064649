"""Candles and the trading day's figures kept from the trades (``service/market_stats.py``)."""

from __future__ import annotations

import json
from datetime import date

from tokenfutures.domain.clearing.events import EndOfDayCompleted
from tokenfutures.domain.events import TradeExecuted
from tokenfutures.domain.values import Side
from tokenfutures.service.market_stats import MINUTE, MarketStats

T0 = 1_795_000_000 * 1_000_000 // (3600 * 1_000_000) * 3600 * 1_000_000  # an hour's start


def _trade(ts: int, price: int, quantity: int, symbol: str = "TKN2612") -> TradeExecuted:
    return TradeExecuted(ts, 1, symbol, price, quantity, 1, 2, "A", "B", "a", "b", Side.BUY)


def _stats(*trades: TradeExecuted) -> MarketStats:
    stats = MarketStats()
    stats.apply(list(trades))
    return stats


def test_one_minute_candles_open_high_low_close_volume() -> None:
    stats = _stats(
        _trade(T0 + 1, 100, 2),
        _trade(T0 + 10, 104, 1),
        _trade(T0 + 20, 98, 3),
        _trade(T0 + 30, 101, 1),
        _trade(T0 + MINUTE + 5, 102, 4),
    )
    rows = [c.as_row() for c in stats.candles("TKN2612", 60, 100)]
    assert rows == [[T0, 100, 104, 98, 101, 7], [T0 + MINUTE, 102, 102, 102, 102, 4]]


def test_longer_intervals_merge_the_minutes() -> None:
    stats = _stats(
        _trade(T0 + 1, 100, 2),
        _trade(T0 + 7 * MINUTE, 90, 1),
        _trade(T0 + 59 * MINUTE, 95, 1),
        _trade(T0 + 61 * MINUTE, 97, 5),
    )
    five = [c.as_row() for c in stats.candles("TKN2612", 300, 100)]
    assert [row[0] for row in five] == [T0, T0 + 5 * MINUTE, T0 + 55 * MINUTE, T0 + 60 * MINUTE]
    hourly = [c.as_row() for c in stats.candles("TKN2612", 3600, 100)]
    assert hourly == [[T0, 100, 100, 90, 95, 4], [T0 + 60 * MINUTE, 97, 97, 97, 97, 5]]
    assert [c.as_row() for c in stats.candles("TKN2612", 3600, 1)] == hourly[-1:]
    daily = stats.candles("TKN2612", 86400, 10)
    assert [(c.open, c.high, c.low, c.close, c.volume) for c in daily] == [(100, 100, 90, 97, 9)]


def test_the_end_of_day_starts_a_new_trading_day_but_keeps_the_last_price() -> None:
    stats = _stats(_trade(T0, 100, 2), _trade(T0 + 1, 103, 1), _trade(T0 + 2, 99, 1, "GPU2612"))
    today = stats.today["TKN2612"]
    assert (today.open, today.high, today.low, today.last) == (100, 103, 100, 103)
    assert (today.volume, today.turnover, today.trades) == (3, 303, 2)
    stats.apply([EndOfDayCompleted(T0 + 3, date(2026, 11, 20), 2, 2, 0)])
    assert stats.today == {}
    assert stats.last_price == {"TKN2612": 103, "GPU2612": 99}
    assert len(stats.candles("TKN2612", 60, 10)) == 1


def test_export_and_restore_give_the_same_statistics() -> None:
    stats = _stats(_trade(T0, 100, 2), _trade(T0 + 2 * MINUTE, 101, 1), _trade(T0, 7, 1, "GPU"))
    document = json.loads(json.dumps(stats.export()))
    copy = MarketStats()
    copy.restore(document)
    assert copy.export() == stats.export()
    more = [_trade(T0 + 3 * MINUTE, 105, 2)]
    stats.apply(more)
    copy.apply(more)
    assert copy.export() == stats.export()
