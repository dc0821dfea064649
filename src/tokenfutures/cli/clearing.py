"""`tokenfutures clearing statement`: an account's daily statement from a command journal."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from tokenfutures.engine.runner import market_for, run_lines
from tokenfutures.engine.statement_report import statement_json, statement_text

clearing_app = typer.Typer(help="Clearing: statements and accounts.", no_args_is_help=True)


@clearing_app.command("statement")
def statement(
    journal: Annotated[
        Path, typer.Option("--journal", help="JSON Lines file of commands (the journal).")
    ],
    account: Annotated[str, typer.Option("--account", help="The account.")],
    on: Annotated[str, typer.Option("--date", help="Trading date YYYY-MM-DD.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the statement as JSON.")] = False,
) -> None:
    """Replay the journal and print ACCOUNT's statement of the end of day of DATE."""
    try:
        day = date.fromisoformat(on)
    except ValueError:
        raise typer.BadParameter(f"{on!r} is not a date YYYY-MM-DD", param_hint="--date") from None
    try:
        lines = journal.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise typer.BadParameter(
            f"cannot read {journal}: {error}", param_hint="--journal"
        ) from None
    try:
        market = market_for(lines)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--journal") from None
    run_lines(lines, market)
    house = market.house
    found = house.statements.get((account, day))
    if found is None:
        days = sorted({d for (a, d) in house.statements if a == account})
        if not days:
            reason = f"account {account!r} has no statement in {journal}"
        else:
            listed = ", ".join(d.isoformat() for d in days)
            reason = f"no end of day on {day.isoformat()} for {account!r}; statements: {listed}"
        typer.echo(f"error: {reason}", err=True)
        raise typer.Exit(code=1)
    if as_json:
        typer.echo(json.dumps(statement_json(found, market.codec), indent=2))
        return
    known = house.accounts.get(account)
    typer.echo(statement_text(found, market.codec, known.member if known else None))
