"""The ``snapshots`` table of the SQLite journal (service/journal.py).

The same contract on PostgreSQL: tests/service_pg/test_pg_snapshots.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tokenfutures.service.journal import KEEP_SNAPSHOTS, JournalLockedError, SqliteJournal


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteJournal]:
    """A journal of ten commands."""
    opened = SqliteJournal(tmp_path / "exchange.db")
    opened.append([f'{{"n":{n}}}' for n in range(1, 11)])
    yield opened
    opened.close()


def test_the_latest_snapshot_not_after_a_position_comes_back(journal: SqliteJournal) -> None:
    assert journal.latest_snapshot(10) is None
    journal.write_snapshot(4, "h4", b"\x00four")
    journal.write_snapshot(7, "h7", b"seven\xff")
    assert journal.latest_snapshot(10) == (7, "h7", b"seven\xff")
    assert journal.latest_snapshot(7) == (7, "h7", b"seven\xff")
    assert journal.latest_snapshot(6) == (4, "h4", b"\x00four")
    assert journal.latest_snapshot(3) is None


def test_a_snapshot_at_the_same_position_replaces_the_first(journal: SqliteJournal) -> None:
    journal.write_snapshot(5, "first", b"1")
    journal.write_snapshot(5, "second", b"2")
    assert journal.latest_snapshot(10) == (5, "second", b"2")


def test_only_the_latest_snapshots_are_kept(journal: SqliteJournal) -> None:
    for seq in range(1, 9):
        journal.write_snapshot(seq, f"h{seq}", bytes([seq]))
    kept = [journal.latest_snapshot(seq) for seq in range(1, 9)]
    assert [found[0] if found else None for found in kept] == (
        [None] * (8 - KEEP_SNAPSHOTS) + list(range(9 - KEEP_SNAPSHOTS, 9))
    )


@pytest.mark.parametrize("seq", [0, -1, 11])
def test_a_snapshot_outside_the_journal_is_refused(journal: SqliteJournal, seq: int) -> None:
    with pytest.raises(ValueError, match="outside the journal"):
        journal.write_snapshot(seq, "h", b"body")
    assert journal.latest_snapshot(100) is None


def test_a_reader_may_not_write_a_snapshot(journal: SqliteJournal, tmp_path: Path) -> None:
    journal.write_snapshot(3, "h3", b"three")
    reader = SqliteJournal(tmp_path / "exchange.db", writer=False)
    try:
        with pytest.raises(JournalLockedError, match="read-only"):
            reader.write_snapshot(10, "h10", b"ten")
        assert reader.latest_snapshot(10) == (3, "h3", b"three")
    finally:
        reader.close()


def test_the_time_it_was_written_is_recorded(journal: SqliteJournal, tmp_path: Path) -> None:
    before = datetime.now(UTC)
    journal.write_snapshot(2, "h2", b"two")
    with sqlite3.connect(tmp_path / "exchange.db") as db:
        (taken_at,) = db.execute("SELECT taken_at FROM snapshots WHERE seq = 2").fetchone()
    written = datetime.fromisoformat(taken_at.replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= written <= datetime.now(UTC) + timedelta(seconds=1)


def test_a_journal_made_before_snapshots_gains_the_table(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE commands (seq INTEGER PRIMARY KEY, line TEXT NOT NULL)")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO commands VALUES (1, '{}')")
    journal = SqliteJournal(path)
    try:
        assert journal.latest_snapshot(1) is None
        journal.write_snapshot(1, "h1", b"one")
        assert journal.latest_snapshot(1) == (1, "h1", b"one")
        assert list(journal.read()) == [(1, "{}")]
    finally:
        journal.close()
