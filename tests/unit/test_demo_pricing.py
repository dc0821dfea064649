"""The demo's prices: the index-implied curve, the safe band, the fair value's walks."""

from __future__ import annotations

import random
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenfutures.adapters.products_file import load_products
from tokenfutures.demo.pricing import (
    CURVES,
    FairValue,
    PriceBand,
    common_walk,
    curve_of,
    fair_value,
    implied_ticks,
    safe_band,
)
from tokenfutures.domain.rules import band_width, price_limits

PRODUCTS = load_products()
TKN_INDEX = Fraction("3.308331")
GPU_INDEX = Fraction("2.4571")


def test_the_front_month_is_the_index_on_the_tick_grid() -> None:
    assert implied_ticks(TKN_INDEX, Fraction("0.001"), 0, CURVES["TKN"]) == 3308
    assert implied_ticks(GPU_INDEX, Fraction("0.005"), 0, CURVES["GPU"]) == 491  # 2.455


def test_later_months_are_cheaper_by_the_curve() -> None:
    # 3.308331 x (1 - 0.005 x 6) = 3.20908107 -> 3.209
    assert implied_ticks(TKN_INDEX, Fraction("0.001"), 6, CURVES["TKN"]) == 3209
    months = [implied_ticks(TKN_INDEX, Fraction("0.001"), m, curve_of("TKN")) for m in range(12)]
    assert months == sorted(months, reverse=True)
    assert len(set(months)) == 12


@pytest.mark.parametrize(
    ("index", "ticks"), [("2.4575", 492), ("2.4525", 490), ("0.0001", 1)]
)  # 491.5 -> 492 and 490.5 -> 490 (half to even); never below one tick
def test_implied_prices_round_half_to_even(index: str, ticks: int) -> None:
    assert implied_ticks(Fraction(index), Fraction("0.005"), 0, curve_of("GPU")) == ticks


def test_a_month_before_the_front_is_refused() -> None:
    with pytest.raises(ValueError, match="month"):
        implied_ticks(TKN_INDEX, Fraction("0.001"), -1, CURVES["TKN"])


@pytest.mark.parametrize("code", sorted(PRODUCTS))
def test_the_whole_curve_is_inside_the_daily_limits_around_the_index(code: str) -> None:
    spec = PRODUCTS[code]
    tick = Fraction(spec.tick_size)
    index = TKN_INDEX if code == "TKN" else GPU_INDEX
    front = implied_ticks(index, tick, 0, curve_of(code))
    lower, upper = price_limits(front, int(spec.price_limit_pct * 100))
    for month in range(spec.listed_months):
        assert lower <= implied_ticks(index, tick, month, curve_of(code)) <= upper


def test_the_safe_band_is_half_the_breaker_band_less_a_tick() -> None:
    # GPU at 2.455 (491 ticks), breaker 2 %: band 9 ticks, so 4 either way
    assert safe_band(491, 462, 520, 200) == PriceBand(487, 495)
    # breaker off: the daily limits
    assert safe_band(491, 462, 520, 0) == PriceBand(462, 520)
    # never past a limit
    assert safe_band(491, 490, 493, 200) == PriceBand(490, 493)


@given(
    st.integers(min_value=1, max_value=200_000),
    st.integers(min_value=1, max_value=9_999),
    st.integers(min_value=1, max_value=2_000),
)
def test_two_prices_of_the_safe_band_never_span_a_breaker_band(
    reference: int, limit_bp: int, breaker_bp: int
) -> None:
    lower, upper = price_limits(reference, limit_bp)
    band = safe_band(reference, lower, upper, breaker_bp)
    assert lower <= band.low <= reference <= band.high <= upper
    assert band.high - band.low < band_width(reference, breaker_bp)


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=50))
def test_the_fair_value_walks_within_its_bound_a_step_at_most(seed: int, bound: int) -> None:
    rng = random.Random(seed)
    fair = FairValue(anchor=1_000, bound=bound, step=max(1, bound // 3))
    previous = fair.value
    for _ in range(200):
        value = fair.walk(rng)
        assert abs(fair.offset) <= bound
        assert abs(value - previous) <= fair.step
        previous = value


def test_the_walk_is_the_seed_s() -> None:
    def path(seed: int) -> list[int]:
        rng, fair = random.Random(seed), FairValue(anchor=500, bound=10, step=3)
        return [fair.walk(rng) for _ in range(50)]

    assert path(7) == path(7)
    assert path(7) != path(8)


def test_the_anchor_follows_the_index_only_a_third_of_the_band_away() -> None:
    band = PriceBand(3259, 3357)  # TKN reference 3308, breaker band 99
    assert fair_value(3308, band, 3310).anchor == 3310
    assert fair_value(3308, band, 3500).anchor == 3308 + 16
    assert fair_value(3308, band, 3000).anchor == 3308 - 16
    assert fair_value(3308, band, None).anchor == 3308
    own = fair_value(3308, band, 3500)
    assert (own.bound, own.step) == (4, 1)  # a quarter of the room: the rest is the product's
    common = common_walk([16, 15, 16], [2, 1, 2])
    assert (common.anchor, common.bound, common.step) == (0, 12, 1)
    assert own.anchor + own.bound + common.bound <= band.high
