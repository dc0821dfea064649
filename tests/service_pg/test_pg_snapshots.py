"""Snapshots in the journal on both backends (SQLite file, PostgreSQL database), and the
sequencer recovering from them on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest

from tokenfutures.service.journal import KEEP_SNAPSHOTS, JournalLockedError
from tokenfutures.service.pg_journal import WRITER_LOCK, PostgresJournal
from tokenfutures.service.sequencer import Outcome, Sequencer, market_for_journal

OpenJournal = Callable[..., Any]
LISTING = date(2026, 11, 23)
OPEN_NS = int(datetime(2026, 11, 23, 1, 30, tzinfo=UTC).timestamp()) * 1_000_000_000


def _filled(journal: Any, count: int = 10) -> Any:
    journal.append([f'{{"n":{n}}}' for n in range(1, count + 1)])
    return journal


# --- the contract, on both backends ----------------------------------------------------------


def test_the_latest_snapshot_not_after_a_position_comes_back(open_journal: OpenJournal) -> None:
    journal = _filled(open_journal())
    assert journal.latest_snapshot(10) is None
    journal.write_snapshot(4, "h4", b"\x00four")
    journal.write_snapshot(7, "h7", bytes(range(256)))
    assert journal.latest_snapshot(10) == (7, "h7", bytes(range(256)))
    assert journal.latest_snapshot(6) == (4, "h4", b"\x00four")
    assert journal.latest_snapshot(3) is None


def test_the_same_position_is_replaced_and_only_the_latest_are_kept(
    open_journal: OpenJournal,
) -> None:
    journal = _filled(open_journal())
    journal.write_snapshot(2, "first", b"1")
    journal.write_snapshot(2, "second", b"2")
    assert journal.latest_snapshot(2) == (2, "second", b"2")
    for seq in range(3, 9):
        journal.write_snapshot(seq, f"h{seq}", bytes([seq]))
    found = [journal.latest_snapshot(seq) for seq in range(1, 9)]
    assert [f[0] if f else None for f in found] == [None] * (8 - KEEP_SNAPSHOTS) + list(
        range(9 - KEEP_SNAPSHOTS, 9)
    )


@pytest.mark.parametrize("seq", [0, 11])
def test_a_snapshot_outside_the_journal_is_refused(open_journal: OpenJournal, seq: int) -> None:
    journal = _filled(open_journal())
    with pytest.raises(ValueError, match="outside the journal"):
        journal.write_snapshot(seq, "h", b"body")
    assert journal.latest_snapshot(100) is None


def test_snapshots_outlive_the_writer_and_readers_may_not_write(open_journal: OpenJournal) -> None:
    writer = _filled(open_journal())
    writer.write_snapshot(9, "h9", b"nine")
    writer.close()
    reader = open_journal(writer=False)
    assert reader.latest_snapshot(10) == (9, "h9", b"nine")
    with pytest.raises(JournalLockedError, match="read-only"):
        reader.write_snapshot(10, "h10", b"ten")
    assert reader.latest_snapshot(10) == (9, "h9", b"nine")


# --- PostgreSQL only -------------------------------------------------------------------------


def test_a_fenced_writer_cannot_write_a_snapshot(pg_url: str) -> None:
    stale = _filled(PostgresJournal(pg_url))
    with psycopg.connect(pg_url, autocommit=True) as admin:  # the writer's session dies
        admin.execute(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_locks WHERE locktype = 'advisory'"
            " AND ((classid::bigint << 32) | objid::bigint) = %s",
            (WRITER_LOCK,),
        )
    successor = PostgresJournal(pg_url)
    try:
        with pytest.raises(psycopg.OperationalError):
            stale.write_snapshot(10, "stale", b"stale")
        assert successor.latest_snapshot(10) is None
        successor.write_snapshot(10, "h10", b"ten")
        assert successor.latest_snapshot(10) == (10, "h10", b"ten")
    finally:
        stale.close()
        successor.close()


class Clock:
    def __init__(self) -> None:
        self.now = OPEN_NS

    def __call__(self) -> int:
        self.now += 1_000_000
        return self.now


def _commands() -> list[dict[str, Any]]:
    commands: list[dict[str, Any]] = [
        {"type": "add_member", "member": "M"},
        {"type": "set_reference_price", "symbol": "TKN2612", "price": "2.500"},
    ]
    for account in ("A", "B"):
        commands.append({"type": "open_account", "account": account, "member": "M"})
        commands.append({"type": "deposit", "account": account, "amount": "100000.00"})
    for n in range(40):
        account, side = ("A", "buy") if n % 2 else ("B", "sell")
        price = f"2.{500 + (n * 7) % 11 - 5}"
        commands.append({"type": "new_order", "account": account, "client_order_id": f"o{n}",
                         "symbol": "TKN2612", "side": side, "quantity": 1 + n % 4,
                         "price": price, "time_in_force": "GTC"})  # fmt: skip
    return commands


def _run(journal: PostgresJournal, commands: list[dict[str, Any]]) -> Sequencer:
    sequencer = Sequencer(journal, market_for_journal(journal, LISTING), clock=Clock(),
                          snapshot_every=15)  # fmt: skip

    async def go() -> list[Outcome]:
        sequencer.start()
        try:
            return list(await asyncio.gather(*(sequencer.submit(c) for c in commands)))
        finally:
            await sequencer.stop()

    outcomes = asyncio.run(go())
    assert [o.seq for o in outcomes] == list(range(1, len(commands) + 1))
    return sequencer


def test_the_sequencer_recovers_from_a_snapshot_on_postgresql(pg_url: str) -> None:
    commands = _commands()
    live = _run(PostgresJournal(pg_url), commands)
    live.journal.close()
    journal = PostgresJournal(pg_url, writer=False)
    try:
        stored = journal.latest_snapshot(len(commands))
        assert stored is not None
        recovered = Sequencer(journal, market_for_journal(journal, date(2027, 1, 4)))
        assert recovered.recover() == len(commands) - stored[0]
        assert recovered.recovered_from == stored[0]
        assert recovered.house.state_hash() == live.house.state_hash()
        assert recovered.views == live.views
        full = Sequencer(journal, market_for_journal(journal, date(2027, 1, 4)))
        assert full.recover(use_snapshot=False) == len(commands)
        assert full.house.state_hash() == live.house.state_hash()
    finally:
        journal.close()
