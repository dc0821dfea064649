"""The read models' tables follow the exchange over random streams through the whole pipeline.

The streams are the clearing property tests' (clearing_streams.py): every order type, amends,
cancels, halts, ends of day, margin calls, liquidations, defaults with positions transferred to
the clearing house, final settlements. Each command's events go to the in-memory views and to
a read store on a fresh SQLite file, as the sequencer hands them out. After every end of day,
every margin-call deadline (liquidations, defaults), every 40th command and at the end of the
stream, every table equals what the views, the events and the clearing
house hold (orders and fills as the views show them, every trade with its fees, positions,
statements, settlement prices, and positions closed by final settlement).
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.read_models import (
    Feed,
    assert_matches,
    clearing_codec,
    note_closed,
    snapshot_positions,
    sqlite_reader,
)
from tokenfutures.domain.clearing.commands import EndOfDay, FinalSettlement, MarginCallDeadline
from tokenfutures.domain.clearing.house import AnyCommand
from tokenfutures.service.read_store import ReadStore
from tokenfutures.service.read_store_sqlite import SqliteReadStore
from tokenfutures.service.views import Views

from .clearing_streams import SEEDED, STREAM_TERMS, Market, RecordingClearing, count_paths
from .streams import Chooser, IntChooser


class StoreClearing(RecordingClearing):
    """The stream's clearing house with the views and a read store listening; checks the
    tables after every end of day and deadline, and every 40 commands."""

    def __init__(self, path: Path, batch_rows: int, **kw: Any) -> None:
        super().__init__(**kw)
        self.views = Views()
        self.store = ReadStore(SqliteReadStore(path), self.house, clearing_codec(),
                               batch_rows=batch_rows)  # fmt: skip
        self.feed = Feed(self.store, self.views)
        self.read = sqlite_reader(path)
        self.closed: list[Any] = []
        self.checks = 0
        self.store.start()

    def send(self, command: AnyCommand) -> list[Any]:
        before = snapshot_positions(self.house) if type(command) is FinalSettlement else {}
        events = super().send(command)
        self.feed(events)
        note_closed(self.house, before, events, self.closed)
        if type(command) in (EndOfDay, MarginCallDeadline) or self.feed.seq % 40 == 0:
            self.check()
        return events

    def check(self) -> None:
        assert self.store.flush(), self.store.failure
        assert self.store.position == self.feed.seq
        assert_matches(self.read, self.views, self.house, self.log, clearing_codec(), self.closed)
        self.checks += 1


def run_with_store(chooser: Chooser, days: int, per_day: int, batch_rows: int) -> Market:
    with tempfile.TemporaryDirectory() as folder:
        clearing = StoreClearing(Path(folder) / "x.db", batch_rows, terms=STREAM_TERMS)
        market = Market(chooser, clearing)
        try:
            market.run(days, per_day)
            clearing.check()
        finally:
            clearing.store.stop()
    return market


@st.composite
def market_streams(draw: st.DrawFn) -> tuple[list[int], int, int, int]:
    days = draw(st.integers(min_value=2, max_value=6))
    per_day = draw(st.integers(min_value=20, max_value=60))
    values = draw(st.lists(st.integers(min_value=0, max_value=255),
                           min_size=days * per_day * 4, max_size=days * per_day * 8))  # fmt: skip
    return values, days, per_day, draw(st.sampled_from([3, 50, 5_000]))


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(stream=market_streams())
def test_the_tables_equal_the_views_on_hypothesis_streams(
    stream: tuple[list[int], int, int, int],
) -> None:
    values, days, per_day, batch_rows = stream
    clearing = run_with_store(IntChooser(values), days, per_day, batch_rows).c
    assert isinstance(clearing, StoreClearing)
    assert clearing.checks >= days + 1


def test_the_tables_equal_the_views_on_a_seeded_stream_through_defaults() -> None:
    market = run_with_store(random.Random(SEEDED), days=14, per_day=160, batch_rows=500)
    clearing = market.c
    assert isinstance(clearing, StoreClearing)
    counts = count_paths(market)
    assert counts["TradeCleared"] > 150
    assert counts["LiquidationStarted"] > 0
    assert counts["PositionTransferred"] > 0
    assert counts["FinalSettlementPaid"] > 0
    assert counts["OrderAmended"] > 0
    assert clearing.checks >= 15
    assert len(clearing.views.orders) > 500
