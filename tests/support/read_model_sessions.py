"""Sessions through a real sequencer and journal with the read store listening, stopped and
restarted, for the read-store tests on SQLite and PostgreSQL alike.

``restart_scenario`` runs four parts:

1. with a store listening;
2. journaled by a process without the store (the store misses them, as when a process is
   killed before its writer catches up), which then takes a snapshot;
3. after a restart with a new store: the snapshot is past the store's position, so the whole
   journal is replayed; the store skips what it has and writes part two, then part three live;
4. after another restart: the store is past the snapshot, so the sequencer recovers from it;
   an order that rested in part three is filled (the store knows it from its own table).

After parts three and four every table must equal what the recovered views and clearing house
hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from support.read_models import Reader, assert_matches
from tokenfutures.service.config import Database
from tokenfutures.service.journal import Journal
from tokenfutures.service.read_store import open_read_store, recover
from tokenfutures.service.sequencer import Sequencer, market_for_journal

LISTING = date(2026, 11, 23)
OPEN_NS = int(datetime(2026, 11, 23, 1, 30, tzinfo=UTC).timestamp()) * 1_000_000_000
TKN = "TKN2612"


def _order(account: str, coid: str, side: str, quantity: int, price: str, **kw: Any) -> Any:
    return {"type": "new_order", "account": account, "client_order_id": coid, "symbol": TKN,
            "side": side, "quantity": quantity, "price": price, **kw}  # fmt: skip


PART_ONE: list[dict[str, Any]] = [
    {"type": "add_member", "member": "M"},
    *({"type": "open_account", "account": a, "member": "M"} for a in "ABC"),
    *({"type": "deposit", "account": a, "amount": "100000.00"} for a in "ABC"),
    {"type": "set_reference_price", "symbol": TKN, "price": "2.500"},
    _order("B", "b1", "sell", 3, "2.501", time_in_force="GTC"),
    _order("A", "a1", "buy", 5, "2.502", time_in_force="GTC"),  # 3 filled, 2 rest
    _order("C", "c1", "sell", 1, "2.502"),  # a1: 4 filled
    {"type": "amend_order", "account": "A", "client_order_id": "a1", "symbol": TKN,
     "quantity": 6},  # a1: leaves 2
    _order("C", "c2", "sell", 2, "2.600"),  # a day order: it expires at the end of day
    _order("B", "b2", "buy", 1, "2.400"),
    {"type": "cancel_order", "account": "B", "client_order_id": "b2", "symbol": TKN},
]  # fmt: skip
PART_TWO: list[dict[str, Any]] = [
    _order("A", "a2", "buy", 1, "2.600", time_in_force="IOC"),  # lifts one lot of c2
    {"type": "end_of_day", "date": "2026-11-23"},
]
PART_THREE: list[dict[str, Any]] = [
    {"type": "set_phase", "symbol": TKN, "phase": "continuous"},
    _order("B", "b3", "sell", 2, "2.502"),  # fills the rest of a1
    {"type": "deposit", "account": "A", "amount": "1.00"},
    _order("C", "c3", "sell", 2, "2.510", time_in_force="GTC"),  # rests
]
PART_FOUR: list[dict[str, Any]] = [
    _order("A", "a3", "buy", 1, "2.510", time_in_force="IOC"),  # c3: 1 filled, 1 left
    {"type": "end_of_day", "date": "2026-11-24"},
]


class Clock:
    """Exchange time in continuous trading, one millisecond a reading."""

    def __init__(self, start_ns: int = OPEN_NS) -> None:
        self.now = start_ns

    def __call__(self) -> int:
        self.now += 1_000_000
        return self.now


async def submit_all(
    sequencer: Sequencer, commands: list[dict[str, Any]], *, snapshot: bool = False
) -> None:
    sequencer.start()
    try:
        for command in commands:
            outcome = await sequencer.submit(command)
            assert outcome.seq is not None, outcome
        if snapshot:
            await sequencer.take_snapshot()
    finally:
        await sequencer.stop()


def _sequencer(journal: Journal) -> Sequencer:
    return Sequencer(journal, market_for_journal(journal, LISTING), clock=Clock(),
                     snapshot_every=None)  # fmt: skip


def _restart(open_journal: Callable[[], Journal], db: Database, read: Reader,
             commands: list[dict[str, Any]]) -> Sequencer:  # fmt: skip
    """Open the journal and a store, recover, run ``commands``; then check every table against
    a replay of the whole journal. The sequencer that ran the commands."""
    journal = open_journal()
    sequencer = _sequencer(journal)
    store = open_read_store(db, sequencer.house, sequencer.codec,
                            journal_last_seq=journal.last_seq())  # fmt: skip
    recover(sequencer, store)
    store.start()
    asyncio.run(submit_all(sequencer, commands))
    assert store.flush(), store.failure
    assert store.position == journal.last_seq()
    assert store.lag(journal.last_seq()) == 0
    store.stop()
    journal.close()

    journal = open_journal()  # the truth: every command replayed from the first
    replay = _sequencer(journal)
    log: list[Any] = []
    replay.listeners.append(lambda _, events: log.extend(events))
    replay.recover(use_snapshot=False)
    journal.close()
    assert replay.house.state_hash() == sequencer.house.state_hash()
    assert_matches(read, replay.views, replay.house, log, replay.codec)
    return sequencer


def restart_scenario(
    open_journal: Callable[[], Journal],
    db: Database,
    read: Reader,
    mark_row: Callable[[], None],
) -> Reader:
    """Run the four parts; ``mark_row`` changes a row written in part one behind the store's
    back (the caller checks it is not written again)."""
    journal = open_journal()
    first = _sequencer(journal)
    store = open_read_store(db, first.house, first.codec, journal_last_seq=journal.last_seq())
    recover(first, store)
    store.start()
    asyncio.run(submit_all(first, PART_ONE))
    assert store.flush(), store.failure
    assert store.position == journal.last_seq() == len(PART_ONE)
    store.stop()
    journal.close()

    journal = open_journal()  # a process without the store: it journals part two
    second = _sequencer(journal)
    second.recover()
    asyncio.run(submit_all(second, PART_TWO, snapshot=True))
    snapshot_at = journal.last_seq()
    journal.close()
    mark_row()

    third = _restart(open_journal, db, read, PART_THREE)
    assert third.recovered_from is None  # the snapshot is past the store: a full replay
    fourth = _restart(open_journal, db, read, PART_FOUR)
    assert fourth.recovered_from == snapshot_at
    return read
