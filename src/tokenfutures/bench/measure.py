"""Timing and memory primitives of the benchmark: raw clock stamps, statistics afterwards.

The timed commands are cut into chunks. Two subjects (the engine and the baseline) run chunk
by chunk in turn, the first of each pair alternating, with the garbage collector collected
once before and disabled throughout. A subject records ``time.perf_counter_ns()`` before each
command and once after the last command of each chunk, into a preallocated ``array('q')``:
chunk ``c`` covering commands ``[start, stop)`` owns stamps ``[start + c, stop + c]``. Nothing
else happens in the loop; latencies and throughput are computed afterwards from the stamps.
Interleaving by chunk means a burst of load from elsewhere on the machine falls on both
subjects alike instead of on whichever happened to be running.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Handle = Callable[[Any], Any]
Depth = tuple[list[tuple[int, int]], list[tuple[int, int]]]
Chunk = tuple[int, int]

CHUNK_COMMANDS = 1_000


@dataclass(frozen=True, slots=True)
class Timing:
    cmds_per_s: float
    p50_us: float
    p99_us: float
    p999_us: float


class Subject:
    """One implementation under test, prefilled and warmed up, with room for its timed run."""

    __slots__ = ("handle", "depth", "setup", "timed", "stamps")

    def __init__(
        self,
        handle: Handle,
        depth: Callable[[], Any],
        untimed: Sequence[Any],
        timed_count: int,
        chunk_count: int,
    ) -> None:
        self.handle = handle
        self.depth = depth
        self.setup: list[Any] = [handle(command) for command in untimed]
        self.timed: list[Any] = [None] * timed_count
        self.stamps = array("q", bytes(8 * (timed_count + chunk_count)))

    @property
    def outputs(self) -> list[Any]:
        """Every command's output in command order: prefill, warm-up, then the timed ones."""
        return self.setup + self.timed

    def final_depth(self) -> Depth:
        bids, asks = self.depth()
        return [(price, qty) for price, qty in bids], [(price, qty) for price, qty in asks]


def chunk_bounds(count: int, size: int = CHUNK_COMMANDS) -> list[Chunk]:
    return [(start, min(start + size, count)) for start in range(0, count, size)]


def run_interleaved(
    pair: tuple[Subject, Subject], commands: Sequence[Any], chunks: Sequence[Chunk], flip: bool
) -> None:
    """Run every chunk on both subjects in turn; ``flip`` picks who goes first in chunk 0."""
    gc.collect()
    gc.disable()
    try:
        for number, (start, stop) in enumerate(chunks):
            first, second = pair if (number + flip) % 2 == 0 else (pair[1], pair[0])
            run_chunk(first, commands, start, stop, number)
            run_chunk(second, commands, start, stop, number)
    finally:
        gc.enable()


def run_chunk(subject: Subject, commands: Sequence[Any], start: int, stop: int, shift: int) -> None:
    handle = subject.handle
    outputs = subject.timed
    stamps = subject.stamps
    clock = time.perf_counter_ns
    for index in range(start, stop):
        stamps[index + shift] = clock()
        outputs[index] = handle(commands[index])
    stamps[stop + shift] = clock()


def timing_of(stamps: Sequence[int], chunks: Sequence[Chunk]) -> Timing:
    latencies: list[int] = []
    elapsed = 0
    for number, (start, stop) in enumerate(chunks):
        first, last = start + number, stop + number
        elapsed += stamps[last] - stamps[first]
        latencies.extend(stamps[i + 1] - stamps[i] for i in range(first, last))
    latencies.sort()
    return Timing(
        cmds_per_s=len(latencies) * 1e9 / elapsed,
        p50_us=percentile(latencies, 500) / 1000,
        p99_us=percentile(latencies, 990) / 1000,
        p999_us=percentile(latencies, 999) / 1000,
    )


def percentile(ordered: Sequence[int], per_mille: int) -> int:
    """Nearest-rank percentile of an ascending sequence (``per_mille`` 990 is p99)."""
    rank = -(-per_mille * len(ordered) // 1000)  # ceil without floats
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def median_timing(timings: Sequence[Timing]) -> Timing:
    return Timing(
        cmds_per_s=statistics.median(t.cmds_per_s for t in timings),
        p50_us=statistics.median(t.p50_us for t in timings),
        p99_us=statistics.median(t.p99_us for t in timings),
        p999_us=statistics.median(t.p999_us for t in timings),
    )


def bytes_per_order(make_handle: Callable[[], Handle], orders: Sequence[Any]) -> float:
    """Bytes still allocated after feeding ``orders`` to a fresh instance, per order.

    The instance is built and the commands exist before tracing starts; each command's output
    is dropped at once, so what remains is what the instance keeps for its resting orders.
    """
    gc.collect()
    handle = make_handle()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for command in orders:
            handle(command)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) / len(orders)
