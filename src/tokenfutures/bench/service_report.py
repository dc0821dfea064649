"""Presenting the service benchmark: order entry per offered rate, fan-out, the sequencer alone
and, when asked, the profiles; as text or JSON."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from tokenfutures.bench.report import machine_info
from tokenfutures.bench.service_bench import ServiceResult, by_rate, stage_medians
from tokenfutures.bench.service_ceiling import ProfileSummary, SequencerCeiling
from tokenfutures.bench.service_fanout import FanoutRun
from tokenfutures.bench.service_load import LoadRun
from tokenfutures.bench.service_spec import (
    BACKLOG_S,
    SUSTAINED_LAG_MS,
    SUSTAINED_P99_MS,
    SUSTAINED_SHARE,
)

TARGET_WS_PER_S = 5_000  # the aim: durable orders/s over the WebSocket on the 2-core machine


def verdict(result: ServiceResult) -> dict[str, Any]:
    """The highest offered rate sustained in most repetitions, per transport, and the aim."""

    def best(runs: Sequence[LoadRun]) -> tuple[int, float]:
        stages = by_rate(runs)
        sustained = [s[0].offered_per_s for s in stages if 2 * sum(r.sustained for r in s) > len(s)]
        achieved = [statistics.median(r.achieved_per_s for r in s) for s in stages]
        return max(sustained, default=0), max(achieved, default=0.0)

    rest_sustained, rest_best = best([r for rep in result.repetitions for r in rep.rest])
    ws_sustained, ws_best = best([r for rep in result.repetitions for r in rep.ws])
    return {
        "rest_sustained_per_s": rest_sustained,
        "rest_best_achieved_per_s": round(rest_best, 1),
        "ws_sustained_per_s": ws_sustained,
        "ws_best_achieved_per_s": round(ws_best, 1),
        "target_ws_per_s": TARGET_WS_PER_S,
        "target_reached": ws_sustained >= TARGET_WS_PER_S,
        "sequencer_alone_per_s": round(median_ceiling(result).per_s, 1),
    }


def as_json(result: ServiceResult) -> dict[str, Any]:
    spec = result.spec
    reps = result.repetitions
    fanouts = [f for rep in reps for f in rep.fanout]
    return {
        "contract": result.contract,
        "seconds": spec.seconds,
        "repetitions": spec.repeat,
        "rest": [_stage(runs) for runs in by_rate([r for rep in reps for r in rep.rest])],
        "ws": [_stage(runs) for runs in by_rate([r for rep in reps for r in rep.ws])],
        "fanout": [_fanout(runs) for runs in _by_driver(fanouts)],
        "sequencer_alone": {
            **median_ceiling(result).as_dict(),
            "per_s_each": [round(c.per_s, 1) for c in result.ceilings],
        },
        "profile": None
        if result.ceiling_profile is None
        else {
            "server": [{"stage": p.title, **p.summary.as_dict()} for p in result.server_profiles],
            "sequencer_alone": result.ceiling_profile.as_dict(),
        },
        "verdict": verdict(result),
        "sustained_rule": {
            "achieved_share": SUSTAINED_SHARE,
            "p99_ms_at_most": SUSTAINED_P99_MS,
            "send_lag_p99_ms_at_most": SUSTAINED_LAG_MS,
        },
        "server": {
            "command": "tokenfutures serve --sandbox --host 127.0.0.1",
            "journal": "SQLite WAL, synchronous=FULL, group commit",
            "filesystem": result.filesystem,
            "load_average_at_start": [list(rep.load_average) for rep in reps],
        },
        "machine": machine_info(),
    }


def _stage(runs: Sequence[LoadRun]) -> dict[str, Any]:
    return {**stage_medians(runs), "each": [run.as_dict() for run in runs]}


def _by_driver(runs: Sequence[FanoutRun]) -> list[list[FanoutRun]]:
    found: dict[int, list[FanoutRun]] = {}
    for run in runs:
        found.setdefault(run.driver.offered_per_s, []).append(run)
    return list(found.values())


def _fanout(runs: Sequence[FanoutRun]) -> dict[str, Any]:
    return {
        "subscribers": runs[0].subscribers,
        "driver_per_s": runs[0].driver.offered_per_s,
        "driver_achieved_per_s": round(statistics.median(r.driver.achieved_per_s for r in runs), 1),
        "driver_p99_ms": round(statistics.median(r.driver.p99_ms for r in runs), 2),
        "deliveries_per_s": round(statistics.median(r.deliveries_per_s for r in runs), 1),
        "lag_p50_ms": round(statistics.median(r.lag_p50_ms for r in runs), 2),
        "lag_p99_ms": round(statistics.median(r.lag_p99_ms for r in runs), 2),
        "complete_subscribers_min": min(r.complete_subscribers for r in runs),
        "lost_max": max(r.lost for r in runs),
        "each": [r.as_dict() for r in runs],
    }


# --- text ----------------------------------------------------------------------------------


def as_text(result: ServiceResult) -> str:
    spec, machine = result.spec, machine_info()
    loads = ", ".join(f"{rep.load_average[0]:.1f}" for rep in result.repetitions)
    lines = [
        "tokenfutures bench service",
        f"machine     {machine['platform']}, {machine['cpu']}, {machine['cpu_count']} CPUs; "
        f"{machine['python']}; matching core {machine['core_build']}",
        "server      tokenfutures serve --sandbox on 127.0.0.1 (uvicorn, one process); journal "
        f"SQLite WAL synchronous=FULL, group commit, on {result.filesystem}",
        f"load        open loop on {result.contract}, {spec.seconds:g} s per stage, "
        f"{spec.repeat} repetition{'s' if spec.repeat != 1 else ''} (a fresh server each), "
        "medians; load average at the "
        f"start of each: {loads}",
        "flow        per 10 requests: 4 passive limit orders, 4 cancels, 1 crossing pair (one "
        "trade); 1 lot each; two market-maker accounts",
        "",
        "ORDER ENTRY  durable acknowledgements: latency from when a request was due to its answer",
        f"{'':6}{'offered/s':>10}{'achieved/s':>11}{'p50 ms':>9}{'p99 ms':>9}{'refused':>8}"
        f"{'shed':>7}{'conns':>6}{'sustained':>11}{'loop CPU':>9}{'client':>7}{'machine':>8}",
    ]
    for name, key in (("REST", "rest"), ("WS", "ws")):
        runs = [r for rep in result.repetitions for r in getattr(rep, key)]
        lines += [_row(name, stage) for stage in by_rate(runs)]
    lines += [
        f"            sustained = achieved >= {SUSTAINED_SHARE:.0%} of offered, p99 <= "
        f"{SUSTAINED_P99_MS:g} ms, refused + shed <= 1 %, the sender on schedule (p99 lag <= "
        f"{SUSTAINED_LAG_MS:g} ms); shed: not sent while more than {BACKLOG_S:g} s of "
        "requests were unanswered, or unanswered at the end",
        "            CPU in cores (loop: the server's event loop thread; client: this process); "
        "machine: share of all cores busy, other jobs included",
        "",
    ]
    for runs in _by_driver([f for rep in result.repetitions for f in rep.fanout]):
        lines += _fanout_text(runs) + [""]
    lines += _ceiling_text(result) + [""]
    for profile in result.server_profiles:
        lines += [f"PROFILE     the server's event loop thread: {profile.title}"]
        lines += [*_profile_text(profile.summary), ""]
    if result.ceiling_profile is not None:
        lines += ["PROFILE     the sequencer alone", *_profile_text(result.ceiling_profile), ""]
    found = verdict(result)
    reached = "REACHED" if found["target_reached"] else "NOT reached"
    lines.append(
        f"verdict     highest sustained: REST {found['rest_sustained_per_s']:,}/s, WebSocket "
        f"{found['ws_sustained_per_s']:,}/s (best achieved {found['ws_best_achieved_per_s']:,.0f}"
        f"/s); aim {TARGET_WS_PER_S:,} durable orders/s over the WebSocket: {reached}; the "
        f"sequencer alone: {found['sequencer_alone_per_s']:,.0f} commands/s"
    )
    return "\n".join(lines)


def _row(name: str, runs: Sequence[LoadRun]) -> str:
    m = stage_medians(runs)
    cpu = m["cpu"]
    return (
        f"{name:6}{m['offered_per_s']:>10,}{m['achieved_per_s']:>11,.0f}{m['p50_ms']:>9.1f}"
        f"{m['p99_ms']:>9.1f}{m['refused']:>8,}{m['unserved']:>7,}{runs[0].connections:>6}"
        f"{m['sustained_runs']:>8}/{m['runs']:<2}{cpu['server_loop']:>9.2f}"
        f"{cpu['client']:>7.2f}{cpu['machine']:>8.0%}"
    )


def _fanout_text(runs: Sequence[FanoutRun]) -> list[str]:
    f = _fanout(runs)
    return [
        f"FAN-OUT     {f['subscribers']} WebSocket subscribers to book and trades, a driver "
        f"offering {f['driver_per_s']:,} orders/s over the WebSocket (achieved "
        f"{f['driver_achieved_per_s']:,.0f}/s, ack p99 {f['driver_p99_ms']:.1f} ms)",
        f"            deliveries {f['deliveries_per_s']:,.0f}/s (messages received, summed over "
        f"subscribers); every message to every subscriber: {f['complete_subscribers_min']}/"
        f"{f['subscribers']} complete, {f['lost_max']} lost",
        f"            delivery lag of trades p50 {f['lag_p50_ms']:.1f} ms, p99 "
        f"{f['lag_p99_ms']:.1f} ms (receipt minus the trade's exchange timestamp, stamped "
        "before the journal write)",
    ]


def median_ceiling(result: ServiceResult) -> SequencerCeiling:
    """The run of the sequencer alone with the median throughput."""
    ordered = sorted(result.ceilings, key=lambda c: c.per_s)
    return ordered[(len(ordered) - 1) // 2]


def _ceiling_text(result: ServiceResult) -> list[str]:
    c = median_ceiling(result)
    total = c.journal_us + c.apply_us + c.market_data_us + c.other_us
    each = ", ".join(f"{x.per_s:,.0f}" for x in result.ceilings)
    return [
        f"SEQUENCER   alone, in this process: {c.commands:,} commands from {c.concurrency} "
        f"coroutines, no HTTP, no WebSocket: {c.per_s:,.0f} commands/s (the median run; "
        f"each: {each})",
        f"            per command {total:.0f} µs: journal {c.journal_us:.0f} (batches of "
        f"{c.mean_batch:.0f}, {c.journal_ms_per_batch:.2f} ms each, the loop waiting; slowest "
        f"{c.journal_max_ms:.1f} ms), apply {c.apply_us:.0f} (risk, matching, clearing, views), "
        f"market data {c.market_data_us:.0f}, other {c.other_us:.0f} (stamp, decode, encode, "
        "futures)",
        f"            garbage collector: {c.gc_ms:.0f} ms of pauses in all, the longest "
        f"{c.gc_max_ms:.1f} ms",
    ]


def _profile_text(profile: ProfileSummary, areas: int = 10, top: int = 8) -> list[str]:
    lines = [
        f"            busy {profile.busy_s:.2f} s, waiting in epoll {profile.idle_s:.2f} s "
        "(profiled, so slower than unprofiled); own time by area:"
    ]
    lines += [f"            {share:>6.1%}  {name}" for name, share in profile.areas[:areas]]
    lines.append("            functions with the most own time:")
    lines += [
        f"            {seconds:>7.3f} s {calls:>9,}  {name[:90]}"
        for name, seconds, calls in profile.top[:top]
    ]
    return lines
