"""`tokenfutures index`: list, compute, explain and chart the benchmark indices."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from tokenfutures.adapters.calendars import load_trading_calendar
from tokenfutures.adapters.fixing_journal import FixingJournal
from tokenfutures.adapters.index_sources import (
    ContributedDataError,
    OpenRouterDataError,
    SourceSnapshot,
)
from tokenfutures.adapters.products_file import load_products
from tokenfutures.domain.index.audit import explain as explain_fixing
from tokenfutures.domain.index.fixing import Fixing
from tokenfutures.domain.index.methodology import MethodologyError
from tokenfutures.domain.index.settlement import SettlementError, final_settlement_price
from tokenfutures.domain.listing import ContractNotListedError, find_contract
from tokenfutures.engine.index_json import fixing_json, published_fixing, sources_json, usd_text
from tokenfutures.engine.indices import IndexFamily, SourceError

index_app = typer.Typer(help="The AI token and GPU-hour price indices.", no_args_is_help=True)

IndexOption = Annotated[str, typer.Option("--index", help="Index code, e.g. TKN, TKN-OPEN.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SourceOption = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        help="genai-prices, openrouter:FILE_OR_URL, csv:FILE or gpu-csv:FILE; repeatable.",
    ),
]


def _day(text: str | None, option: str) -> date:
    """A fixing day: today by default, never in the future (no index of prices not yet seen)."""
    today = datetime.now(UTC).date()
    if text is None:
        return today
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date YYYY-MM-DD", param_hint=option) from None
    if day > today:
        raise typer.BadParameter(f"{text} is in the future", param_hint=option)
    return day


def _family() -> IndexFamily:
    try:
        return IndexFamily.load()
    except (OSError, MethodologyError) as error:
        raise typer.BadParameter(str(error), param_hint="methodology") from None


def _known(family: IndexFamily, index: str) -> str:
    known = family.token_indices() + family.gpu_indices()
    if index not in known:
        raise typer.BadParameter(
            f"{index!r}: must be one of {', '.join(known)}", param_hint="--index"
        )
    return index


def _compute(
    family: IndexFamily, day: date, sources: list[str]
) -> tuple[dict[str, Fixing], list[SourceSnapshot[Any]]]:
    try:
        return family.compute_with_sources(day, sources)
    except (SourceError, ContributedDataError, OpenRouterDataError, OSError) as error:
        raise typer.BadParameter(str(error), param_hint="--source") from None


@index_app.command("list")
def list_indices(as_json: JsonOption = False) -> None:
    """Every index with its unit and methodology version."""
    family = _family()
    m = family.methodology
    rows = [
        {"index": m.composite, "unit": m.unit, "description": "composite of the grades"},
        *({"index": g.index, "unit": m.unit, "description": g.description} for g in m.grades),
        *(
            {"index": code, "unit": m.gpu.unit, "description": f"{code[4:]} rental, per GPU-hour"}
            for code in family.gpu_indices()
        ),
    ]
    for row in rows:
        row["methodology_version"] = m.version
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['index']:<14} {row['unit']:<34} {row['description']}")


@index_app.command("compute")
def compute(
    index: IndexOption = "TKN",
    on: Annotated[str | None, typer.Option("--date", help="Fixing date (default today).")] = None,
    source: SourceOption = None,
    as_json: JsonOption = False,
) -> None:
    """One day's fixing with its constituents, exclusions, coverage, quality and hash."""
    family = _family()
    fixings, snapshots = _compute(family, _day(on, "--date"), source or ["genai-prices"])
    fixing = fixings[_known(family, index)]
    if as_json:
        document = fixing_json(fixing) | {"sources": sources_json(snapshots)}
        typer.echo(json.dumps(document, indent=2))
        return
    value = usd_text(fixing.value) or "not published"
    typer.echo(f"{fixing.index} {fixing.day.isoformat()}: {value} {fixing.unit}")
    typer.echo(
        f"quality {fixing.quality.value}, coverage {fixing.coverage_bp / 100:.2f}%, "
        f"data level {fixing.level.value}, methodology {fixing.methodology_version}"
    )
    for item in fixing.constituents:
        typer.echo(
            f"  {item.name:<34} {usd_text(item.price):>12}  weight {item.weight_bp / 100:6.2f}%  "
            f"{len(item.providers)} provider(s)"
        )
    typer.echo(f"{len(fixing.excluded)} input(s) excluded; sha256 {fixing.inputs_sha256}")
    for snapshot in snapshots:
        typer.echo(
            f"source {snapshot.name}: {len(snapshot.observations)} read, "
            f"{len(snapshot.skipped)} skipped, sha256 {snapshot.sha256}"
        )


@index_app.command("explain")
def explain(
    index: IndexOption = "TKN",
    on: Annotated[str | None, typer.Option("--date", help="Fixing date (default today).")] = None,
    source: SourceOption = None,
) -> None:
    """The audit trail of one fixing, in plain words, with the sources it read."""
    family = _family()
    fixings, snapshots = _compute(family, _day(on, "--date"), source or ["genai-prices"])
    typer.echo(explain_fixing(fixings[_known(family, index)]))
    typer.echo("\nSources read (SHA-256 of what was read; inputs skipped before the methodology):")
    for snapshot in snapshots:
        typer.echo(f"- {snapshot.name}: {snapshot.sha256}")
        for skipped in snapshot.skipped:
            typer.echo(f"  skipped {skipped.item}: {skipped.reason}")


@index_app.command("history")
def history(
    index: IndexOption = "TKN",
    start: Annotated[str | None, typer.Option("--start", help="First day YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last day YYYY-MM-DD.")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="Write the series here.")] = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Chart (PNG) of the index.")] = None,
) -> None:
    """A daily series from the dated price history, as CSV and an optional chart."""
    family = _family()
    code = _known(family, index)
    last = _day(end, "--end")
    first = _day(start, "--start") if start else last.replace(year=last.year - 1)
    shown = [code] if code in family.gpu_indices() else family.token_indices()
    try:
        all_series = family.history(shown, first, last)
    except SourceError as error:
        raise typer.BadParameter(str(error), param_hint="--start/--end") from None
    series = all_series[code]
    rows = [
        (f.day.isoformat(), usd_text(f.value) or "", f.quality.value, f.inputs_sha256)
        for f in series
    ]
    if csv_file is not None:
        with csv_file.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(["date", "value", "quality", "inputs_sha256"])
            writer.writerows(rows)
    else:
        for row in rows:
            typer.echo(",".join(row[:3]))
    if plot is not None:
        from tokenfutures.cli.index_chart import draw_history

        draw_history(all_series, code, plot)
        typer.echo(f"chart written to {plot}")


@index_app.command("publish")
def publish(
    on: Annotated[str | None, typer.Option("--date", help="Fixing date (default today).")] = None,
    source: SourceOption = None,
    journal: Annotated[
        Path, typer.Option("--journal", help="Append-only file of published fixings.")
    ] = Path("data/fixings.jsonl"),
) -> None:
    """Publish every index's fixing for a day: a changed fixing becomes a new version."""
    family = _family()
    fixings, snapshots = _compute(family, _day(on, "--date"), source or ["genai-prices"])
    sources = sources_json(snapshots)
    documents = [fixing_json(f) | {"sources": sources} for _, f in sorted(fixings.items())]
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    try:
        results = FixingJournal(journal).publish(documents, stamp)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--journal") from None
    for result in results:
        typer.echo(f"{result.index:<14} {result.date}  version {result.version}  {result.status}")


@index_app.command("settlement")
def settlement(
    symbol: Annotated[str, typer.Argument(help="Contract symbol, e.g. TKN2611.")],
    on: Annotated[
        str | None, typer.Option("--date", help="A day the contract was listed (default today).")
    ] = None,
    journal: Annotated[
        Path | None,
        typer.Option("--journal", help="Use the published fixings of this journal where present."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Final settlement price of a contract: the average of its index over the window.

    With --journal, each day's latest published version is used; a day never published is
    computed and marked so.
    """
    listed_on = _day(on, "--date")
    try:
        contract = find_contract(load_products(), load_trading_calendar(), symbol, listed_on)
    except ContractNotListedError as error:
        raise typer.BadParameter(str(error), param_hint="SYMBOL") from None
    family = _family()
    code = _known(family, contract.product.underlying)
    window = contract.final_settlement_window
    today = datetime.now(UTC).date()
    if window[-1] > today:
        raise typer.BadParameter(
            f"{symbol}: the settlement window ends {window[-1].isoformat()}, not yet complete",
            param_hint="SYMBOL",
        )
    published = FixingJournal(journal) if journal is not None else None
    fixings = []
    origins = []
    for day in window:
        row = published.latest(code, day.isoformat()) if published is not None else None
        if row is not None:
            fixings.append(published_fixing(row))
            origins.append(f"published v{row['version']}")
        else:
            fixings.append(family.compute(day)[code])
            origins.append("computed")
    try:
        price = final_settlement_price(fixings, window)
    except SettlementError as error:
        raise typer.BadParameter(f"{symbol}: {error}", param_hint="SYMBOL") from None
    document = {
        "symbol": symbol,
        "index": code,
        "window": [day.isoformat() for day in window],
        "fixings": [
            {
                "date": f.day.isoformat(),
                "value": usd_text(f.value),
                "quality": f.quality.value,
                "origin": origin,
            }
            for f, origin in zip(fixings, origins, strict=True)
        ],
        "final_settlement_price": usd_text(price),
        "unit": fixings[0].unit,
    }
    if as_json:
        typer.echo(json.dumps(document, indent=2))
        return
    for row in document["fixings"]:
        typer.echo(f"  {row['date']}  {row['value']}  ({row['quality']}, {row['origin']})")
    typer.echo(
        f"{symbol} final settlement: {document['final_settlement_price']} {document['unit']} "
        f"(average of {len(window)} daily {code} fixings)"
    )
