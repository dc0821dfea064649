"""What only the PostgreSQL journal has: migrations, the advisory-lock fencing of the single
writer, durability settings, URLs and messages."""

from __future__ import annotations

import threading

import psycopg
import pytest

from tokenfutures.service.journal import JournalLockedError
from tokenfutures.service.pg_journal import (
    MIGRATIONS,
    SCHEMA_VERSION,
    WRITER_LOCK,
    DatabaseUnavailableError,
    PostgresJournal,
    SchemaVersionError,
    connect,
    is_postgres_url,
    libpq_url,
    migrate,
    redact,
)
from tokenfutures.service.pg_keys import PostgresKeyStore

from .conftest import PostgresServer

EXPECTED = [(version, name) for version, name, _ in MIGRATIONS]


def _migrations(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version")
        return [(int(v), str(n)) for v, n in rows.fetchall()]


def test_migrations_apply_once_in_order(pg_url: str) -> None:
    with connect(pg_url) as conn:
        assert migrate(conn) == [version for version, _ in EXPECTED]
        assert migrate(conn) == []
    journal = PostgresJournal(pg_url)
    journal.close()
    PostgresKeyStore(pg_url).close()
    PostgresJournal(pg_url, writer=False).close()
    assert _migrations(pg_url) == EXPECTED
    assert EXPECTED[-1][0] == SCHEMA_VERSION
    assert [version for version, _ in EXPECTED] == list(range(1, SCHEMA_VERSION + 1))


def test_processes_starting_at_once_migrate_exactly_once(pg_url: str) -> None:
    applied: list[list[int]] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            with connect(pg_url) as conn:
                applied.append(migrate(conn))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(v for each in applied for v in each) == [v for v, _ in EXPECTED]
    assert _migrations(pg_url) == EXPECTED


def test_a_schema_from_a_newer_version_is_refused(pg_url: str) -> None:
    PostgresJournal(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (99, 'future')")
    with pytest.raises(SchemaVersionError, match="version 99"):
        PostgresJournal(pg_url)
    with pytest.raises(SchemaVersionError):
        PostgresKeyStore(pg_url)


def test_a_failed_batch_writes_nothing(pg_url: str) -> None:
    journal = PostgresJournal(pg_url)
    try:
        journal.append(['{"n":1}'])
        with pytest.raises(psycopg.DataError):
            journal.append(['{"n":2}', "NUL \x00 is not text in PostgreSQL"])
        assert list(journal.read()) == [(1, '{"n":1}')]
        assert journal.append(['{"n":2}']) == 2  # the connection is still usable
    finally:
        journal.close()


def test_a_reader_may_not_append(pg_url: str) -> None:
    reader = PostgresJournal(pg_url, writer=False)
    try:
        with pytest.raises(JournalLockedError, match="read-only"):
            reader.append(['{"n":1}'])
        assert reader.last_seq() == 0
    finally:
        reader.close()


def _lock_holders(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND ((classid::bigint << 32) | objid::bigint) = %s",
            (WRITER_LOCK,),
        ).fetchall()
    return [int(row[0]) for row in rows]


def test_a_writer_whose_session_ends_is_fenced_off(pg_url: str) -> None:
    stale = PostgresJournal(pg_url)
    stale.append(['{"n":1}'])
    holders = _lock_holders(pg_url)
    assert len(holders) == 1  # the lock is visible to operators in pg_locks
    with pytest.raises(JournalLockedError):
        PostgresJournal(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as admin:  # the writer's session dies
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", (holders[0],))
    successor = PostgresJournal(pg_url)
    try:
        with pytest.raises(psycopg.OperationalError):
            stale.append(['{"n":"stale"}'])  # never reconnects, so never writes again
        assert successor.append(['{"n":2}']) == 2
        assert list(successor.read()) == [(1, '{"n":1}'), (2, '{"n":2}')]
    finally:
        stale.close()
        successor.close()


def test_sessions_commit_synchronously_whatever_the_default(
    pg_url: str, postgres_server: PostgresServer
) -> None:
    dbname = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{dbname}" SET synchronous_commit = off')
    with psycopg.connect(pg_url) as plain:
        assert plain.execute("SHOW synchronous_commit").fetchone() == ("off",)
    with connect(pg_url) as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)


def test_an_unreachable_server_is_reported_without_the_password(
    postgres_server: PostgresServer,
) -> None:
    url = f"postgresql://postgres:hunter2@127.0.0.1:{_closed_port()}/x?connect_timeout=2"
    with pytest.raises(DatabaseUnavailableError) as raised:
        PostgresJournal(url)
    assert "hunter2" not in str(raised.value)
    assert "postgres:***@127.0.0.1" in str(raised.value)


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_the_location_names_the_database_without_the_password(pg_url: str) -> None:
    journal = PostgresJournal(pg_url)
    try:
        assert journal.location == pg_url
    finally:
        journal.close()
    assert redact("postgresql://u:pw@db.example:5433/ex") == "postgresql://u:***@db.example:5433/ex"
    assert redact("postgresql://u@h/ex?password=pw") == "postgresql://u:***@h/ex"
    assert redact("postgresql:///ex") == "postgresql://localhost/ex"


@pytest.mark.parametrize(
    ("url", "postgres"),
    [
        ("postgresql://u@h/db", True),
        ("postgres://u@h/db", True),
        ("PostgreSQL+psycopg://u@h/db", True),
        ("sqlite:///data/exchange.db", False),
        ("data/exchange.db", False),
    ],
)
def test_postgres_urls_are_recognised(url: str, postgres: bool) -> None:
    assert is_postgres_url(url) is postgres


def test_sqlalchemy_driver_urls_are_read_as_libpq_urls() -> None:
    assert libpq_url(" postgresql+psycopg://u@h:1/db ") == "postgresql://u@h:1/db"
    assert libpq_url("postgres://u@h/db") == "postgres://u@h/db"
