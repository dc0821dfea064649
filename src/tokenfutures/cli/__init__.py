"""The ``tokenfutures`` command: one sub-command group per area of the exchange."""

from __future__ import annotations

import typer

from tokenfutures.cli.bench import bench_app
from tokenfutures.cli.clearing import clearing_app
from tokenfutures.cli.contracts import contracts_app
from tokenfutures.cli.demo import demo
from tokenfutures.cli.engine import engine_app
from tokenfutures.cli.index import index_app
from tokenfutures.cli.keys import keys_app
from tokenfutures.cli.serve import replay, serve

app = typer.Typer(
    name="tokenfutures",
    help="Exchange for futures on AI tokens and GPU compute.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(contracts_app, name="contracts")
app.add_typer(engine_app, name="engine")
app.add_typer(index_app, name="index")
app.add_typer(clearing_app, name="clearing")
app.add_typer(keys_app, name="keys")
app.add_typer(bench_app, name="bench")
app.command("demo")(demo)
app.command("serve")(serve)
app.command("replay")(replay)
