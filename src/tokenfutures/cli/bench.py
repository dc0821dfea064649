"""`tokenfutures bench`: benchmarks of the exchange core (see docs/benchmarks.md)."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer

from tokenfutures.bench import clearing_report
from tokenfutures.bench.eod_bench import EodSpec, SetupError, run_eod_benchmark
from tokenfutures.bench.harness import EngineUnavailable, load_engine_factory, run_benchmark
from tokenfutures.bench.index_bench import run_index_benchmark
from tokenfutures.bench.pipeline_bench import pipeline_spec, run_pipeline_benchmark
from tokenfutures.bench.report import as_json, as_text, machine_info
from tokenfutures.bench.verify import VerificationError
from tokenfutures.bench.workload import WorkloadSpec, build_workload

bench_app = typer.Typer(help="Benchmarks of the exchange core.", no_args_is_help=True)


@bench_app.command("matching")
def matching(
    commands: Annotated[
        int, typer.Option("--commands", min=1, help="Timed commands per run.")
    ] = 200_000,
    repeat: Annotated[int, typer.Option("--repeat", min=1, help="Repetitions (medians).")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the workload.")] = 2612,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Matching engine against a minimal plain-Python book on one seeded workload."""
    spec = WorkloadSpec(commands=commands, seed=seed, warmup_commands=min(20_000, commands // 10))
    typer.echo(f"building the workload (seed {seed}) ...", err=True)
    workload = build_workload(spec)
    try:
        engine_factory = load_engine_factory(workload)
        result = run_benchmark(
            workload, repeat, engine_factory, progress=lambda line: typer.echo(line, err=True)
        )
    except EngineUnavailable as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from error
    except VerificationError as error:
        typer.echo(f"verification failed: {error}", err=True)
        raise typer.Exit(code=1) from error
    machine = machine_info()
    if json_output:
        typer.echo(json.dumps(as_json(result, workload, machine), indent=2))
    else:
        typer.echo(as_text(result, workload, machine))


@bench_app.command("index")
def index(
    on: Annotated[str, typer.Option("--date", help="Fixing day YYYY-MM-DD.")] = "2026-11-20",
    years: Annotated[int, typer.Option("--years", min=1, help="Years of history.")] = 3,
    repeat: Annotated[int, typer.Option("--repeat", min=1, help="Repetitions (medians).")] = 3,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """One day's full fixing and a multi-year daily history of every index."""
    timings = run_index_benchmark(date.fromisoformat(on), years, repeat)
    if json_output:
        typer.echo(
            json.dumps(
                {
                    "day": timings.day.isoformat(),
                    "indices": timings.indices,
                    "one_day_s": round(timings.one_day_s, 4),
                    "history_days": timings.history_days,
                    "history_s": round(timings.history_s, 3),
                    "history_sha256": timings.history_sha256,
                    "repetitions": repeat,
                    "machine": machine_info(),
                }
            )
        )
        return
    typer.echo("tokenfutures bench index")
    typer.echo(
        f"one day      {timings.indices} indices on {timings.day}: {timings.one_day_s:.3f} s"
    )
    typer.echo(
        f"history      {timings.history_days} days x {timings.indices} indices: "
        f"{timings.history_s:.2f} s (median of {repeat}; verified: every repetition identical)"
    )


@bench_app.command("clearing")
def clearing(
    accounts: Annotated[
        int, typer.Option("--accounts", min=1, help="Client accounts with positions.")
    ] = 100_000,
    repeat: Annotated[
        int, typer.Option("--repeat", min=1, help="Timed end-of-day runs and pipeline runs.")
    ] = 3,
    commands: Annotated[
        int, typer.Option("--commands", min=100, help="Timed commands of the pipeline runs.")
    ] = 20_000,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """End of day over many accounts, and the clearing pipeline against the bare exchange."""
    try:
        eod = run_eod_benchmark(EodSpec(accounts=accounts, repetitions=repeat), _progress)
        workload = build_workload(pipeline_spec(commands))
        pipeline = run_pipeline_benchmark(workload, repeat, _progress)
    except (SetupError, VerificationError) as error:
        typer.echo(f"verification failed: {error}", err=True)
        raise typer.Exit(code=1) from error
    if json_output:
        typer.echo(json.dumps(clearing_report.as_json(eod, pipeline, workload), indent=2))
    else:
        typer.echo(clearing_report.as_text(eod, pipeline, workload))


def _progress(line: str) -> None:
    typer.echo(line, err=True)


@bench_app.command("service")
def service(
    seconds: Annotated[
        float, typer.Option("--seconds", min=0.5, help="Seconds of load per stage.")
    ] = 3.0,
    repeat: Annotated[
        int, typer.Option("--repeat", min=1, help="Repetitions, a fresh server each (medians).")
    ] = 3,
    rest_rates: Annotated[
        str, typer.Option("--rest-rates", help="Offered REST order rates, comma-separated.")
    ] = "250,1000",
    ws_rates: Annotated[
        str, typer.Option("--ws-rates", help="Offered WebSocket order rates, comma-separated.")
    ] = "1000,2000,5000",
    subscribers: Annotated[
        int, typer.Option("--subscribers", min=0, help="Fan-out subscribers (0: no fan-out).")
    ] = 100,
    fanout_rates: Annotated[
        str, typer.Option("--fanout-rates", help="Orders/s of the fan-out driver, comma-separated.")
    ] = "100",
    ceiling_commands: Annotated[
        int, typer.Option("--ceiling-commands", min=100, help="Commands of the sequencer alone.")
    ] = 20_000,
    profile: Annotated[
        bool, typer.Option("--profile", help="Also profile the server and the sequencer.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The real server: durable order entry over REST and WebSocket at fixed offered rates,
    market-data fan-out, and where the server's time goes."""
    from tokenfutures.bench import service_report
    from tokenfutures.bench.service_bench import run_service_benchmark
    from tokenfutures.bench.service_server import ServerError
    from tokenfutures.bench.service_spec import ServiceSpec

    spec = ServiceSpec(
        seconds=seconds,
        repeat=repeat,
        rest_rates=_rates(rest_rates, "--rest-rates"),
        ws_rates=_rates(ws_rates, "--ws-rates"),
        subscribers=subscribers,
        fanout_rates=_rates(fanout_rates, "--fanout-rates"),
        ceiling_commands=ceiling_commands,
        profile=profile,
    )
    try:
        result = run_service_benchmark(spec, _progress)
    except ServerError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error
    if json_output:
        typer.echo(json.dumps(service_report.as_json(result), indent=2))
    else:
        typer.echo(service_report.as_text(result))


def _rates(text: str, option: str) -> tuple[int, ...]:
    try:
        rates = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise typer.BadParameter("comma-separated whole numbers", param_hint=option) from None
    if any(rate < 1 for rate in rates):
        raise typer.BadParameter("each rate must be at least 1", param_hint=option)
    return rates
