"""`tokenfutures engine run COMMANDS.jsonl`: replay a command file through the pipeline."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from tokenfutures.engine.runner import RunSummary, run_file_lines

engine_app = typer.Typer(help="Run the matching engine on command files.", no_args_is_help=True)


@engine_app.command("run")
def run(
    commands: Annotated[Path, typer.Argument(help="JSON Lines file of commands.")],
    events: Annotated[
        Path | None, typer.Option("--events", help="Write every event here as JSON Lines.")
    ] = None,
    on: Annotated[
        str | None,
        typer.Option("--date", help="Listing date YYYY-MM-DD (default: the first command's)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    no_risk: Annotated[
        bool,
        typer.Option("--no-risk", help="Turn pre-trade risk checks off (matching alone)."),
    ] = False,
) -> None:
    """Replay COMMANDS through pre-trade risk, matching and clearing; print a summary with
    the books, accounts, the state hash and the money check."""
    try:
        lines = commands.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise typer.BadParameter(
            f"cannot read {commands}: {error}", param_hint="COMMANDS"
        ) from None
    listing_date = _parse_date(on)
    out = events.open("w", encoding="utf-8") if events is not None else None
    try:
        sink = None
        if out is not None:
            sink = _writer(out)
        try:
            summary = run_file_lines(lines, listing_date, sink, risk=not no_risk)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--date") from None
    finally:
        if out is not None:
            out.close()
    if as_json:
        typer.echo(json.dumps(summary.as_dict(), indent=2))
    else:
        _print_summary(summary)


def _parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not a date YYYY-MM-DD", param_hint="--date"
        ) from None


def _writer(out: Any) -> Any:
    def write(event: dict[str, Any]) -> None:
        out.write(json.dumps(event, separators=(",", ":")) + "\n")

    return write


def _print_summary(summary: RunSummary) -> None:
    typer.echo(
        f"commands {summary.commands}  events {summary.events}  trades {summary.trades}  "
        f"rejected {summary.rejected}"
    )
    typer.echo(f"state hash {summary.state_hash}")
    typer.echo(f"money conserved {'yes' if summary.money_conserved else 'NO'}")
    if summary.accounts:
        typer.echo(
            f"\n{'account':<14} {'cash':>14} {'equity':>14} {'initial':>12} {'maint.':>12}"
            "  positions"
        )
        for name, row in summary.accounts.items():
            held = " ".join(f"{s}:{q:+d}" for s, q in row["positions"].items()) or "-"
            typer.echo(
                f"{name:<14} {row['cash']:>14} {row['equity']:>14} "
                f"{row['initial_margin']:>12} {row['maintenance_margin']:>12}  {held}"
            )
    for symbol, book in summary.books.items():
        if not book["bids"] and not book["asks"]:
            continue
        typer.echo(f"\n{symbol}")
        typer.echo(f"  {'bid qty':>8} {'price':>10} {'ask qty':<8}")
        for price, quantity in book["asks"][::-1]:
            typer.echo(f"  {'':>8} {price:>10} {quantity:<8}")
        for price, quantity in book["bids"]:
            typer.echo(f"  {quantity:>8} {price:>10}")
