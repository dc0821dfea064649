"""Run the engine and the baseline book on one workload, fairly, and check they agree.

Each repetition builds a fresh engine and a fresh baseline book, applies the prefill and the
warm-up to both untimed, then runs the timed commands interleaved chunk by chunk
(``measure.py``), the engine first in even repetitions and the baseline first in odd ones.
Then it verifies the run (``verify.py``): the engine's event hash is the same as in every
other repetition, the engine rejected nothing, its trades equal the baseline's command by
command, and the final books are the same. The report gives the median of each figure over
the repetitions, and the bytes per resting order measured once afterwards with tracemalloc.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from tokenfutures.bench.baseline import BaselineBook
from tokenfutures.bench.measure import (
    CHUNK_COMMANDS,
    Subject,
    Timing,
    bytes_per_order,
    chunk_bounds,
    median_timing,
    run_interleaved,
    timing_of,
)
from tokenfutures.bench.verify import HashCheck, verify_run
from tokenfutures.bench.workload import Workload


class EngineUnavailable(Exception):
    """``tokenfutures.domain.exchange.Exchange`` cannot be imported."""


@dataclass(frozen=True, slots=True)
class Figures:
    """Median timing over the repetitions plus the memory per resting order."""

    timing: Timing
    bytes_per_order: float
    cmds_per_s_runs: tuple[float, ...]  # every repetition's throughput, to judge the noise

    def as_dict(self) -> dict[str, float]:
        return {
            "cmds_per_s": round(self.timing.cmds_per_s, 1),
            "p50_us": round(self.timing.p50_us, 3),
            "p99_us": round(self.timing.p99_us, 3),
            "p999_us": round(self.timing.p999_us, 3),
            "bytes_per_order": round(self.bytes_per_order, 1),
        }


@dataclass(frozen=True, slots=True)
class BenchResult:
    engine: Figures
    baseline: Figures
    event_hash: str
    repetitions: int
    trades: int  # per run, prefill and warm-up included
    chunk_commands: int

    @property
    def ratio(self) -> float:
        return self.engine.timing.cmds_per_s / self.baseline.timing.cmds_per_s


def load_engine_factory(workload: Workload) -> Callable[[], Any]:
    """A function building a fresh continuous-trading engine for the workload's instrument."""
    try:
        from tokenfutures.domain.exchange import Exchange
    except ImportError as error:
        raise EngineUnavailable(f"the engine cannot be imported: {error}") from error
    rules = workload.spec.rules()
    return lambda: Exchange([rules])


def run_benchmark(
    workload: Workload,
    repetitions: int,
    engine_factory: Callable[[], Any],
    progress: Callable[[str], None] | None = None,
    chunk_commands: int = CHUNK_COMMANDS,
) -> BenchResult:
    symbol = workload.spec.symbol
    untimed = workload.prefill + workload.warmup
    commands = untimed + workload.timed
    chunks = chunk_bounds(len(workload.timed), chunk_commands)
    hashes = HashCheck()
    engine_timings: list[Timing] = []
    baseline_timings: list[Timing] = []
    trades = 0
    for repetition in range(1, repetitions + 1):
        exchange = engine_factory()
        depth = partial(exchange.depth, symbol)
        engine = Subject(exchange.handle, depth, untimed, len(workload.timed), len(chunks))
        book = BaselineBook()
        baseline = Subject(book.handle, book.depth, untimed, len(workload.timed), len(chunks))
        run_interleaved((engine, baseline), workload.timed, chunks, flip=repetition % 2 == 0)

        hashes.check(engine.outputs, repetition)
        depths = (engine.final_depth(), baseline.final_depth())
        trades = verify_run(commands, engine.outputs, baseline.outputs, depths)
        engine_timings.append(timing_of(engine.stamps, chunks))
        baseline_timings.append(timing_of(baseline.stamps, chunks))
        if progress is not None:
            progress(
                f"repetition {repetition}/{repetitions}: "
                f"engine {engine_timings[-1].cmds_per_s:,.0f} cmds/s, "
                f"baseline {baseline_timings[-1].cmds_per_s:,.0f} cmds/s, verified"
            )
        del exchange, depth, engine, book, baseline

    return BenchResult(
        engine=_figures(engine_timings, lambda: engine_factory().handle, workload),
        baseline=_figures(baseline_timings, lambda: BaselineBook().handle, workload),
        event_hash=hashes.value or "",
        repetitions=repetitions,
        trades=trades,
        chunk_commands=chunk_commands,
    )


def _figures(timings: list[Timing], make_handle: Callable[[], Any], workload: Workload) -> Figures:
    return Figures(
        median_timing(timings),
        bytes_per_order(make_handle, workload.prefill),
        tuple(t.cmds_per_s for t in timings),
    )
