"""The index board of the service: a day's fixings are the journal's published versions, else
computed (and never published by a reader); today's are read again after a while; the history
comes from a few fixed ranges; callers share computations and one giving up stops no other."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tokenfutures.adapters.fixing_journal import FixingJournal
from tokenfutures.service.index_board import RECHECK_S, IndexBoard

DAY = date(2026, 11, 20)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_reader_computes_but_never_publishes(tmp_path: Path) -> None:
    journal = FixingJournal(tmp_path / "fixings.jsonl")
    board = IndexBoard(journal=journal, today=lambda: DAY)

    async def twice() -> tuple[Any, Any]:
        return await asyncio.gather(board.day(DAY), board.day(DAY))

    first, second = asyncio.run(twice())
    assert first == second
    assert first["TKN-OPEN"]["value"] == "0.687039"
    assert "published_at" not in first["TKN-OPEN"]
    assert first["TKN-OPEN"]["sources"][0]["sha256"]
    assert not journal.path.exists()  # nothing was published by reading


def test_the_journal_s_latest_version_wins_and_today_is_read_again(tmp_path: Path) -> None:
    journal = FixingJournal(tmp_path / "fixings.jsonl")
    clock = Clock()
    heard: list[list[tuple[str, int]]] = []
    board = IndexBoard(journal=journal, today=lambda: DAY, monotonic=clock)
    board.on_fixings(lambda docs: heard.append(sorted((d["index"], d["version"]) for d in docs)))
    computed = asyncio.run(board.day(DAY))
    assert len(heard) == 1  # today's, when first loaded
    first = dict(computed["TKN"]) | {"value": "3.4"}
    journal.publish([first], "2026-11-20T16:00:00Z")
    clock.now = RECHECK_S / 2
    assert asyncio.run(board.day(DAY))["TKN"]["value"] == "3.308331"  # trusted a while
    clock.now = RECHECK_S + 1
    shown = asyncio.run(board.day(DAY))["TKN"]
    assert (shown["value"], shown["version"], shown["published_at"]) == (
        "3.4",
        1,
        "2026-11-20T16:00:00Z",
    )
    journal.publish([first | {"value": "3.5", "inputs_sha256": "0" * 64}], "2026-11-21T01:00:00Z")
    clock.now = 2 * RECHECK_S + 2
    assert asyncio.run(board.day(DAY))["TKN"]["version"] == 2
    assert heard[1:] == [[("TKN", 1)], [("TKN", 2)]]  # only the changes are told


def test_history_comes_from_fixed_ranges_sliced_to_the_days_asked() -> None:
    board = IndexBoard(today=lambda: DAY)
    series = asyncio.run(board.history(5))
    assert set(series) == {code for code, _ in board.codes()}
    dates = [p["date"] for p in series["TKN-OPEN"]]
    assert dates == ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"]
    assert series["TKN-OPEN"][-1]["value"] == "0.687039"
    longer = asyncio.run(board.history(60))  # the same 90-day range: no new computation
    assert len(longer["TKN-OPEN"]) == 60
    assert list(board._history) == [(DAY, 90)]


def test_a_caller_giving_up_does_not_cancel_the_others() -> None:
    board = IndexBoard(today=lambda: DAY)

    async def race() -> dict[str, Any]:
        quitter = asyncio.ensure_future(board.day(DAY))
        stayer = asyncio.ensure_future(board.day(DAY))
        await asyncio.sleep(0)
        quitter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await quitter
        return await stayer

    assert asyncio.run(race())["TKN-OPEN"]["value"] == "0.687039"


def test_latest_is_today_and_never_back_fills_an_index() -> None:
    board = IndexBoard(today=lambda: DAY)
    today, documents = asyncio.run(board.latest())
    assert today == DAY
    assert documents["TKN-OPEN"]["date"] == "2026-11-20"
    # the GPU rental snapshot starts on 2026-11-21: no value before it, today or yesterday
    assert documents["GPU-H100"]["value"] is None
