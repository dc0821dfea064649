"""`tokenfutures serve` and `tokenfutures replay`: the exchange as a service, and its journal."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from tokenfutures.service.config import (
    DatabaseOpenError,
    DatabaseUrlError,
    database,
    open_journal,
    open_key_store,
)
from tokenfutures.service.journal import Journal
from tokenfutures.service.sequencer import Sequencer, market_for_journal

SHANGHAI = ZoneInfo("Asia/Shanghai")
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="sqlite:///PATH, a file path or postgresql://USER@HOST:PORT/DB "
        "(default: data/exchange.db).",
    ),
]


def _open(db: str | None, *, writer: bool) -> tuple[Journal, Sequencer]:
    try:
        where = database(db)
    except DatabaseUrlError as error:
        raise typer.BadParameter(str(error), param_hint="--db") from None
    if not writer and where.path is not None and not where.path.exists():
        raise typer.BadParameter(f"{where.path} does not exist", param_hint="--db")
    try:
        journal = open_journal(where, writer=writer)
    except DatabaseOpenError as error:
        raise typer.BadParameter(str(error), param_hint="--db") from None
    today = datetime.now(SHANGHAI).date()
    sequencer = Sequencer(journal, market_for_journal(journal, today))
    return journal, sequencer


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8000,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="New accounts get a free test balance.")
    ] = False,
    order_rate: Annotated[
        float, typer.Option("--order-rate", min=1, help="Orders per second per key (burst 2x).")
    ] = 50,
    query_rate: Annotated[
        float, typer.Option("--query-rate", min=1, help="Queries per second per key (burst 2x).")
    ] = 20,
    daily_cycle: Annotated[
        bool,
        typer.Option(
            "--daily-cycle/--no-daily-cycle",
            help="Open and close sessions, run end of day and final settlement on the clock.",
        ),
    ] = False,
    fixings: Annotated[
        Path, typer.Option("--fixings", help="Published fixings journal of the daily cycle.")
    ] = Path("data/fixings.jsonl"),
) -> None:
    """Run the exchange: recover from the journal, then serve the API (OpenAPI at /docs)."""
    import uvicorn

    from tokenfutures.service.app import create_app
    from tokenfutures.service.context import Service
    from tokenfutures.service.ratelimit import RateLimiter

    journal, sequencer = _open(db, writer=True)
    replayed = sequencer.recover()
    typer.echo(
        f"journal {journal.location}: {replayed} commands replayed, "
        f"state hash {sequencer.house.state_hash()}"
    )
    keys = open_key_store(database(db))  # the journal's database: it opened, so this parses
    limiter = RateLimiter(
        {"orders": (order_rate, int(2 * order_rate)), "queries": (query_rate, int(2 * query_rate))}
    )
    cycle = None
    if daily_cycle:
        from tokenfutures.service.daily_cycle import DailyCycle

        cycle = DailyCycle.for_sequencer(sequencer, fixings_journal=fixings)
    app = create_app(Service(sequencer, keys, sandbox=sandbox, limiter=limiter), cycle)
    typer.echo(f"tokenfutures on http://{host}:{port} (API docs at /docs)")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        keys.close()
        journal.close()


def replay(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Rebuild the state from the journal alone and print its state hash."""
    journal, sequencer = _open(db, writer=False)
    try:
        count = sequencer.recover()
        house = sequencer.house
        result = {
            "db": journal.location,
            "commands": count,
            "last_seq": sequencer.last_seq,
            "state_hash": house.state_hash(),
            "money_conserved": house.money_conserved(),
        }
    finally:
        journal.close()
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        typer.echo(
            f"{result['commands']} commands replayed from {result['db']}\n"
            f"state hash {result['state_hash']}\nmoney conserved "
            f"{'yes' if result['money_conserved'] else 'NO'}"
        )
