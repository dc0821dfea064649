"""The read models in the PostgreSQL database that holds the journal.

- Its own connection, used by the writer's thread; ``synchronous_commit = off`` on it: the
  read models can always be rebuilt from the journal, and a commit lost in a server crash
  only means the store writes those commands again at the next start (its position is in the
  same transaction as its rows). The journal's own connection keeps ``synchronous_commit =
  on``.
- **One writer.** The session advisory lock :data:`READ_STORE_LOCK` is held for the store's
  lifetime, so two processes never write the read models at once; a second store fails at
  once with :class:`ReadStoreLockedError`. If the connection is lost, the next write
  reconnects and must take the lock again.
- The schema is migrated under the transaction-level advisory lock :data:`MIGRATION_LOCK`, in
  one transaction (``read_store_schema.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from tokenfutures.service.pg_journal import connect, redact
from tokenfutures.service.read_store_schema import (
    POSTGRESQL,
    SCHEMA_VERSION,
    STORE_NAME,
    ReadStoreError,
    Statements,
    migrate,
)

READ_STORE_LOCK = 0x7466_7265_6164_6D64  # "tfreadmd": the read models' single writer
MIGRATION_LOCK = 0x7466_726D_6967_7274  # "tfrmigrt": held while the read models migrate


class ReadStoreLockedError(ReadStoreError):
    """Another process is writing the read models of this database."""


class PostgresReadStore:
    """The read models' tables in the PostgreSQL database at ``url`` (created or upgraded)."""

    def __init__(self, url: str, *, target: int = SCHEMA_VERSION) -> None:
        self.url = url
        self.location = redact(url)
        self.sql = Statements.of(POSTGRESQL)
        self._conn = self._open()
        try:
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                self.applied = migrate(self._run, POSTGRESQL, target)
        except BaseException:
            self._conn.close()
            raise

    def _open(self) -> psycopg.Connection[tuple[Any, ...]]:
        conn = connect(self.url)
        try:
            conn.execute("SET synchronous_commit = off")
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (READ_STORE_LOCK,)).fetchone()
            if row is None or not row[0]:
                raise ReadStoreLockedError(
                    f"{self.location}: the read models are being written by another process"
                )
        except BaseException:
            conn.close()
            raise
        return conn

    def _run(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        cursor = self._conn.execute(statement, params)
        return cursor.fetchall() if cursor.description is not None else []

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        """The connection; a new one (holding the lock again) if the server dropped it."""
        if self._conn.closed or self._conn.broken:
            self._conn = self._open()
        return self._conn

    def position(self) -> int:
        """The last journal sequence number whose rows are written (0: none)."""
        row = self._connection().execute(self.sql.get_position, (STORE_NAME,)).fetchone()
        return 0 if row is None else int(row[0])

    def live_orders(self) -> list[tuple[Any, ...]]:
        return self._connection().execute(self.sql.live_orders).fetchall()

    def write(
        self,
        tables: Sequence[tuple[str, Sequence[tuple[Any, ...]]]],
        closes: Sequence[tuple[Any, ...]],
        seq: int | None,
    ) -> None:
        """Write the rows, the positions closed, and (unless None) the new position, in one
        transaction."""
        conn, sql = self._connection(), self.sql
        with conn.transaction(), conn.cursor() as cursor:
            for table, rows in tables:
                cursor.executemany(sql.upsert(table), rows)
            if closes:
                cursor.executemany(sql.close_position, closes)
            if seq is not None:
                cursor.execute(sql.set_position, (STORE_NAME, seq))

    def close(self) -> None:
        """Close the connection, which releases the writer's lock."""
        self._conn.close()
