"""The read models as SQLite tables (``service/read_store*.py``): every table equals what the
exchange holds in memory after a scripted session through the clearing house and through a
real sequencer; a restart writes what the store missed and nothing it had; a large change is
split into transactions; migrations from an empty database and from the previous version;
index fixings; failures stop the store, never the exchange.

The same checks against PostgreSQL are in tests/service_pg/test_pg_read_store.py.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from support.clearing import DAY1, GPU, TKN, TKN_NEXT, only
from support.read_model_sessions import restart_scenario
from support.read_models import (
    DAY2,
    Feed,
    FeedingClearing,
    assert_matches,
    clearing_codec,
    scripted_session,
    sqlite_reader,
)
from tokenfutures.adapters.fixing_journal import FixingJournal
from tokenfutures.domain.clearing.events import EndOfDayCompleted, LiquidationCompleted
from tokenfutures.domain.events import TradeExecuted
from tokenfutures.domain.values import TimeInForce
from tokenfutures.engine.codec import Codec
from tokenfutures.service.config import Database
from tokenfutures.service.journal import SqliteJournal
from tokenfutures.service.read_store import ReadStore, ReadStoreError
from tokenfutures.service.read_store_schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    VERSION_TABLE,
    ReadSchemaVersionError,
)
from tokenfutures.service.read_store_sqlite import SqliteReadStore
from tokenfutures.service.views import Views


def _store(path: Path, clearing: FeedingClearing | None = None, **kw: Any) -> ReadStore:
    house = clearing.house if clearing is not None else FeedingClearing(Feed(None, Views())).house
    return ReadStore(SqliteReadStore(path), house, clearing_codec(), **kw)


def _session(path: Path, **kw: Any) -> tuple[FeedingClearing, ReadStore]:
    return scripted_session(SqliteReadStore(path), **kw)


def test_a_scripted_session_is_written_as_the_exchange_holds_it(tmp_path: Path) -> None:
    c, store = _session(tmp_path / "x.db")
    assert store.flush()
    read = sqlite_reader(tmp_path / "x.db")
    assert_matches(read, c.feed.views, c.house, c.log, clearing_codec(), c.closed)
    assert store.position == c.feed.seq
    orders = {row["client_order_id"]: row for row in read("orders")}
    assert (orders["ask"]["status"], orders["ask"]["filled_quantity"]) == ("cancelled", 5)
    assert orders["ask"]["reason"] == "delisted"  # cancelled by the final settlement
    assert (orders["bid"]["status"], orders["bid"]["reason"]) == ("expired", "end_of_day")
    assert (orders["low"]["status"], orders["low"]["leaves_quantity"]) == ("cancelled", 0)
    assert orders["ask"]["average_price"] == "2.548000"  # 4 lots at 2.510, 1 at 2.700
    closed = {(r["account"], r["symbol"]): r for r in read("positions")}
    assert closed[("A", TKN)]["quantity"] == 0
    assert closed[("A", TKN)]["realised_pnl"] == (5 * 2600 - (4 * 2510 + 2700)) * 1000
    assert closed[("A", TKN_NEXT)]["quantity"] == -2
    statements = read("statements")
    days = {(r["account"], r["statement_date"]) for r in statements}
    assert ("B", DAY2.isoformat()) in days
    called = [r for r in statements if r["margin_call"]]
    assert [(r["account"], r["statement_date"]) for r in called] == [("B", DAY2.isoformat())]
    assert (called[0]["margin_call"], called[0]["document"]["margin_call"]) == (360249, "3602.49")
    assert len(statements) == len(c.house.statements)
    assert read("final_settlements")[0] | {"ts": 0, "seq": 0} == {
        "symbol": TKN, "price_ticks": 2600, "price": "2.600", "open_interest": 5,
        "ts": 0, "seq": 0,
    }  # fmt: skip
    store.stop()


def test_a_liquidation_rewrites_every_position_it_settles(tmp_path: Path) -> None:
    """T is called, sells its GPU lot above the settlement price on the next day (flat, a
    gain not yet paid), then is liquidated: its TKN lot is sold into the book and the flat GPU
    position is settled with no trade of its own."""
    feed = Feed(None, Views())
    c = FeedingClearing(feed)
    store = feed.store = _store(tmp_path / "x.db", c)
    store.start()
    c.account("MM", cash=1_000_000_00, exempt=True)
    c.account("MM2", cash=1_000_000_00, exempt=True)
    c.account("T", cash=5_100_00)
    for symbol in (TKN, GPU):
        c.trade("T", "MM", 1, "2.500", symbol=symbol)
    for symbol in (TKN, GPU):
        c.trade("MM2", "MM", 9, "2.300", symbol=symbol)  # both settle at 2.320
    c.end_of_day(DAY1)
    assert "T" in c.house.margin_calls
    c.open_day(2)
    c.buy("MM2", 1, "2.300")
    c.buy("MM2", 1, "2.330", symbol=GPU)
    c.sell("T", 1, "2.330", symbol=GPU, tif=TimeInForce.IOC)  # flat, 10 ticks not yet paid
    assert c.house.positions.position("T", GPU).realised_unsettled == 10_000
    c.deadline()
    assert only(c.log, LiquidationCompleted)
    assert c.house.positions.position("T", GPU).realised_unsettled == 0
    assert store.flush()
    assert_matches(sqlite_reader(tmp_path / "x.db"), feed.views, c.house, c.log,
                   clearing_codec())  # fmt: skip
    store.stop()


def test_changes_bigger_than_a_batch_are_split_into_transactions(tmp_path: Path) -> None:
    c, store = _session(tmp_path / "x.db", batch_rows=3)
    assert store.flush()
    assert store.transactions > store.rows_written // 3
    assert_matches(sqlite_reader(tmp_path / "x.db"), c.feed.views, c.house, c.log,
                   clearing_codec(), c.closed)  # fmt: skip
    store.stop()


def test_a_restart_writes_what_the_store_missed_and_nothing_it_had(tmp_path: Path) -> None:
    path = tmp_path / "exchange.db"

    def mark_row() -> None:  # an order that ended in part one: written before the restart
        with sqlite3.connect(path) as db:
            db.execute("UPDATE orders SET updated_seq = -1 WHERE client_order_id = 'b2'")

    restart_scenario(lambda: SqliteJournal(path), Database(path=path), sqlite_reader(path),
                     mark_row)  # fmt: skip
    rows = {r["client_order_id"]: r for r in sqlite_reader(path)("orders")}
    assert rows["b2"]["updated_seq"] == -1  # not written again
    assert rows["c2"]["status"] == "expired"  # the end of day the first store missed
    assert rows["a1"]["status"] == "filled"  # after the restart
    assert (rows["c3"]["filled_quantity"], rows["c3"]["leaves_quantity"]) == (1, 1)


def test_a_command_the_store_missed_stops_the_store_not_the_caller(tmp_path: Path) -> None:
    store = _store(tmp_path / "x.db")
    store.start()
    store.on_events(1, [])
    store.on_events(3, [])  # 2 was never seen: no holes in the tables
    assert isinstance(store.failure, ReadStoreError)
    assert "not replayed" in str(store.failure)
    assert not store.flush()
    store.on_events(4, [])  # still no exception
    assert store.position == 1
    store.stop()


def test_read_models_ahead_of_their_journal_are_refused(tmp_path: Path) -> None:
    c, store = _session(tmp_path / "x.db")
    store.stop()
    with pytest.raises(ReadStoreError, match="past the journal"):
        ReadStore(SqliteReadStore(tmp_path / "x.db"), c.house, clearing_codec(),
                  journal_last_seq=3)  # fmt: skip


def test_the_lag_is_what_the_journal_holds_beyond_the_written_position(tmp_path: Path) -> None:
    views = Views()
    feed = Feed(None, views)
    c = FeedingClearing(feed)
    store = feed.store = _store(tmp_path / "x.db", c)
    c.account("A", cash=1_000_00)  # open_account, deposit: queued, nothing written
    assert (store.queued, store.position, store.lag(feed.seq)) == (3, 0, 3)
    store.start()
    assert store.flush()
    assert (store.position, store.lag(feed.seq)) == (3, 0)
    store.stop()
    reopened = _store(tmp_path / "x.db")
    assert reopened.position == 3
    reopened.stop()


# --- migrations ------------------------------------------------------------------------------


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def _versions(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT version, name FROM {VERSION_TABLE} ORDER BY version").fetchall()


def test_migrations_build_every_table_from_an_empty_database_once(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    store = SqliteReadStore(path)
    assert store.applied == list(range(1, SCHEMA_VERSION + 1))
    store.close()
    again = SqliteReadStore(path)
    assert again.applied == []
    again.close()
    assert _versions(path) == [(v, name) for v, name, _ in MIGRATIONS]
    assert {"orders", "trades", "fills", "positions", "settlement_prices", "final_settlements",
            "statements", "index_fixings", "read_store_position"} <= _tables(path)  # fmt: skip


def test_an_upgrade_from_the_previous_version_keeps_the_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    c, store = _session(path)
    store.stop()
    with sqlite3.connect(path) as db:  # back to version N-1: its last migration undone
        db.execute("DROP TABLE index_fixings")
        db.execute(f"DELETE FROM {VERSION_TABLE} WHERE version = ?", (SCHEMA_VERSION,))
    before = {t: sqlite_reader(path)(t) for t in ("orders", "trades", "positions", "statements")}
    assert "index_fixings" not in _tables(path)
    upgraded = SqliteReadStore(path)
    assert upgraded.applied == [SCHEMA_VERSION]
    upgraded.close()
    assert {t: sqlite_reader(path)(t) for t in before} == before
    assert _versions(path)[-1][0] == SCHEMA_VERSION
    resumed = ReadStore(SqliteReadStore(path), c.house, clearing_codec())
    assert resumed.position == c.feed.seq
    resumed.stop()


def test_a_database_at_the_previous_version_is_built_by_the_previous_migrations(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.db"
    old = SqliteReadStore(path, target=SCHEMA_VERSION - 1)
    assert old.applied == list(range(1, SCHEMA_VERSION))
    old.close()
    assert "index_fixings" not in _tables(path)
    assert SqliteReadStore(path).applied == [SCHEMA_VERSION]


def test_read_models_of_a_newer_program_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    SqliteReadStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"INSERT INTO {VERSION_TABLE} (version, name) VALUES (?, 'later')",
                   (SCHEMA_VERSION + 1,))  # fmt: skip
    with pytest.raises(ReadSchemaVersionError, match="upgrade tokenfutures"):
        SqliteReadStore(path)


# --- index fixings ---------------------------------------------------------------------------


def _fixing(value: str, sha: str) -> dict[str, Any]:
    return {
        "index": "TKN", "date": "2026-11-20", "value": value, "unit": "USD per 1M tokens",
        "methodology_version": "1.0.0", "version": 1, "quality": "ok", "coverage": "80",
        "data_level": "list_price", "constituents": [], "excluded": [], "inputs_sha256": sha,
    }  # fmt: skip


def test_published_fixings_are_copied_with_every_version(tmp_path: Path) -> None:
    journal = FixingJournal(tmp_path / "fixings.jsonl")
    journal.publish([_fixing("3.308331", "a" * 64)], "2026-11-20T08:00:00Z")
    journal.publish([_fixing("3.308400", "b" * 64)], "2026-11-20T09:00:00Z")  # a correction
    published = journal.versions("TKN", "2026-11-20")
    store = _store(tmp_path / "x.db")
    store.start()
    store.record_fixings(published)
    store.record_fixings(published)  # again: the same rows
    assert store.flush()
    rows = sqlite_reader(tmp_path / "x.db")("index_fixings")
    assert [(r["version"], r["value_micros"], r["value"]) for r in rows] == [
        (1, 3_308_331, "3.308331"), (2, 3_308_400, "3.308400"),
    ]  # fmt: skip
    assert rows[1]["document"] == published[1]
    assert rows[1]["published_at"] == "2026-11-20T09:00:00Z"
    with pytest.raises(ValueError, match="'inputs_sha256'"):
        store.record_fixings([_fixing("1.0", "c" * 64) | {"inputs_sha256": None}])
    with pytest.raises(ValueError, match="finer than a micro-unit"):
        store.record_fixings([_fixing("1.0000001", "c" * 64)])
    assert store.position == 0  # fixings are not commands
    store.stop()


# --- failures --------------------------------------------------------------------------------


class FlakyBackend(SqliteReadStore):
    """The SQLite store whose first ``failures`` writes fail (a lost connection, a full disk)."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def write(self, *args: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("disk I/O error")
        super().write(*args)


@pytest.mark.parametrize(("failures", "written"), [(2, True), (3, False)])
def test_a_failed_write_is_tried_again_then_stops_the_store(
    tmp_path: Path, failures: int, written: bool
) -> None:
    views = Views()
    feed = Feed(None, views)
    c = FeedingClearing(feed)
    backend = FlakyBackend(tmp_path / "x.db", failures)
    store = feed.store = ReadStore(backend, c.house, clearing_codec(), retry_delays=(0, 0))
    store.start()
    c.account("A", cash=1_000_00)
    c.account("B", cash=1_000_00)
    c.trade("A", "B", 1, "2.500")
    assert store.flush() is written
    assert (store.position == feed.seq) is written
    assert (store.failure is None) is written
    c.end_of_day(DAY1)  # the exchange goes on either way
    assert only(c.log, EndOfDayCompleted)
    store.stop()
    if not written:
        assert sqlite_reader(tmp_path / "x.db")("read_store_position") == []


def test_a_row_the_writer_cannot_build_stops_the_store_without_hanging(tmp_path: Path) -> None:
    feed = Feed(None, Views())
    c = FeedingClearing(feed)
    tkn_only = Codec({TKN: Decimal("0.001")})  # no tick size for GPU2612
    store = feed.store = ReadStore(SqliteReadStore(tmp_path / "x.db"), c.house, tkn_only)
    store.start()
    c.account("A", cash=10_000_00)
    c.account("B", cash=10_000_00)
    assert store.flush()
    assert only(c.trade("A", "B", 1, "2.500", symbol=GPU), TradeExecuted)
    assert not store.flush(timeout=10)
    assert isinstance(store.failure, KeyError)
    assert store.position == 5  # the member, the accounts and their deposits: not the trade
    store.stop()
