"""The daily cycle's roll onto new months: the schedule lists the month that replaces an
expiring contract with that contract's last end of day, prices it from the index fixing and
opens it with the others; the driver does so on a real sequencer, and a replay of the
journal lists it again.

The schedule's tests use the products without their night sessions (as
tests/unit/test_daily_cycle.py does); the driver's use the packaged products, evenings
included. TKN2611's last trading day is Monday 2026-11-30; TKN2711 trades from Tuesday
2026-12-01."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from tokenfutures.adapters.calendars import load_trading_calendar
from tokenfutures.adapters.products_file import load_products
from tokenfutures.domain.listing import ListedContract, listed_contracts
from tokenfutures.domain.values import Phase
from tokenfutures.service.daily_cycle import DailyCycle
from tokenfutures.service.journal import SqliteJournal
from tokenfutures.service.schedule import ContractState, ExchangeState, Fixings, Plan, plan_cycle
from tokenfutures.service.sequencer import Sequencer, market_for_journal

SHANGHAI = ZoneInfo("Asia/Shanghai")
PRODUCTS = {code: replace(p, night_session=None) for code, p in load_products().items()}
CALENDAR = load_trading_calendar()
MONDAY = date(2026, 11, 23)  # the exchange's listing date
LAST = date(2026, 11, 30)  # TKN2611's last trading day
TUESDAY = date(2026, 12, 1)  # TKN2711's first
CONTRACTS = listed_contracts(PRODUCTS, CALENDAR, MONDAY)  # TKN2611..TKN2710, GPU2612..GPU2711
SYMBOLS = [c.symbol for c in CONTRACTS]
TKN_VALUE, GPU_VALUE = 3_308_331, 2_457_100  # micro-USD


def at(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=SHANGHAI)


def settled_state(last_end_of_day: date) -> ExchangeState:
    """Every contract closed after the end of day of ``last_end_of_day``."""
    return ExchangeState(
        {c.symbol: ContractState(Phase.CLOSED, Decimal("3.000"), settled=True) for c in CONTRACTS},
        last_end_of_day,
        first_day=date(2026, 11, 2),
    )


def fixings(*days: date) -> dict[Any, int | None]:
    found: dict[Any, int | None] = {}
    for day in days:
        found[("TKN", day)] = TKN_VALUE
        found[("GPU-H100", day)] = GPU_VALUE
    return found


def apply(state: ExchangeState, commands: Sequence[Mapping[str, Any]]) -> ExchangeState:
    """What the exchange does with the planned commands, as far as the planner sees it."""
    contracts = dict(state.contracts)
    last = state.last_end_of_day
    for command in commands:
        kind, symbol = command["type"], command.get("symbol", "")
        if kind == "list_contract":
            assert symbol not in contracts, f"{symbol} listed twice"
            phase = Phase(command.get("phase", "closed"))
            contracts[symbol] = ContractState(phase, PRODUCTS[symbol[:3]].reference_price)
        elif kind == "set_phase":
            contracts[symbol] = replace(contracts[symbol], phase=Phase(command["phase"]))
        elif kind == "set_reference_price":
            contracts[symbol] = replace(
                contracts[symbol], reference_price=Decimal(command["price"])
            )
        elif kind == "end_of_day":
            last = date.fromisoformat(command["date"])
            for name, known in contracts.items():
                if not known.delisted:
                    contracts[name] = replace(known, phase=Phase.CLOSED, settled=True)
        elif kind == "final_settlement":
            contracts[symbol] = replace(contracts[symbol], delisted=True)
    return ExchangeState(contracts, last, state.first_day)


def phase_changes(phase: str, symbols: Sequence[str] = SYMBOLS) -> list[dict[str, Any]]:
    return [{"type": "set_phase", "symbol": s, "phase": phase} for s in symbols]


def end_of_day(day: date, **index: str) -> dict[str, Any]:
    return {"type": "end_of_day", "date": day.isoformat(), "index": index}


def _contract(symbol: str) -> ListedContract:
    return next(c for c in CONTRACTS if c.symbol == symbol)


# --- the schedule -------------------------------------------------------------------------------

EVERY_MONTH = {
    c.symbol: c for day in (MONDAY, TUESDAY) for c in listed_contracts(PRODUCTS, CALENDAR, day)
}


def rolling(state: ExchangeState, moment: datetime, known: Fixings) -> Plan:
    """The plan of a cycle that rolls, with the contracts the exchange holds (as the cycle
    passes the market's contracts, those it listed included)."""
    held = [EVERY_MONTH[symbol] for symbol in state.contracts]
    return plan_cycle(PRODUCTS, CALENDAR, held, state, moment, known, roll=True)


def test_the_roll_lists_the_next_month_with_the_expiring_one_s_last_end_of_day() -> None:
    window = _contract("TKN2611").final_settlement_window
    known = fixings(*window, TUESDAY)
    day_index = {"GPU-H100": "2.457100", "TKN": "3.308331"}
    trading = [s for s in SYMBOLS if s != "TKN2611"] + ["TKN2711"]
    script: list[tuple[datetime, list[dict[str, Any]]]] = [
        (at(LAST, 8, 55), phase_changes("pre_open")),  # TKN2611's last day: nothing to list
        (at(LAST, 9, 0), phase_changes("continuous")),
        (at(LAST, 15, 0), phase_changes("closed")),
        (
            at(LAST, 15, 30),
            [
                end_of_day(LAST, **day_index),
                {"type": "final_settlement", "symbol": "TKN2611", "fixings": ["3.308331"] * 5},
                {"type": "list_contract", "symbol": "TKN2711"},  # Tuesday's new month
                {"type": "set_reference_price", "symbol": "TKN2711", "price": "3.308"},
            ],
        ),
        (at(LAST, 23, 0), []),  # no night sessions for these products
        (at(TUESDAY, 8, 55), phase_changes("pre_open", trading)),  # it opens with the others
        (at(TUESDAY, 9, 0), phase_changes("continuous", trading)),
    ]
    state = settled_state(date(2026, 11, 27))
    for moment, expected in script:
        due = rolling(state, moment, known)
        assert list(due.commands) == expected, moment
        state = apply(state, due.commands)
        assert rolling(state, moment, known).commands == (), f"not idempotent at {moment}"
    listed = state.contracts["TKN2711"]
    assert (listed.reference_price, listed.phase) == (Decimal("3.308"), Phase.CONTINUOUS)
    assert state.contracts["TKN2611"].delisted
    # without the roll the plan lists nothing
    without = plan_cycle(PRODUCTS, CALENDAR, CONTRACTS, settled_state(LAST), at(LAST, 16, 0),
                         known)  # fmt: skip
    assert "list_contract" not in {c["type"] for c in without.commands}


def test_a_cycle_down_over_the_roll_lists_the_month_before_catching_up() -> None:
    window = _contract("TKN2611").final_settlement_window
    known = fixings(*window)
    due = rolling(settled_state(date(2026, 11, 27)), at(TUESDAY, 10, 0), known)
    commands = list(due.commands)
    assert commands[:2] == [
        {"type": "list_contract", "symbol": "TKN2711"},
        # the fixing before its first trading day, not before the day being caught up
        {"type": "set_reference_price", "symbol": "TKN2711", "price": "3.308"},
    ]
    assert [c["type"] for c in commands[2:4]] == ["end_of_day", "final_settlement"]
    trading = [s for s in SYMBOLS if s != "TKN2611"] + ["TKN2711"]
    assert commands[4:] == phase_changes("continuous", trading)


def test_a_month_listed_without_its_fixing_keeps_the_product_s_reference() -> None:
    state = apply(settled_state(LAST), [])  # Monday's end of day has run; no fixing known
    due = rolling(state, at(LAST, 16, 0), {})
    assert list(due.commands) == [{"type": "list_contract", "symbol": "TKN2711"}]
    assert ("TKN", LAST) in due.wanted
    assert any("TKN2711: keeps the reference price 2.500" in note for note in due.notes)


# --- the driver on a real sequencer -------------------------------------------------------------


class Clock:
    """The wall clock of the test: the cycle's and the sequencer's."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment

    def ns(self) -> int:
        return int(self.moment.timestamp()) * 1_000_000_000


def source(day: date) -> dict[str, int | None]:
    return {"TKN": TKN_VALUE, "GPU-H100": GPU_VALUE, "TKN-OPEN": 687_039}


def test_the_cycle_rolls_a_running_exchange_onto_the_next_month(tmp_path: Path) -> None:
    clock = Clock(at(LAST, 15, 30))  # the exchange listed on Monday 11-23, the cycle starts late
    journal = SqliteJournal(tmp_path / "exchange.db")
    sequencer = Sequencer(journal, market_for_journal(journal, MONDAY), clock=clock.ns)
    cycle = DailyCycle(sequencer, CALENDAR, fixings=source, clock=clock.now)
    instruments = sequencer.house.exchange.instruments

    async def month_end() -> None:
        sequencer.start()
        try:
            sent = (await cycle.run_once()).sent
            assert not [o for _, o in sent if o.rejected]
            kinds = [command["type"] for command, _ in sent]
            assert kinds.count("end_of_day") == 6  # 11-23 to 11-30, caught up
            assert kinds[-4:] == [
                "end_of_day", "final_settlement", "list_contract", "set_reference_price"
            ]  # fmt: skip
            listed = sent[-2][1].events[0]
            assert (listed["type"], listed["symbol"], listed["first_trading_day"]) == (
                "contract_listed", "TKN2711", "2026-12-01"
            )  # fmt: skip
            assert instruments["TKN2711"].reference == 3308  # the fixing of 11-30
            assert "TKN2711" in {c.symbol for c in cycle.contracts}
            assert (await cycle.run_once()).sent == []
            clock.moment = at(LAST, 20, 55)  # Tuesday's trading day opens in the evening
            await cycle.run_once()
            assert instruments["TKN2711"].phase is Phase.PRE_OPEN
            assert instruments["TKN2611"].phase is Phase.CLOSED  # finally settled
            clock.moment = at(LAST, 21, 0)
            await cycle.run_once()
            assert instruments["TKN2711"].phase is Phase.CONTINUOUS
            for command in [
                {"type": "add_member", "member": "M"},
                {"type": "open_account", "account": "A", "member": "M"},
                {"type": "open_account", "account": "B", "member": "M"},
                {"type": "deposit", "account": "A", "amount": "100000.00"},
                {"type": "deposit", "account": "B", "amount": "100000.00"},
            ]:
                await sequencer.submit(command)
            order = {"type": "new_order", "symbol": "TKN2711", "quantity": 1, "price": "3.310"}
            await sequencer.submit(order | {"account": "A", "client_order_id": "a", "side": "buy"})
            sold = await sequencer.submit(
                order | {"account": "B", "client_order_id": "b", "side": "sell"}
            )
            assert [e["type"] for e in sold.events].count("trade") == 1
        finally:
            await sequencer.stop()

    asyncio.run(month_end())
    house = sequencer.house
    assert "TKN2611" in house.delisted
    assert house.positions.position("A", "TKN2711").quantity == 1
    state_hash, last_seq = house.state_hash(), sequencer.last_seq
    sequencer.journal.close()
    journal = SqliteJournal(tmp_path / "exchange.db", writer=False)
    replayed = Sequencer(journal, market_for_journal(journal, date(2027, 1, 1)))
    assert replayed.recover() == last_seq
    assert replayed.house.state_hash() == state_hash
    assert "TKN2711" in {c.symbol for c in replayed.market.contracts}
    journal.close()
