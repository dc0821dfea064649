"""API keys on PostgreSQL: :class:`KeyStore`'s contract, in the table ``api_keys`` of the
database that holds the command journal (created by the migrations of
:mod:`tokenfutures.service.pg_journal`).

The rules are :mod:`tokenfutures.service.keys`'s (key and secret format, scopes, validation,
a revoked key keeps its row with its secret erased, nothing cached, so a revocation takes
effect on the next lookup in every process). The secrets are stored as they are (HMAC needs
them): the table is revoked from ``PUBLIC``, and the database's roles and backups need the
care of a password file.

One connection, one lock around every statement, so the API's threads can share the store.
A connection the server dropped is replaced on the next call (the call that saw it fail
raises); nothing is retried behind the caller's back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import psycopg

from tokenfutures.service.keys import (
    ApiKey,
    _from_row,
    _scopes_text,
    new_api_key,
)
from tokenfutures.service.pg_journal import connect, migrate, redact

_COLUMNS = "key, secret, account, scopes, created_ts"


class PostgresKeyStore:
    """The ``api_keys`` table of the PostgreSQL database at ``url`` (created if missing)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.location = redact(url)
        self._lock = threading.Lock()
        self._closed = False
        self._conn = connect(url)
        try:
            migrate(self._conn)
        except BaseException:
            self._conn.close()
            raise

    def create(
        self, account: str, scopes: Iterable[str] = ("read",), now_ms: int | None = None
    ) -> ApiKey:
        """A new key for ``account`` with ``scopes`` (read-only unless granted more), stored
        durably before it is returned. ``now_ms`` defaults to the wall clock."""
        api_key = new_api_key(account, scopes, now_ms)
        with self._lock:
            self._connection().execute(
                f"INSERT INTO api_keys ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s)",
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
            row = (
                self._connection()
                .execute(
                    f"SELECT {_COLUMNS} FROM api_keys WHERE key = %s AND revoked_ts IS NULL",
                    (key,),
                )
                .fetchone()
            )
        return None if row is None else _from_row(row)

    def revoke(self, key: str, now_ms: int | None = None) -> bool:
        """Revoke ``key`` and erase its secret; False if it was not an active key."""
        revoked_ts = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        with self._lock:
            cursor = self._connection().execute(
                "UPDATE api_keys SET revoked_ts = %s, secret = '' "
                "WHERE key = %s AND revoked_ts IS NULL",
                (revoked_ts, key),
            )
        return cursor.rowcount == 1

    def list(self, account: str | None = None) -> list[ApiKey]:
        """The active keys, of ``account`` if given, oldest first (ties by key, bytewise, as
        SQLite orders them)."""
        query = f"SELECT {_COLUMNS} FROM api_keys WHERE revoked_ts IS NULL"
        params: tuple[str, ...] = ()
        if account is not None:
            query += " AND account = %s"
            params = (account,)
        query += ' ORDER BY created_ts, key COLLATE "C"'
        with self._lock:
            rows = self._connection().execute(query, params).fetchall()
        return [_from_row(row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._conn.close()

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        """The connection, replaced if the server dropped it (called with the lock held)."""
        if self._closed:
            raise RuntimeError(f"the key store {self.location} is closed")
        if self._conn.closed or self._conn.broken:
            self._conn = connect(self.url)
        return self._conn
