"""Where the exchange keeps its data: ``--db`` values and the default data directory.

``--db`` takes a file path or a SQLite URL in SQLAlchemy's form (``sqlite:///relative/path``
or ``sqlite:////absolute/path``), or a PostgreSQL URL (``postgresql://user:pw@host:port/db``;
also ``postgres://`` and SQLAlchemy's ``postgresql+psycopg://``). Without it,
``$TOKENFUTURES_DB`` or ``data/exchange.db`` under the working directory.

The PostgreSQL modules (and psycopg) are imported only when a PostgreSQL URL is used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tokenfutures.service.journal import Journal, JournalLockedError, SqliteJournal
from tokenfutures.service.keys import ApiKeyStore, KeyStore

DEFAULT_DB = Path("data") / "exchange.db"


class DatabaseUrlError(ValueError):
    """A ``--db`` value that names no database this exchange can use."""


class DatabaseOpenError(RuntimeError):
    """The database cannot be opened: another process is writing it, its server cannot be
    reached, or its schema is newer than this program."""


@dataclass(frozen=True, slots=True)
class Database:
    """A SQLite file (``path``) or a PostgreSQL database (``url``, as libpq reads it)."""

    path: Path | None = None
    url: str | None = None


def database(url: str | None) -> Database:
    """The database named by ``url``, ``$TOKENFUTURES_DB`` or the default."""
    text = (url or os.environ.get("TOKENFUTURES_DB") or str(DEFAULT_DB)).strip()
    if _is_postgres(text):
        return Database(url="postgresql://" + text.split("://", 1)[1])
    return Database(path=sqlite_path(text))


def open_journal(db: Database, *, writer: bool) -> Journal:
    """The journal of ``db``; :class:`DatabaseOpenError` if it cannot be opened."""
    if db.url is None:
        assert db.path is not None
        try:
            return SqliteJournal(db.path, writer=writer)
        except JournalLockedError as error:
            raise DatabaseOpenError(str(error)) from None
    from tokenfutures.service.pg_journal import (
        DatabaseUnavailableError,
        PostgresJournal,
        SchemaVersionError,
    )

    try:
        return PostgresJournal(db.url, writer=writer)
    except (JournalLockedError, DatabaseUnavailableError, SchemaVersionError) as error:
        raise DatabaseOpenError(str(error)) from None


def open_key_store(db: Database) -> ApiKeyStore:
    """The key store of ``db``; :class:`DatabaseOpenError` if it cannot be opened."""
    if db.url is None:
        assert db.path is not None
        return KeyStore(db.path)
    from tokenfutures.service.pg_journal import DatabaseUnavailableError, SchemaVersionError
    from tokenfutures.service.pg_keys import PostgresKeyStore

    try:
        return PostgresKeyStore(db.url)
    except (DatabaseUnavailableError, SchemaVersionError) as error:
        raise DatabaseOpenError(str(error)) from None


def sqlite_path(url: str | None) -> Path:
    """The SQLite file named by ``url``, or the default."""
    text = (url or os.environ.get("TOKENFUTURES_DB") or str(DEFAULT_DB)).strip()
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if _is_postgres(text):
        raise DatabaseUrlError(f"{text.split('://', 1)[0]}://...: this needs a SQLite file")
    if scheme == "sqlite":
        rest = text[len("sqlite://") :]
        if not rest.startswith("/") or rest == "/":
            raise DatabaseUrlError(
                f"{text!r}: a SQLite URL is sqlite:///relative/path or sqlite:////abs/path"
            )
        text = rest[1:]
    elif scheme:
        raise DatabaseUrlError(
            f"{text!r}: must be a path, a sqlite:///path URL or a postgresql:// URL"
        )
    if not text:
        raise DatabaseUrlError("must not be empty")
    return Path(text)


def _is_postgres(text: str) -> bool:
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    return scheme in ("postgresql", "postgres") or scheme.startswith("postgresql+")
