"""The read models as PostgreSQL tables, against a private server: the same session and restart
as on SQLite (tests/unit/test_read_store.py) give tables equal to what the exchange holds;
migrations from an empty database and from the previous version; one writer; index fixings
as ``jsonb``; the journal's own schema is untouched."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from support.read_model_sessions import restart_scenario
from support.read_models import (
    assert_matches,
    clearing_codec,
    postgres_reader,
    scripted_session,
)
from tokenfutures.service.config import Database
from tokenfutures.service.pg_journal import SCHEMA_VERSION as JOURNAL_SCHEMA_VERSION
from tokenfutures.service.pg_journal import PostgresJournal
from tokenfutures.service.read_store import ReadStore
from tokenfutures.service.read_store_pg import PostgresReadStore, ReadStoreLockedError
from tokenfutures.service.read_store_schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    VERSION_TABLE,
    ReadSchemaVersionError,
)


def _query(url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []


def test_a_scripted_session_is_written_as_the_exchange_holds_it(pg_url: str) -> None:
    c, store = scripted_session(PostgresReadStore(pg_url), batch_rows=7)
    assert store.flush(), store.failure
    assert store.transactions > 1
    read = postgres_reader(pg_url)
    assert_matches(read, c.feed.views, c.house, c.log, clearing_codec(), c.closed)
    assert store.position == c.feed.seq
    store.stop()
    types = dict(_query(pg_url, "SELECT column_name, data_type FROM information_schema.columns "
                                "WHERE table_name = 'statements'"))  # fmt: skip
    assert (types["statement_date"], types["document"], types["closing_balance"]) == (
        "date", "jsonb", "bigint",
    )  # fmt: skip
    called = _query(pg_url, "SELECT account FROM statements WHERE margin_call > 0 "
                            "AND document->>'margin_call' <> '0.00' ORDER BY account")  # fmt: skip
    expected = sorted(a for (a, _), s in c.house.statements.items() if s.margin_call > 0)
    assert [a for (a,) in called] == expected == ["B"]


def test_a_restart_writes_what_the_store_missed_and_nothing_it_had(pg_url: str) -> None:
    def mark_row() -> None:
        _query(pg_url, "UPDATE orders SET updated_seq = -1 WHERE client_order_id = 'b2'")

    restart_scenario(lambda: PostgresJournal(pg_url), Database(url=pg_url),
                     postgres_reader(pg_url), mark_row)  # fmt: skip
    rows = {r["client_order_id"]: r for r in postgres_reader(pg_url)("orders")}
    assert rows["b2"]["updated_seq"] == -1
    assert rows["c2"]["status"] == "expired"
    assert (rows["c3"]["filled_quantity"], rows["c3"]["leaves_quantity"]) == (1, 1)
    assert _query(pg_url, "SELECT MAX(version) FROM schema_migrations") == [
        (JOURNAL_SCHEMA_VERSION,)
    ]  # the journal's migrations are its own


def test_one_process_writes_the_read_models(pg_url: str) -> None:
    first = PostgresReadStore(pg_url)
    with pytest.raises(ReadStoreLockedError, match="another process"):
        PostgresReadStore(pg_url)
    first.close()
    PostgresReadStore(pg_url).close()  # the lock went with the connection


def _versions(url: str) -> list[tuple[int, str]]:
    return [(int(v), str(n)) for v, n in
            _query(url, f"SELECT version, name FROM {VERSION_TABLE} ORDER BY version")]  # fmt: skip


def test_migrations_from_an_empty_database_and_from_the_previous_version(pg_url: str) -> None:
    old = PostgresReadStore(pg_url, target=SCHEMA_VERSION - 1)
    assert old.applied == list(range(1, SCHEMA_VERSION))
    old.close()
    assert _query(pg_url, "SELECT to_regclass('index_fixings')") == [(None,)]
    c, store = scripted_session(PostgresReadStore(pg_url, target=SCHEMA_VERSION - 1))
    assert store.flush(), store.failure
    store.stop()
    before = {t: postgres_reader(pg_url)(t) for t in ("orders", "positions", "statements")}
    upgraded = PostgresReadStore(pg_url)
    assert upgraded.applied == [SCHEMA_VERSION]
    upgraded.close()
    again = PostgresReadStore(pg_url)
    assert again.applied == []
    resumed = ReadStore(again, c.house, clearing_codec())
    assert resumed.position == c.feed.seq
    resumed.stop()
    assert {t: postgres_reader(pg_url)(t) for t in before} == before
    assert _versions(pg_url) == [(v, name) for v, name, _ in MIGRATIONS]


def test_read_models_of_a_newer_program_are_refused(pg_url: str) -> None:
    PostgresReadStore(pg_url).close()
    _query(pg_url, f"INSERT INTO {VERSION_TABLE} (version, name) VALUES (%s, 'later')",
           (SCHEMA_VERSION + 1,))  # fmt: skip
    with pytest.raises(ReadSchemaVersionError, match="upgrade tokenfutures"):
        PostgresReadStore(pg_url)


def test_published_fixings_are_documents_to_query(pg_url: str) -> None:
    document = {
        "index": "GPU-H100", "date": "2026-11-21", "value": "2.4571", "unit": "USD per GPU-hour",
        "methodology_version": "1.0.0", "version": 1, "quality": "ok", "coverage": "100",
        "data_level": "list_price", "constituents": [{"name": "H100", "price": "2.4571"}],
        "excluded": [], "inputs_sha256": "f" * 64, "published_at": "2026-11-21T08:00:00Z",
    }  # fmt: skip
    c, store = scripted_session(PostgresReadStore(pg_url))
    store.record_fixings([document, document | {"version": 2, "value": None,
                                                "quality": "not_published"}])  # fmt: skip
    assert store.flush(), store.failure
    store.stop()
    rows = _query(pg_url, "SELECT version, value_micros, fixing_date::text, "
                          "document->'constituents'->0->>'price' FROM index_fixings "
                          "ORDER BY version")  # fmt: skip
    assert rows == [(1, 2_457_100, "2026-11-21", "2.4571"), (2, None, "2026-11-21", "2.4571")]
