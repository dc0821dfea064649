"""The bots' picture of the market, from the instruments endpoint: months counted from the
front, prices in ticks, fair values inside the safe band, and what an operator changes
(a halt, an end of day's new reference prices) followed."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenfutures.demo.market import ProductInputs, build_market
from tokenfutures.demo.pricing import PriceBand, anchor_room
from tokenfutures.domain.rules import price_limits

INPUTS = {"TKN": ProductInputs(Decimal("3.308331"), 300), "GPU": ProductInputs(None, 200)}


def _instrument(
    symbol: str, product: str, last_day: str, price: str, **more: Any
) -> dict[str, Any]:
    """One contract as ``GET /v1/instruments`` lists it (the fields the bots read)."""
    tick = Decimal("0.001") if product == "TKN" else Decimal("0.005")
    lower, upper = price_limits(int(Decimal(price) / tick), 800)
    return {
        "symbol": symbol, "product": product, "tick_size": str(tick), "max_order_quantity": 500,
        "last_trading_day": last_day, "settlement_price": price,
        "lower_limit": str(lower * tick), "upper_limit": str(upper * tick), "delisted": False,
        "phase": "continuous",
    } | more  # fmt: skip


@given(st.integers(min_value=0, max_value=10**6))
def test_however_the_walks_go_the_fair_value_stays_inside_the_safe_band(seed: int) -> None:
    instruments = [_instrument("TKN2611", "TKN", "2026-11-30", "3.308")]
    instruments += [_instrument("GPU2612", "GPU", "2026-12-14", "2.455")]
    index = {"TKN": ProductInputs(Decimal("3.5"), 300), "GPU": ProductInputs(Decimal("2"), 200)}
    market = build_market(instruments, index)
    rng = random.Random(seed)
    for _ in range(300):
        market.walk(rng, 1, 0.5)
        for view in market.contracts.values():
            assert view.value in view.band
            room = anchor_room(view.reference, view.band)
            assert abs(view.value - view.reference) <= 2 * room


def test_the_bots_market_counts_months_from_the_front_and_skips_delisted_contracts() -> None:
    instruments = [
        _instrument("TKN2612", "TKN", "2026-12-31", "3.292"),
        _instrument("TKN2611", "TKN", "2026-11-30", "3.308"),
        _instrument("TKN2610", "TKN", "2026-10-30", "3.308", delisted=True),
        _instrument("GPU2612", "GPU", "2026-12-14", "2.455"),
    ]
    market = build_market(instruments, INPUTS)
    assert market.months("TKN") == ["TKN2611", "TKN2612"]
    assert market.by_month() == ["GPU2612", "TKN2611", "TKN2612"]
    front = market.contracts["TKN2611"]
    assert (front.month, front.reference, front.fair.anchor) == (0, 3308, 3308)
    assert market.contracts["TKN2612"].fair.anchor == 3292  # 3.308331 x 0.995 = 3.2918
    assert market.contracts["GPU2612"].fair.anchor == 491  # no index: the reference
    assert front.band == PriceBand(3308 - 49, 3308 + 49)  # breaker band 99 ticks


def test_prices_go_out_on_the_tick_grid_and_come_back_as_ticks() -> None:
    market = build_market(
        [_instrument("GPU2612", "GPU", "2026-12-14", "2.455")], {"GPU": ProductInputs(None, 200)}
    )
    view = market.contracts["GPU2612"]
    assert view.text(491) == "2.455"
    assert view.text(1) == "0.005"
    assert view.ticks("2.460") == 492
    with pytest.raises(ValueError, match="whole number of ticks"):
        view.ticks("2.457")


def test_a_halted_contract_is_neither_quoted_nor_traded_until_it_resumes() -> None:
    instruments = [_instrument("TKN2611", "TKN", "2026-11-30", "3.308")]
    market = build_market(instruments, INPUTS)
    view = market.contracts["TKN2611"]
    assert (view.quoting, view.trading) == (True, True)
    market.update([instruments[0] | {"phase": "halted"}])
    assert (view.quoting, view.trading) == (False, False)
    market.update([instruments[0] | {"phase": "pre_open"}])  # a pause: orders wait in the book
    assert (view.quoting, view.trading) == (True, False)
    market.update([instruments[0] | {"delisted": True}])
    assert (view.quoting, view.trading) == (False, False)


def test_a_new_reference_price_moves_the_band_and_the_anchor_keeping_the_walks_inside() -> None:
    instruments = [_instrument("TKN2611", "TKN", "2026-11-30", "3.308")]
    market = build_market(instruments, INPUTS)
    view = market.contracts["TKN2611"]
    view.fair.offset, view.common.offset = view.fair.bound, view.common.bound
    market.update([_instrument("TKN2611", "TKN", "2026-11-30", "3.100")])  # an end of day
    assert view.reference == 3_100
    assert view.band == PriceBand(3_100 - 46, 3_100 + 46)  # breaker band 93 ticks
    assert view.fair.anchor == 3_100 + 15  # the index (3.308) as far as the room goes
    assert view.value in view.band
    assert abs(view.fair.offset) <= view.fair.bound
    assert abs(view.common.offset) <= view.common.bound
