"""The daily cycle's pure schedule over scripted days (the driver on a real sequencer is
tests/unit/test_daily_cycle_driver.py).

The schedule's tests here use the products without their night sessions (the day sessions'
rules alone); tests/unit/test_night_sessions.py adds the evenings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tokenfutures.adapters.calendars import load_trading_calendar
from tokenfutures.adapters.products_file import load_products
from tokenfutures.domain.listing import ListedContract, listed_contracts
from tokenfutures.domain.values import Phase
from tokenfutures.service.schedule import (
    ContractState,
    ExchangeState,
    Fixings,
    Plan,
    end_of_day_time,
    plan_cycle,
    reference_from_fixing,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PRODUCTS = {code: replace(p, night_session=None) for code, p in load_products().items()}
CALENDAR = load_trading_calendar()
MONDAY = date(2026, 11, 23)
CONTRACTS = listed_contracts(PRODUCTS, CALENDAR, MONDAY)  # TKN2611..TKN2710, GPU2612..GPU2711
SYMBOLS = [c.symbol for c in CONTRACTS]
TKN_VALUE, GPU_VALUE = 3_308_331, 2_457_100  # micro-USD


def at(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=SHANGHAI)


def settled_state(last_end_of_day: date | None = date(2026, 11, 20)) -> ExchangeState:
    """Every contract closed after the previous day's end of day."""
    return ExchangeState(
        {c.symbol: ContractState(Phase.CLOSED, Decimal("3.000"), settled=True) for c in CONTRACTS},
        last_end_of_day,
        first_day=date(2026, 11, 2),
    )


def fixings(*days: date, tkn: int = TKN_VALUE, gpu: int = GPU_VALUE) -> dict[Any, int | None]:
    found: dict[Any, int | None] = {}
    for day in days:
        found[("TKN", day)] = tkn
        found[("GPU-H100", day)] = gpu
    return found


def plan(state: ExchangeState, moment: datetime, known: Fixings | None = None) -> Plan:
    return plan_cycle(PRODUCTS, CALENDAR, CONTRACTS, state, moment, known or {})


def apply(state: ExchangeState, commands: Sequence[Mapping[str, Any]]) -> ExchangeState:
    """What the exchange does with the planned commands, as far as the planner sees it."""
    contracts = dict(state.contracts)
    last = state.last_end_of_day
    for command in commands:
        kind = command["type"]
        if kind == "set_phase":
            symbol = command["symbol"]
            contracts[symbol] = replace(contracts[symbol], phase=Phase(command["phase"]))
        elif kind == "set_reference_price":
            symbol = command["symbol"]
            price = Decimal(command["price"])
            contracts[symbol] = replace(contracts[symbol], reference_price=price)
        elif kind == "end_of_day":
            last = date.fromisoformat(command["date"])
            for symbol, known in contracts.items():
                if not known.delisted:
                    contracts[symbol] = replace(known, phase=Phase.CLOSED, settled=True)
        elif kind == "final_settlement":
            contracts[command["symbol"]] = replace(contracts[command["symbol"]], delisted=True)
    return ExchangeState(contracts, last, state.first_day)


def phase_changes(phase: str, symbols: Sequence[str] = SYMBOLS) -> list[dict[str, Any]]:
    return [{"type": "set_phase", "symbol": s, "phase": phase} for s in symbols]


def end_of_day(day: date, **index: str) -> dict[str, Any]:
    return {"type": "end_of_day", "date": day.isoformat(), "index": index}


# --- the schedule -------------------------------------------------------------------------------


def test_a_scripted_business_day_opens_trades_breaks_closes_and_settles() -> None:
    day_index = {"GPU-H100": "2.457100", "TKN": "3.308331"}
    script: list[tuple[tuple[int, ...], list[dict[str, Any]]]] = [
        ((8, 50), []),
        ((8, 55), phase_changes("pre_open")),  # the opening call auction: orders 08:55-08:59
        ((8, 59, 59), []),
        ((9, 0), phase_changes("continuous")),  # the book uncrosses
        ((10, 14, 59), []),
        ((10, 15), phase_changes("closed")),
        ((10, 29), []),
        ((10, 30), phase_changes("continuous")),  # no auction between day sessions
        ((11, 30), phase_changes("closed")),
        ((12, 0), []),
        ((13, 30), phase_changes("continuous")),
        ((15, 0), phase_changes("closed")),
        ((15, 29, 59), []),
        ((15, 30), [end_of_day(MONDAY, **day_index)]),
        ((15, 31), []),
        ((21, 0), []),  # these products have no night session
        ((23, 59, 59), []),
    ]
    state = settled_state()
    known = fixings(MONDAY)
    for clock, expected in script:
        moment = at(MONDAY, *clock)
        due = plan(state, moment, known)
        assert list(due.commands) == expected, clock
        state = apply(state, due.commands)
        assert plan(state, moment, known).commands == (), f"not idempotent at {clock}"
    assert state.last_end_of_day == MONDAY
    tuesday = plan(state, at(date(2026, 11, 24), 8, 55), known)
    assert list(tuesday.commands) == phase_changes("pre_open")


@pytest.mark.parametrize(
    ("day", "last_end_of_day"),
    [
        (date(2026, 10, 1), date(2026, 9, 30)),  # National Day, a Thursday
        (date(2026, 10, 7), date(2026, 9, 30)),  # the holiday's last day, a Wednesday
        (date(2026, 11, 21), date(2026, 11, 20)),  # Saturday
        (date(2026, 11, 22), date(2026, 11, 20)),  # Sunday
    ],
)
def test_holidays_and_weekends_get_nothing(day: date, last_end_of_day: date) -> None:
    state = settled_state(last_end_of_day)
    for clock in [(0, 0), (8, 55), (9, 0), (10, 30), (13, 30), (15, 30), (23, 59)]:
        assert plan(state, at(day, *clock), fixings(day)).commands == (), clock


def test_asking_twice_gives_the_same_plan_and_nothing_once_applied() -> None:
    state = settled_state()
    moment = at(MONDAY, 9, 0)  # the cycle was down at 08:55: straight to continuous
    first, second = plan(state, moment), plan(state, moment)
    assert first == second
    assert list(first.commands) == phase_changes("continuous")
    assert plan(apply(state, first.commands), moment).commands == ()


def test_a_contract_found_trading_before_the_auction_is_put_in_its_place() -> None:
    state = settled_state()
    state = apply(state, phase_changes("continuous"))
    assert list(plan(state, at(MONDAY, 8, 50)).commands) == phase_changes("closed")
    assert list(plan(state, at(MONDAY, 8, 57)).commands) == phase_changes("pre_open")
    assert list(plan(state, at(MONDAY, 12, 0)).commands) == phase_changes("closed")


def test_new_contracts_take_the_previous_fixing_as_reference_before_anything_else() -> None:
    fresh = ExchangeState(
        {c.symbol: ContractState(Phase.CONTINUOUS, c.product.reference_price) for c in CONTRACTS},
        last_end_of_day=None,
        first_day=MONDAY,
    )
    friday = date(2026, 11, 20)
    due = plan(fresh, at(MONDAY, 8, 50), fixings(friday))
    references = [c for c in due.commands if c["type"] == "set_reference_price"]
    assert list(due.commands) == references + phase_changes("closed")
    assert {c["symbol"]: c["price"] for c in references} == {
        s: "3.308" if s.startswith("TKN") else "2.455" for s in SYMBOLS
    }
    state = apply(fresh, due.commands)
    assert plan(state, at(MONDAY, 8, 50), fixings(friday)).commands == ()
    # without the fixing the default reference stays, and the note says why
    bare = plan(fresh, at(MONDAY, 8, 50))
    assert [c["type"] for c in bare.commands] == ["set_phase"] * len(SYMBOLS)
    assert ("TKN", friday) in bare.wanted
    assert any("TKN2612" in n and "2026-11-20" in n and "not available" in n for n in bare.notes)


def test_the_first_end_of_day_is_the_exchange_s_first_day() -> None:
    state = replace(settled_state(None), first_day=MONDAY)
    due = plan(state, at(MONDAY, 16, 0), fixings(MONDAY))
    assert [c.get("date") for c in due.commands] == ["2026-11-23"]


def test_after_an_early_end_of_day_the_day_s_sessions_are_over() -> None:
    state = settled_state(MONDAY)  # an admin ran Monday's end of day at 11:00
    for clock in [(11, 0), (13, 30), (15, 30)]:
        assert plan(state, at(MONDAY, *clock)).commands == (), clock
    trading = apply(state, phase_changes("continuous"))
    assert list(plan(trading, at(MONDAY, 13, 30)).commands) == phase_changes("closed")


def test_a_missed_end_of_day_is_caught_up_before_the_day_opens() -> None:
    state = settled_state(date(2026, 11, 19))  # Friday's end of day never ran
    friday = date(2026, 11, 20)
    due = plan(state, at(MONDAY, 9, 0), fixings(friday))
    assert list(due.commands) == [
        end_of_day(friday, **{"GPU-H100": "2.457100", "TKN": "3.308331"}),
        *phase_changes("continuous"),
    ]
    evening = plan(state, at(MONDAY, 16, 0))
    assert [c["date"] for c in evening.commands] == ["2026-11-20", "2026-11-23"]
    assert all(c["index"] == {} for c in evening.commands)
    assert any("without the TKN fixing (not available)" in note for note in evening.notes)


def test_reference_prices_round_half_even_to_the_tick() -> None:
    tkn, gpu = PRODUCTS["TKN"], PRODUCTS["GPU"]
    assert reference_from_fixing(gpu, 2_457_100) == Decimal("2.455")
    assert reference_from_fixing(gpu, 2_457_500) == Decimal("2.460")  # 491.5 ticks -> 492
    assert reference_from_fixing(tkn, 3_308_500) == Decimal("3.308")  # 3308.5 ticks -> 3308
    assert reference_from_fixing(tkn, 1) == Decimal("0.001")  # never below a tick
    assert end_of_day_time(PRODUCTS.values()) == time(15, 30)


def _contract(symbol: str) -> ListedContract:
    return next(c for c in CONTRACTS if c.symbol == symbol)


def test_final_settlement_only_after_the_last_trading_day_s_end_of_day() -> None:
    tkn2611 = _contract("TKN2611")
    last = tkn2611.last_trading_day
    window = tkn2611.final_settlement_window
    assert last == date(2026, 11, 30)
    assert len(window) == 5
    values = [3_300_000 + step for step in range(5)]
    known: dict[Any, int | None] = fixings(last)
    known.update({("TKN", day): value for day, value in zip(window, values, strict=True)})
    state = settled_state(date(2026, 11, 27))
    state = apply(state, phase_changes("closed"))
    assert plan(state, at(last, 15, 29), known).commands == ()  # its end of day has not run
    due = plan(state, at(last, 15, 30), known)
    assert list(due.commands) == [
        end_of_day(last, **{"GPU-H100": "2.457100", "TKN": "3.300004"}),
        {
            "type": "final_settlement",
            "symbol": "TKN2611",
            "fixings": ["3.300000", "3.300001", "3.300002", "3.300003", "3.300004"],
        },
    ]
    state = apply(state, due.commands)
    assert plan(state, at(last, 15, 30), known).commands == ()
    # the next morning the other contracts open; the expired one does not
    tuesday = plan(state, at(date(2026, 12, 1), 8, 55), known)
    trading = [s for s in SYMBOLS if s != "TKN2611"]
    assert list(tuesday.commands) == phase_changes("pre_open", trading)


def test_final_settlement_waits_for_every_fixing_of_its_window() -> None:
    tkn2611 = _contract("TKN2611")
    window = tkn2611.final_settlement_window
    known: dict[Any, int | None] = {("TKN", day): 3_300_000 for day in window}
    del known[("TKN", window[2])]
    known[("TKN", window[3])] = None  # computed but not published
    state = settled_state(tkn2611.last_trading_day)  # its end of day has run
    waiting = plan(state, at(date(2026, 11, 30), 16, 0), known)
    assert waiting.commands == ()
    assert waiting.notes == (
        "TKN2611: final settlement waits for the TKN fixings of "
        "2026-11-26 (not available); 2026-11-27 (not published)",
    )
    assert {("TKN", day) for day in window} <= waiting.wanted
    known[("TKN", window[2])] = known[("TKN", window[3])] = 3_300_000
    # it is sent as soon as they are there, even days later (and only once)
    later = plan(state, at(date(2026, 11, 30), 16, 1), known)
    assert list(later.commands) == [
        {"type": "final_settlement", "symbol": "TKN2611", "fixings": ["3.300000"] * 5}
    ]
    assert plan(apply(state, later.commands), at(date(2026, 11, 30), 16, 1), known).commands == ()


def test_a_gpu_contract_settles_on_its_ten_day_window() -> None:
    gpu2612 = _contract("GPU2612")
    assert gpu2612.last_trading_day == date(2026, 12, 15)
    window = gpu2612.final_settlement_window
    known: dict[Any, int | None] = {
        ("GPU-H100", day): 2_450_000 + i for i, day in enumerate(window)
    }
    state = settled_state(gpu2612.last_trading_day)
    due = plan(state, at(date(2026, 12, 15), 17, 0), known)
    settlements = [c for c in due.commands if c["type"] == "final_settlement"]
    assert settlements == [
        {
            "type": "final_settlement",
            "symbol": "GPU2612",
            "fixings": [f"2.45000{i}" for i in range(10)],
        }
    ]


def test_halts_and_circuit_breaker_pauses_are_left_alone() -> None:
    state = apply(settled_state(), phase_changes("continuous"))
    contracts = dict(state.contracts)
    contracts["TKN2612"] = replace(contracts["TKN2612"], phase=Phase.HALTED)
    contracts["GPU2701"] = replace(contracts["GPU2701"], phase=Phase.PRE_OPEN, paused=True)
    contracts["GPU2702"] = replace(contracts["GPU2702"], phase=Phase.PRE_OPEN)  # no pause
    state = replace(state, contracts=contracts)
    due = plan(state, at(MONDAY, 9, 30))
    assert list(due.commands) == phase_changes("continuous", ["GPU2702"])
    assert due.notes == ("TKN2612: halted; the cycle leaves it to the operator",)
    closing = plan(state, at(MONDAY, 10, 15))
    assert list(closing.commands) == phase_changes("closed", [s for s in SYMBOLS if s != "TKN2612"])


def test_a_moment_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan(settled_state(), datetime(2026, 11, 23, 9, 0))  # noqa: DTZ001


def test_the_moment_is_read_in_shanghai_time() -> None:
    utc = datetime(2026, 11, 23, 0, 55, tzinfo=UTC)  # 08:55 in Shanghai
    assert list(plan(settled_state(), utc).commands) == phase_changes("pre_open")
