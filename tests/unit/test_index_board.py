"""The index board of the service: a day's fixings from the fixings journal, else computed
and published there; the history; one computation per day at a time."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from tokenfutures.adapters.fixing_journal import FixingJournal
from tokenfutures.service.index_board import IndexBoard

DAY = date(2026, 11, 20)


def test_a_day_is_computed_once_and_published(tmp_path: Path) -> None:
    journal = FixingJournal(tmp_path / "fixings.jsonl")
    board = IndexBoard(journal=journal, today=lambda: DAY)
    seen: list[list[str]] = []
    board.on_publish(lambda docs: seen.append(sorted(d["index"] for d in docs)))

    async def twice() -> tuple[dict[str, dict[str, object]], dict[str, dict[str, object]]]:
        first, second = await asyncio.gather(board.day(DAY), board.day(DAY))
        return first, second

    first, second = asyncio.run(twice())
    assert first is second
    assert first["TKN-OPEN"]["value"] == "0.687039"
    assert first["TKN-OPEN"]["version"] == 1
    assert journal.latest("TKN-OPEN", "2026-11-20") == first["TKN-OPEN"]
    assert len(seen) == 1
    assert set(seen[0]) == {code for code, _ in board.codes()}


def test_the_journals_latest_version_wins(tmp_path: Path) -> None:
    journal = FixingJournal(tmp_path / "fixings.jsonl")
    asyncio.run(IndexBoard(journal=journal).day(DAY))
    corrected = dict(journal.latest("TKN", "2026-11-20") or {})
    corrected.update(value="3.5", inputs_sha256="0" * 64)
    journal.publish([corrected], "2026-11-21T00:00:00Z")
    documents = asyncio.run(IndexBoard(journal=journal).day(DAY))
    assert documents["TKN"]["value"] == "3.5"
    assert documents["TKN"]["version"] == 2


def test_history_holds_every_index_oldest_first() -> None:
    board = IndexBoard(today=lambda: DAY)
    series = asyncio.run(board.history(5))
    assert set(series) == {code for code, _ in board.codes()}
    dates = [p["date"] for p in series["TKN-OPEN"]]
    assert dates == ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"]
    assert series["TKN-OPEN"][-1]["value"] == "0.687039"


def test_latest_is_today_and_never_back_fills_an_index() -> None:
    board = IndexBoard(today=lambda: DAY)
    today, documents = asyncio.run(board.latest())
    assert today == DAY
    assert documents["TKN-OPEN"]["date"] == "2026-11-20"
    # the GPU rental snapshot starts on 2026-11-21: no value before it, today or yesterday
    assert documents["GPU-H100"]["value"] is None
