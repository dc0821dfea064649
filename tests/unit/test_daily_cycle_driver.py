"""The daily cycle's driver on a real sequencer and journal: a day run step by step, the
cycle on the clock, admin triggers, and the index fixings it publishes. (The pure schedule is
tests/unit/test_daily_cycle.py.)"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tokenfutures.adapters.calendars import load_trading_calendar
from tokenfutures.adapters.fixing_journal import FixingJournal
from tokenfutures.adapters.products_file import load_products
from tokenfutures.domain.listing import listed_contracts
from tokenfutures.domain.values import Phase
from tokenfutures.engine.indices import IndexFamily
from tokenfutures.service.daily_cycle import CycleError, DailyCycle, IndexFixings
from tokenfutures.service.journal import SqliteJournal
from tokenfutures.service.sequencer import Outcome, Sequencer, market_for_journal

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = load_trading_calendar()
MONDAY = date(2026, 11, 23)
TKN_VALUE, GPU_VALUE = 3_308_331, 2_457_100  # micro-USD


SYMBOLS = [c.symbol for c in listed_contracts(load_products(), CALENDAR, MONDAY)]


def at(day: date, hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=SHANGHAI)


def phase_changes(phase: str, symbols: Sequence[str] = SYMBOLS) -> list[dict[str, Any]]:
    return [{"type": "set_phase", "symbol": s, "phase": phase} for s in symbols]


def end_of_day(day: date, **index: str) -> dict[str, Any]:
    return {"type": "end_of_day", "date": day.isoformat(), "index": index}


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


def _events(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    return [event for outcome in outcomes for event in outcome.events]


def _sent(run: Any) -> list[Outcome]:
    return [outcome for _, outcome in run.sent]


def _open(tmp_path: Path, clock: Clock) -> Sequencer:
    journal = SqliteJournal(tmp_path / "exchange.db")
    return Sequencer(journal, market_for_journal(journal, MONDAY), clock=clock.ns)


def test_run_once_drives_a_day_through_the_sequencer(tmp_path: Path) -> None:
    clock = Clock(at(MONDAY, 8, 55))
    sequencer = _open(tmp_path, clock)
    cycle = DailyCycle(sequencer, CALENDAR, fixings=source, clock=clock.now)
    assert cycle.first_day == MONDAY  # the journal's listing date

    async def day() -> None:
        sequencer.start()
        try:
            opening = _sent(await cycle.run_once())
            assert not [o for o in opening if o.rejected]
            types = [o.events[0]["type"] for o in opening]
            assert types == ["reference_price_set"] * 24 + ["phase_changed"] * 24
            assert (await cycle.run_once()).sent == []  # idempotent
            for command in [
                {"type": "add_member", "member": "M"},
                {"type": "open_account", "account": "A", "member": "M"},
                {"type": "open_account", "account": "B", "member": "M"},
                {"type": "deposit", "account": "A", "amount": "100000.00"},
                {"type": "deposit", "account": "B", "amount": "100000.00"},
            ]:
                await sequencer.submit(command)
            order = {"type": "new_order", "symbol": "TKN2612", "quantity": 2, "price": "3.310"}
            await sequencer.submit(order | {"account": "A", "client_order_id": "a", "side": "buy"})
            sell = {"account": "B", "client_order_id": "b", "side": "sell", "price": "3.300"}
            await sequencer.submit(order | sell)
            clock.moment = at(MONDAY, 9, 0)
            events = _events(_sent(await cycle.run_once()))
            trades = [e for e in events if e["type"] == "trade"]
            assert [(t["price"], t["quantity"]) for t in trades] == [("3.310", 2)]  # the uncross
            for clock.moment in (at(MONDAY, 10, 15), at(MONDAY, 10, 30), at(MONDAY, 15, 0)):
                assert len((await cycle.run_once()).sent) == 24
            clock.moment = at(MONDAY, 15, 30)
            events = _events(_sent(await cycle.run_once()))
            assert events[-1]["type"] == "end_of_day_completed"
            settled = {e["symbol"]: e for e in events if e["type"] == "settlement_price"}
            assert (settled["TKN2612"]["price"], settled["TKN2612"]["method"]) == (
                "3.310",
                "vwap_day",
            )
            assert (await cycle.run_once()).sent == []
        finally:
            await sequencer.stop()

    asyncio.run(day())
    house = sequencer.house
    assert house.last_end_of_day == MONDAY
    assert house.index_values == {"GPU-H100": GPU_VALUE, "TKN": TKN_VALUE}
    assert ("A", MONDAY) in house.statements
    state_hash, last_seq = house.state_hash(), sequencer.last_seq
    sequencer.journal.close()
    # everything the cycle did is in the journal: a replay gives the same state
    journal = SqliteJournal(tmp_path / "exchange.db", writer=False)
    replayed = Sequencer(journal, market_for_journal(journal, date(2027, 1, 1)))
    assert replayed.recover() == last_seq
    assert replayed.house.state_hash() == state_hash
    journal.close()


def test_without_fixings_the_end_of_day_still_runs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(day: date) -> dict[str, int | None]:
        raise OSError("price source unreachable")

    clock = Clock(at(MONDAY, 15, 30))
    sequencer = _open(tmp_path, clock)
    cycle = DailyCycle(sequencer, CALENDAR, fixings=broken, clock=clock.now)

    async def run() -> list[dict[str, Any]]:
        sequencer.start()
        try:
            return [command for command, _ in (await cycle.run_once()).sent]
        finally:
            await sequencer.stop()

    with caplog.at_level(logging.INFO, logger="tokenfutures.daily_cycle"):
        sent = asyncio.run(run())
    assert sent == [*phase_changes("closed"), end_of_day(MONDAY)]
    assert sequencer.house.last_end_of_day == MONDAY
    assert "could not be had" in caplog.text
    assert "without the TKN fixing (not available)" in caplog.text
    sequencer.journal.close()


def test_start_runs_the_cycle_on_the_clock_until_stopped(tmp_path: Path) -> None:
    clock = Clock(at(MONDAY, 8, 56))
    sequencer = _open(tmp_path, clock)
    cycle = DailyCycle(sequencer, CALENDAR, fixings=source, clock=clock.now, interval=0.01)
    instruments = sequencer.house.exchange.instruments

    async def run() -> None:
        sequencer.start()
        cycle.start()
        try:
            for _ in range(500):
                if all(i.phase is Phase.PRE_OPEN for i in instruments.values()):
                    break
                await asyncio.sleep(0.01)
            clock.moment = at(MONDAY, 9, 0)
            for _ in range(500):
                if all(i.phase is Phase.CONTINUOUS for i in instruments.values()):
                    break
                await asyncio.sleep(0.01)
        finally:
            await cycle.stop()
            await sequencer.stop()

    asyncio.run(run())
    assert all(i.phase is Phase.CONTINUOUS for i in instruments.values())
    served = DailyCycle.for_sequencer(sequencer, fixings_journal=tmp_path / "fixings.jsonl")
    assert isinstance(served.source, IndexFixings)
    assert served.source.journal is not None
    assert served.source.journal.path == tmp_path / "fixings.jsonl"
    assert (served.first_day, served.interval) == (MONDAY, 1.0)
    sequencer.journal.close()


def test_admin_triggers_run_and_replay_single_steps(tmp_path: Path) -> None:
    tuesday = date(2026, 12, 1)
    clock = Clock(at(tuesday, 11, 0))
    sequencer = _open(tmp_path, clock)
    cycle = DailyCycle(sequencer, CALENDAR, fixings=source, clock=clock.now)

    async def run() -> None:
        sequencer.start()
        try:
            closed = await cycle.trigger("close", symbol="TKN2612")
            assert [e["phase"] for e in _events(closed)] == ["closed"]
            early = await cycle.trigger("final_settlement", symbol="TKN2611")
            assert early[0].rejected is not None
            assert early[0].rejected["reason"] == "final_settlement_not_due"
            done = await cycle.trigger("end_of_day", day=date(2026, 11, 30))
            assert done[0].events[-1]["type"] == "end_of_day_completed"
            again = await cycle.trigger("end_of_day", day=date(2026, 11, 30))
            assert again[0].rejected is not None  # a replay is refused by the exchange
            assert again[0].rejected["reason"] == "date_not_after_previous"
            final = await cycle.trigger("final_settlement", symbol="TKN2611")
            assert final[0].events[-1]["type"] == "contract_settled"
            assert final[0].events[-1]["price"] == "3.308"
            assert await cycle.trigger("fixings", day=date(2026, 11, 27)) == []
            assert (await cycle.fixings_of(date(2026, 11, 27)))["TKN"] == TKN_VALUE
            with pytest.raises(CycleError, match="in the future"):
                await cycle.trigger("end_of_day", day=date(2026, 12, 2))
            with pytest.raises(CycleError, match="not yet complete"):
                await cycle.trigger("final_settlement", symbol="TKN2612")
            with pytest.raises(CycleError, match="not a contract"):
                await cycle.trigger("final_settlement", symbol="TKN2501")
            with pytest.raises(CycleError, match="must be one of"):
                await cycle.trigger("lunch")
        finally:
            await sequencer.stop()

    asyncio.run(run())
    assert sequencer.house.index_values["TKN"] == TKN_VALUE
    assert "TKN2611" in sequencer.house.delisted
    sequencer.journal.close()


def test_index_fixings_are_published_once_then_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    published = FixingJournal(tmp_path / "fixings.jsonl")
    stamp = datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    fixings_of = IndexFixings(journal=published, clock=lambda: stamp)
    values = fixings_of(MONDAY)  # the packaged GPU snapshot publishes from 2026-11-21 on
    assert (values["TKN"], values["GPU-H100"]) == (TKN_VALUE, GPU_VALUE)
    row = published.latest("TKN", "2026-11-23")
    assert row is not None
    assert (row["version"], row["published_at"]) == (1, "2026-11-23T07:30:00Z")
    assert published.latest("GPU-H100", "2026-11-23") is not None

    def no_compute(*_: object) -> None:
        raise AssertionError("computed again")

    monkeypatch.setattr(IndexFamily, "compute_with_sources", no_compute)
    assert IndexFixings(journal=published)(MONDAY) == values  # read back, nothing recomputed
