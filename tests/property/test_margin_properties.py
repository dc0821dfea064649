"""Properties of the SPAN-style margin that must hold for any positions and parameters.

- never negative: scan risk, spread charge, totals and maintenance are all >= 0;
- maintenance <= initial, per product and in total;
- a spread is never charged more than its two legs outright, and more generally a product's
  margin is at most the sum of its months' margins taken one by one;
- scale: multiplying every position by k multiplies scan risk, spread charge, initial and
  the spread pairs by k exactly;
- sub-additivity: the scan risk of a portfolio is at most the sum of its parts', per product;
- order: the result does not depend on the order of the positions;
- exactness: an outright's scan risk is |quantity| x range x tick value, and the scan risk is
  never below the exact loss of a full-range move of the whole portfolio.
"""

from __future__ import annotations

import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenfutures.domain.clearing.margin import (
    MarginParameters,
    PositionInput,
    margin,
    scan_risk,
    scenario_losses,
)

PRODUCTS = ("GPUH", "TKN")
MONTHS = 6

parameters_strategy = st.builds(
    MarginParameters,
    product=st.just("X"),
    tick_value=st.integers(1, 10_000),
    scan_range_bp=st.integers(0, 5_000),
    spread_charge=st.integers(0, 1_000_000),
    maintenance_bp=st.integers(0, 10_000),
)


@st.composite
def markets(draw: st.DrawFn) -> tuple[dict[str, MarginParameters], dict[str, list[int]]]:
    """Parameters and a price per month for each product."""
    parameters = {code: replace(draw(parameters_strategy), product=code) for code in PRODUCTS}
    prices = {
        code: draw(st.lists(st.integers(0, 200_000), min_size=MONTHS, max_size=MONTHS))
        for code in PRODUCTS
    }
    return parameters, prices


def position(
    prices: dict[str, list[int]], product: str, month: int, quantity: int
) -> PositionInput:
    return PositionInput(f"{product}{month}", product, month, quantity, prices[product][month])


@st.composite
def portfolios(
    draw: st.DrawFn,
) -> tuple[list[PositionInput], dict[str, MarginParameters]]:
    parameters, prices = draw(markets())
    lines = draw(
        st.lists(
            st.tuples(st.sampled_from(PRODUCTS), st.integers(0, MONTHS - 1), st.integers(-60, 60)),
            max_size=14,
        )
    )
    return [position(prices, *line) for line in lines], parameters


@settings(max_examples=300)
@given(portfolios())
def test_margin_is_never_negative_and_maintenance_never_exceeds_initial(
    portfolio: tuple[list[PositionInput], dict[str, MarginParameters]],
) -> None:
    positions, parameters = portfolio
    result = margin(positions, parameters)
    for entry in result.products:
        assert entry.scan_risk >= 0
        assert entry.spread_charge >= 0
        assert entry.total == entry.scan_risk + entry.spread_charge
        assert 0 <= entry.maintenance <= entry.total
    assert result.initial == sum(entry.total for entry in result.products)
    assert 0 <= result.maintenance <= result.initial


@settings(max_examples=300)
@given(
    markets(),
    st.sampled_from(PRODUCTS),
    st.lists(st.integers(0, MONTHS - 1), min_size=2, max_size=2, unique=True),
    st.integers(1, 60),
    st.integers(1, 60),
)
def test_a_spread_is_never_charged_more_than_its_two_legs_outright(
    market: tuple[dict[str, MarginParameters], dict[str, list[int]]],
    product: str,
    months: list[int],
    long_lots: int,
    short_lots: int,
) -> None:
    parameters, prices = market
    long_leg = position(prices, product, months[0], long_lots)
    short_leg = position(prices, product, months[1], -short_lots)
    spread = margin([long_leg, short_leg], parameters)
    outright = margin([long_leg], parameters).initial + margin([short_leg], parameters).initial
    assert spread.initial <= outright
    assert spread.for_product(product).spread_pairs == min(long_lots, short_lots)


@settings(max_examples=200)
@given(portfolios())
def test_a_product_costs_at_most_its_months_taken_one_by_one(
    portfolio: tuple[list[PositionInput], dict[str, MarginParameters]],
) -> None:
    positions, parameters = portfolio
    result = margin(positions, parameters)
    for entry in result.products:
        months = {p.month for p in positions if p.product == entry.product}
        alone = sum(
            margin(
                [p for p in positions if (p.product, p.month) == (entry.product, month)],
                parameters,
            ).initial
            for month in months
        )
        assert entry.total <= alone


@settings(max_examples=200)
@given(portfolios(), st.integers(2, 9))
def test_margin_scales_exactly_with_size(
    portfolio: tuple[list[PositionInput], dict[str, MarginParameters]], factor: int
) -> None:
    positions, parameters = portfolio
    base = margin(positions, parameters)
    scaled = margin([replace(p, quantity=p.quantity * factor) for p in positions], parameters)
    assert [e.product for e in scaled.products] == [e.product for e in base.products]
    for before, after in zip(base.products, scaled.products, strict=True):
        assert after.scan_risk == factor * before.scan_risk
        assert after.spread_pairs == factor * before.spread_pairs
        assert after.spread_charge == factor * before.spread_charge
    assert scaled.initial == factor * base.initial


@settings(max_examples=200)
@given(portfolios(), st.data())
def test_scan_risk_is_sub_additive(
    portfolio: tuple[list[PositionInput], dict[str, MarginParameters]], data: st.DataObject
) -> None:
    positions, parameters = portfolio
    sides = data.draw(st.lists(st.booleans(), min_size=len(positions), max_size=len(positions)))
    left = [p for p, side in zip(positions, sides, strict=True) if side]
    right = [p for p, side in zip(positions, sides, strict=True) if not side]
    whole, part_a, part_b = (
        {e.product: e.scan_risk for e in margin(part, parameters).products}
        for part in (positions, left, right)
    )
    for product, scan in whole.items():
        assert scan <= part_a.get(product, 0) + part_b.get(product, 0)


@settings(max_examples=200)
@given(portfolios(), st.randoms(use_true_random=False))
def test_order_of_positions_does_not_matter(
    portfolio: tuple[list[PositionInput], dict[str, MarginParameters]], rng: random.Random
) -> None:
    positions, parameters = portfolio
    shuffled = list(positions)
    rng.shuffle(shuffled)
    assert margin(shuffled, parameters) == margin(positions, parameters)


@settings(max_examples=200)
@given(portfolios())
def test_scan_risk_covers_the_exact_full_range_move(
    portfolio: tuple[list[PositionInput], dict[str, MarginParameters]],
) -> None:
    positions, parameters = portfolio
    result = margin(positions, parameters)
    for entry in result.products:
        params = parameters[entry.product]
        exposure = sum(
            p.quantity * params.scan_range_ticks(p.price)
            for p in positions
            if p.product == entry.product
        )
        assert entry.scan_risk >= abs(exposure) * params.tick_value


@settings(max_examples=200)
@given(markets(), st.sampled_from(PRODUCTS), st.integers(0, MONTHS - 1), st.integers(-60, 60))
def test_an_outright_is_margined_at_its_full_range(
    market: tuple[dict[str, MarginParameters], dict[str, list[int]]],
    product: str,
    month: int,
    quantity: int,
) -> None:
    parameters, prices = market
    params = parameters[product]
    entry = margin([position(prices, product, month, quantity)], parameters).for_product(product)
    expected = abs(quantity) * params.scan_range_ticks(prices[product][month]) * params.tick_value
    assert (entry.scan_risk, entry.spread_charge, entry.total) == (expected, 0, expected)


@settings(max_examples=300)
@given(portfolios(), st.lists(st.one_of(st.none(), st.integers(0, 3_000)), min_size=14))
def test_the_fast_scan_equals_the_worst_of_the_16_scenarios(
    portfolio: tuple[list[PositionInput], dict[str, MarginParameters]],
    overrides: list[int | None],
) -> None:
    """``scan_risk`` (four sums) against the scenario table it stands for, override included."""
    positions, parameters = portfolio
    for product, params in parameters.items():
        legs = [
            replace(p, scan_range_bp=override)
            for p, override in zip(positions, overrides, strict=False)
            if p.product == product
        ]
        assert scan_risk(legs, params) == max(0, *scenario_losses(legs, params))
