"""The service benchmark: the real server, durable order entry at fixed offered loads, fan-out.

Each repetition starts ``tokenfutures serve --sandbox`` as a subprocess on 127.0.0.1 and a
free port, on a fresh SQLite journal in a temporary directory (WAL, ``synchronous=FULL``,
group commit: nothing is acknowledged before it is durable). It opens two market-maker
accounts through the admin API (funded, exempt from the intraday opening cap as market
makers are: a sandbox account's cap of 1,000 opened lots a day lasts seconds at these rates)
and gives each enough trade keys that no key goes over 40 orders/s (the API limits a key to
50/s, burst 100). Keys are made in the server's key store as ``tokenfutures keys create``
does. Then, in this order:

1. **REST order entry** at each offered rate: signed ``POST /v1/orders`` and ``DELETE
   /v1/orders/by-client-id/...`` through ``httpx.AsyncClient``, on several keep-alive
   connections;
2. **WebSocket order entry** at each offered rate: ``place_order`` / ``cancel_order`` on
   authenticated connections (``websockets`` asyncio client), one key per connection;
3. **fan-out**: subscribers to ``book:`` and ``trades:`` of the contract while a driver enters
   orders over the WebSocket at a fixed rate.

Between stages the benchmark waits until the server has worked off any backlog and cancels
what rests, so no stage inherits the previous one's load.

Load is **open loop**: request ``i`` is due at ``start + i / rate`` whatever happened to the
earlier ones, and its latency runs from that due time to its answer, so a server that falls
behind shows it in the latency instead of slowing the sender down (no coordinated omission).
Only while more than ``BACKLOG_S`` seconds' worth of requests are unanswered does the sender
skip (shed) requests, and count them: the server is far behind by then, and a backlog that
outlasts the stage would spill into the next one.

The order flow (:class:`OrderFlow`) is a cycle of ten requests on the front TKN month, one
lot each: four passive GTC limit orders 2 to 21 ticks from the settlement price (they rest),
four cancels of the account's oldest resting order (while the account has more than ten
resting; otherwise a passive order instead), and one crossing pair: the first account's GTC
limit one tick from the settlement price and the second account's IOC against it, one trade,
the side alternating so that positions stay flat. A cancel travels on the connection that
carried its order, behind it (the server handles one connection's requests in order), so
the book stays bounded however far behind the server is.

After the repetitions the sequencer alone is timed in this process (journal append, apply,
market data: where a command's time goes without HTTP or WebSocket). With ``profile`` that
run is profiled, and one more server runs the top WebSocket rate and the top fan-out rate
under cProfile, each stage profiled apart (the server's event loop thread; the journal
writer's thread is not profiled, its CPU time is reported from /proc).
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import os
import pstats
import statistics
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tokenfutures.bench.service_ceiling import (
    ProfileSummary,
    SequencerCeiling,
    sequencer_ceiling,
    summarise_profile,
)
from tokenfutures.bench.service_fanout import FanoutRun, fanout_stage
from tokenfutures.bench.service_load import LoadRun, rest_stage, ws_stage
from tokenfutures.bench.service_market import (
    Account,
    Contract,
    front_month,
    keys_each,
    open_accounts,
    settle,
)
from tokenfutures.bench.service_server import ServerProcess
from tokenfutures.bench.service_spec import Progress, ServiceSpec

R = TypeVar("R")

# --- one repetition ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """The stages of one repetition: offered rates of each kind."""

    rest_rates: tuple[int, ...]
    ws_rates: tuple[int, ...]
    fanout_rates: tuple[int, ...]

    @staticmethod
    def of(spec: ServiceSpec) -> Plan:
        fanout = spec.fanout_rates if spec.subscribers > 0 else ()
        return Plan(spec.rest_rates, spec.ws_rates, fanout)


@dataclass(frozen=True, slots=True)
class Repetition:
    rest: list[LoadRun]
    ws: list[LoadRun]
    fanout: list[FanoutRun]
    load_average: tuple[float, float, float]  # when the repetition started


@dataclass(frozen=True, slots=True)
class _Stages:
    """What every stage of a repetition runs against."""

    server: ServerProcess
    http: httpx.AsyncClient
    contract: Contract
    accounts: Sequence[Account]
    spec: ServiceSpec
    progress: Progress

    async def run(
        self, stage: Callable[..., Awaitable[R]], label: str, rates: Sequence[int],
        describe: Callable[[R], str],
    ) -> list[R]:  # fmt: skip
        """One stage per rate, profiled apart when the server profiles, settling after each."""
        runs: list[R] = []
        for rate in rates:
            self.server.profile(True)
            try:
                run = await stage(
                    self.server, self.accounts, self.contract, f"{label}{rate}", rate, self.spec
                )
            finally:
                self.server.profile(False)
            self.progress(f"  {describe(run)}")
            runs.append(run)
            await settle(self.http, self.contract, self.accounts)
        return runs


async def repetition(
    server: ServerProcess, spec: ServiceSpec, plan: Plan, number: int, progress: Progress
) -> tuple[Contract, Repetition]:
    """Every stage of ``plan`` against ``server``, in order, settling in between. A server
    started with ``profile_to`` profiles each WebSocket and fan-out stage apart."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10, trust_env=False) as http:
        contract = await front_month(http)
        rates = (*plan.rest_rates, *plan.ws_rates, *plan.fanout_rates)
        accounts = await open_accounts(
            http, server.db, max(spec.ws_connections // 2, *map(keys_each, rates), 1)
        )
        context = _Stages(server, http, contract, accounts, spec, progress)
        rest = await context.run(rest_stage, f"r{number}-rest", plan.rest_rates, run_line)
        ws = await context.run(ws_stage, f"r{number}-ws", plan.ws_rates, run_line)
        fanout = await context.run(fanout_stage, f"r{number}-fan", plan.fanout_rates, fanout_line)
    return contract, Repetition(rest, ws, fanout, (load[0], load[1], load[2]))


def fanout_line(run: FanoutRun) -> str:
    return (
        f"fan-out {run.subscribers} subscribers, driver {run.driver.offered_per_s:,}/s: "
        f"{run.deliveries_per_s:,.0f} deliveries/s, trade lag p50 {run.lag_p50_ms:.1f} ms p99 "
        f"{run.lag_p99_ms:.1f} ms, {run.complete_subscribers}/{run.subscribers} complete; CPU "
        f"server loop {run.cpu.server_loop:.0%}, client {run.cpu.client:.0%}, machine "
        f"{run.cpu.machine:.0%}"
    )


def run_line(run: LoadRun) -> str:
    verdict = "sustained" if run.sustained else f"NOT sustained ({run.limited_by})"
    return (
        f"{run.transport:4} offered {run.offered_per_s:>6,}/s: achieved {run.achieved_per_s:>7,.0f}"
        f"/s, p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms, errors {run.error_count}; "
        f"CPU server loop {run.cpu.server_loop:.0%}, client {run.cpu.client:.0%}, machine "
        f"{run.cpu.machine:.0%}: {verdict}"
    )


# --- the whole benchmark -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerProfile:
    title: str
    summary: ProfileSummary


@dataclass(frozen=True, slots=True)
class ServiceResult:
    spec: ServiceSpec
    contract: str
    repetitions: list[Repetition]
    ceilings: list[SequencerCeiling]  # one after each repetition
    ceiling_profile: ProfileSummary | None
    server_profiles: list[ServerProfile]
    filesystem: str


def run_service_benchmark(spec: ServiceSpec, progress: Progress) -> ServiceResult:
    repetitions: list[Repetition] = []
    contract: Contract | None = None
    with tempfile.TemporaryDirectory(prefix="tf-bench-service-") as tmp:
        root = Path(tmp)
        ceilings: list[SequencerCeiling] = []
        profiler = cProfile.Profile() if spec.profile else None
        for number in range(1, spec.repeat + 1):
            progress(f"repetition {number}/{spec.repeat}: starting the server ...")
            with ServerProcess(root / f"run{number}") as server:
                contract, result = asyncio.run(
                    repetition(server, spec, Plan.of(spec), number, progress)
                )
            repetitions.append(result)
            progress(f"  the sequencer alone, {spec.ceiling_commands:,} commands ...")
            (root / f"ceiling{number}").mkdir()
            last = number == spec.repeat
            ceilings.append(
                asyncio.run(
                    sequencer_ceiling(
                        root / f"ceiling{number}",
                        contract,
                        spec.ceiling_commands,
                        profiler=profiler if last else None,
                    )  # fmt: skip
                )
            )
        assert contract is not None
        ceiling_profile = None if profiler is None else summarise_profile(pstats.Stats(profiler))
        server_profiles = _profiled_server(root, spec, progress) if spec.profile else []
        filesystem = _filesystem(root)
    return ServiceResult(spec, contract.symbol, repetitions, ceilings, ceiling_profile,
                         server_profiles, filesystem)  # fmt: skip


def _profiled_server(root: Path, spec: ServiceSpec, progress: Progress) -> list[ServerProfile]:
    """One more server under cProfile: the top REST, WebSocket and fan-out rates."""
    plan = Plan(spec.rest_rates[-1:], spec.ws_rates[-1:], Plan.of(spec).fanout_rates[-1:])
    progress("profiling the server (cProfile, its event loop thread) ...")
    with ServerProcess(root / "profiled", profile_to=root / "server.prof") as server:
        _, result = asyncio.run(repetition(server, spec, plan, 0, progress))
        files = list(server.profiles)
    runs: list[tuple[str, LoadRun | FanoutRun]] = [
        *((f"REST order entry offered {r.offered_per_s:,}/s", r) for r in result.rest),
        *((f"WebSocket order entry offered {r.offered_per_s:,}/s", r) for r in result.ws),
        *(
            (f"fan-out to {f.subscribers} subscribers, driver {f.driver.offered_per_s:,}/s", f)
            for f in result.fanout
        ),
    ]
    return [
        ServerProfile(f"{title} ({_achieved(run)})", summarise_profile(pstats.Stats(str(path))))
        for (title, run), path in zip(runs, files, strict=False)
    ]


def _achieved(run: LoadRun | FanoutRun) -> str:
    if isinstance(run, FanoutRun):
        return f"profiled: {run.deliveries_per_s:,.0f} deliveries/s"
    return f"profiled: achieved {run.achieved_per_s:,.0f}/s"


def _filesystem(path: Path) -> str:
    """The type and device of the filesystem holding ``path`` (where the fsyncs go)."""
    best = ("", "unknown", "")
    with contextlib.suppress(OSError):
        for line in Path("/proc/mounts").read_text().splitlines():
            device, mount, kind = line.split()[:3]
            if str(path.resolve()).startswith(mount) and len(mount) >= len(best[0]):
                best = (mount, kind, device)
    return f"{best[1]} ({best[2]} on {best[0]})" if best[0] else "unknown"


def stage_medians(runs: Sequence[LoadRun]) -> dict[str, Any]:
    """Median figures of one stage over the repetitions."""
    return {
        "offered_per_s": runs[0].offered_per_s,
        "achieved_per_s": round(statistics.median(r.achieved_per_s for r in runs), 1),
        "p50_ms": round(statistics.median(r.p50_ms for r in runs), 2),
        "p99_ms": round(statistics.median(r.p99_ms for r in runs), 2),
        "errors": statistics.median_low(r.error_count for r in runs),
        "refused": statistics.median_low(r.refused for r in runs),
        "unserved": statistics.median_low(r.unserved for r in runs),
        "sustained_runs": sum(r.sustained for r in runs),
        "runs": len(runs),
        "cpu": {
            name: round(statistics.median(getattr(r.cpu, name) for r in runs), 3)
            for name in ("server_loop", "server_other", "client", "machine")
        },
    }


def by_rate(runs: Sequence[LoadRun]) -> list[list[LoadRun]]:
    """The runs grouped by offered rate, in the order the rates first appear."""
    stages: dict[int, list[LoadRun]] = {}
    for run in runs:
        stages.setdefault(run.offered_per_s, []).append(run)
    return list(stages.values())
