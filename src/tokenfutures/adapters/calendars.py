"""The exchange's trading calendar from ``exchange_calendars`` plus published holiday files.

``exchange_calendars`` (calendar XSHG, the Shanghai Stock Exchange, which closes on the same
days as the Shanghai futures exchanges) records holidays only to the end of 2026 and refuses
to build past that. Later years are either loaded from a holidays file when the exchange
publishes them, or fall back to plain weekdays marked provisional (``TradingCalendar``).

Holidays file (TOML), one key per year, each an ISO date or an inclusive ``A..B`` range::

    [holidays]
    "2027" = ["2027-01-01", "2027-02-08..2027-02-12", "2027-10-01..2027-10-07"]

Every listed year becomes confirmed; years must follow on from 2026 without a gap.
"""

from __future__ import annotations

import os
import tomllib
import warnings
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from tokenfutures.domain.calendar import TradingCalendar

XSHG = "XSHG"
XSHG_START = "1991-01-01"
HOLIDAYS_ENV = "TOKENFUTURES_HOLIDAYS"


class HolidaysFileError(ValueError):
    """A holidays file cannot be read; the message names the file and the entry."""


@cache
def xshg_calendar() -> TradingCalendar:
    """The calendar as ``exchange_calendars`` knows it (cached: building it takes ~0.3 s)."""
    import exchange_calendars  # type: ignore[import-untyped]  # slow: imported when needed

    with warnings.catch_warnings():  # the library's own pandas deprecations are not ours
        warnings.simplefilter("ignore", DeprecationWarning)
        exchange = exchange_calendars.get_calendar(XSHG, start=XSHG_START)
    sessions = {timestamp.date() for timestamp in exchange.sessions}
    first, last = min(sessions), max(sessions)
    holidays = frozenset(
        day
        for day in (first + timedelta(days=offset) for offset in range((last - first).days))
        if day.weekday() < 5 and day not in sessions
    )
    return TradingCalendar(holidays, date(last.year, 12, 31))


def load_trading_calendar(holidays_file: Path | None = None) -> TradingCalendar:
    """XSHG holidays, extended by ``holidays_file`` or else the file named by
    ``$TOKENFUTURES_HOLIDAYS`` (when set and not empty)."""
    if holidays_file is None:
        named = os.environ.get(HOLIDAYS_ENV, "").strip()
        holidays_file = Path(named) if named else None
    calendar = xshg_calendar()
    if holidays_file is None:
        return calendar
    published = read_holidays_file(holidays_file)
    try:
        return calendar.with_published_years(published)
    except ValueError as error:
        raise HolidaysFileError(f"holidays file {holidays_file}: {error}") from None


def read_holidays_file(path: Path) -> dict[int, frozenset[date]]:
    """The holidays by year listed in a holidays file."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise HolidaysFileError(f"holidays file {path}: cannot be read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise HolidaysFileError(f"holidays file {path}: not valid TOML: {error}") from None
    try:
        return parse_holidays(document)
    except ValueError as error:
        raise HolidaysFileError(f"holidays file {path}: {error}") from None


def parse_holidays(document: Mapping[str, Any]) -> dict[int, frozenset[date]]:
    unknown = sorted(set(document) - {"holidays"})
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown key; expected a [holidays] table")
    table = document.get("holidays")
    if not isinstance(table, Mapping):
        raise ValueError('holidays: missing [holidays] table of "YYYY" = [dates]')
    years: dict[int, frozenset[date]] = {}
    for key, entries in table.items():
        if not (len(key) == 4 and key.isdigit()):
            raise ValueError(f'holidays.{key}: the key must be a year such as "2027"')
        if not isinstance(entries, list):
            raise ValueError(f"holidays.{key}: must be a list of dates")
        days: set[date] = set()
        for entry in entries:
            days.update(_entry_days(key, entry))
        years[int(key)] = frozenset(days)
    return years


def _entry_days(year: str, entry: object) -> list[date]:
    if isinstance(entry, date) and not isinstance(entry, datetime):
        first = last = entry
    elif isinstance(entry, str):
        start, _, end = entry.partition("..")
        first, last = _iso_date(year, entry, start), _iso_date(year, entry, end or start)
    else:
        raise ValueError(f"holidays.{year}: {entry!r}: must be a date or a YYYY-MM-DD string")
    if last < first:
        raise ValueError(f"holidays.{year}: {entry!r}: the range ends before it starts")
    if str(first.year) != year or str(last.year) != year:
        raise ValueError(f"holidays.{year}: {entry!r}: lies outside {year}")
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _iso_date(year: str, entry: str, text: str) -> date:
    text = text.strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"holidays.{year}: {entry!r}: not a YYYY-MM-DD date") from None
