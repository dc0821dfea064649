"""`tokenfutures contracts`: the product specifications and the contracts listed on a date.

The date defaults to today in exchange local time (Asia/Shanghai), read here at the edge.
JSON output: decimals as decimal strings ("0.001"), dates as ISO strings.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from tokenfutures.adapters.calendars import HOLIDAYS_ENV, HolidaysFileError, load_trading_calendar
from tokenfutures.adapters.products_file import ProductsFileError, load_products
from tokenfutures.domain.calendar import TradingCalendar
from tokenfutures.domain.contracts import EXCHANGE_TIMEZONE, ProductSpec, Session
from tokenfutures.domain.listing import (
    ContractNotListedError,
    ListedContract,
    find_contract,
    listed_contracts,
)

contracts_app = typer.Typer(
    help="Contract specifications and the listing calendar.", no_args_is_help=True
)

DateOption = Annotated[
    str | None,
    typer.Option(
        "--date",
        metavar="YYYY-MM-DD",
        help="Trading date to list for (default: today in Asia/Shanghai).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
HolidaysOption = Annotated[
    Path | None,
    typer.Option(
        "--holidays",
        envvar=HOLIDAYS_ENV,
        exists=True,
        dir_okay=False,
        help="TOML file of published holidays for years past the built-in calendar.",
    ),
]
ProductsOption = Annotated[
    Path | None,
    typer.Option(
        "--products",
        exists=True,
        dir_okay=False,
        help="Products TOML file (default: the packaged products.toml).",
    ),
]
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@contracts_app.command("list")
def list_command(
    on: DateOption = None,
    as_json: JsonOption = False,
    holidays: HolidaysOption = None,
    products_file: ProductsOption = None,
) -> None:
    """List every contract trading on a date, by product then expiry."""
    trading_date = _trading_date(on)
    products, calendar = _load(products_file, holidays)
    contracts = listed_contracts(products, calendar, trading_date)
    if as_json:
        typer.echo(json.dumps([contract_summary(c) for c in contracts], indent=2))
    else:
        typer.echo(render_table(contracts, trading_date, calendar))


@contracts_app.command("show")
def show_command(
    symbol: Annotated[str, typer.Argument(help="Contract symbol, e.g. TKN2612.")],
    on: DateOption = None,
    as_json: JsonOption = False,
    holidays: HolidaysOption = None,
    products_file: ProductsOption = None,
) -> None:
    """Show one listed contract with every field of its product specification."""
    trading_date = _trading_date(on)
    products, calendar = _load(products_file, holidays)
    try:
        contract = find_contract(products, calendar, symbol.upper(), trading_date)
    except ContractNotListedError as error:
        raise typer.BadParameter(str(error), param_hint="'SYMBOL'") from None
    details = contract_details(contract)
    if as_json:
        typer.echo(json.dumps(details, indent=2))
        return
    width = max(len(key) for key in details)
    for key, value in details.items():
        typer.echo(f"{key:<{width}}  {_plain(value)}")


def _trading_date(text: str | None) -> date:
    if text is None:
        return datetime.now(ZoneInfo(EXCHANGE_TIMEZONE)).date()
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        message = f"{text!r} is not a valid date as YYYY-MM-DD"
        raise typer.BadParameter(message, param_hint="'--date'") from None


def _load(
    products_file: Path | None, holidays: Path | None
) -> tuple[dict[str, ProductSpec], TradingCalendar]:
    try:
        products = load_products(products_file)
    except ProductsFileError as error:
        raise typer.BadParameter(str(error), param_hint="'--products'") from None
    try:
        calendar = load_trading_calendar(holidays)
    except HolidaysFileError as error:
        raise typer.BadParameter(str(error), param_hint="'--holidays'") from None
    return products, calendar


def _decimal(value: Decimal) -> str:
    return f"{value:f}"


def _window(contract: ListedContract) -> dict[str, object]:
    window = contract.final_settlement_window
    return {
        "start": window[0].isoformat(),
        "end": window[-1].isoformat(),
        "days": len(window),
        "dates": [day.isoformat() for day in window],
    }


def contract_summary(contract: ListedContract) -> dict[str, object]:
    """One entry of ``contracts list --json``."""
    spec = contract.product
    return {
        "symbol": contract.symbol,
        "product": spec.code,
        "name": spec.name,
        "underlying": spec.underlying,
        "currency": spec.currency,
        "contract_size": _decimal(spec.contract_size),
        "contract_unit": spec.contract_unit,
        "quotation_unit": spec.quotation_unit,
        "tick_size": _decimal(spec.tick_size),
        "tick_value": _decimal(spec.tick_value),
        "price_limit_pct": _decimal(spec.price_limit_pct),
        "margin_pct": _decimal(spec.margin_pct),
        "first_trading_day": contract.first_trading_day.isoformat(),
        "last_trading_day": contract.last_trading_day.isoformat(),
        "final_settlement_window": _window(contract),
        "provisional": contract.provisional,
    }


def _spec_value(value: object) -> object:
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, Session):
        return {"start": f"{value.start:%H:%M}", "end": f"{value.end:%H:%M}"}
    if isinstance(value, tuple):
        return [_spec_value(item) for item in value]
    return value


def contract_details(contract: ListedContract) -> dict[str, object]:
    """``contracts show --json``: the contract's dates and every product spec field."""
    spec = contract.product
    details = contract_summary(contract)
    details.update(
        {
            "year": contract.year,
            "month": contract.month,
            "timezone": EXCHANGE_TIMEZONE,
            "tick_value_minor_units": spec.tick_value_minor_units,
        }
    )
    details.update({f.name: _spec_value(getattr(spec, f.name)) for f in fields(spec)})
    return details


def _plain(value: object) -> str:
    if isinstance(value, dict):
        if "dates" in value:
            return f"{value['start']} to {value['end']} ({value['days']} business days)"
        return f"{value['start']}-{value['end']}"
    if isinstance(value, list):
        return ", ".join(_plain(item) for item in value)
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


_COLUMNS = (
    "symbol",
    "underlying",
    "size",
    "tick",
    "tick value",
    "limit",
    "margin",
    "first trading",
    "last trading",
    "final settlement window",
    "dates",
)


def _row(contract: ListedContract) -> tuple[str, ...]:
    spec = contract.product
    window = contract.final_settlement_window
    return (
        contract.symbol,
        spec.underlying,
        f"{_decimal(spec.contract_size)} {spec.contract_unit}",
        _decimal(spec.tick_size),
        f"{spec.currency} {_decimal(spec.tick_value)}",
        f"{_decimal(spec.price_limit_pct)}%",
        f"{_decimal(spec.margin_pct)}%",
        contract.first_trading_day.isoformat(),
        contract.last_trading_day.isoformat(),
        f"{window[0].isoformat()}..{window[-1].isoformat()} ({len(window)}d)",
        "provisional" if contract.provisional else "confirmed",
    )


def render_table(contracts: list[ListedContract], on: date, calendar: TradingCalendar) -> str:
    """The readable listing: one row per contract and a note on provisional dates."""
    rows = [_COLUMNS, *(_row(contract) for contract in contracts)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_COLUMNS))]
    lines = [f"Contracts listed on {on.isoformat()}", ""]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if any(contract.provisional for contract in contracts):
        lines += [
            "",
            f"provisional: exchange holidays are known until {calendar.confirmed_until}; later "
            f"dates assume every weekday trades (load published holidays with --holidays).",
        ]
    return "\n".join(lines)
