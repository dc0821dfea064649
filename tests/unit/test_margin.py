"""SPAN-style margin, with hand-computed numbers (see the module docstring of margin.py).

TKN: tick value 1,000 cents, scan range 1,000 bp (10 %), spread charge 20,000 cents, maintenance
80 %. GPUH: tick value 100 cents, scan range 1,500 bp, spread charge 5,000 cents, maintenance 75 %.
"""

from __future__ import annotations

import pytest

from tokenfutures.domain.clearing.margin import (
    SCENARIOS,
    MarginParameters,
    PositionInput,
    Volatility,
    margin,
    scenario_losses,
)

TKN = MarginParameters("TKN", tick_value=1_000, scan_range_bp=1_000, spread_charge=20_000)
GPUH = MarginParameters(
    "GPUH", tick_value=100, scan_range_bp=1_500, spread_charge=5_000, maintenance_bp=7_500
)
PARAMETERS = {"TKN": TKN, "GPUH": GPUH}


def tkn(month: int, quantity: int, price: int) -> PositionInput:
    return PositionInput(f"TKN{month}", "TKN", month, quantity, price)


def gpuh(month: int, quantity: int, price: int) -> PositionInput:
    return PositionInput(f"GPUH{month}", "GPUH", month, quantity, price)


def test_the_sixteen_scenarios_in_cme_order() -> None:
    assert [s.number for s in SCENARIOS] == list(range(1, 17))
    moves = [0, 0, 1, 1, -1, -1, 2, 2, -2, -2, 3, 3, -3, -3, 6, -6]
    assert [s.move_thirds for s in SCENARIOS] == moves  # thirds of the range; 6 = 2x range
    assert [s.weight_pct for s in SCENARIOS] == [100] * 14 + [35, 35]
    assert [s.volatility for s in SCENARIOS[:4]] == [Volatility.UP, Volatility.DOWN] * 2


def test_scan_range_is_rounded_up_to_whole_ticks() -> None:
    assert TKN.scan_range_ticks(2_500) == 250
    assert TKN.scan_range_ticks(2_501) == 251  # 250.1 ticks
    assert GPUH.scan_range_ticks(1_999) == 300  # 299.85 ticks
    assert TKN.scan_range_ticks(0) == 0


def test_single_long_loses_the_full_range_on_the_way_down() -> None:
    # 2 lots at 2,500 ticks: range 250 ticks; moves 84 (1/3, rounded up), 167, 250, 500.
    position = tkn(1, 2, 2_500)
    assert scenario_losses([position], TKN) == (
        0, 0,
        -168_000, -168_000, 168_000, 168_000,
        -334_000, -334_000, 334_000, 334_000,
        -500_000, -500_000, 500_000, 500_000,
        -350_000, 350_000,
    )  # fmt: skip
    result = margin([position], PARAMETERS)
    entry = result.for_product("TKN")
    assert (entry.scan_risk, entry.spread_pairs, entry.spread_charge) == (500_000, 0, 0)
    assert (entry.total, entry.maintenance) == (500_000, 400_000)
    assert (result.initial, result.maintenance) == (500_000, 400_000)


def test_single_short_loses_the_full_range_on_the_way_up() -> None:
    # 3 lots short at 2,501: range ceil(250.1) = 251 ticks; 3 x 251 x 1,000 cents.
    result = margin([tkn(1, -3, 2_501)], PARAMETERS)
    assert result.for_product("TKN").scan_risk == 753_000
    assert (result.initial, result.maintenance) == (753_000, 602_400)


def test_extreme_move_counts_35_percent_rounded_up_against_the_account() -> None:
    tiny = MarginParameters("TKN", tick_value=1, scan_range_bp=1_000, spread_charge=0)
    # price 10: range 1 tick; 1/3 and 2/3 moves round away from zero to 1 tick; extreme 2 ticks:
    # loss 2 x 35 % = 0.7 -> 1 cent, gain 0.7 -> 0 (towards zero, never overstating a gain).
    losses = scenario_losses([tkn(1, 1, 10)], tiny)
    assert losses == (0, 0, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1, 1, 0, 1)
    assert margin([tkn(1, 1, 10)], {"TKN": tiny}).initial == 1


def test_calendar_spread_pays_its_scan_plus_the_spread_charge() -> None:
    # long 1 at 2,500 (range 250), short 1 at 2,600 (range 260): worst is up 3/3, the short
    # loses 10 ticks more than the long gains: 10,000 cents; 1/3 and 2/3 give 3,000 and 7,000.
    spread = [tkn(1, 1, 2_500), tkn(2, -1, 2_600)]
    assert max(scenario_losses(spread, TKN)[2:4]) == 3_000
    assert max(scenario_losses(spread, TKN)[6:8]) == 7_000
    entry = margin(spread, PARAMETERS).for_product("TKN")
    assert (entry.scan_risk, entry.spread_pairs, entry.spread_charge) == (10_000, 1, 20_000)
    assert (entry.total, entry.maintenance) == (30_000, 24_000)
    outrights = margin(spread[:1], PARAMETERS).initial + margin(spread[1:], PARAMETERS).initial
    assert outrights == 510_000
    assert entry.total * 10 < outrights


def test_two_products_add_up() -> None:
    # GPUH: long 5 at 2,000 (range 300), short 3 at 2,100 (range 315): worst is down 3/3,
    # 5 x 300 - 3 x 315 = 555 ticks x 100 = 55,500; 3 pairs x 5,000; maintenance 75 %.
    positions = [gpuh(3, 5, 2_000), tkn(1, 2, 2_500), gpuh(4, -3, 2_100)]
    result = margin(positions, PARAMETERS)
    assert [entry.product for entry in result.products] == ["GPUH", "TKN"]
    gpu = result.for_product("GPUH")
    assert (gpu.scan_risk, gpu.spread_pairs, gpu.spread_charge) == (55_500, 3, 15_000)
    assert (gpu.total, gpu.maintenance) == (70_500, 52_875)
    assert result.for_product("TKN").total == 500_000
    assert (result.initial, result.maintenance) == (570_500, 452_875)


def test_spread_charge_is_capped_at_the_legs_outright() -> None:
    costly = MarginParameters("TKN", tick_value=1_000, scan_range_bp=1_000, spread_charge=10**6)
    entry = margin([tkn(1, 1, 2_500), tkn(2, -1, 2_600)], {"TKN": costly}).for_product("TKN")
    assert (entry.scan_risk, entry.spread_charge, entry.total) == (10_000, 500_000, 510_000)


def test_lines_of_one_month_are_netted_before_pairing() -> None:
    netted = margin([tkn(1, 3, 2_500), tkn(1, -1, 2_500), tkn(2, -1, 2_600)], PARAMETERS)
    single = margin([tkn(1, 2, 2_500), tkn(2, -1, 2_600)], PARAMETERS)
    assert netted == single
    assert single.for_product("TKN").spread_pairs == 1


def test_flat_and_empty_portfolios_need_no_margin() -> None:
    assert margin([], PARAMETERS).products == ()
    assert (margin([], PARAMETERS).initial, margin([], PARAMETERS).maintenance) == (0, 0)
    flat = margin([tkn(1, 0, 2_500)], PARAMETERS)
    assert (flat.initial, flat.maintenance) == (0, 0)


def test_for_product_without_positions_raises() -> None:
    with pytest.raises(KeyError):
        margin([tkn(1, 1, 2_500)], PARAMETERS).for_product("GPUH")


def test_product_without_parameters_raises() -> None:
    with pytest.raises(KeyError):
        margin([gpuh(1, 1, 100)], {"TKN": TKN})


def test_one_month_at_two_prices_is_a_bug() -> None:
    with pytest.raises(ValueError, match="TKN month 1"):
        margin([tkn(1, 1, 2_500), tkn(1, 1, 2_501)], PARAMETERS)


def test_parameters_filed_under_another_product_are_a_bug() -> None:
    with pytest.raises(ValueError, match="parameters under GPUH are for TKN"):
        margin([gpuh(1, 1, 100)], {"GPUH": TKN})


@pytest.mark.parametrize(
    ("field", "value"),
    [("tick_value", 0), ("scan_range_bp", -1), ("spread_charge", -1), ("maintenance_bp", 10_001)],
)
def test_invalid_parameters_are_refused(field: str, value: int) -> None:
    values = {"tick_value": 1, "scan_range_bp": 1, "spread_charge": 0, "maintenance_bp": 1}
    values[field] = value
    with pytest.raises(ValueError, match=field):
        MarginParameters("TKN", **values)


def test_negative_price_is_refused() -> None:
    with pytest.raises(ValueError, match="price"):
        tkn(1, 1, -1)
