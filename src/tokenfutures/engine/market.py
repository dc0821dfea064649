"""Composition root of the core: the contracts listed on a date, an exchange and a codec."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from tokenfutures.adapters.calendars import load_trading_calendar
from tokenfutures.adapters.products_file import load_products
from tokenfutures.domain.clearing.house import ClearingHouse
from tokenfutures.domain.clearing.terms import (
    ClearingParameters,
    contract_terms,
    margin_parameters,
)
from tokenfutures.domain.exchange import Exchange
from tokenfutures.domain.listing import ListedContract, listed_contracts, to_instrument_rules
from tokenfutures.domain.values import Phase
from tokenfutures.engine.codec import Codec
from tokenfutures.engine.timestamps import ts_date

EXCHANGE_TIMEZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True, slots=True)
class Market:
    exchange: Exchange
    codec: Codec
    contracts: tuple[ListedContract, ...]
    house: ClearingHouse  # the pipeline: pre-trade risk, the exchange, clearing


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
    codec = Codec({c.symbol: c.product.tick_size for c in contracts}, codec_minor_units)
    house = ClearingHouse(
        exchange,
        [contract_terms(c) for c in contracts],
        {code: margin_parameters(spec) for code, spec in products.items()},
        risk=risk,
        parameters=ClearingParameters(minor_units=codec_minor_units),
    )
    return Market(exchange, codec, contracts, house)


def trading_date(ts: int) -> date:
    """The exchange-local (Shanghai) calendar date of a command timestamp."""
    return ts_date(ts).astimezone(EXCHANGE_TIMEZONE).date()
