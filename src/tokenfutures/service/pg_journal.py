"""The command journal on PostgreSQL: the same contract as :class:`SqliteJournal`.

- ``append`` writes a batch of command lines in one transaction with
  ``synchronous_commit = on`` (set on the session, whatever the server's or role's default),
  so a batch is durable, on the primary's WAL, before it is acknowledged; one commit covers
  the whole batch (group commit).
- **One writer.** A writer takes the session-level advisory lock :data:`WRITER_LOCK` with
  ``pg_try_advisory_lock`` on the connection it writes with, and holds it for its lifetime; a
  second writer fails at once with :class:`JournalLockedError`. The lock lives and dies with
  that session: if the connection is lost, the lock is released by the server and every later
  ``append`` of the stale writer fails (its connection is gone, it never reconnects), so a
  new writer can take over without two writers ever interleaving. A reader takes no lock and
  may not ``append``.
- **Snapshots** are kept in ``journal_snapshots`` (position, recorded state hash, when it
  was written, compressed body); writing one is fenced like ``append`` and keeps only the
  latest :data:`KEEP_SNAPSHOTS`.
- The schema is created if missing by numbered migrations (:data:`MIGRATIONS`), applied in
  order, each in the same transaction as its row in ``schema_migrations``, under a
  transaction-level advisory lock so that two processes starting at once do not race. The
  key store's table (:mod:`tokenfutures.service.pg_keys`) is part of the same schema.

The journal's connection is shared between the sequencer's writer thread and the event
loop's thread (recovery, meta): one lock around every use of it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import conninfo

from tokenfutures.service.journal import (
    KEEP_SNAPSHOTS,
    JournalLockedError,
    StoredSnapshot,
    check_snapshot_position,
)

WRITER_LOCK = 0x7466_6A6F_7572_6E6C  # "tfjournl": the single journal writer's session lock
MIGRATION_LOCK = 0x7466_6D69_6772_6174  # "tfmigrat": held while the schema is migrated
CONNECT_TIMEOUT_S = 10
READ_PAGE = 1_000  # rows per query when reading the journal

# (version, name, statements): applied in order, never edited once released; add new ones.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "journal",
        (
            "CREATE TABLE journal_commands (seq bigint PRIMARY KEY, line text NOT NULL)",
            "CREATE TABLE journal_meta (key text PRIMARY KEY, value text NOT NULL)",
        ),
    ),
    (
        2,
        "api keys",
        (
            "CREATE TABLE api_keys ("
            " key text PRIMARY KEY,"
            " secret text NOT NULL,"
            " account text NOT NULL,"
            " scopes text NOT NULL,"
            " created_ts bigint NOT NULL,"
            " revoked_ts bigint)",
            "CREATE INDEX api_keys_account ON api_keys (account)",
            # the table holds credentials: nobody but its owner (and superusers) may read it
            "REVOKE ALL ON api_keys FROM PUBLIC",
        ),
    ),
    (
        3,
        "snapshots",
        (
            "CREATE TABLE journal_snapshots ("
            " seq bigint PRIMARY KEY,"
            " state_hash text NOT NULL,"
            " taken_at timestamptz NOT NULL DEFAULT now(),"
            " body bytea NOT NULL)",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


class SchemaVersionError(RuntimeError):
    """The database was migrated by a newer version of the exchange than this one."""


class DatabaseUnavailableError(RuntimeError):
    """The PostgreSQL server named by the URL cannot be reached or refused the connection."""


def is_postgres_url(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL database (``postgresql://``, ``postgres://``, or
    SQLAlchemy's ``postgresql+driver://``)."""
    scheme = url.strip().split("://", 1)[0].lower() if "://" in url else ""
    return scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+")


def libpq_url(url: str) -> str:
    """``url`` as libpq reads it: SQLAlchemy's ``postgresql+psycopg://`` becomes
    ``postgresql://``."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if sep and scheme.lower().startswith("postgresql+"):
        return "postgresql://" + rest
    return text


def redact(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***`` (for messages and logs)."""
    try:
        params = conninfo.conninfo_to_dict(libpq_url(url))
    except psycopg.ProgrammingError:
        return "postgresql://(unreadable URL)"
    user = params.get("user")
    host = params.get("host") or "localhost"
    port = params.get("port")
    dbname = params.get("dbname") or user or ""
    auth = f"{user}{':***' if params.get('password') else ''}@" if user else ""
    return f"postgresql://{auth}{host}{':' + str(port) if port else ''}/{dbname}"


def connect(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection to ``url`` with ``synchronous_commit = on``; a connect
    timeout of :data:`CONNECT_TIMEOUT_S` unless the URL sets one."""
    text = libpq_url(url)
    try:
        params = conninfo.conninfo_to_dict(text)
    except psycopg.ProgrammingError:  # its message may quote the URL, password and all
        raise DatabaseUnavailableError("not a PostgreSQL URL that libpq can read") from None
    extra: dict[str, Any] = {}
    if "connect_timeout" not in params:
        extra["connect_timeout"] = CONNECT_TIMEOUT_S
    try:
        conn = psycopg.connect(text, autocommit=True, **extra)
    except psycopg.OperationalError as error:
        raise DatabaseUnavailableError(f"{redact(url)}: {error}".strip()) from None
    try:
        conn.execute("SET synchronous_commit = on")
    except BaseException:
        conn.close()
        raise
    return conn


def migrate(conn: psycopg.Connection[tuple[Any, ...]]) -> list[int]:
    """Apply the migrations ``conn``'s database lacks, in order, in one transaction; the
    versions applied (none when the schema is current)."""
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = conn.execute("SELECT version FROM schema_migrations").fetchall()
        done = {int(row[0]) for row in rows}
        if done and max(done) > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the database's schema is at version {max(done)}, newer than this program's "
                f"{SCHEMA_VERSION}: upgrade tokenfutures"
            )
        for version, name, statements in MIGRATIONS:
            if version in done:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name)
            )
            applied.append(version)
    return applied


class PostgresJournal:
    """The journal in the PostgreSQL database at ``url`` (schema created if missing)."""

    def __init__(self, url: str, *, writer: bool = True) -> None:
        self.url = url
        self.location = redact(url)
        self.writer = writer
        self._lock = threading.Lock()
        self._conn = connect(url)
        try:
            if writer:
                row = self._conn.execute(
                    "SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK,)
                ).fetchone()
                if row is None or not row[0]:
                    raise JournalLockedError(f"{self.location} is being written by another process")
            migrate(self._conn)
        except BaseException:
            self._conn.close()
            raise

    def append(self, lines: Sequence[str]) -> int:
        """Write ``lines`` durably, in order, in one transaction; the last sequence number."""
        if not self.writer:
            raise JournalLockedError(f"{self.location} was opened read-only")
        with self._lock, self._conn.transaction():
            first = self._last_seq() + 1
            if lines:
                self._conn.execute(
                    "INSERT INTO journal_commands (seq, line)"
                    " SELECT %s::bigint + n - 1, line"
                    " FROM unnest(%s::text[]) WITH ORDINALITY AS t(line, n)",
                    (first, list(lines)),
                )
        return first + len(lines) - 1

    def last_seq(self) -> int:
        with self._lock:
            return self._last_seq()

    def _last_seq(self) -> int:
        row = self._conn.execute("SELECT COALESCE(MAX(seq), 0) FROM journal_commands").fetchone()
        return 0 if row is None else int(row[0])

    def read(self, after: int = 0) -> Iterator[tuple[int, str]]:
        """Every command after sequence number ``after``, in order (read a page at a time, so
        no lock or transaction is held between the rows it yields)."""
        last = after
        while True:
            with self._lock:
                rows = self._conn.execute(
                    "SELECT seq, line FROM journal_commands WHERE seq > %s ORDER BY seq LIMIT %s",
                    (last, READ_PAGE),
                ).fetchall()
            for seq, line in rows:
                last = int(seq)
                yield last, str(line)
            if len(rows) < READ_PAGE:
                return

    def get_meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT value FROM journal_meta WHERE key = %s", (key,)
            ).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO journal_meta (key, value) VALUES (%s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def write_snapshot(self, seq: int, state_hash: str, body: bytes) -> None:
        """Store a snapshot (replacing one at the same position) and delete all but the latest
        :data:`KEEP_SNAPSHOTS`, in one transaction; only the writer may (fenced as ``append``)."""
        if not self.writer:
            raise JournalLockedError(f"{self.location} was opened read-only")
        with self._lock, self._conn.transaction():
            check_snapshot_position(seq, self._last_seq())
            self._conn.execute(
                "INSERT INTO journal_snapshots (seq, state_hash, body) VALUES (%s, %s, %s)"
                " ON CONFLICT (seq) DO UPDATE SET state_hash = excluded.state_hash,"
                " body = excluded.body, taken_at = excluded.taken_at",
                (seq, state_hash, body),
            )
            self._conn.execute(
                "DELETE FROM journal_snapshots WHERE seq NOT IN"
                " (SELECT seq FROM journal_snapshots ORDER BY seq DESC LIMIT %s)",
                (KEEP_SNAPSHOTS,),
            )

    def latest_snapshot(self, at_most_seq: int) -> StoredSnapshot | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT seq, state_hash, body FROM journal_snapshots WHERE seq <= %s"
                " ORDER BY seq DESC LIMIT 1",
                (at_most_seq,),
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), bytes(row[2]))

    def close(self) -> None:
        """Close the connection, which releases the writer's lock (idempotent)."""
        with self._lock:
            self._conn.close()
