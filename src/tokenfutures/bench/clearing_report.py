"""Presenting the clearing benchmark: the end of day and the pipeline's cost, as text or JSON."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from tokenfutures.bench.eod_bench import EodResult, EodRun
from tokenfutures.bench.pipeline_bench import SUBJECTS, PipelineResult, SubjectFigures
from tokenfutures.bench.report import machine_info
from tokenfutures.bench.workload import Workload

_BUILDS = {
    "compiled": "compiled (mypyc extension modules)",
    "pure": "pure Python (the sources)",
}


def as_json(eod: EodResult, pipeline: PipelineResult, workload: Workload) -> dict[str, Any]:
    return {
        "end_of_day": _eod_json(eod),
        "pipeline": _pipeline_json(pipeline, workload),
        "machine": machine_info(),
    }


def _eod_json(result: EodResult) -> dict[str, Any]:
    spec = result.spec
    return {
        "date": spec.day.isoformat(),
        "contracts": result.contracts,
        "client_accounts": spec.accounts,
        "market_makers": result.makers,
        "members": spec.members,
        "seed": spec.seed,
        "setup": {
            "build_market_s": round(result.build_s, 3),
            "commands": result.setup_commands,
            "trades": result.setup_trades,
            "seconds": round(result.setup_s, 3),
            "cmds_per_s": round(result.setup_commands / result.setup_s, 1),
        },
        "first_end_of_day": _run_json(result.first),
        "runs": [_run_json(run) for run in result.runs],
        "repetitions": len(result.runs),
        "median_s": round(result.median_s, 3),
        "min_s": round(result.min_s, 3),
        "max_s": round(result.max_s, 3),
        "accounts": _median_int(run.accounts for run in result.runs),
        "positions": _median_int(run.positions for run in result.runs),
        "events": _median_int(run.events for run in result.runs),
        "accounts_per_s": round(result.accounts_per_s, 1),
        "verified": result.verified,
    }


def _run_json(run: EodRun) -> dict[str, Any]:
    return {
        "date": run.day.isoformat(),
        "seconds": round(run.seconds, 3),
        "accounts": run.accounts,
        "positions": run.positions,
        "events": run.events,
        "postings": run.postings,
        "margin_calls": run.margin_calls,
        "statements": run.statements,
        "day_trades": run.day_trades,
        "gc_s": round(run.gc_s, 3),
        "gc_collections": run.gc_collections,
    }


def _pipeline_json(result: PipelineResult, workload: Workload) -> dict[str, Any]:
    params = workload.parameters()
    return {
        **{name: result.figures[name].as_dict() for name in SUBJECTS},
        "ratio": round(result.ratio, 4),
        "ratio_runs": [round(r, 4) for r in result.ratio_runs],
        "risk_us_per_checked_order": round(result.risk_us_per_order, 2),
        "clearing_us_per_command": round(result.clearing_us_per_command, 2),
        "timed_commands": result.timed_commands,
        "checked_orders": result.checked_orders,
        "trades": result.trades,
        "workload": {
            key: params[key]
            for key in ("seed", "symbol", "accounts", "prefill_orders", "warmup_commands")
        },
        "event_hash": result.event_hash,
        "repetitions": result.repetitions,
    }


def _median_int(values: Iterable[int]) -> int:
    return statistics.median_low(values)


def as_text(eod: EodResult, pipeline: PipelineResult, workload: Workload) -> str:
    machine = machine_info()
    return "\n".join(
        [
            "tokenfutures bench clearing",
            f"machine    {machine['platform']}, {machine['cpu']}, {machine['cpu_count']} CPUs",
            f"python     {machine['python']}; matching core: {_BUILDS[machine['core_build']]}; "
            "clearing: pure Python",
            "",
            *_eod_text(eod),
            "",
            *_pipeline_text(pipeline, workload),
        ]
    )


def _eod_text(result: EodResult) -> list[str]:
    spec, first = result.spec, result.first
    lines = [
        f"END OF DAY  {result.contracts} contracts listed on {spec.day} (build_market "
        f"{result.build_s:.2f} s), {spec.members} members, {result.makers} market makers, "
        f"{spec.accounts:,} client accounts (seed {spec.seed})",
        f"set-up      {result.setup_commands:,} commands through house.handle in "
        f"{result.setup_s:.1f} s ({result.setup_commands / result.setup_s:,.0f} cmds/s, "
        f"risk on): {result.setup_trades:,} trades",
        f"first day   end of day {first.day} with the set-up's {first.day_trades:,} fills: "
        f"{first.seconds:.2f} s ({first.accounts:,} accounts, {first.positions:,} positions)",
        f"runs        {len(result.runs)} more trading days, one timed EndOfDay each "
        f"({spec.movers_per_mille / 10:g} % of the accounts trade, every mid moves up to 1 %)",
        "",
        f"{'day':12}{'seconds':>9}{'accounts':>10}{'positions':>11}{'events':>9}"
        f"{'postings':>10}{'calls':>7}{'gc s':>7}",
    ]
    lines += [
        f"{run.day.isoformat():12}{run.seconds:>9.2f}{run.accounts:>10,}{run.positions:>11,}"
        f"{run.events:>9,}{run.postings:>10,}{run.margin_calls:>7,}{run.gc_s:>7.2f}"
        for run in result.runs
    ]
    lines += [
        "",
        f"end of day  median {result.median_s:.2f} s (min {result.min_s:.2f}, max "
        f"{result.max_s:.2f}); {result.accounts_per_s:,.0f} accounts/s",
        "verified    no command refused; after the last day every invariant holds (ledger "
        "replay, positions, unpaid variation margin, money conserved)",
    ]
    return lines


def _pipeline_text(result: PipelineResult, workload: Workload) -> list[str]:
    params = workload.parameters()
    return [
        f"PIPELINE    the matching workload (seed {params['seed']}, {params['symbol']}, "
        f"{params['accounts']} funded accounts), {params['prefill_orders']:,} prefill + "
        f"{params['warmup_commands']:,} warm-up + {result.timed_commands:,} timed commands",
        f"runs        {result.repetitions} repetitions, the three interleaved by chunks of "
        "1,000 commands, medians shown",
        "",
        f"{'':17}{'cmds/s':>10}{'p50 µs':>9}{'p99 µs':>9}{'p99.9 µs':>10}",
        *(_row(name, result.figures[name]) for name in SUBJECTS),
        "",
        f"ratio       house with risk / bare exchange throughput = {result.ratio:.4f} "
        f"(per repetition: {', '.join(f'{r:.4f}' for r in result.ratio_runs)})",
        f"risk        pre-trade risk {result.risk_us_per_order:.1f} µs per checked order "
        f"({result.checked_orders:,} new orders and amends of {result.timed_commands:,})",
        f"clearing    pipeline and trade clearing without risk "
        f"{result.clearing_us_per_command:.2f} µs per command",
        f"verified    nothing refused; both houses emitted the core's events plus one "
        f"TradeCleared per trade ({result.trades:,}), same final book, same stream in every "
        f"repetition (sha256 {result.event_hash[:16]}...)",
    ]


def _row(name: str, figures: SubjectFigures) -> str:
    t = figures.timing
    return f"{name:17}{t.cmds_per_s:>10,.0f}{t.p50_us:>9.2f}{t.p99_us:>9.2f}{t.p999_us:>10.2f}"
