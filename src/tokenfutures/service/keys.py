"""API keys: who may call the exchange's API, for which account, with which scopes.

Rules:

- A key is ``tfk_`` followed by 24 URL-safe random characters (public: it names the key);
  its secret is 43 URL-safe random characters (256 bits from :mod:`secrets`), shown to the
  holder once, when the key is created.
- Scopes are ``read``, ``trade`` and ``admin``; a new key is read-only unless more is granted.
- Requests are signed with HMAC-SHA256 (see :mod:`tokenfutures.service.auth`), a symmetric
  scheme: the server needs the secret itself to check a signature, so the secret is stored
  as it is, not hashed. **The database file therefore holds credentials and must be
  protected like a password file**: a file this store creates gets mode 0600, and opening an
  existing file readable or writable by group or others tightens it to 0600 (SQLite gives
  its ``-wal`` and ``-shm`` files the database file's mode). Backups of the file need the
  same care.
- Revoking a key takes effect on the next request, in every process sharing the file (the
  store reads the file on each lookup; nothing is cached). A revoked key keeps its row, with
  the time it was revoked, for the audit trail; its secret is erased.

The table ``api_keys`` lives in the same SQLite file as the command journal, on its own
connection: WAL mode, ``synchronous=FULL``, one lock around every statement so the
connection can be shared by the API's threads.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import stat
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tokenfutures.engine.codec import MAX_ID_LENGTH

SCOPES = ("read", "trade", "admin")
KEY_PREFIX = "tfk_"
KEY_RANDOM_BYTES = 18  # 24 URL-safe characters
SECRET_RANDOM_BYTES = 32  # 43 URL-safe characters
FILE_MODE = 0o600

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS api_keys ("
    " key TEXT PRIMARY KEY,"
    " secret TEXT NOT NULL,"
    " account TEXT NOT NULL,"
    " scopes TEXT NOT NULL,"
    " created_ts INTEGER NOT NULL,"
    " revoked_ts INTEGER)",
    "CREATE INDEX IF NOT EXISTS api_keys_account ON api_keys (account)",
)
_COLUMNS = "key, secret, account, scopes, created_ts"


@dataclass(frozen=True, slots=True, repr=False)
class ApiKey:
    """One active key: its id, its secret, the account it acts for, its scopes, when made (ms)."""

    key: str
    secret: str
    account: str
    scopes: frozenset[str]
    created_ts: int

    def __repr__(self) -> str:  # never print the secret by accident (logs, tracebacks)
        return (
            f"ApiKey(key={self.key!r}, secret='***', account={self.account!r}, "
            f"scopes={sorted(self.scopes)!r}, created_ts={self.created_ts})"
        )


def validate_account(account: str) -> str:
    """The account name, checked: non-empty, no surrounding spaces, printable, at most 64
    characters (the same rule as the command codec's ``account``)."""
    if not isinstance(account, str) or not account.strip():
        raise ValueError("account: must be a non-empty string")
    if account != account.strip():
        raise ValueError("account: must not start or end with spaces")
    if len(account) > MAX_ID_LENGTH or not account.isprintable():
        raise ValueError(f"account: must be printable, at most {MAX_ID_LENGTH} characters")
    return account


def validate_scopes(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes, checked: at least one, each one of ``read``, ``trade``, ``admin``.
    A single string is taken as one scope name."""
    names = [scopes] if isinstance(scopes, str) else list(scopes)
    if not names:
        raise ValueError(f"scopes: must name at least one of {', '.join(SCOPES)}")
    unknown = [name for name in names if name not in SCOPES]
    if unknown:
        raise ValueError(
            f"scopes: unknown scope {unknown[0]!r}; each must be one of {', '.join(SCOPES)}"
        )
    return frozenset(names)


class ApiKeyStore(Protocol):
    """What the API and the CLI use of a key store: :class:`KeyStore` (SQLite) or
    :class:`tokenfutures.service.pg_keys.PostgresKeyStore`."""

    def create(
        self, account: str, scopes: Iterable[str] = ("read",), now_ms: int | None = None
    ) -> ApiKey: ...
    def get(self, key: str) -> ApiKey | None: ...
    def revoke(self, key: str, now_ms: int | None = None) -> bool: ...
    def list(self, account: str | None = None) -> list[ApiKey]: ...
    def close(self) -> None: ...


def new_api_key(account: str, scopes: Iterable[str], now_ms: int | None) -> ApiKey:
    """A fresh key and secret for ``account`` (validated); ``now_ms`` defaults to the clock."""
    return ApiKey(
        key=KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES),
        secret=secrets.token_urlsafe(SECRET_RANDOM_BYTES),
        account=validate_account(account),
        scopes=validate_scopes(scopes),
        created_ts=time.time_ns() // 1_000_000 if now_ms is None else now_ms,
    )


class KeyStore:
    """The ``api_keys`` table in the SQLite file at ``path`` (created if missing, mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        _protect(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        for statement in SCHEMA:
            self._db.execute(statement)

    def create(
        self, account: str, scopes: Iterable[str] = ("read",), now_ms: int | None = None
    ) -> ApiKey:
        """A new key for ``account`` with ``scopes`` (read-only unless granted more), stored
        durably before it is returned. ``now_ms`` defaults to the wall clock."""
        api_key = new_api_key(account, scopes, now_ms)
        with self._lock:
            self._db.execute(
                f"INSERT INTO api_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                (
                    api_key.key,
                    api_key.secret,
                    api_key.account,
                    _scopes_text(api_key.scopes),
                    api_key.created_ts,
                ),
            )
        return api_key

    def get(self, key: str) -> ApiKey | None:
        """The active key ``key``; None if there is none or it was revoked."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE key = ? AND revoked_ts IS NULL", (key,)
            ).fetchone()
        return None if row is None else _from_row(row)

    def revoke(self, key: str, now_ms: int | None = None) -> bool:
        """Revoke ``key`` and erase its secret; False if it was not an active key."""
        revoked_ts = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        with self._lock:
            cursor = self._db.execute(
                "UPDATE api_keys SET revoked_ts = ?, secret = '' "
                "WHERE key = ? AND revoked_ts IS NULL",
                (revoked_ts, key),
            )
        return cursor.rowcount == 1

    def list(self, account: str | None = None) -> list[ApiKey]:
        """The active keys, of ``account`` if given, oldest first."""
        query = f"SELECT {_COLUMNS} FROM api_keys WHERE revoked_ts IS NULL"
        params: tuple[str, ...] = ()
        if account is not None:
            query += " AND account = ?"
            params = (account,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created_ts, key", params).fetchall()
        return [_from_row(row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _protect(path: Path) -> None:
    """Create ``path`` with mode 0600, or tighten an existing file that group/others reach."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            for each in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                if each.exists():
                    os.chmod(each, mode & 0o700)
        return
    os.close(fd)


def _scopes_text(scopes: frozenset[str]) -> str:
    return ",".join(scope for scope in SCOPES if scope in scopes)


def _from_row(row: tuple[str, str, str, str, int]) -> ApiKey:
    key, secret, account, scopes, created_ts = row
    return ApiKey(
        key=str(key),
        secret=str(secret),
        account=str(account),
        scopes=frozenset(scopes.split(",")),
        created_ts=int(created_ts),
    )
