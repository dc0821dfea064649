"""The sequencer on a PostgreSQL journal: commands are journaled before they are
acknowledged, a restart recovers the same state, and the writer is fenced."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from tokenfutures.service.journal import JournalLockedError, SqliteJournal
from tokenfutures.service.pg_journal import PostgresJournal
from tokenfutures.service.sequencer import Outcome, Sequencer, market_for_journal

LISTING = date(2026, 11, 23)
OPEN_NS = int(datetime(2026, 11, 23, 1, 30, tzinfo=UTC).timestamp()) * 1_000_000_000
COMMANDS: list[dict[str, Any]] = [
    {"type": "add_member", "member": "M"},
    {"type": "open_account", "account": "A", "member": "M"},
    {"type": "open_account", "account": "B", "member": "M"},
    {"type": "deposit", "account": "A", "amount": "100000.00"},
    {"type": "deposit", "account": "B", "amount": "100000.00"},
    {"type": "set_reference_price", "symbol": "TKN2612", "price": "2.500"},
    {"type": "new_order", "account": "B", "client_order_id": "b1", "symbol": "TKN2612",
     "side": "sell", "quantity": 3, "price": "2.501"},
    {"type": "new_order", "account": "A", "client_order_id": "a1", "symbol": "TKN2612",
     "side": "buy", "quantity": 5, "price": "2.502"},
]  # fmt: skip
RETRY = COMMANDS[-1]


class Clock:
    """Exchange time in continuous trading, one millisecond a reading."""

    def __init__(self, start_ns: int = OPEN_NS) -> None:
        self.now = start_ns

    def __call__(self) -> int:
        self.now += 1_000_000
        return self.now


def _sequencer(journal: PostgresJournal | SqliteJournal, today: date = LISTING) -> Sequencer:
    # the sequencer is typed for SqliteJournal today; PostgresJournal has the same interface
    return Sequencer(journal, market_for_journal(journal, today), clock=Clock())


async def _session(sequencer: Sequencer) -> list[Outcome]:
    sequencer.start()
    try:
        outcomes = [await sequencer.submit(command) for command in COMMANDS]
        deposits = [{"type": "deposit", "account": "A", "amount": "1.00"}] * 5
        outcomes += await asyncio.gather(*(sequencer.submit(d) for d in deposits))
        outcomes.append(await sequencer.submit({"type": "deposit", "account": "A"}))
        return outcomes
    finally:
        await sequencer.stop()


def test_a_restart_recovers_the_same_state(pg_url: str, tmp_path: Path) -> None:
    journal = PostgresJournal(pg_url)
    live = _sequencer(journal)
    outcomes = asyncio.run(_session(live))
    assert [o.seq for o in outcomes] == [*range(1, 14), None]  # the malformed one: refused
    assert [e["type"] for e in outcomes[7].events] == ["order_accepted", "trade", "trade_cleared"]
    assert journal.last_seq() == live.last_seq == 13
    with pytest.raises(JournalLockedError):
        PostgresJournal(pg_url)  # one writer: a second sequencer cannot start
    expected = live.house.state_hash()
    journal.close()

    reopened = PostgresJournal(pg_url)
    try:
        recovered = _sequencer(reopened, today=date(2027, 1, 4))  # the listing date is kept
        assert recovered.market.house is recovered.house
        assert recovered.recover() == 13
        assert recovered.house.state_hash() == expected
        assert recovered.house.money_conserved()
        assert recovered.last_seq == 13
        again = asyncio.run(_retry(recovered))
        # idempotency survives the restart: the retry names the original order
        assert again.duplicate_of == outcomes[7].events[0]["order_id"]
        assert again.seq == 14
        lines = list(reopened.read())
    finally:
        reopened.close()

    copy = SqliteJournal(tmp_path / "copy.db")  # the same lines replay the same on SQLite
    try:
        copy.set_meta("listing_date", LISTING.isoformat())
        copy.append([line for _, line in lines[:13]])
        replica = _sequencer(copy)
        assert replica.recover() == 13
        assert replica.house.state_hash() == expected
    finally:
        copy.close()


async def _retry(sequencer: Sequencer) -> Outcome:
    sequencer.start()
    try:
        return await sequencer.submit(RETRY)
    finally:
        await sequencer.stop()
