"""SPAN-style margin: the worst scenario loss per product plus an inter-month spread charge.

A pure function of the positions and the per-product parameters, in integers only: prices in
ticks, money in minor units (cents), rates in basis points (1 bp = 1/10,000).

The model, per product:

1. **Scan range per contract.** Each contract month moves by its own price scan range,
   ``R = ceil(price x scan_range_bp / 10,000)`` whole ticks, taken from the contract's own
   settlement (or mark) price.
2. **The 16 standard scenarios** (:data:`SCENARIOS`, CME numbering): price unchanged, up and
   down by 1/3, 2/3 and 3/3 of the range, each twice (volatility up and down; for futures the
   two legs give the same loss, they are kept so the table reads like SPAN's), and two extreme
   moves of 2x the range counted at 35 %. In a scenario every month of the product moves
   together, so a long in one month and a short in another offset: the calendar-spread credit
   falls out of the scan by itself.
3. **Scan risk** = the largest scenario loss of the product's whole portfolio, never negative.
4. **Inter-month spread charge** = ``spread_charge`` x the number of spread pairs, i.e. the lots
   matched long against short across different months (positions are first netted per month,
   so pairs = min(total long lots, total short lots)). It covers the risk the scan assumes
   away: that the months do not move exactly together.
5. **Total** = scan risk + spread charge, capped at the sum of the months' scan risks taken
   one by one as outrights, so a spread is never charged more than its legs outright (the cap
   only binds when the spread charge is set higher than the credit the offset earns).
6. **Initial** = the sum of the products' totals; **maintenance** = per product
   ``ceil(total x maintenance_bp / 10,000)``, summed.

Rounding, always against the account so the margin never understates the risk:

- the scan range is rounded up to whole ticks;
- a fractional scenario move (k/3 of the range) is rounded away from zero to whole ticks for
  each contract; the ±3/3 and extreme moves are exact multiples of the range, so the exact
  worst case of a futures portfolio (whose loss is linear in the move) is always among the
  scenarios;
- an extreme loss counted at 35 % is rounded up: ``ceil(loss x 35 / 100)``, computed as
  ``-(-loss x 35 // 100)`` (a gain stays a gain, rounded towards zero);
- maintenance is rounded up to the minor unit.

Consequences the property tests pin: every scenario loss except the two weighted extremes is
linear in the quantities, and a weighted extreme never exceeds the ±3/3 loss in its direction
(``ceil(0.7 x L) <= L`` for whole L >= 0), so the scan risk is exactly positively homogeneous
(doubling every position doubles it) and sub-additive (the scan risk of a portfolio is at most
the sum of its parts').
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

BASIS_POINTS = 10_000
FULL_WEIGHT_PCT = 100
EXTREME_WEIGHT_PCT = 35
THIRDS = 3


class Volatility(Enum):
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One SPAN scenario: a price move of ``move_thirds``/3 of the scan range, weighted."""

    number: int
    move_thirds: int
    volatility: Volatility
    weight_pct: int


def _standard_scenarios() -> tuple[Scenario, ...]:
    moves = (0, 1, -1, 2, -2, 3, -3)
    vols = (Volatility.UP, Volatility.DOWN)
    scenarios = [
        Scenario(2 * index + offset + 1, move, vol, FULL_WEIGHT_PCT)
        for index, move in enumerate(moves)
        for offset, vol in enumerate(vols)
    ]
    scenarios.append(Scenario(15, 2 * THIRDS, Volatility.UP, EXTREME_WEIGHT_PCT))
    scenarios.append(Scenario(16, -2 * THIRDS, Volatility.UP, EXTREME_WEIGHT_PCT))
    return tuple(scenarios)


SCENARIOS: tuple[Scenario, ...] = _standard_scenarios()
"""The 16 scenarios in CME order: 1-2 unchanged, 3-4 up 1/3, 5-6 down 1/3, ..., 13-14 down
3/3 (odd: volatility up, even: down), 15 up 2x range at 35 %, 16 down 2x range at 35 %."""


@dataclass(frozen=True, slots=True)
class MarginParameters:
    """Margin parameters of one product.

    ``tick_value``: minor units per lot for a one-tick move (TKN: 0.001 USD x 10,000 Mtok =
    1,000 cents); ``scan_range_bp``: price scan range in bp of the price (the contract's margin
    rate, TKN 10 % = 1,000 bp); ``spread_charge``: minor units per inter-month spread pair;
    ``maintenance_bp``: maintenance as bp of initial (8,000 = 80 %).
    """

    product: str
    tick_value: int
    scan_range_bp: int
    spread_charge: int
    maintenance_bp: int = 8_000

    def __post_init__(self) -> None:
        if self.tick_value <= 0:
            raise ValueError(f"{self.product}: tick_value must be positive")
        if self.scan_range_bp < 0:
            raise ValueError(f"{self.product}: scan_range_bp must not be negative")
        if self.spread_charge < 0:
            raise ValueError(f"{self.product}: spread_charge must not be negative")
        if not 0 <= self.maintenance_bp <= BASIS_POINTS:
            raise ValueError(f"{self.product}: maintenance_bp must be within 0..10,000")

    def scan_range_ticks(self, price: int, scan_range_bp: int | None = None) -> int:
        """The contract's scan range in whole ticks, rounded up: ceil(price x bp / 10,000).

        ``scan_range_bp`` overrides the product's rate for one contract (a raised margin
        after a limit-locked close).
        """
        rate = self.scan_range_bp if scan_range_bp is None else scan_range_bp
        return _ceil_div(price * rate, BASIS_POINTS)


@dataclass(frozen=True, slots=True)
class PositionInput:
    """A net position in one contract month, valued at ``price`` (settlement or mark, ticks).

    ``scan_range_bp``, when set, replaces the product's scan range for this contract.
    """

    symbol: str
    product: str
    month: int
    quantity: int
    price: int
    scan_range_bp: int | None = None

    def __post_init__(self) -> None:
        if self.price < 0:
            raise ValueError(f"{self.symbol}: price must not be negative")
        if self.scan_range_bp is not None and self.scan_range_bp < 0:
            raise ValueError(f"{self.symbol}: scan_range_bp must not be negative")


@dataclass(frozen=True, slots=True)
class ProductMargin:
    """The margin of one product: scan risk + spread charge = total (initial)."""

    product: str
    scan_risk: int
    spread_pairs: int
    spread_charge: int
    total: int
    maintenance: int


@dataclass(frozen=True, slots=True)
class MarginResult:
    """Per product margins (sorted by product code) and the account's totals."""

    products: tuple[ProductMargin, ...]
    initial: int
    maintenance: int

    def for_product(self, product: str) -> ProductMargin:
        for entry in self.products:
            if entry.product == product:
                return entry
        raise KeyError(product)


def margin(
    positions: Iterable[PositionInput], parameters: Mapping[str, MarginParameters]
) -> MarginResult:
    """Initial and maintenance margin of an account's positions (see the module docstring).

    Raises ``KeyError`` for a product without parameters and ``ValueError`` when one product
    month appears with two different symbols or prices (a caller's bug, not a rejection).
    """
    by_product: dict[str, list[PositionInput]] = {}
    for position in positions:
        by_product.setdefault(position.product, []).append(position)
    products = tuple(
        product_margin(by_product[code], _parameters_for(code, parameters))
        for code in sorted(by_product)
    )
    return MarginResult(
        products=products,
        initial=sum(entry.total for entry in products),
        maintenance=sum(entry.maintenance for entry in products),
    )


def product_margin(
    positions: Sequence[PositionInput], parameters: MarginParameters
) -> ProductMargin:
    """The margin of one product's positions, all of ``parameters.product``."""
    months = _net_by_month(positions, parameters.product)
    legs = list(months.values())
    scan = scan_risk(legs, parameters)
    pairs = spread_pairs(legs)
    outright = scan if len(legs) == 1 else sum(scan_risk([leg], parameters) for leg in legs)
    total = min(scan + parameters.spread_charge * pairs, outright)
    return ProductMargin(
        product=parameters.product,
        scan_risk=scan,
        spread_pairs=pairs,
        spread_charge=total - scan,
        total=total,
        maintenance=_ceil_div(total * parameters.maintenance_bp, BASIS_POINTS),
    )


def scan_risk(positions: Sequence[PositionInput], parameters: MarginParameters) -> int:
    """The largest weighted scenario loss of the positions, never negative.

    Equal to ``max(0, *scenario_losses(...))`` but computed from the four distinct move sizes
    (1/3, 2/3, 3/3 and 2x the range): each scenario's P&L is plus or minus one of four sums,
    so the worst full-weight loss is the largest absolute sum and the worst extreme one is the
    weighted absolute 2x sum. This is the pre-trade hot path; the property tests compare it
    with the scenario table.
    """
    third = two_thirds = full = 0
    for position in positions:
        scan_range = parameters.scan_range_ticks(position.price, position.scan_range_bp)
        quantity = position.quantity
        third += quantity * _ceil_div(scan_range, THIRDS)
        two_thirds += quantity * _ceil_div(2 * scan_range, THIRDS)
        full += quantity * scan_range
    tick_value = parameters.tick_value
    worst_full = max(abs(third), abs(two_thirds), abs(full)) * tick_value
    extreme = 2 * abs(full) * tick_value
    return max(worst_full, _ceil_div(extreme * EXTREME_WEIGHT_PCT, FULL_WEIGHT_PCT))


def scenario_losses(
    positions: Sequence[PositionInput], parameters: MarginParameters
) -> tuple[int, ...]:
    """The weighted loss (minor units, a gain negative) of each of :data:`SCENARIOS`."""
    ranges = [
        (p.quantity, parameters.scan_range_ticks(p.price, p.scan_range_bp)) for p in positions
    ]
    losses = []
    for scenario in SCENARIOS:
        pnl_ticks = sum(
            quantity * _move_ticks(scenario.move_thirds, scan_range)
            for quantity, scan_range in ranges
        )
        loss = -pnl_ticks * parameters.tick_value
        losses.append(_ceil_div(loss * scenario.weight_pct, FULL_WEIGHT_PCT))
    return tuple(losses)


def spread_pairs(positions: Iterable[PositionInput]) -> int:
    """Lots matched long against short across months: min(long lots, short lots).

    The positions must be net per month (as :func:`product_margin` passes them).
    """
    longs = shorts = 0
    for position in positions:
        if position.quantity > 0:
            longs += position.quantity
        else:
            shorts -= position.quantity
    return min(longs, shorts)


def _move_ticks(move_thirds: int, scan_range: int) -> int:
    """``move_thirds``/3 of the scan range in whole ticks, rounded away from zero."""
    magnitude = _ceil_div(abs(move_thirds) * scan_range, THIRDS)
    return magnitude if move_thirds >= 0 else -magnitude


def _net_by_month(positions: Iterable[PositionInput], product: str) -> dict[int, PositionInput]:
    months: dict[int, PositionInput] = {}
    for position in positions:
        if position.product != product:
            raise ValueError(f"{position.symbol}: product {position.product}, expected {product}")
        seen = months.get(position.month)
        if seen is None:
            months[position.month] = position
            continue
        if (seen.symbol, seen.price, seen.scan_range_bp) != (
            position.symbol,
            position.price,
            position.scan_range_bp,
        ):
            raise ValueError(
                f"{product} month {position.month}: {seen.symbol}@{seen.price} "
                f"and {position.symbol}@{position.price}"
            )
        months[position.month] = PositionInput(
            seen.symbol,
            product,
            seen.month,
            seen.quantity + position.quantity,
            seen.price,
            seen.scan_range_bp,
        )
    return months


def _parameters_for(product: str, parameters: Mapping[str, MarginParameters]) -> MarginParameters:
    found = parameters[product]
    if found.product != product:
        raise ValueError(f"parameters under {product} are for {found.product}")
    return found


def _ceil_div(numerator: int, denominator: int) -> int:
    """Integer division rounded up (towards +infinity), for a positive denominator."""
    return -(-numerator // denominator)
