"""The sequencer's snapshots (service/sequencer.py): taken every N commands and on demand,
written off the event loop, and used by recovery, which falls back to a full replay of the
journal whenever a snapshot cannot be trusted.

A scripted session runs through a real sequencer on a real SQLite journal: members,
accounts, deposits, resting orders at several prices, trades, a stop order, amends, cancels,
refused orders (kept for retries), an end of day and trading after it. Restarting on the same
journal must give the state hash, the read models and the read models registered as snapshot
parts of the uninterrupted run, whether recovery starts from a snapshot or from the first
command.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tokenfutures.domain.events import TradeExecuted
from tokenfutures.engine import snapshot
from tokenfutures.engine.timestamps import format_ts
from tokenfutures.service.journal import SqliteJournal
from tokenfutures.service.sequencer import (
    Outcome,
    Sequencer,
    SequencerStopped,
    market_for_journal,
)

LISTING = date(2026, 11, 23)
OPEN_NS = int(datetime(2026, 11, 23, 1, 30, tzinfo=UTC).timestamp()) * 1_000_000_000
SYMBOL = "TKN2612"
ACCOUNTS = ("A", "B", "C", "D")


class Clock:
    """Exchange time in continuous trading, one millisecond a reading."""

    def __init__(self) -> None:
        self.now = OPEN_NS

    def __call__(self) -> int:
        self.now += 1_000_000
        return self.now


def order(account: str, coid: str, side: str, quantity: int, price: str, **kw: Any
          ) -> dict[str, Any]:  # fmt: skip
    fields = {"account": account, "client_order_id": coid, "symbol": SYMBOL, "side": side,
              "quantity": quantity, "price": price, "time_in_force": "GTC"}  # fmt: skip
    return {"type": "new_order", **fields, **kw}


def setup() -> list[dict[str, Any]]:
    commands: list[dict[str, Any]] = [
        {"type": "add_member", "member": "M", "guaranty_fund": "10000.00"},
        {"type": "set_reference_price", "symbol": SYMBOL, "price": "2.500"},
    ]
    for account in ACCOUNTS:
        commands.append({"type": "open_account", "account": account, "member": "M"})
        commands.append({"type": "deposit", "account": account, "amount": "500000.00"})
    return commands


def trading(seed: int, count: int, prefix: str) -> list[dict[str, Any]]:
    """Orders around 2.500: resting, crossing, amended, cancelled, and a few refused."""
    chooser = random.Random(seed)
    commands: list[dict[str, Any]] = []
    for n in range(count):
        account, coid = chooser.choice(ACCOUNTS), f"{prefix}{n}"
        side = chooser.choice(("buy", "sell"))
        price = f"2.{chooser.randint(480, 520)}"
        roll = chooser.randint(0, 9)
        if roll == 0 and n:
            target = f"{prefix}{chooser.randrange(n)}"
            commands.append({"type": "cancel_order", "account": account,
                             "client_order_id": target, "symbol": SYMBOL})  # fmt: skip
        elif roll == 1 and n:
            target = f"{prefix}{chooser.randrange(n)}"
            commands.append({"type": "amend_order", "account": account, "client_order_id": target,
                             "symbol": SYMBOL, "price": price})  # fmt: skip
        elif roll == 2:
            commands.append(order(account, coid, side, 3, "9.999"))  # outside the limits: refused
        elif roll == 3:
            stop = {"order_type": "stop_limit", "stop_price": price}
            commands.append(order(account, coid, side, 2, price, **stop))
        else:
            commands.append(order(account, coid, side, chooser.randint(1, 8), price))
    return commands


def session() -> list[dict[str, Any]]:
    return [
        *setup(),
        *trading(1, 60, "a"),
        {"type": "end_of_day", "date": LISTING.isoformat()},
        {"type": "set_phase", "symbol": SYMBOL, "phase": "continuous"},
        *trading(2, 40, "b"),
    ]


class TradeTape:
    """A read model that is a listener and a snapshot part: every trade it has seen."""

    def __init__(self, sequencer: Sequencer) -> None:
        self.trades: list[list[int]] = []
        sequencer.listeners.append(self.on_events)
        sequencer.snapshot_parts["tape"] = self

    def on_events(self, seq: int, events: list[Any]) -> None:
        for event in events:
            if type(event) is TradeExecuted:
                self.trades.append([seq, event.trade_id, event.price, event.quantity])

    def export(self) -> dict[str, Any]:
        return {"trades": [list(trade) for trade in self.trades]}

    def restore(self, data: dict[str, Any]) -> None:
        self.trades = [list(trade) for trade in data["trades"]]


def sequencer(path: Path, **options: Any) -> tuple[Sequencer, TradeTape]:
    journal = SqliteJournal(path)
    opened = Sequencer(journal, market_for_journal(journal, LISTING), clock=Clock(), **options)
    return opened, TradeTape(opened)


async def submit_all(seq: Sequencer, commands: list[dict[str, Any]], *, together: bool = False
                     ) -> list[Outcome]:  # fmt: skip
    if together:
        return list(await asyncio.gather(*(seq.submit(c) for c in commands)))
    return [await seq.submit(c) for c in commands]


def run_live(path: Path, *, together: bool = False, **options: Any) -> tuple[Sequencer, TradeTape]:
    live, tape = sequencer(path, **options)

    async def go() -> None:
        live.start()
        try:
            await submit_all(live, session(), together=together)
        finally:
            await live.stop()

    asyncio.run(go())
    live.journal.close()
    return live, tape


def recover(path: Path, **options: Any) -> tuple[Sequencer, TradeTape, int]:
    recovered, tape = sequencer(path)
    return recovered, tape, recovered.recover(**options)


def assert_same(recovered: Sequencer, tape: TradeTape, live: Sequencer, live_tape: TradeTape
                ) -> None:  # fmt: skip
    assert recovered.last_seq == live.last_seq
    assert recovered.house.state_hash() == live.house.state_hash()
    assert recovered.views == live.views
    assert tape.trades == live_tape.trades


@pytest.mark.parametrize("together", [False, True], ids=["one by one", "in batches"])
def test_recovery_starts_from_the_latest_snapshot(tmp_path: Path, together: bool) -> None:
    live, live_tape = run_live(tmp_path / "x.db", together=together, snapshot_every=25)
    assert len(live_tape.trades) > 10
    recovered, tape, replayed = recover(tmp_path / "x.db")
    latest = recovered.journal.latest_snapshot(live.last_seq)
    assert latest is not None
    assert recovered.recovered_from == latest[0]
    assert live.last_seq - 25 < latest[0] <= live.last_seq
    assert replayed == live.last_seq - latest[0]
    assert_same(recovered, tape, live, live_tape)
    recovered.journal.close()
    full, full_tape, replayed = recover(tmp_path / "x.db", use_snapshot=False)
    assert (replayed, full.recovered_from) == (live.last_seq, None)
    assert_same(full, full_tape, live, live_tape)
    full.journal.close()


def test_a_recovered_sequencer_answers_retries_and_trades_on(tmp_path: Path) -> None:
    live, _ = run_live(tmp_path / "x.db", snapshot_every=30)
    commands = session()
    accepted = next(c for c in commands[-40:] if c["type"] == "new_order" and c["price"] != "9.999")
    refused = next(c for c in commands[-40:] if c.get("price") == "9.999")
    recovered, _, _ = recover(tmp_path / "x.db")
    assert recovered.recovered_from is not None
    original = recovered.views.order_of(accepted["account"], accepted["client_order_id"])
    assert original is not None
    first_refusal = recovered.views.rejections[(refused["account"], refused["client_order_id"])]

    async def go() -> list[Outcome]:
        recovered.start()
        try:
            retries = [accepted, refused, order("A", "new", "buy", 1, "2.530")]
            return await submit_all(recovered, retries)
        finally:
            await recovered.stop()

    again, refusal, new = asyncio.run(go())
    assert again.duplicate_of == original.order_id
    assert again.events == []
    assert refusal.rejected is not None
    assert refusal.rejected["reason"] == "price_outside_limit"
    assert refusal.rejected["ts"] == format_ts(first_refusal.ts)  # the original refusal
    assert new.seq == live.last_seq + 3
    assert new.events[0]["type"] == "order_accepted"
    recovered.journal.close()


def test_take_snapshot_writes_the_state_now(tmp_path: Path) -> None:
    live, _ = sequencer(tmp_path / "x.db", snapshot_every=None)

    async def go() -> tuple[int, str]:
        live.start()
        try:
            with pytest.raises(ValueError, match="nothing has been journaled"):
                await live.take_snapshot()
            await submit_all(live, setup())
            return await live.take_snapshot()
        finally:
            await live.stop()

    seq, state_hash = asyncio.run(go())
    assert (seq, state_hash) == (live.last_seq, live.house.state_hash())
    stored = live.journal.latest_snapshot(seq)
    assert stored is not None
    assert stored[:2] == (seq, state_hash)
    found = snapshot.read_document(snapshot.decode(stored[2]))
    assert (found.seq, found.state_hash, sorted(found.parts)) == (
        seq,
        state_hash,
        ["market_stats", "tape"],
    )
    with pytest.raises(SequencerStopped):
        asyncio.run(live.take_snapshot())
    live.journal.close()


def test_no_snapshot_is_taken_when_switched_off(tmp_path: Path) -> None:
    live, _ = run_live(tmp_path / "x.db", snapshot_every=None)
    journal = SqliteJournal(tmp_path / "x.db", writer=False)
    assert journal.latest_snapshot(live.last_seq) is None
    journal.close()
    with pytest.raises(ValueError, match="snapshot_every"):
        Sequencer(live.journal, live.market, snapshot_every=0)


def _damaged_body(journal: SqliteJournal, seq: int, state_hash: str, body: bytes) -> None:
    middle = len(body) // 2
    journal.write_snapshot(
        seq, state_hash, body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]
    )


def _another_hash(journal: SqliteJournal, seq: int, state_hash: str, body: bytes) -> None:
    journal.write_snapshot(seq, "0" * 64, body)


def _changed_state(journal: SqliteJournal, seq: int, state_hash: str, body: bytes) -> None:
    document = snapshot.decode(body)
    document["house"]["exchange"]["clock"] += 1
    journal.write_snapshot(seq, state_hash, snapshot.encode(document))


def _unreadable_views(journal: SqliteJournal, seq: int, state_hash: str, body: bytes) -> None:
    document = snapshot.decode(body)
    document["views"]["orders"][0][0] = "one"
    journal.write_snapshot(seq, state_hash, snapshot.encode(document))


def _no_part(journal: SqliteJournal, seq: int, state_hash: str, body: bytes) -> None:
    document = snapshot.decode(body)
    del document["parts"]["tape"]
    journal.write_snapshot(seq, state_hash, snapshot.encode(document))


@pytest.mark.parametrize(
    "damage", [_damaged_body, _another_hash, _changed_state, _unreadable_views, _no_part]
)
def test_a_snapshot_that_cannot_be_trusted_falls_back_to_a_full_replay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: Any
) -> None:
    live, live_tape = run_live(tmp_path / "x.db", snapshot_every=40)
    journal = SqliteJournal(tmp_path / "x.db")
    stored = journal.latest_snapshot(live.last_seq)
    assert stored is not None
    damage(journal, *stored)
    journal.close()
    with caplog.at_level(logging.ERROR, logger="tokenfutures.sequencer"):
        recovered, tape, replayed = recover(tmp_path / "x.db")
    assert [r.getMessage() for r in caplog.records if "is not used" in r.getMessage()]
    assert (replayed, recovered.recovered_from) == (live.last_seq, None)
    assert_same(recovered, tape, live, live_tape)
    recovered.journal.close()


class FailingSnapshots(SqliteJournal):
    """A journal whose snapshots cannot be written (the disk is full, say)."""

    def write_snapshot(self, seq: int, state_hash: str, body: bytes) -> None:
        raise OSError("no space left on device")


def test_a_snapshot_that_cannot_be_written_stops_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    journal = FailingSnapshots(tmp_path / "x.db")
    live = Sequencer(journal, market_for_journal(journal, LISTING), clock=Clock(), snapshot_every=5)

    async def go() -> list[Outcome]:
        live.start()
        try:
            return await submit_all(live, session()[:30])
        finally:
            await live.stop()

    with caplog.at_level(logging.ERROR, logger="tokenfutures.sequencer"):
        outcomes = asyncio.run(go())
    assert [o.seq for o in outcomes] == list(range(1, 31))
    assert journal.last_seq() == 30
    assert journal.latest_snapshot(30) is None
    assert any("could not be written" in r.getMessage() for r in caplog.records)
    journal.close()


ROLL_NS = int(datetime(2026, 11, 30, 8, 0, tzinfo=UTC).timestamp()) * 1_000_000_000


def on_the_new_month(commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c | {"symbol": "TKN2711"} if "symbol" in c else c for c in commands]


def roll_session() -> list[dict[str, Any]]:
    """Trading in TKN2612, the roll onto TKN2711 (listed, priced, traded), an end of day."""
    return [
        *setup(),
        *trading(3, 30, "r"),
        {"type": "list_contract", "symbol": "TKN2711", "phase": "continuous"},
        {"type": "set_reference_price", "symbol": "TKN2711", "price": "2.500"},
        *on_the_new_month(trading(4, 50, "n")),
        {"type": "end_of_day", "date": "2026-11-30"},
        {"type": "set_phase", "symbol": "TKN2711", "phase": "continuous"},
        *on_the_new_month(trading(5, 20, "m")),
    ]


def rolling_sequencer(path: Path, **options: Any) -> tuple[Sequencer, TradeTape]:
    clock = Clock()
    clock.now = ROLL_NS  # 16:00 on TKN2611's last day: TKN2711 may be listed
    journal = SqliteJournal(path)
    opened = Sequencer(journal, market_for_journal(journal, LISTING), clock=clock, **options)
    return opened, TradeTape(opened)


def test_recovery_after_a_roll_starts_from_a_snapshot_that_lists_the_new_month(
    tmp_path: Path,
) -> None:
    live, live_tape = rolling_sequencer(tmp_path / "x.db", snapshot_every=20)
    outcomes = asyncio.run(_run(live, roll_session()))
    listed = next(o for o in outcomes if o.events and o.events[0]["type"] == "contract_listed")
    assert listed.seq is not None
    new_month = [t for t in live_tape.trades if t[0] > listed.seq]
    assert len(new_month) > 5
    live.journal.close()
    recovered, tape = rolling_sequencer(tmp_path / "x.db")
    replayed = recovered.recover()
    assert recovered.recovered_from is not None
    assert recovered.recovered_from > listed.seq  # the snapshot holds the listed month
    assert replayed == live.last_seq - recovered.recovered_from
    assert_same(recovered, tape, live, live_tape)
    assert recovered.market.contracts == live.market.contracts
    assert "TKN2711" in recovered.codec.tick_sizes
    recovered.journal.close()
    full, full_tape = rolling_sequencer(tmp_path / "x.db")
    assert full.recover(use_snapshot=False) == live.last_seq
    assert_same(full, full_tape, live, live_tape)
    full.journal.close()


def test_a_snapshot_after_a_roll_that_cannot_be_trusted_falls_back_without_the_month(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live, live_tape = rolling_sequencer(tmp_path / "x.db", snapshot_every=20)
    asyncio.run(_run(live, roll_session()))
    live.journal.close()
    journal = SqliteJournal(tmp_path / "x.db")
    stored = journal.latest_snapshot(live.last_seq)
    assert stored is not None
    _changed_state(journal, *stored)  # restored (the month listed again), then refused
    journal.close()
    with caplog.at_level(logging.ERROR, logger="tokenfutures.sequencer"):
        recovered, tape = rolling_sequencer(tmp_path / "x.db")
        replayed = recovered.recover()
    assert any("is not used" in r.getMessage() for r in caplog.records)
    assert (replayed, recovered.recovered_from) == (live.last_seq, None)
    assert_same(recovered, tape, live, live_tape)
    recovered.journal.close()


async def _run(live: Sequencer, commands: list[dict[str, Any]]) -> list[Outcome]:
    live.start()
    try:
        return await submit_all(live, commands)
    finally:
        await live.stop()


def test_commands_after_a_stop_are_refused_not_left_waiting(tmp_path: Path) -> None:
    live, _ = sequencer(tmp_path / "x.db", snapshot_every=None)

    async def go() -> None:
        live.start()
        await submit_all(live, setup())
        await live.stop()
        with pytest.raises(SequencerStopped):
            await asyncio.wait_for(live.submit({"type": "add_member", "member": "Z"}), 2)

    asyncio.run(go())
    live.journal.close()
