"""The demo's liquidity takers: the hedger and the GPU operator trade their strips up to their
targets and no further, the speculator trades its view within its limit, the order budget."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenfutures.demo.pricing import PriceBand
from tokenfutures.demo.taking import (
    Budget,
    SpeculatorParams,
    StripParams,
    Top,
    pick_front_weighted,
    speculate,
    strip_month,
    strip_remaining,
    strip_take,
)

BAND = PriceBand(3_259, 3_357)
HEDGER = StripParams("buy", {"TKN2612": 30, "TKN2701": 30, "TKN2702": 30}, 4, 8)
OPERATOR = StripParams("sell", {"GPU2701": 40, "GPU2702": 40}, 5, 2)


def run_strip(params: StripParams, seed: int, fair: int, top: Top) -> dict[str, int]:
    """The strip trader's clips filled in full, until it sends nothing more (bounded)."""
    rng, positions = random.Random(seed), dict.fromkeys(params.targets, 0)
    for _ in range(1_000):
        symbol = strip_month(params, positions)
        if symbol is None:
            break
        take = strip_take(params, symbol, positions[symbol], top, fair, BAND, 500, rng)
        assert take is not None
        assert take.side == params.side
        assert 1 <= take.quantity <= params.max_clip
        positions[symbol] += take.quantity if take.side == "buy" else -take.quantity
        held = positions[symbol] if params.side == "buy" else -positions[symbol]
        assert held <= params.targets[symbol]  # never beyond its target
    return positions


@given(st.integers(min_value=0, max_value=10**6))
def test_the_hedger_buys_each_month_up_to_its_target_exactly(seed: int) -> None:
    positions = run_strip(HEDGER, seed, 3_300, Top(3_298, 3_302))
    assert positions == HEDGER.targets


@given(st.integers(min_value=0, max_value=10**6))
def test_the_gpu_operator_sells_each_month_down_to_its_target_exactly(seed: int) -> None:
    positions = run_strip(OPERATOR, seed, 3_300, Top(3_299, 3_301))
    assert positions == {symbol: -target for symbol, target in OPERATOR.targets.items()}


def test_at_its_target_the_hedger_sends_nothing() -> None:
    positions = dict(HEDGER.targets)
    assert strip_month(HEDGER, positions) is None
    rng = random.Random(1)
    assert strip_take(HEDGER, "TKN2612", 30, Top(3_298, 3_302), 3_300, BAND, 500, rng) is None
    assert strip_take(HEDGER, "TKN2612", 45, Top(3_298, 3_302), 3_300, BAND, 500, rng) is None


def test_a_position_the_other_way_counts_as_more_to_do() -> None:
    assert strip_remaining(HEDGER, "TKN2612", -10) == 40
    assert strip_remaining(OPERATOR, "GPU2701", 5) == 45
    assert strip_remaining(HEDGER, "TKN9999", 0) == 0  # not in the strip


def test_the_month_least_far_along_goes_first() -> None:
    positions = {"TKN2612": 20, "TKN2701": 5, "TKN2702": 12}
    assert strip_month(HEDGER, positions) == "TKN2701"


def test_the_hedger_pays_the_ask_only_up_to_its_premium_over_fair_value() -> None:
    rng = random.Random(3)
    take = strip_take(HEDGER, "TKN2612", 0, Top(3_300, 3_308), 3_300, BAND, 500, rng)
    assert take is not None
    assert take.price == 3_308
    assert strip_take(HEDGER, "TKN2612", 0, Top(3_300, 3_309), 3_300, BAND, 500, rng) is None
    assert strip_take(HEDGER, "TKN2612", 0, Top(3_300, None), 3_300, BAND, 500, rng) is None


def test_the_operator_sells_only_down_to_its_discount_and_inside_the_band() -> None:
    rng = random.Random(3)
    take = strip_take(OPERATOR, "GPU2701", 0, Top(3_298, 3_302), 3_300, BAND, 500, rng)
    assert take is not None
    assert (take.side, take.price) == ("sell", 3_298)
    assert strip_take(OPERATOR, "GPU2701", 0, Top(3_297, 3_302), 3_300, BAND, 500, rng) is None
    low = PriceBand(3_299, 3_357)
    assert strip_take(OPERATOR, "GPU2701", 0, Top(3_298, 3_302), 3_298, low, 500, rng) is None


def test_a_clip_is_never_above_the_contract_s_largest_order() -> None:
    params = StripParams("buy", {"TKN2612": 30}, 20, 8)
    for seed in range(50):
        take = strip_take(
            params, "TKN2612", 0, Top(None, 3_300), 3_300, BAND, 2, random.Random(seed)
        )
        assert take is not None
        assert take.quantity <= 2


SPECULATOR = SpeculatorParams(position_limit=20, max_clip=3, edge=1)
TOP = Top(3_298, 3_302)


def test_the_speculator_buys_below_its_view_and_sells_above_it() -> None:
    rng = random.Random(5)
    buy = speculate("TKN2612", 3_303, 0, TOP, SPECULATOR, BAND, 500, rng)
    sell = speculate("TKN2612", 3_297, 0, TOP, SPECULATOR, BAND, 500, rng)
    assert buy is not None
    assert (buy.side, buy.price) == ("buy", 3_302)
    assert sell is not None
    assert (sell.side, sell.price) == ("sell", 3_298)
    assert speculate("TKN2612", 3_300, 0, TOP, SPECULATOR, BAND, 500, rng) is None


def test_the_speculator_stays_within_its_position_limit() -> None:
    rng = random.Random(5)
    assert speculate("TKN2612", 3_400, 20, TOP, SPECULATOR, BAND, 500, rng) is None
    assert speculate("TKN2612", 3_200, -20, TOP, SPECULATOR, BAND, 500, rng) is None
    for seed in range(50):
        take = speculate("TKN2612", 3_400, 19, TOP, SPECULATOR, BAND, 500, random.Random(seed))
        assert take is not None
        assert take.quantity == 1


def test_the_speculator_takes_nothing_outside_the_band() -> None:
    rng = random.Random(5)
    outside = Top(3_100, 3_358)
    assert speculate("TKN2612", 3_500, 0, outside, SPECULATOR, BAND, 500, rng) is None
    assert speculate("TKN2612", 3_000, 0, outside, SPECULATOR, BAND, 500, rng) is None


def test_the_front_months_are_looked_at_most() -> None:
    rng = random.Random(11)
    symbols = [f"M{n}" for n in range(12)]
    counts = Counter(pick_front_weighted(symbols, rng) for _ in range(5_000))
    assert counts["M0"] > counts["M3"] > counts["M8"] > 0
    assert set(counts) <= set(symbols)
    with pytest.raises(ValueError, match="at least one"):
        pick_front_weighted([], rng)


def test_the_budget_starts_full_refills_at_its_rate_and_may_go_below_zero() -> None:
    budget = Budget(rate=5.0, burst=10)
    assert budget.available(100.0) == 10
    budget.spend(12, 100.0)
    assert budget.available(100.0) == -2
    assert budget.wait(100.0) == pytest.approx(0.6)
    assert budget.available(100.6) == pytest.approx(1.0)
    assert budget.available(1_000.0) == 10  # never more than the burst
    with pytest.raises(ValueError, match="rate"):
        Budget(rate=0, burst=1)
