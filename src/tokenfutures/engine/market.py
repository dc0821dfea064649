"""Composition root of the core: the contracts listed on a date, an exchange and a codec.

A market starts with the contracts listed on its listing date and grows as later months are
listed (``list_contract``, the roll onto the next month): ``ContractCatalog`` works out any
contract month of the products from the products file and the trading calendar, and the
clearing house keeps the months listed since in ``listings``, which the market's
``contracts`` and the codec's tick sizes read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from tokenfutures.adapters.calendars import load_trading_calendar
from tokenfutures.adapters.products_file import load_products
from tokenfutures.domain.calendar import TradingCalendar
from tokenfutures.domain.clearing.house import ClearingHouse
from tokenfutures.domain.clearing.terms import (
    ClearingParameters,
    contract_terms,
    margin_parameters,
)
from tokenfutures.domain.contracts import ProductSpec
from tokenfutures.domain.exchange import Exchange
from tokenfutures.domain.listing import (
    ListedContract,
    contract_month,
    listed_contracts,
    to_instrument_rules,
)
from tokenfutures.domain.rejects import RejectReason
from tokenfutures.domain.values import Phase
from tokenfutures.engine.codec import Codec, CommandError, TickSizes
from tokenfutures.engine.timestamps import ts_date

EXCHANGE_TIMEZONE = ZoneInfo("Asia/Shanghai")
_SYMBOL = re.compile(r"([A-Z]{1,8})([0-9]{2})(0[1-9]|1[0-2])")


class ContractCatalog:
    """Every contract month of the products, worked out on the trading calendar.

    ``contract(symbol)`` is the month a symbol names; ``listable(symbol, ts)`` is that month
    if the listing calendar lists it on the command's trading day: the exchange-local date of
    ``ts``, or the next business day (whose night session, where the product has one, is
    held that evening). Either raises ``CommandError`` naming the rule.
    """

    def __init__(self, products: Mapping[str, ProductSpec], calendar: TradingCalendar) -> None:
        self.products = dict(products)
        self.calendar = calendar

    def contract(self, symbol: str) -> ListedContract:
        match = _SYMBOL.fullmatch(symbol)
        if match is None:
            raise CommandError(
                RejectReason.INVALID_FIELD,
                "symbol",
                f"{symbol!r} is not a contract symbol such as TKN2612 (product code, year, month)",
            )
        code, year, month = match.group(1), 2000 + int(match.group(2)), int(match.group(3))
        product = self.products.get(code)
        if product is None:
            known = ", ".join(sorted(self.products))
            raise CommandError(
                RejectReason.INVALID_FIELD, "symbol", f"{symbol}: no product {code} ({known})"
            )
        return contract_month(product, self.calendar, year, month)

    def listable(self, symbol: str, ts: int) -> ListedContract:
        contract = self.contract(symbol)
        today = trading_date(ts)
        days = (today, self.calendar.next_business_day(today))
        product = {contract.product.code: contract.product}
        for day in days:
            if any(c.symbol == symbol for c in listed_contracts(product, self.calendar, day)):
                return contract
        after = days[-1]
        listing = listed_contracts(product, self.calendar, after)
        raise CommandError(
            RejectReason.UNKNOWN_SYMBOL,
            "symbol",
            f"{symbol} is not listed on {today.isoformat()} nor on the next business day "
            f"{after.isoformat()}, when {contract.product.code} lists {listing[0].symbol} to "
            f"{listing[-1].symbol}",
        )


@dataclass(frozen=True, slots=True)
class Market:
    """The core behind its clearing house, the codec, and the contracts: ``first`` (those of
    the listing date) and ``contracts`` (those and every month listed since)."""

    exchange: Exchange
    codec: Codec
    first: tuple[ListedContract, ...]
    house: ClearingHouse  # the pipeline: pre-trade risk, the exchange, clearing
    catalog: ContractCatalog | None = None  # None: the market lists nothing later

    @property
    def contracts(self) -> tuple[ListedContract, ...]:
        """Every contract of the market, by product code then expiry."""
        later = self.house.listings
        if not later:
            return self.first
        every = self.first + tuple(later.values())
        return tuple(sorted(every, key=lambda c: (c.product.code, c.year, c.month)))


def build_market(
    on: date,
    *,
    phase: Phase = Phase.CONTINUOUS,
    products_file: Path | None = None,
    holidays_file: Path | None = None,
    risk: bool = True,
) -> Market:
    """Every contract listed on ``on``, each at its product's reference price, in ``phase``,
    behind a clearing house (``risk=False`` turns its pre-trade checks off)."""
    products = load_products(products_file)
    calendar = load_trading_calendar(holidays_file)
    contracts = tuple(listed_contracts(products, calendar, on))
    exchange = Exchange([to_instrument_rules(c) for c in contracts], phase=phase)
    codec_minor_units = max((c.product.currency_minor_units for c in contracts), default=2)
    house = ClearingHouse(
        exchange,
        [contract_terms(c) for c in contracts],
        {code: margin_parameters(spec) for code, spec in products.items()},
        risk=risk,
        parameters=ClearingParameters(minor_units=codec_minor_units),
    )
    catalog = ContractCatalog(products, calendar)
    ticks = TickSizes({c.symbol: c.product.tick_size for c in contracts}, house.listings)
    codec = Codec(ticks, codec_minor_units, catalog)
    return Market(exchange, codec, contracts, house, catalog)


def trading_date(ts: int) -> date:
    """The exchange-local (Shanghai) calendar date of a command timestamp."""
    return ts_date(ts).astimezone(EXCHANGE_TIMEZONE).date()
