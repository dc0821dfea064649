"""The journal's contract, on both backends (SQLite file, PostgreSQL database)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from tokenfutures.service.journal import JournalLockedError

from .conftest import Journal

OpenJournal = Callable[..., Journal]


def _line(n: int) -> str:
    return json.dumps({"type": "deposit", "account": f"Ä{n}", "amount": "1.00", "note": "€"})


def test_a_new_journal_is_empty(open_journal: OpenJournal) -> None:
    journal = open_journal()
    assert journal.last_seq() == 0
    assert list(journal.read()) == []
    assert journal.get_meta("listing_date") is None
    assert journal.append([]) == 0


def test_lines_come_back_in_order_with_their_sequence_numbers(open_journal: OpenJournal) -> None:
    journal = open_journal()
    assert journal.append([_line(1), _line(2)]) == 2
    assert journal.append([_line(3)]) == 3
    assert journal.append([]) == 3
    assert journal.last_seq() == 3
    assert list(journal.read()) == [(1, _line(1)), (2, _line(2)), (3, _line(3))]
    assert list(journal.read(1)) == [(2, _line(2)), (3, _line(3))]
    assert list(journal.read(3)) == []


def test_a_large_batch_reads_back_whole(open_journal: OpenJournal) -> None:
    journal = open_journal()
    lines = [_line(n) for n in range(2_500)]  # more than one page of PostgresJournal.read
    assert journal.append(lines) == 2_500
    assert [line for _, line in journal.read()] == lines
    assert [seq for seq, _ in journal.read(1_999)] == list(range(2_000, 2_501))


def test_meta_is_set_read_and_overwritten(open_journal: OpenJournal) -> None:
    journal = open_journal()
    journal.set_meta("listing_date", "2026-11-23")
    journal.set_meta("other", "x")
    journal.set_meta("listing_date", "2026-11-24")
    assert journal.get_meta("listing_date") == "2026-11-24"
    assert journal.get_meta("other") == "x"
    assert journal.get_meta("missing") is None


def test_a_second_writer_is_refused_until_the_first_closes(open_journal: OpenJournal) -> None:
    first = open_journal()
    first.append([_line(1)])
    with pytest.raises(JournalLockedError, match="another process"):
        open_journal()
    reader = open_journal(writer=False)  # readers take no lock
    first.append([_line(2)])
    assert [seq for seq, _ in reader.read()] == [1, 2]
    first.close()
    second = open_journal()
    assert second.append([_line(3)]) == 3


def test_reopening_keeps_everything(open_journal: OpenJournal) -> None:
    journal = open_journal()
    journal.append([_line(1), _line(2), _line(3)])
    journal.set_meta("listing_date", "2026-11-23")
    journal.close()
    again = open_journal()
    assert again.last_seq() == 3
    assert list(again.read()) == [(1, _line(1)), (2, _line(2)), (3, _line(3))]
    assert again.get_meta("listing_date") == "2026-11-23"
    assert again.append([_line(4)]) == 4
