"""Night sessions in the daily cycle's schedule (SHFE practice): the evening belongs to the
next business day, opens with that day's call auction, runs past midnight, is not held on the
eve of a holiday, and the expiring contract has none on its last evening."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tokenfutures.adapters.calendars import load_trading_calendar
from tokenfutures.adapters.products_file import load_products
from tokenfutures.domain.calendar import TradingCalendar
from tokenfutures.domain.listing import listed_contracts
from tokenfutures.domain.values import Phase
from tokenfutures.service.schedule import ContractState, ExchangeState, Plan, plan_cycle

SHANGHAI = ZoneInfo("Asia/Shanghai")
PRODUCTS = load_products()
CALENDAR = load_trading_calendar()
FRIDAY, SATURDAY, MONDAY = date(2026, 11, 20), date(2026, 11, 21), date(2026, 11, 23)
CONTRACTS = listed_contracts(PRODUCTS, CALENDAR, date(2026, 11, 2))
TKN = [c.symbol for c in CONTRACTS if c.product.code == "TKN" and c.last_trading_day >= MONDAY]
GPU = [c.symbol for c in CONTRACTS if c.product.code == "GPU" and c.last_trading_day >= MONDAY]


def at(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=SHANGHAI)


def closed_after(day: date) -> ExchangeState:
    contracts = {
        c.symbol: ContractState(Phase.CLOSED, Decimal("3.000"), settled=True) for c in CONTRACTS
    }
    return ExchangeState(contracts, day, first_day=date(2026, 11, 2))


def plan(state: ExchangeState, moment: datetime, calendar: TradingCalendar = CALENDAR) -> Plan:
    return plan_cycle(PRODUCTS, calendar, CONTRACTS, state, moment, {})


def apply(state: ExchangeState, commands: Sequence[Mapping[str, Any]]) -> ExchangeState:
    contracts = dict(state.contracts)
    for command in commands:
        assert command["type"] == "set_phase", command
        symbol = command["symbol"]
        contracts[symbol] = replace(contracts[symbol], phase=Phase(command["phase"]))
    return ExchangeState(contracts, state.last_end_of_day, state.first_day)


def changes(phase: str, symbols: Sequence[str]) -> list[dict[str, Any]]:
    return [{"type": "set_phase", "symbol": s, "phase": phase} for s in symbols]


def by_symbol(commands: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return sorted((dict(c) for c in commands), key=lambda c: c["symbol"])


def test_friday_evening_opens_monday_s_trading_day_and_runs_past_midnight() -> None:
    script: list[tuple[datetime, list[dict[str, Any]]]] = [
        (at(FRIDAY, 20, 54, 59), []),
        (at(FRIDAY, 20, 55), changes("pre_open", GPU + TKN)),  # Monday's opening auction
        (at(FRIDAY, 21, 0), changes("continuous", GPU + TKN)),
        (at(SATURDAY, 0, 59, 59), []),
        (at(SATURDAY, 1, 0), changes("closed", TKN)),  # TKN's night ends at 01:00
        (at(SATURDAY, 2, 30), changes("closed", GPU)),  # GPU's at 02:30
        (at(SATURDAY, 21, 0), []),  # no evening session on a weekend
        (at(MONDAY, 8, 55), []),  # the day opened on Friday night: no morning auction
        (at(MONDAY, 9, 0), changes("continuous", GPU + TKN)),
    ]
    state = closed_after(FRIDAY)
    for moment, expected in script:
        due = plan(state, moment)
        assert by_symbol(due.commands) == by_symbol(expected), moment
        state = apply(state, due.commands)
        assert plan(state, moment).commands == (), f"not idempotent at {moment}"


def test_the_evening_session_follows_the_day_s_end_of_day() -> None:
    tuesday = date(2026, 11, 24)
    state = apply(closed_after(MONDAY), [])  # Monday's end of day has run
    due = plan(state, at(MONDAY, 21, 0))
    assert {c["phase"] for c in due.commands} == {"continuous"}
    assert len(due.commands) == len(TKN) + len(GPU)
    assert plan(state, at(MONDAY, 15, 45)).commands == ()  # between close and auction: closed
    assert plan(closed_after(MONDAY), at(tuesday, 8, 55)).commands == ()


def test_no_night_session_on_the_eve_of_a_holiday() -> None:
    new_year = CALENDAR.with_published_years({2027: [date(2027, 1, 1)]})
    eve = date(2026, 12, 31)
    state = closed_after(eve)
    assert plan(state, at(eve, 21, 0), new_year).commands == ()
    morning = plan(closed_after(eve), at(date(2027, 1, 4), 8, 55), new_year)
    assert morning.commands  # the trading day opens with the morning auction instead
    assert {c["phase"] for c in morning.commands} == {"pre_open"}


def test_the_expiring_contract_has_no_session_on_its_last_evening() -> None:
    expiring = next(c for c in CONTRACTS if c.symbol == "TKN2611")
    last = expiring.last_trading_day
    assert last == date(2026, 11, 30)
    evening = plan(closed_after(last), at(last, 21, 0))
    assert "TKN2611" not in {c["symbol"] for c in evening.commands}
    friday_before = plan(closed_after(date(2026, 11, 27)), at(date(2026, 11, 27), 21, 0))
    assert "TKN2611" in {c["symbol"] for c in friday_before.commands}  # belongs to its last day


def test_no_evening_before_the_exchange_s_first_day() -> None:
    state = replace(closed_after(FRIDAY), first_day=MONDAY, last_end_of_day=None)
    assert plan(state, at(FRIDAY, 21, 0)).commands == ()
    morning = plan(state, at(MONDAY, 8, 55))
    assert {c["phase"] for c in morning.commands} == {"pre_open"}
