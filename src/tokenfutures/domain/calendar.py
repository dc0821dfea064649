"""The exchange's trading calendar: which dates are business days.

A business day is a weekday that is not an exchange holiday. Chinese exchange holidays are
announced one year at a time, so the calendar knows them only up to ``confirmed_until``;
past that date it falls back to plain weekdays and calls such dates *provisional*: a
provisional date may still move once the next year's holidays are published.

Pure: the holidays arrive as data (``adapters/calendars.py`` builds them from
``exchange_calendars`` and an optional holidays file); nothing here reads a clock or a file.
"""

from __future__ import annotations

import calendar as _gregorian
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

ONE_DAY = timedelta(days=1)
SATURDAY = 5
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI")
LAST_TRADING_DAY_RULES = "last_business_day, business_day_before:D (D 1..28), last_weekday:MON..FRI"
_RULE = re.compile(r"last_business_day|business_day_before:(\d{1,2})|last_weekday:([A-Z]{3})")


@dataclass(frozen=True, slots=True)
class TradingCalendar:
    holidays: frozenset[date]
    confirmed_until: date

    def __post_init__(self) -> None:
        late = sorted(d for d in self.holidays if d > self.confirmed_until)
        if late:
            raise ValueError(
                f"holiday {late[0].isoformat()} lies after confirmed_until "
                f"{self.confirmed_until.isoformat()}"
            )

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < SATURDAY and day not in self.holidays

    def is_provisional(self, day: date) -> bool:
        """True when the holidays of ``day`` are not yet known (weekday fallback)."""
        return day > self.confirmed_until

    def next_business_day(self, day: date) -> date:
        """The first business day strictly after ``day``."""
        day += ONE_DAY
        while not self.is_business_day(day):
            day += ONE_DAY
        return day

    def previous_business_day(self, day: date) -> date:
        """The last business day strictly before ``day``."""
        day -= ONE_DAY
        while not self.is_business_day(day):
            day -= ONE_DAY
        return day

    def on_or_before(self, day: date) -> date:
        """``day`` itself if it is a business day, else the business day before it."""
        return day if self.is_business_day(day) else self.previous_business_day(day)

    def business_days(self, start: date, end: date) -> tuple[date, ...]:
        """The business days from ``start`` to ``end``, both included, oldest first."""
        days: list[date] = []
        day = start
        while day <= end:
            if self.is_business_day(day):
                days.append(day)
            day += ONE_DAY
        return tuple(days)

    def business_days_ending(self, end: date, count: int) -> tuple[date, ...]:
        """The last ``count`` business days up to and including ``end``, oldest first."""
        if count < 1:
            raise ValueError(f"count: must be at least 1, got {count}")
        days = [self.on_or_before(end)]
        while len(days) < count:
            days.append(self.previous_business_day(days[-1]))
        return tuple(reversed(days))

    def last_business_day(self, year: int, month: int) -> date:
        """The last business day of a calendar month."""
        return self.on_or_before(date(year, month, _gregorian.monthrange(year, month)[1]))

    def holds_night_session(self, day: date) -> bool:
        """Whether the evening of ``day`` has a night session (SHFE practice).

        The night session belongs to the next business day and is held only after a business
        day that is not followed by a holiday: none on the eve of a holiday, none on the
        Friday before a holiday Monday.
        """
        if not self.is_business_day(day):
            return False
        following = self.next_business_day(day)
        gap = (following - day).days
        return all((day + timedelta(days=step)).weekday() >= SATURDAY for step in range(1, gap))

    def with_published_years(
        self, holidays_by_year: Mapping[int, Iterable[date]]
    ) -> TradingCalendar:
        """A calendar that also knows the holidays of the given (newly published) years.

        Every listed year becomes confirmed. The years past the current ``confirmed_until``
        must follow on from it without a gap, or a year without its holidays would be
        confirmed by accident.
        """
        added: set[date] = set()
        for year, days in holidays_by_year.items():
            for day in days:
                if day.year != year:
                    raise ValueError(f"year {year}: {day.isoformat()} is not in {year}")
                added.add(day)
        confirmed_until = self.confirmed_until
        for year in sorted(holidays_by_year):
            if year < confirmed_until.year:
                continue
            if year > confirmed_until.year + 1:
                missing = confirmed_until.year + 1
                raise ValueError(
                    f"year {year}: the holidays of {missing} are missing; years must follow "
                    f"on from the confirmed calendar (until {confirmed_until.isoformat()})"
                )
            confirmed_until = date(year, 12, 31)
        return TradingCalendar(self.holidays | added, confirmed_until)


# --- expiry rules ------------------------------------------------------------------------------


def _parse_rule(rule: str) -> tuple[str, int]:
    """``(kind, argument)``: the day of month, or the weekday (0 = Monday), or 0."""
    match = _RULE.fullmatch(rule)
    if match is None:
        raise ValueError(f"unknown rule {rule!r}; expected one of {LAST_TRADING_DAY_RULES}")
    day, weekday = match.groups()
    if day is not None:
        if not 1 <= int(day) <= 28:
            raise ValueError(f"{rule!r}: day must be between 1 and 28")
        return "business_day_before", int(day)
    if weekday is not None:
        if weekday not in WEEKDAYS:
            raise ValueError(f"{rule!r}: weekday must be one of {', '.join(WEEKDAYS)}")
        return "last_weekday", WEEKDAYS.index(weekday)
    return "last_business_day", 0


def check_last_trading_day_rule(rule: str) -> None:
    """Raise ``ValueError`` saying what is wrong unless ``rule`` is a known rule."""
    _parse_rule(rule)


def last_trading_day(rule: str, calendar: TradingCalendar, year: int, month: int) -> date:
    """The last trading day of a contract month under a ``last_trading_day_rule``.

    ``last_business_day``: the month's last business day. ``business_day_before:15``: the
    15th, or the business day before it. ``last_weekday:MON``: the month's last Monday, or
    the business day before it when that Monday is a holiday.
    """
    kind, argument = _parse_rule(rule)
    if kind == "business_day_before":
        return calendar.on_or_before(date(year, month, argument))
    if kind == "last_weekday":
        last = date(year, month, _gregorian.monthrange(year, month)[1])
        offset = (last.weekday() - argument) % 7
        return calendar.on_or_before(last.replace(day=last.day - offset))
    return calendar.last_business_day(year, month)
