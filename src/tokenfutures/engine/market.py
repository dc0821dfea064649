"""Composition root of the core: the contracts listed on a date, an exchange and a codec."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from tokenfutures.adapters.calendars import load_trading_calendar
from tokenfutures.adapters.products_file import load_products
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


def build_market(
    on: date,
    *,
    phase: Phase = Phase.CONTINUOUS,
    products_file: Path | None = None,
    holidays_file: Path | None = None,
) -> Market:
    """Every contract listed on ``on``, each at its product's reference price, in ``phase``."""
    products = load_products(products_file)
    calendar = load_trading_calendar(holidays_file)
    contracts = tuple(listed_contracts(products, calendar, on))
    exchange = Exchange([to_instrument_rules(c) for c in contracts], phase=phase)
    codec = Codec(
        {c.symbol: c.product.tick_size for c in contracts},
        minor_units=max((c.product.currency_minor_units for c in contracts), default=2),
    )
    return Market(exchange, codec, contracts)


def trading_date(ts: int) -> date:
    """The exchange-local (Shanghai) calendar date of a command timestamp."""
    return ts_date(ts).astimezone(EXCHANGE_TIMEZONE).date()
