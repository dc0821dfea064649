"""The listing calendar: which contract months trade on a date, and their core rules.

A *contract* (``ListedContract``, e.g. ``TKN2612``) is one delivery month of a product with
its dates worked out on a ``TradingCalendar``. Listing rule: ``listed_months`` consecutive
months trade at once; the nearest is the first month whose last trading day is on or after
the given date; a month starts trading the business day after the contract
``listed_months`` earlier expired.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tokenfutures.domain.calendar import TradingCalendar, last_trading_day
from tokenfutures.domain.contracts import HUNDRED, ProductSpec, ProductSpecError, is_whole
from tokenfutures.domain.rules import InstrumentRules

_SYMBOL = re.compile(r"([A-Z]{1,8})(\d{2})(0[1-9]|1[0-2])")


class ContractNotListedError(ValueError):
    """A symbol does not name a contract listed on the given date."""


@dataclass(frozen=True, slots=True)
class ListedContract:
    """One contract month; ``provisional`` when its dates rest on the weekday fallback."""

    symbol: str
    product: ProductSpec
    year: int
    month: int
    first_trading_day: date
    last_trading_day: date
    final_settlement_window: tuple[date, ...]
    provisional: bool


# --- listing calendar --------------------------------------------------------------------------


def contract_symbol(code: str, year: int, month: int) -> str:
    return f"{code}{year % 100:02d}{month:02d}"


def _add_months(year: int, month: int, count: int) -> tuple[int, int]:
    years, month_index = divmod(year * 12 + month - 1 + count, 12)
    return years, month_index + 1


def contract_month(
    product: ProductSpec, calendar: TradingCalendar, year: int, month: int
) -> ListedContract:
    """The contract of one delivery month, with its dates worked out on ``calendar``."""
    rule = product.last_trading_day_rule
    last = last_trading_day(rule, calendar, year, month)
    replaced = _add_months(year, month, -product.listed_months)
    first = calendar.next_business_day(last_trading_day(rule, calendar, *replaced))
    window = calendar.business_days_ending(last, product.final_settlement_days)
    return ListedContract(
        symbol=contract_symbol(product.code, year, month),
        product=product,
        year=year,
        month=month,
        first_trading_day=first,
        last_trading_day=last,
        final_settlement_window=window,
        provisional=calendar.is_provisional(last),  # the latest of all its dates
    )


def _product_listing(
    product: ProductSpec, calendar: TradingCalendar, on: date
) -> list[ListedContract]:
    year, month = _add_months(on.year, on.month, -1)
    while last_trading_day(product.last_trading_day_rule, calendar, year, month) < on:
        year, month = _add_months(year, month, 1)
    return [
        contract_month(product, calendar, *_add_months(year, month, step))
        for step in range(product.listed_months)
    ]


def listed_contracts(
    products: Mapping[str, ProductSpec], calendar: TradingCalendar, on: date
) -> list[ListedContract]:
    """Every contract listed on ``on``, by product code, then expiry."""
    return [
        contract
        for code in sorted(products)
        for contract in _product_listing(products[code], calendar, on)
    ]


def find_contract(
    products: Mapping[str, ProductSpec], calendar: TradingCalendar, symbol: str, on: date
) -> ListedContract:
    """The listed contract named ``symbol`` (e.g. ``TKN2612``) on ``on``."""
    match = _SYMBOL.fullmatch(symbol)
    if match is None:
        raise ContractNotListedError(f"{symbol!r} is not a contract symbol such as TKN2612")
    code = match.group(1)
    if code not in products:
        known = ", ".join(sorted(products))
        raise ContractNotListedError(f"{symbol}: unknown product {code!r} (products: {known})")
    listing = _product_listing(products[code], calendar, on)
    for contract in listing:
        if contract.symbol == symbol:
            return contract
    raise ContractNotListedError(
        f"{symbol} is not listed on {on.isoformat()}; "
        f"{code} lists {listing[0].symbol} to {listing[-1].symbol}"
    )


# --- core rules --------------------------------------------------------------------------------


def _basis_points(spec: ProductSpec, field: str) -> int:
    value: Decimal = getattr(spec, field) * HUNDRED
    if not is_whole(value):
        raise ProductSpecError(
            f"product {spec.code}: {field}: must be a whole number of basis points (0.01 %)"
        )
    return int(value)


def to_instrument_rules(contract: ListedContract) -> InstrumentRules:
    """The core's integer trading rules for one listed contract."""
    spec = contract.product
    reference = spec.reference_price / spec.tick_size
    if not is_whole(reference):
        raise ProductSpecError(
            f"product {spec.code}: reference_price: must be on the tick grid of {spec.tick_size}"
        )
    return InstrumentRules(
        symbol=contract.symbol,
        reference_price=int(reference),
        price_limit_bp=_basis_points(spec, "price_limit_pct"),
        max_order_quantity=spec.max_order_quantity,
        circuit_breaker_bp=_basis_points(spec, "circuit_breaker_pct"),
    )
