"""The daily settlement price (docs/clearing.md, "End of day", step 2) and the limit-lock test,
as pure functions of integers: prices in ticks of 0.001, index values in micro-units."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tokenfutures.domain.clearing.settlement_price import (
    Print,
    SettlementInputs,
    locked_direction,
    settlement_price,
)
from tokenfutures.domain.values import MICROS_PER_SECOND

HOUR = 3600 * MICROS_PER_SECOND
CLOSE = 10 * HOUR  # the contract closed at this time
PREVIOUS = 2500
LOWER, UPPER = 2300, 2700


def _inputs(*prints: tuple[int, int], **changes: Any) -> SettlementInputs:
    """Whole-day VWAP, 1 lot minimum, prints of (price, lots) an hour apart before the close;
    no book, no index."""
    values = SettlementInputs(
        method="vwap_day",
        min_lots=1,
        prints=[Print(CLOSE - (len(prints) - i) * HOUR, p, q) for i, (p, q) in enumerate(prints)],
        close_ts=CLOSE,
        previous=PREVIOUS,
        lower_limit=LOWER,
        upper_limit=UPPER,
    )
    return replace(values, **changes)


# --- whole-day VWAP, rounded half up to a tick ------------------------------------------------

VWAP: dict[str, tuple[list[tuple[int, int]], int]] = {
    "one-print": ([(2510, 3)], 2510),
    "weighted-by-lots": ([(2500, 3), (2520, 1)], 2505),  # (7500 + 2520) / 4 = 2505
    "below-half-rounds-down": ([(2500, 3), (2501, 1)], 2500),  # 2500.25
    "half-rounds-up-from-even": ([(2500, 1), (2501, 1)], 2501),  # 2500.5, not to even 2500
    "half-rounds-up-from-odd": ([(2501, 1), (2502, 1)], 2502),  # 2501.5
    "above-half-rounds-up": ([(2500, 1), (2501, 3)], 2501),  # 2500.75
    "thirds": ([(2500, 2), (2650, 1)], 2550),  # 7650 / 3
}  # fmt: skip


@pytest.mark.parametrize(("prints", "price"), VWAP.values(), ids=VWAP)
def test_whole_day_vwap_rounds_half_up_to_a_tick(prints: list[tuple[int, int]], price: int) -> None:
    assert settlement_price(_inputs(*prints)) == (price, "vwap_day")


def test_whole_day_vwap_counts_every_print_of_the_day() -> None:
    early = Print(CLOSE - 8 * HOUR, 2400, 1)
    late = Print(CLOSE - HOUR // 2, 2600, 1)
    assert settlement_price(_inputs(prints=[early, late])) == (2500, "vwap_day")


# --- last-hour VWAP -------------------------------------------------------------------------


def test_last_hour_vwap_uses_only_the_hour_before_the_close() -> None:
    prints = [
        Print(CLOSE - 2 * HOUR, 2400, 10),  # outside the window
        Print(CLOSE - HOUR + 1, 2550, 1),
        Print(CLOSE - 1, 2560, 3),
    ]
    # (2550 + 3 x 2560) / 4 = 2557.5 -> 2558
    assert settlement_price(_inputs(prints=prints, method="vwap_last_hour")) == (
        2558,
        "vwap_last_hour",
    )


def test_last_hour_without_trades_in_the_window_falls_back() -> None:
    prints = [Print(CLOSE - 2 * HOUR, 2400, 10)]
    assert settlement_price(_inputs(prints=prints, method="vwap_last_hour")) == (
        PREVIOUS,
        "previous",
    )


def test_last_hour_is_measured_from_the_contract_close() -> None:
    prints = [Print(CLOSE - 3 * HOUR, 2400, 1), Print(CLOSE - 3 * HOUR // 2, 2600, 1)]
    inputs = _inputs(prints=prints, method="vwap_last_hour")
    assert settlement_price(inputs) == (PREVIOUS, "previous")  # nothing in the last hour
    # closed an hour earlier: the 2.600 print is in its last hour, the 2.400 one is not
    earlier = replace(inputs, close_ts=CLOSE - HOUR)
    assert settlement_price(earlier) == (2600, "vwap_last_hour")


def test_an_unknown_method_is_a_bug() -> None:
    with pytest.raises(ValueError, match="method"):
        settlement_price(_inputs((2500, 1), method="twap"))


# --- minimum lots -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lots", "expected"),
    [(4, (PREVIOUS, "previous")), (5, (2600, "vwap_day")), (6, (2600, "vwap_day"))],
)
def test_the_window_needs_the_minimum_lots(lots: int, expected: tuple[int, str]) -> None:
    assert settlement_price(_inputs((2600, lots), min_lots=5)) == expected


# --- fallbacks, in order --------------------------------------------------------------------

INDEX = {"index_previous": 1_000_000, "index_now": 1_020_000}  # the index rose 2 %
BOOK = {"best_bid": 2480, "best_ask": 2490}

FALLBACKS: dict[str, tuple[dict[str, int | None], tuple[int, str]]] = {
    # 2500 x 1.02 = 2550
    "index-moved": (INDEX, (2550, "index_moved")),
    "index-before-mid": ({**INDEX, **BOOK}, (2550, "index_moved")),
    "no-previous-fixing": ({"index_now": 1_020_000, **BOOK}, (2485, "mid")),
    "no-fixing-today": ({"index_previous": 1_000_000, **BOOK}, (2485, "mid")),
    "mid": (BOOK, (2485, "mid")),
    "no-offer": ({"best_bid": 2480}, (PREVIOUS, "previous")),
    "no-bid": ({"best_ask": 2490}, (PREVIOUS, "previous")),
    "previous": ({}, (PREVIOUS, "previous")),
}  # fmt: skip


@pytest.mark.parametrize(("changes", "expected"), FALLBACKS.values(), ids=FALLBACKS)
def test_fallbacks_apply_in_order_when_the_window_is_too_thin(
    changes: dict[str, int | None], expected: tuple[int, str]
) -> None:
    assert settlement_price(_inputs(**changes)) == expected


def test_trades_come_before_every_fallback() -> None:
    inputs = _inputs((2600, 1), **INDEX, **BOOK)
    assert settlement_price(inputs) == (2600, "vwap_day")


ROUNDING: dict[str, tuple[dict[str, int], int]] = {
    # 2500 x 1,000,200 / 1,000,000 = 2500.5 -> 2501
    "index-half-up": ({"index_previous": 1_000_000, "index_now": 1_000_200}, 2501),
    # 2500 x 999,900 / 1,000,000 = 2499.75 -> 2500
    "index-above-half": ({"index_previous": 1_000_000, "index_now": 999_900}, 2500),
    # 2500 x 1,000,100 / 1,000,000 = 2500.25 -> 2500
    "index-below-half": ({"index_previous": 1_000_000, "index_now": 1_000_100}, 2500),
    # (2480 + 2491) / 2 = 2485.5 -> 2486
    "mid-half-up": ({"best_bid": 2480, "best_ask": 2491}, 2486),
    # (2482 + 2491) / 2 = 2486.5 -> 2487 (half to even would give 2486)
    "mid-half-up-from-even": ({"best_bid": 2482, "best_ask": 2491}, 2487),
}  # fmt: skip


@pytest.mark.parametrize(("changes", "price"), ROUNDING.values(), ids=ROUNDING)
def test_fallback_prices_round_half_up_to_a_tick(changes: dict[str, int], price: int) -> None:
    assert settlement_price(_inputs(**changes))[0] == price


# --- kept within the day's limits -------------------------------------------------------------

CLAMPED: dict[str, tuple[SettlementInputs, tuple[int, str]]] = {
    "vwap-above": (_inputs((2750, 1)), (UPPER, "vwap_day")),
    "vwap-below": (_inputs((2250, 1)), (LOWER, "vwap_day")),
    # 2500 x 1.2 = 3000
    "index-above": (_inputs(index_previous=1_000_000, index_now=1_200_000), (UPPER, "index_moved")),
    # 2500 x 0.8 = 2000
    "index-below": (_inputs(index_previous=1_000_000, index_now=800_000), (LOWER, "index_moved")),
    "mid-above": (_inputs(best_bid=2750, best_ask=2800), (UPPER, "mid")),
    "previous-below": (_inputs(previous=2000), (LOWER, "previous")),
    "at-the-limit": (_inputs((UPPER, 1)), (UPPER, "vwap_day")),
}  # fmt: skip


@pytest.mark.parametrize(("inputs", "expected"), CLAMPED.values(), ids=CLAMPED)
def test_the_price_is_kept_within_the_limits(
    inputs: SettlementInputs, expected: tuple[int, str]
) -> None:
    assert settlement_price(inputs) == expected


# --- limit-locked closes ---------------------------------------------------------------------

LOCKS: dict[str, tuple[int | None, int | None, int]] = {
    "bid-at-upper-no-offer": (UPPER, None, 1),
    "offer-at-lower-no-bid": (None, LOWER, -1),
    "bid-below-upper-no-offer": (UPPER - 1, None, 0),
    "offer-above-lower-no-bid": (None, LOWER + 1, 0),
    "bid-at-upper-with-an-offer": (UPPER, UPPER + 1, 0),
    "offer-at-lower-with-a-bid": (LOWER - 1, LOWER, 0),
    "empty-book": (None, None, 0),
    "two-sided-book": (2490, 2510, 0),
}  # fmt: skip


@pytest.mark.parametrize(("bid", "ask", "direction"), LOCKS.values(), ids=LOCKS)
def test_locked_direction(bid: int | None, ask: int | None, direction: int) -> None:
    assert locked_direction(bid, ask, LOWER, UPPER) == direction
