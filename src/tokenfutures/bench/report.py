"""Presenting a matching benchmark result: the machine, the workload and the figures."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from tokenfutures._pure import core_build
from tokenfutures.bench.harness import BenchResult, Figures
from tokenfutures.bench.workload import KINDS, Workload

_BUILDS = {
    "compiled": "compiled (mypyc extension modules)",
    "pure": "pure Python (the sources)",
}


def machine_info() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "core_build": core_build(),
    }


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def as_json(result: BenchResult, workload: Workload, machine: dict[str, Any]) -> dict[str, Any]:
    return {
        "engine": result.engine.as_dict(),
        "baseline": result.baseline.as_dict(),
        "ratio": round(result.ratio, 4),
        "workload": workload.parameters(),
        "event_hash": result.event_hash,
        "repetitions": result.repetitions,
        "machine": machine,
    }


def as_text(result: BenchResult, workload: Workload, machine: dict[str, Any]) -> str:
    params = workload.parameters()
    timed = params["timed_commands"]
    mix = ", ".join(
        f"{kind} {params['counts'][kind]:,} ({100 * params['counts'][kind] / timed:.1f}%)"
        for kind in KINDS
    )
    resting = params["resting_orders"]
    lines = [
        "tokenfutures bench matching",
        f"machine    {machine['platform']}, {machine['cpu']}, {machine['cpu_count']} CPUs",
        f"python     {machine['python']}; engine core: {_BUILDS[machine['core_build']]}",
        f"workload   seed {params['seed']}, {params['symbol']}, {params['accounts']} accounts, "
        f"prefill {params['prefill_orders']:,} orders on {params['prefill_levels']} levels",
        f"           {params['warmup_commands']:,} warm-up + {timed:,} timed commands",
        f"           timed mix: {mix}",
        f"           timed part: {params['timed_trades']:,} trades, resting orders "
        f"{resting['min']:,}..{resting['max']:,} (mean {resting['mean']:,}), "
        f"{params['price_levels_mean']} levels on average",
        f"runs       {result.repetitions} repetitions, engine and baseline interleaved by chunks "
        f"of {result.chunk_commands:,} commands, medians shown",
        "",
        f"{'':10}{'cmds/s':>12}{'p50 µs':>10}{'p99 µs':>10}{'p99.9 µs':>10}{'bytes/order':>13}",
        _row("engine", result.engine),
        _row("baseline", result.baseline),
        "",
        _spread("engine", result.engine),
        _spread("baseline", result.baseline),
        f"ratio      engine/baseline throughput = {result.ratio:.3f} (per repetition: "
        f"{_ratios(result)})",
        f"verified   in every repetition: the engine's {result.trades:,} trades (prefill, warm-up",
        "           and timed) equal the baseline's, no command rejected, same final book,",
        f"           event stream sha256 {result.event_hash}",
    ]
    return "\n".join(lines)


def _ratios(result: BenchResult) -> str:
    pairs = zip(result.engine.cmds_per_s_runs, result.baseline.cmds_per_s_runs, strict=True)
    return ", ".join(f"{engine / baseline:.3f}" for engine, baseline in pairs)


def _spread(name: str, figures: Figures) -> str:
    runs = figures.cmds_per_s_runs
    return f"{name:10} cmds/s per repetition: {', '.join(f'{r:,.0f}' for r in runs)}"


def _row(name: str, figures: Figures) -> str:
    t = figures.timing
    return (
        f"{name:10}{t.cmds_per_s:>12,.0f}{t.p50_us:>10.2f}{t.p99_us:>10.2f}"
        f"{t.p999_us:>10.2f}{figures.bytes_per_order:>13,.0f}"
    )
