"""The daily settlement price of a contract and the limit-lock test (pure, integers).

Method (the contract spec's ``daily_settlement_method``):

- ``vwap_day``: volume-weighted average price of the whole day's trades (SHFE);
- ``vwap_last_hour``: the same over the last hour before the close (CFFEX).

The average is rounded half up to a whole tick. When the window holds fewer than
``daily_settlement_min_lots`` lots, the fallbacks apply in order:

1. ``index_moved``: the last settlement moved by the underlying index's change since the last
   end of day (needs both fixings), rounded half up to a tick;
2. ``mid``: the mid of the best bid and offer at the close, rounded half up;
3. ``previous``: the last settlement unchanged.

The result is kept within the day's price limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tokenfutures.domain.values import MICROS_PER_SECOND

LAST_HOUR = 3600 * MICROS_PER_SECOND


@dataclass(frozen=True, slots=True)
class Print:
    ts: int
    price: int
    quantity: int


@dataclass(frozen=True, slots=True)
class SettlementInputs:
    method: str
    min_lots: int
    prints: Sequence[Print]
    close_ts: int
    previous: int
    lower_limit: int
    upper_limit: int
    best_bid: int | None = None
    best_ask: int | None = None
    index_previous: int | None = None
    index_now: int | None = None


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def settlement_price(inputs: SettlementInputs) -> tuple[int, str]:
    """The settlement price in ticks and the name of the method that produced it."""
    prints = inputs.prints
    if inputs.method == "vwap_last_hour":
        start = inputs.close_ts - LAST_HOUR
        prints = [p for p in prints if p.ts >= start]
    elif inputs.method != "vwap_day":
        raise ValueError(f"unknown daily settlement method {inputs.method!r}")
    volume = sum(p.quantity for p in prints)
    if volume >= inputs.min_lots:
        price, method = _half_up(sum(p.price * p.quantity for p in prints), volume), inputs.method
    elif inputs.index_previous and inputs.index_now:
        price = _half_up(inputs.previous * inputs.index_now, inputs.index_previous)
        method = "index_moved"
    elif inputs.best_bid is not None and inputs.best_ask is not None:
        price, method = _half_up(inputs.best_bid + inputs.best_ask, 2), "mid"
    else:
        price, method = inputs.previous, "previous"
    return min(max(price, inputs.lower_limit), inputs.upper_limit), method


def locked_direction(
    best_bid: int | None, best_ask: int | None, lower_limit: int, upper_limit: int
) -> int:
    """+1 if the close is locked limit-up (bids at the upper limit, no offers), -1 if locked
    limit-down (offers at the lower limit, no bids), else 0."""
    if best_bid is not None and best_bid >= upper_limit and best_ask is None:
        return 1
    if best_ask is not None and best_ask <= lower_limit and best_bid is None:
        return -1
    return 0
