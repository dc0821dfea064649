"""The command journal: every sequenced command, durable before it is acknowledged.

SQLite in WAL mode with ``synchronous=FULL`` (``NORMAL`` can lose committed transactions on
power loss): ``append`` writes a batch of command lines in one transaction, so one fsync
covers the whole batch (group commit). Lines are the commands' JSON exactly as the engine
reads them, with the ``ts`` the sequencer stamped, so a replay gives the same state.

One writer: opening a journal for writing takes an exclusive lock on ``<db>.lock``; a second
writer fails at once instead of interleaving its commands.

Snapshots (``tokenfutures.engine.snapshot``) are kept beside the commands, in the
``snapshots`` table: the journal position a snapshot was taken at, the state hash it
recorded, when it was written, and its compressed body. Only the latest
:data:`KEEP_SNAPSHOTS` are kept; recovery uses the latest.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS commands (seq INTEGER PRIMARY KEY, line TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS snapshots ("
    " seq INTEGER PRIMARY KEY,"
    " state_hash TEXT NOT NULL,"
    " taken_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),"
    " body BLOB NOT NULL)",
)
KEEP_SNAPSHOTS = 3  # the latest snapshots kept; older ones are deleted as new ones are written
StoredSnapshot = tuple[int, str, bytes]  # (seq, state_hash, compressed body)


class JournalLockedError(RuntimeError):
    """Another process is writing this journal."""


class Journal(Protocol):
    """What the sequencer and the CLI use of a journal: :class:`SqliteJournal`, or
    :class:`tokenfutures.service.pg_journal.PostgresJournal`."""

    @property
    def location(self) -> str:
        """Where it is, for messages (a file path, or a URL without its password)."""
        ...

    def append(self, lines: Sequence[str]) -> int: ...
    def last_seq(self) -> int: ...
    def read(self, after: int = 0) -> Iterator[tuple[int, str]]: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...

    def write_snapshot(self, seq: int, state_hash: str, body: bytes) -> None:
        """Store a snapshot taken after command ``seq`` (which must be journaled)."""
        ...

    def latest_snapshot(self, at_most_seq: int) -> StoredSnapshot | None:
        """The snapshot with the highest position not after ``at_most_seq``, if any."""
        ...

    def close(self) -> None: ...


class SqliteJournal:
    def __init__(self, path: Path, *, writer: bool = True) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd: int | None = None
        if writer:
            self._lock_fd = _take_lock(path)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        for statement in SCHEMA:
            self._db.execute(statement)

    @property
    def location(self) -> str:
        return str(self.path)

    def append(self, lines: Sequence[str]) -> int:
        """Write ``lines`` durably, in order, in one transaction; the last sequence number."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            first = self.last_seq() + 1
            db.executemany(
                "INSERT INTO commands (seq, line) VALUES (?, ?)",
                [(first + offset, line) for offset, line in enumerate(lines)],
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return first + len(lines) - 1

    def last_seq(self) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM commands").fetchone()
        return int(row[0] or 0)

    def read(self, after: int = 0) -> Iterator[tuple[int, str]]:
        """Every command after sequence number ``after``, in order."""
        cursor = self._db.execute(
            "SELECT seq, line FROM commands WHERE seq > ? ORDER BY seq", (after,)
        )
        for seq, line in cursor:
            yield int(seq), str(line)

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def write_snapshot(self, seq: int, state_hash: str, body: bytes) -> None:
        """Store a snapshot (replacing one at the same position) and delete all but the latest
        :data:`KEEP_SNAPSHOTS`, in one transaction; only the writer may."""
        if self._lock_fd is None:
            raise JournalLockedError(f"{self.path} was opened read-only")
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            check_snapshot_position(seq, self.last_seq())
            db.execute(
                "INSERT INTO snapshots (seq, state_hash, body) VALUES (?, ?, ?) "
                "ON CONFLICT(seq) DO UPDATE SET state_hash = excluded.state_hash,"
                " body = excluded.body, taken_at = excluded.taken_at",
                (seq, state_hash, body),
            )
            db.execute(
                "DELETE FROM snapshots WHERE seq NOT IN"
                " (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?)",
                (KEEP_SNAPSHOTS,),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def latest_snapshot(self, at_most_seq: int) -> StoredSnapshot | None:
        row = self._db.execute(
            "SELECT seq, state_hash, body FROM snapshots WHERE seq <= ? ORDER BY seq DESC LIMIT 1",
            (at_most_seq,),
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), bytes(row[2]))

    def close(self) -> None:
        self._db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def check_snapshot_position(seq: int, last_seq: int) -> None:
    """A snapshot is taken after a journaled command: ``0 < seq <= last_seq``."""
    if not 0 < seq <= last_seq:
        raise ValueError(f"a snapshot at {seq} is outside the journal (1 to {last_seq})")


def _take_lock(path: Path) -> int:
    fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalLockedError(f"{path} is being written by another process") from None
    return fd
