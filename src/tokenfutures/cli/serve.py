"""`tokenfutures serve` and `tokenfutures replay`: the exchange as a service, and its journal.

``serve --demo`` is the live demo market (docs/demo.md): the same exchange in sandbox mode on
its own database, with reference prices from today's index fixings and bots trading through
the API in a process of their own (``tokenfutures.demo``), started once the server listens and
stopped before it closes.
"""

from __future__ import annotations

import contextlib
import gc
import json
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any
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
from tokenfutures.service.read_store import ReadStore, open_read_store
from tokenfutures.service.read_store import recover as recover_with_store
from tokenfutures.service.read_store_schema import ReadStoreError
from tokenfutures.service.sequencer import SNAPSHOT_EVERY, Sequencer, market_for_journal

if TYPE_CHECKING:
    import uvicorn

    from tokenfutures.demo.session import DemoSession

SHANGHAI = ZoneInfo("Asia/Shanghai")
DEMO_DB = Path("data") / "demo.db"
DEFAULT_FIXINGS = Path("data") / "fixings.jsonl"
DEMO_FIXINGS = Path("data") / "demo-fixings.jsonl"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="sqlite:///PATH, a file path or postgresql://USER@HOST:PORT/DB "
        "(default: data/exchange.db; serve --demo: data/demo.db).",
    ),
]


def _open(
    db: str | None, *, writer: bool, snapshot_every: int | None = None
) -> tuple[Journal, Sequencer]:
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
    market = market_for_journal(journal, today)
    return journal, Sequencer(journal, market, snapshot_every=snapshot_every)


def _server(app: Any, host: str, port: int, demo: DemoSession | None) -> uvicorn.Server:
    """uvicorn's server with two changes: the demo (if any) starts once the server listens and
    stops before the server closes (so its bots cancel their orders through the API), and
    SIGINT/SIGTERM end the process with status 0 after the graceful shutdown (uvicorn would
    raise the signal again once done, and Python print a traceback for SIGINT)."""
    import uvicorn

    from tokenfutures.demo.session import DemoError

    class Server(uvicorn.Server):
        def capture_signals(self) -> contextlib._GeneratorContextManager[None, None, None]:
            return _stop_signals(self.handle_exit)

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if demo is None or not self.started or self.should_exit:
                return
            try:
                await demo.start(f"http://{_client_host(host)}:{_bound_port(self, port)}")
            except DemoError as error:
                typer.echo(f"demo: {error}", err=True)
                self.should_exit = True

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if demo is not None:
                await demo.stop()
            await super().shutdown(sockets)

    from tokenfutures.service.routes_ws import MAX_MESSAGE

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", ws_max_size=4 * MAX_MESSAGE
    )  # a frame is refused before it is read whole (characters take up to 4 bytes)
    return Server(config)


@contextlib.contextmanager
def _stop_signals(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """``handler`` for SIGINT and SIGTERM while inside (signals reach the main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, earlier in previous.items():
            signal.signal(sig, earlier)


def _bound_port(server: uvicorn.Server, asked: int) -> int:
    """The port the server listens on (``asked``, unless that was 0: any free port)."""
    for listening in server.servers:
        for sock in listening.sockets:
            bound: int = sock.getsockname()[1]
            return bound
    return asked


def _client_host(host: str) -> str:
    """Where a local client reaches a server bound to ``host``."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8000,
    sandbox: Annotated[
        bool, typer.Option("--sandbox", help="New accounts get a free test balance.")
    ] = False,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="A live demo market: --sandbox, the db data/demo.db unless --db is given, "
            "reference prices from today's index fixings and bots trading through the API "
            "(docs/demo.md).",
        ),
    ] = False,
    order_rate: Annotated[
        float, typer.Option("--order-rate", min=1, help="Orders per second per key (burst 2x).")
    ] = 50,
    query_rate: Annotated[
        float, typer.Option("--query-rate", min=1, help="Queries per second per key (burst 2x).")
    ] = 20,
    ip_rate: Annotated[
        float,
        typer.Option(
            "--ip-rate", min=1, help="Requests without a key per second per address (burst 2x)."
        ),
    ] = 100,
    signup_rate: Annotated[
        float,
        typer.Option(
            "--signup-rate",
            min=0.01,
            help="Sandbox accounts per second per address (burst 25x).",
        ),
    ] = 2,
    daily_cycle: Annotated[
        bool,
        typer.Option(
            "--daily-cycle/--no-daily-cycle",
            help="Open and close sessions, run end of day and final settlement on the clock.",
        ),
    ] = False,
    fixings: Annotated[
        Path | None,
        typer.Option(
            "--fixings",
            help="Published fixings journal (default: data/fixings.jsonl; "
            "data/demo-fixings.jsonl with --demo).",
        ),
    ] = None,
    snapshot_every: Annotated[
        int,
        typer.Option(
            "--snapshot-every",
            min=0,
            help="Take a snapshot of the state every N commands (0: never); "
            "recovery starts from the latest.",
        ),
    ] = SNAPSHOT_EVERY,
) -> None:
    """Run the exchange: recover from the journal, then serve the API (OpenAPI at /docs)."""
    from tokenfutures.adapters.fixing_journal import FixingJournal
    from tokenfutures.service.app import create_app
    from tokenfutures.service.context import Service
    from tokenfutures.service.index_board import IndexBoard
    from tokenfutures.service.ratelimit import RateLimiter

    if demo:
        sandbox = True
        db = db or str(DEMO_DB)
    fixings_path = fixings or (DEMO_FIXINGS if demo else DEFAULT_FIXINGS)
    journal, sequencer = _open(db, writer=True, snapshot_every=snapshot_every or None)
    try:
        store = open_read_store(
            database(db), sequencer.house, sequencer.codec, journal_last_seq=journal.last_seq()
        )
    except ReadStoreError as error:  # a newer schema, another writer, ahead of the journal
        journal.close()
        raise typer.BadParameter(str(error), param_hint="--db") from None
    replayed = recover_with_store(sequencer, store)  # the store writes what it lacks meanwhile
    if sequencer.recovered_from is not None:
        typer.echo(
            f"journal {journal.location}: the snapshot at {sequencer.recovered_from} restored"
        )
    typer.echo(
        f"journal {journal.location}: {replayed} commands replayed, "
        f"state hash {sequencer.house.state_hash()}"
    )
    typer.echo(
        f"read models {store.backend.location}: at command {store.position}, "
        f"{store.lag(journal.last_seq())} behind"
    )
    gc.collect()
    gc.freeze()  # the recovered state lives on: the collector need not walk it again and again
    keys = open_key_store(database(db))  # the journal's database: it opened, so this parses
    limiter = RateLimiter(
        {"orders": (order_rate, int(2 * order_rate)), "queries": (query_rate, int(2 * query_rate))}
    )
    cycle = None
    if daily_cycle:
        from tokenfutures.service.daily_cycle import DailyCycle

        cycle = DailyCycle.for_sequencer(sequencer, fixings_journal=fixings_path)
    published = FixingJournal(fixings_path) if demo or daily_cycle else None
    board = IndexBoard(journal=published)  # the fixings the exchange uses are the ones shown
    board.on_fixings(lambda documents: _record_fixings(store, documents))
    ip_limiter = RateLimiter(
        {
            "public": (ip_rate, int(2 * ip_rate)),
            "signups": (signup_rate, max(1, int(25 * signup_rate))),
        }
    )
    service = Service(sequencer, keys, sandbox=sandbox, limiter=limiter, ip_limiter=ip_limiter)
    app = create_app(service, cycle, board)
    session = None
    if demo:
        from tokenfutures.demo.session import DemoSession

        today = datetime.now(UTC).date()  # index fixings are of UTC days
        session = DemoSession(sequencer, keys, fixings_path, today, echo=typer.echo)
    typer.echo(f"tokenfutures on http://{host}:{port} (API docs at /docs)")
    try:
        _server(app, host, port, session).run()
    finally:
        store.stop()  # the server and the sequencer have stopped: writes what is queued
        keys.close()
        journal.close()


def _record_fixings(store: ReadStore, documents: list[dict[str, Any]]) -> None:
    """The published ones (a version in the fixings journal) go to the read models' table."""
    try:
        store.record_fixings(d for d in documents if d.get("published_at") is not None)
    except ValueError as error:  # not a published fixing: the table keeps what it has
        typer.echo(f"read models: fixings not recorded: {error}", err=True)


def replay(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    from_snapshot: Annotated[
        bool,
        typer.Option(
            "--from-snapshot",
            help="Start from the latest snapshot (by default every command is replayed from "
            "the first: an audit of the journal).",
        ),
    ] = False,
) -> None:
    """Rebuild the state from the journal alone and print its state hash."""
    journal, sequencer = _open(db, writer=False)
    try:
        count = sequencer.recover(use_snapshot=from_snapshot)
        house = sequencer.house
        result = {
            "db": journal.location,
            "snapshot": sequencer.recovered_from,
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
        if result["snapshot"] is not None:
            typer.echo(f"the snapshot at {result['snapshot']} restored")
        typer.echo(
            f"{result['commands']} commands replayed from {result['db']}\n"
            f"state hash {result['state_hash']}\nmoney conserved "
            f"{'yes' if result['money_conserved'] else 'NO'}"
        )
