"""`tokenfutures keys create|list|revoke`: manage the API keys in the exchange's database.

``--db`` is a path or a ``sqlite:///path`` URL (``sqlite:////abs/path`` for an absolute
path, as SQLAlchemy writes it), or a ``postgresql://`` URL; default ``data/exchange.db``
under the current directory, or ``TOKENFUTURES_DB``. A secret is printed once,
by ``create``; ``list`` never prints secrets.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from tokenfutures.service.config import (
    DEFAULT_DB,
    Database,
    DatabaseOpenError,
    DatabaseUrlError,
    database,
    open_key_store,
)
from tokenfutures.service.keys import (
    SCOPES,
    ApiKey,
    ApiKeyStore,
    validate_account,
    validate_scopes,
)

DB_ENV = "TOKENFUTURES_DB"

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar=DB_ENV,
        help="A SQLite path, sqlite:///path or postgresql://USER@HOST:PORT/DB "
        "(default data/exchange.db).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@keys_app.command("create")
def create(
    account: Annotated[str, typer.Option("--account", help="The account the key acts for.")],
    scopes: Annotated[
        str, typer.Option("--scopes", help="Comma-separated: read, trade, admin.")
    ] = "read",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key for ACCOUNT (read-only unless --scopes grants more); print its secret,
    which is shown this once."""
    try:
        checked_account = validate_account(account)
    except ValueError as error:
        raise typer.BadParameter(_rule(error), param_hint="--account") from None
    try:
        checked_scopes = validate_scopes(_split(scopes))
    except ValueError as error:
        raise typer.BadParameter(_rule(error), param_hint="--scopes") from None
    store = _store(db, must_exist=False)
    try:
        api_key = store.create(checked_account, checked_scopes)
    finally:
        store.close()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "key": api_key.key,
                    "secret": api_key.secret,
                    "account": api_key.account,
                    "scopes": _scope_list(api_key),
                }
            )
        )
        return
    typer.echo(f"key      {api_key.key}")
    typer.echo(f"secret   {api_key.secret}")
    typer.echo(f"account  {api_key.account}")
    typer.echo(f"scopes   {','.join(_scope_list(api_key))}")
    typer.echo("\nThe secret is shown this once and cannot be retrieved: store it now.")


@keys_app.command("list")
def list_keys(
    account: Annotated[
        str | None, typer.Option("--account", help="Only this account's keys.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the active keys (never their secrets), oldest first."""
    store = _store(db, must_exist=True)
    try:
        found = store.list(account)
    finally:
        store.close()
    if as_json:
        rows = [
            {
                "key": k.key,
                "account": k.account,
                "scopes": _scope_list(k),
                "created_ts": k.created_ts,
            }
            for k in found
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not found:
        typer.echo("no active keys")
        return
    typer.echo(f"{'key':<28} {'account':<16} {'scopes':<18} created (UTC)")
    for k in found:
        created = datetime.fromtimestamp(k.created_ts / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(f"{k.key:<28} {k.account:<16} {','.join(_scope_list(k)):<18} {created}")


@keys_app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="The key id (tfk_...).")],
    db: DbOption = None,
) -> None:
    """Revoke KEY at once: its next request is refused, in every process."""
    store = _store(db, must_exist=True)
    try:
        revoked = store.revoke(key)
    finally:
        store.close()
    if not revoked:
        raise typer.BadParameter(f"no active key {key!r}", param_hint="KEY")
    typer.echo(f"revoked {key}")


def _store(db: str | None, *, must_exist: bool) -> ApiKeyStore:
    """The key store of the database named by --db, or of the default file."""
    try:
        where = database(db) if db is not None else Database(path=Path.cwd() / DEFAULT_DB)
    except DatabaseUrlError as error:
        raise typer.BadParameter(str(error), param_hint="--db") from None
    if where.path is not None:
        _check_file(where.path, must_exist=must_exist)
    try:
        return open_key_store(where)
    except DatabaseOpenError as error:
        raise typer.BadParameter(str(error), param_hint="--db") from None


def _check_file(path: Path, *, must_exist: bool) -> None:
    """A SQLite file that --db names: it must exist unless a key is being created."""
    if must_exist and not path.is_file():
        raise typer.BadParameter(f"no database at {path}", param_hint="--db")
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a directory, not a database file", param_hint="--db")


def _split(scopes: str) -> list[str]:
    return [part.strip() for part in scopes.split(",") if part.strip()]


def _scope_list(api_key: ApiKey) -> list[str]:
    return sorted(api_key.scopes, key=SCOPES.index)


def _rule(error: ValueError) -> str:
    """The rule from a 'field: rule' message (the option is named by the hint)."""
    return str(error).split(": ", 1)[-1]
