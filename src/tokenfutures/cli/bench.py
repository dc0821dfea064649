"""`tokenfutures bench`: benchmarks of the exchange core (see docs/benchmarks.md)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from tokenfutures.bench.harness import EngineUnavailable, load_engine_factory, run_benchmark
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
