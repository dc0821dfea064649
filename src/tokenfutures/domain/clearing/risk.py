"""Margin of an account's positions and of the worst case of its working orders (pure).

The worst case of working orders: for each product the margin of three portfolios is worked
out — the positions as they are, with every working buy filled, with every working sell
filled — and the largest counts. In any one SPAN scenario all months move the same way, so
the portfolio losing most in it is exactly "all buys filled" (down moves) or "all sells
filled" (up moves): no mix of partial fills has a larger scan risk. A fill also costs at once
what its price is worse than the mark (``fill_loss``). Which orders fill is not known, so the
fill losses of every working order of the product are added to each of the three: a bound
that never understates (a property test fills every subset of the orders against it), at the
price of over-charging an account whose buys and sells are both priced through the mark.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tokenfutures.domain.clearing.margin import (
    MarginParameters,
    PositionInput,
    ProductMargin,
    product_margin,
)
from tokenfutures.domain.clearing.terms import ContractTerms


@dataclass(slots=True)
class Exposure:
    """One account in one contract: net position and what its working orders could add."""

    net: int = 0
    buys: int = 0
    sells: int = 0
    buy_fill_loss: int = 0  # minor units lost at once if every working buy fills
    sell_fill_loss: int = 0

    def add_order(self, is_buy: bool, leaves: int, price: int, mark: int, tick_value: int) -> None:
        if is_buy:
            self.buys += leaves
            self.buy_fill_loss += max(0, price - mark) * leaves * tick_value
        else:
            self.sells += leaves
            self.sell_fill_loss += max(0, mark - price) * leaves * tick_value


@dataclass(frozen=True, slots=True)
class Requirement:
    initial: int
    maintenance: int


@dataclass(frozen=True, slots=True)
class MarginBasis:
    """Everything margin needs besides quantities: terms, parameters, prices, overrides."""

    terms: Mapping[str, ContractTerms]
    parameters: Mapping[str, MarginParameters]
    prices: Mapping[str, int]  # the latest settlement price of each contract
    scan_overrides: Mapping[str, int]  # raised scan ranges (bp) after limit-locked closes

    def position(self, symbol: str, quantity: int) -> PositionInput:
        terms = self.terms[symbol]
        return PositionInput(
            symbol,
            terms.product,
            terms.month_index,
            quantity,
            self.prices[symbol],
            self.scan_overrides.get(symbol),
        )


def positions_margin(quantities: Mapping[str, int], basis: MarginBasis) -> Requirement:
    """Initial and maintenance margin of net positions by symbol."""
    return worst_case_margin({s: Exposure(net=q) for s, q in quantities.items() if q}, basis)


def worst_case_margin(exposures: Mapping[str, Exposure], basis: MarginBasis) -> Requirement:
    """Margin of the positions plus the worst case of the working orders (module docstring)."""
    by_product: dict[str, list[str]] = {}
    for symbol in sorted(exposures):
        by_product.setdefault(basis.terms[symbol].product, []).append(symbol)
    initial = maintenance = 0
    for product in sorted(by_product):
        parameters = basis.parameters[product]
        symbols = by_product[product]
        candidates = [_candidate(symbols, exposures, basis, parameters, 0)]
        if any(exposures[s].buys for s in symbols):
            candidates.append(_candidate(symbols, exposures, basis, parameters, 1))
        if any(exposures[s].sells for s in symbols):
            candidates.append(_candidate(symbols, exposures, basis, parameters, -1))
        worst = max(candidates, key=lambda c: (c.initial, c.maintenance))
        initial += worst.initial
        maintenance += worst.maintenance
    return Requirement(initial, maintenance)


def _candidate(
    symbols: Iterable[str],
    exposures: Mapping[str, Exposure],
    basis: MarginBasis,
    parameters: MarginParameters,
    fill: int,
) -> Requirement:
    legs: list[PositionInput] = []
    fill_loss = 0
    for symbol in symbols:
        exposure = exposures[symbol]
        fill_loss += exposure.buy_fill_loss + exposure.sell_fill_loss
        quantity = exposure.net
        if fill > 0:
            quantity += exposure.buys
        elif fill < 0:
            quantity -= exposure.sells
        if quantity:
            legs.append(basis.position(symbol, quantity))
    if not legs:
        return Requirement(fill_loss, fill_loss)
    margin: ProductMargin = product_margin(legs, parameters)
    return Requirement(margin.total + fill_loss, margin.maintenance + fill_loss)
