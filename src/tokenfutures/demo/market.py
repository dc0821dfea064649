"""The bots' picture of the market: each contract's rules (from ``GET /v1/instruments``),
safe band and fair value, in ticks; prices as the API writes them only at the edge
(``ContractView.text`` and ``ContractView.ticks``). Pure: built from the API's JSON and the
products' index values, walked with a ``random.Random`` passed in.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from tokenfutures.demo.pricing import (
    FairValue,
    PriceBand,
    anchor_room,
    common_walk,
    curve_of,
    fair_value,
    implied_ticks,
    safe_band,
)


@dataclass(frozen=True, slots=True)
class ProductInputs:
    """What the instruments endpoint does not say: the day's index value (None: unknown) and
    the circuit-breaker band in basis points of the reference."""

    index: Decimal | None
    breaker_bp: int


@dataclass(slots=True)
class ContractView:
    symbol: str
    product: str
    tick: Decimal
    month: int  # 0: the product's front month
    max_order_quantity: int
    common: FairValue  # the walk all months of the product share (anchor 0)
    phase: str = "continuous"
    reference: int = 0  # ticks
    limits: tuple[int, int] = (0, 0)  # ticks
    band: PriceBand = PriceBand(1, 1)
    fair: FairValue = field(default_factory=lambda: FairValue(0, 0, 0))  # its own walk

    @property
    def value(self) -> int:
        """The fair value now, in ticks."""
        return max(1, self.fair.value + self.common.offset)

    @property
    def quoting(self) -> bool:
        """Whether resting orders are taken (in a pause or an auction they wait in the book)."""
        return self.phase in ("continuous", "pre_open")

    @property
    def trading(self) -> bool:
        """Whether an immediate-or-cancel order can trade."""
        return self.phase == "continuous"

    def text(self, ticks: int) -> str:
        """A price in ticks as the API writes it (``"3.308"``)."""
        return str((ticks * self.tick).quantize(self.tick))

    def ticks(self, text: str) -> int:
        """A price from the API in ticks; ValueError if it is off the tick grid."""
        count = Decimal(text) / self.tick
        if count != count.to_integral_value():
            raise ValueError(f"{self.symbol}: price {text} is not a whole number of ticks")
        return int(count)


class DemoMarket:
    def __init__(
        self, contracts: Iterable[ContractView], common: Mapping[str, FairValue],
        products: Mapping[str, ProductInputs],
    ) -> None:  # fmt: skip
        self.contracts = {c.symbol: c for c in contracts}
        self.common = dict(common)  # by product
        self.products = dict(products)

    def months(self, product: str) -> list[str]:
        """The product's contracts, front month first."""
        found = [c for c in self.contracts.values() if c.product == product]
        return [c.symbol for c in sorted(found, key=lambda c: c.month)]

    def by_month(self) -> list[str]:
        """Every contract, front months of all products first (TKN 0, GPU 0, TKN 1, ...)."""
        ordered = sorted(self.contracts.values(), key=lambda c: (c.month, c.product))
        return [c.symbol for c in ordered]

    def walk(self, rng: random.Random, count: int, common_odds: float) -> None:
        """One step of the fair values: each product's common walk with odds ``common_odds``,
        and the own walks of ``count`` contracts picked at random."""
        for product in sorted(self.common):
            if rng.random() < common_odds:
                self.common[product].walk(rng)
        symbols = sorted(self.contracts)
        for symbol in rng.sample(symbols, min(count, len(symbols))):
            self.contracts[symbol].fair.walk(rng)

    def update(self, instruments: list[dict[str, Any]]) -> None:
        """Phases, reference prices and limits as the exchange lists them now (an operator's
        halt, an end of day's new settlement prices); the walks keep their place."""
        for instrument in instruments:
            view = self.contracts.get(instrument["symbol"])
            if view is not None:
                view.phase = "delisted" if instrument["delisted"] else str(instrument["phase"])
                _price(view, instrument, self.products[view.product])
        for product, shared in self.common.items():
            _share(shared, [c for c in self.contracts.values() if c.product == product])


def build_market(
    instruments: list[dict[str, Any]], products: Mapping[str, ProductInputs]
) -> DemoMarket:
    """The contracts still trading (not delisted) of the products in ``products``."""
    live = [i for i in instruments if not i["delisted"] and i["product"] in products]
    views: list[ContractView] = []
    common: dict[str, FairValue] = {}
    for product in sorted(products):
        months = sorted(
            (i for i in live if i["product"] == product),
            key=lambda i: (i["last_trading_day"], i["symbol"]),
        )
        shared = common[product] = FairValue(0, 0, 0)
        for month, instrument in enumerate(months):
            view = ContractView(
                symbol=instrument["symbol"],
                product=product,
                tick=Decimal(instrument["tick_size"]),
                month=month,
                max_order_quantity=int(instrument["max_order_quantity"]),
                common=shared,
                phase=str(instrument["phase"]),
            )
            _price(view, instrument, products[product])
            views.append(view)
    market = DemoMarket(views, common, products)
    for product, shared in common.items():
        _share(shared, [c for c in views if c.product == product])
    return market


def _price(view: ContractView, instrument: dict[str, Any], inputs: ProductInputs) -> None:
    """The contract's reference, limits, safe band and own walk, when they are new."""
    reference = view.ticks(instrument["settlement_price"])
    limits = (view.ticks(instrument["lower_limit"]), view.ticks(instrument["upper_limit"]))
    if (reference, limits) == (view.reference, view.limits):
        return
    view.reference, view.limits = reference, limits
    view.band = safe_band(reference, *limits, inputs.breaker_bp)
    implied = None
    if inputs.index is not None:
        tick, curve = Fraction(view.tick), curve_of(view.product)
        implied = implied_ticks(Fraction(inputs.index), tick, view.month, curve)
    offset = view.fair.offset
    view.fair = fair_value(reference, view.band, implied)
    view.fair.offset = max(-view.fair.bound, min(view.fair.bound, offset))


def _share(shared: FairValue, views: list[ContractView]) -> None:
    """The common walk's bound and step: what every month's room leaves."""
    rooms = [anchor_room(v.reference, v.band) for v in views]
    walked = common_walk(rooms, [max(1, room // 8) for room in rooms])
    shared.bound, shared.step = walked.bound, walked.step
    shared.offset = max(-shared.bound, min(shared.bound, shared.offset))
