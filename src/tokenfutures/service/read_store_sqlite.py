"""The read models in the SQLite file that holds the journal.

The store has its own connection to the file, used by the writer's thread. WAL mode lets the
journal and the store write in turn and readers read meanwhile. The store's transactions use
``synchronous=NORMAL``: the read models can always be rebuilt from the journal, so a commit
lost to a power cut only means the store writes those commands again at the next start (its
position is in the same transaction as its rows, so it never claims rows it lost). Each
transaction is kept small (the writer's chunks) so that the journal, which waits for the
file's write lock, is never held up for long.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenfutures.service.read_store_schema import (
    SCHEMA_VERSION,
    SQLITE,
    STORE_NAME,
    Statements,
    migrate,
)

BUSY_TIMEOUT_S = 30.0  # waiting for the journal's transaction to end


class SqliteReadStore:
    """The read models' tables in the SQLite file ``path`` (created or upgraded if needed)."""

    def __init__(self, path: Path, *, target: int = SCHEMA_VERSION) -> None:
        self.path = path
        self.location = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
        )
        self.sql = Statements.of(SQLITE)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self.applied = self._migrate(target)
        except BaseException:
            self._db.close()
            raise

    def _migrate(self, target: int) -> list[int]:
        db = self._db
        db.execute("BEGIN IMMEDIATE")  # one migrator at a time; all or nothing
        try:
            applied = migrate(self._run, SQLITE, target)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return applied

    def _run(self, statement: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._db.execute(statement, params).fetchall()

    def position(self) -> int:
        """The last journal sequence number whose rows are written (0: none)."""
        row = self._db.execute(self.sql.get_position, (STORE_NAME,)).fetchone()
        return 0 if row is None else int(row[0])

    def live_orders(self) -> list[tuple[Any, ...]]:
        return self._db.execute(self.sql.live_orders).fetchall()

    def write(
        self,
        tables: Sequence[tuple[str, Sequence[tuple[Any, ...]]]],
        closes: Sequence[tuple[Any, ...]],
        seq: int | None,
    ) -> None:
        """Write the rows, the positions closed, and (unless None) the new position, in one
        transaction."""
        db, sql = self._db, self.sql
        db.execute("BEGIN IMMEDIATE")
        try:
            for table, rows in tables:
                for statement, params in sql.upserts(table, rows):
                    db.execute(statement, params)
            if closes:
                db.executemany(sql.close_position, closes)
            if seq is not None:
                db.execute(sql.set_position, (STORE_NAME, seq))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()
