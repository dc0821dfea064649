"""TradingCalendar, the last-trading-day rules, and the XSHG + holidays-file adapter."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from tokenfutures.adapters.calendars import (
    HOLIDAYS_ENV,
    HolidaysFileError,
    load_trading_calendar,
    xshg_calendar,
)
from tokenfutures.domain.calendar import (
    TradingCalendar,
    check_last_trading_day_rule,
    last_trading_day,
)

NATIONAL_DAY_2026 = [date(2026, 10, day) for day in (1, 2, 5, 6, 7)]
SPRING_FESTIVAL_2026 = [date(2026, 2, day) for day in (16, 17, 18, 19, 20, 23)]


@pytest.fixture
def calendar() -> TradingCalendar:
    """A hand-built 2026 calendar: National Day and Spring Festival weekdays closed."""
    return TradingCalendar(frozenset(NATIONAL_DAY_2026 + SPRING_FESTIVAL_2026), date(2026, 12, 31))


@pytest.fixture
def no_holidays_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(HOLIDAYS_ENV, raising=False)


def write(tmp_path: Path, text: str, name: str = "holidays.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- domain: TradingCalendar -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 9, 30), True),  # Wednesday
        (date(2026, 10, 1), False),  # National Day
        (date(2026, 10, 3), False),  # Saturday
        (date(2026, 10, 4), False),  # Sunday
        (date(2026, 10, 8), True),
        (date(2026, 2, 23), False),  # Spring Festival Monday
        (date(2027, 1, 1), True),  # past confirmed_until: weekday fallback
    ],
)
def test_is_business_day(calendar: TradingCalendar, day: date, expected: bool) -> None:
    assert calendar.is_business_day(day) is expected


def test_next_and_previous_business_day_skip_holidays_and_weekends(
    calendar: TradingCalendar,
) -> None:
    assert calendar.next_business_day(date(2026, 9, 30)) == date(2026, 10, 8)
    assert calendar.previous_business_day(date(2026, 10, 8)) == date(2026, 9, 30)
    assert calendar.next_business_day(date(2026, 2, 13)) == date(2026, 2, 24)
    assert calendar.previous_business_day(date(2026, 2, 24)) == date(2026, 2, 13)
    assert calendar.next_business_day(date(2026, 10, 9)) == date(2026, 10, 12)  # Fri -> Mon


def test_next_and_previous_are_strict(calendar: TradingCalendar) -> None:
    assert calendar.next_business_day(date(2026, 10, 8)) == date(2026, 10, 9)
    assert calendar.previous_business_day(date(2026, 10, 9)) == date(2026, 10, 8)


def test_on_or_before(calendar: TradingCalendar) -> None:
    assert calendar.on_or_before(date(2026, 10, 8)) == date(2026, 10, 8)
    assert calendar.on_or_before(date(2026, 10, 7)) == date(2026, 9, 30)


def test_business_days_inclusive_oldest_first(calendar: TradingCalendar) -> None:
    assert calendar.business_days(date(2026, 9, 28), date(2026, 10, 9)) == (
        date(2026, 9, 28),
        date(2026, 9, 29),
        date(2026, 9, 30),
        date(2026, 10, 8),
        date(2026, 10, 9),
    )
    assert calendar.business_days(date(2026, 10, 1), date(2026, 10, 7)) == ()
    assert calendar.business_days(date(2026, 10, 9), date(2026, 10, 8)) == ()


def test_business_days_ending(calendar: TradingCalendar) -> None:
    assert calendar.business_days_ending(date(2026, 10, 9), 3) == (
        date(2026, 9, 30),
        date(2026, 10, 8),
        date(2026, 10, 9),
    )
    assert calendar.business_days_ending(date(2026, 10, 5), 2) == (
        date(2026, 9, 29),
        date(2026, 9, 30),
    )
    with pytest.raises(ValueError, match="count: must be at least 1"):
        calendar.business_days_ending(date(2026, 10, 9), 0)


def test_last_business_day_of_month(calendar: TradingCalendar) -> None:
    assert calendar.last_business_day(2026, 10) == date(2026, 10, 30)
    assert calendar.last_business_day(2026, 1) == date(2026, 1, 30)  # 31st is a Saturday


def test_provisional_after_confirmed_until(calendar: TradingCalendar) -> None:
    assert not calendar.is_provisional(date(2026, 12, 31))
    assert calendar.is_provisional(date(2027, 1, 1))


def test_holiday_after_confirmed_until_is_rejected() -> None:
    with pytest.raises(ValueError, match="holiday 2027-01-01 lies after confirmed_until"):
        TradingCalendar(frozenset({date(2027, 1, 1)}), date(2026, 12, 31))


@pytest.mark.parametrize(
    ("evening", "held"),
    [
        (date(2026, 9, 29), True),
        (date(2026, 9, 30), False),  # eve of National Day
        (date(2026, 10, 9), True),  # ordinary Friday
        (date(2026, 2, 13), False),  # Friday before the Spring Festival Monday
        (date(2026, 10, 10), False),  # Saturday
    ],
)
def test_night_session_not_held_before_a_holiday(
    calendar: TradingCalendar, evening: date, held: bool
) -> None:
    assert calendar.holds_night_session(evening) is held


def test_published_year_confirms_it_and_adds_holidays(calendar: TradingCalendar) -> None:
    extended = calendar.with_published_years({2027: [date(2027, 1, 1)]})
    assert extended.confirmed_until == date(2027, 12, 31)
    assert not extended.is_business_day(date(2027, 1, 1))
    assert not extended.is_provisional(date(2027, 12, 31))
    assert extended.holidays >= calendar.holidays


def test_published_years_must_not_leave_a_gap(calendar: TradingCalendar) -> None:
    with pytest.raises(ValueError, match="year 2028: the holidays of 2027 are missing"):
        calendar.with_published_years({2028: [date(2028, 1, 3)]})


def test_published_year_date_must_be_in_that_year(calendar: TradingCalendar) -> None:
    with pytest.raises(ValueError, match="year 2027: 2028-01-03 is not in 2027"):
        calendar.with_published_years({2027: [date(2028, 1, 3)]})


def test_republished_current_year_extends_to_year_end() -> None:
    half = TradingCalendar(frozenset(), date(2026, 6, 30))
    extended = half.with_published_years({2026: [date(2026, 10, 1)], 2025: [date(2025, 1, 1)]})
    assert extended.confirmed_until == date(2026, 12, 31)
    assert extended.holidays == {date(2026, 10, 1), date(2025, 1, 1)}


# --- domain: last trading day rules ------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "year", "month", "expected"),
    [
        ("last_business_day", 2026, 10, date(2026, 10, 30)),
        ("last_business_day", 2026, 9, date(2026, 9, 30)),
        ("business_day_before:15", 2026, 10, date(2026, 10, 15)),
        ("business_day_before:15", 2026, 2, date(2026, 2, 13)),  # 15th is a Sunday
        ("business_day_before:5", 2026, 10, date(2026, 9, 30)),  # 5th is National Day
        ("last_weekday:MON", 2026, 10, date(2026, 10, 26)),
        ("last_weekday:MON", 2026, 2, date(2026, 2, 13)),  # 23rd: Spring Festival
        ("last_weekday:FRI", 2027, 1, date(2027, 1, 29)),  # provisional fallback
        ("last_weekday:WED", 2026, 9, date(2026, 9, 30)),
    ],
)
def test_last_trading_day_rules(
    calendar: TradingCalendar, rule: str, year: int, month: int, expected: date
) -> None:
    assert last_trading_day(rule, calendar, year, month) == expected


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("third_friday", "unknown rule 'third_friday'; expected one of last_business_day"),
        ("", "unknown rule ''"),
        ("business_day_before:", "unknown rule 'business_day_before:'"),
        ("business_day_before:0", "day must be between 1 and 28"),
        ("business_day_before:29", "day must be between 1 and 28"),
        ("last_weekday:SAT", "weekday must be one of MON, TUE, WED, THU, FRI"),
        ("last_weekday:mon", "unknown rule 'last_weekday:mon'"),
        ("last_business_day ", "unknown rule"),
    ],
)
def test_unknown_last_trading_day_rules_are_rejected(rule: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_last_trading_day_rule(rule)


# --- adapter: XSHG and holidays files ----------------------------------------------------------


@pytest.mark.usefixtures("no_holidays_env")
def test_xshg_calendar_knows_2026_holidays() -> None:
    calendar = load_trading_calendar()
    assert calendar.confirmed_until == date(2026, 12, 31)
    for day in NATIONAL_DAY_2026 + SPRING_FESTIVAL_2026 + [date(2026, 1, 1), date(2026, 1, 2)]:
        assert not calendar.is_business_day(day), day
    assert calendar.is_business_day(date(2026, 2, 13))
    assert calendar.is_business_day(date(2026, 2, 24))
    assert calendar.next_business_day(date(2026, 9, 30)) == date(2026, 10, 8)
    assert calendar.next_business_day(date(2026, 4, 30)) == date(2026, 5, 6)  # Labour Day
    assert not calendar.is_business_day(date(2025, 10, 1))


@pytest.mark.usefixtures("no_holidays_env")
def test_xshg_fallback_after_2026_is_weekdays_marked_provisional() -> None:
    calendar = load_trading_calendar()
    assert calendar.is_business_day(date(2027, 1, 1))  # New Year's Day, not yet published
    assert calendar.is_provisional(date(2027, 1, 1))
    assert max(calendar.holidays) <= date(2026, 12, 31)


@pytest.mark.usefixtures("no_holidays_env")
def test_xshg_extraction_is_cached() -> None:
    assert load_trading_calendar() is xshg_calendar()
    assert xshg_calendar() is xshg_calendar()


HOLIDAYS_2027 = """
[holidays]
"2027" = ["2027-01-01", "2027-02-08..2027-02-12", 2027-10-01]
"""


@pytest.mark.usefixtures("no_holidays_env")
def test_holidays_file_confirms_the_next_year(tmp_path: Path) -> None:
    calendar = load_trading_calendar(write(tmp_path, HOLIDAYS_2027))
    assert calendar.confirmed_until == date(2027, 12, 31)
    assert not calendar.is_provisional(date(2027, 6, 1))
    closed = [date(2027, 1, 1), date(2027, 10, 1)]
    closed += [date(2027, 2, 8) + timedelta(days=step) for step in range(5)]
    for day in closed:
        assert not calendar.is_business_day(day), day
    assert calendar.next_business_day(date(2027, 2, 5)) == date(2027, 2, 15)
    assert not calendar.is_business_day(date(2026, 10, 1))  # XSHG holidays kept


def test_holidays_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(HOLIDAYS_ENV, str(write(tmp_path, HOLIDAYS_2027)))
    assert not load_trading_calendar().is_business_day(date(2027, 1, 1))
    other = write(tmp_path, '[holidays]\n"2027" = ["2027-01-04"]\n', "other.toml")
    explicit = load_trading_calendar(other)
    assert explicit.is_business_day(date(2027, 1, 1))
    assert not explicit.is_business_day(date(2027, 1, 4))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[holidays\n", "not valid TOML"),
        ("", "missing [holidays] table"),
        ('year = 2027\n[holidays]\n"2027" = []\n', "year: unknown key"),
        (
            '[holidays]\n"27" = ["2027-01-01"]\n',
            'holidays.27: the key must be a year such as "2027"',
        ),
        ('[holidays]\n"2027" = "2027-01-01"\n', "holidays.2027: must be a list of dates"),
        ('[holidays]\n"2027" = ["2027-13-01"]\n', "holidays.2027: '2027-13-01': not a YYYY-MM-DD"),
        ('[holidays]\n"2027" = ["2027-1-1"]\n', "holidays.2027: '2027-1-1': not a YYYY-MM-DD"),
        ('[holidays]\n"2027" = ["2028-01-03"]\n', "holidays.2027: '2028-01-03': lies outside 2027"),
        ('[holidays]\n"2027" = [5]\n', "holidays.2027: 5: must be a date or a YYYY-MM-DD"),
        ('[holidays]\n"2027" = [2027-01-01T09:00:00]\n', "must be a date or a YYYY-MM-DD"),
        (
            '[holidays]\n"2027" = ["2027-02-12..2027-02-08"]\n',
            "'2027-02-12..2027-02-08': the range ends before it starts",
        ),
        ('[holidays]\n"2028" = ["2028-01-03"]\n', "year 2028: the holidays of 2027 are missing"),
    ],
)
def test_bad_holidays_file_names_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(HolidaysFileError) as raised:
        load_trading_calendar(path)
    assert str(raised.value).startswith(f"holidays file {path}: ")
    assert message in str(raised.value)


def test_missing_holidays_file(tmp_path: Path) -> None:
    with pytest.raises(HolidaysFileError, match="cannot be read"):
        load_trading_calendar(tmp_path / "absent.toml")
