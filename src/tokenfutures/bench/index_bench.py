"""Index benchmark: one day's full fixing and a three-year daily history, on the packaged data.

Each measurement is repeated and the median reported; every repetition must give the same
hashes, so speed never comes from skipping work.
"""

from __future__ import annotations

import hashlib
import statistics
import time
from dataclasses import dataclass
from datetime import date, timedelta

from tokenfutures.engine.indices import IndexFamily


@dataclass(frozen=True, slots=True)
class IndexTimings:
    day: date
    indices: int
    one_day_s: float  # median seconds for every index of one day, sources read included
    history_days: int
    history_s: float  # median seconds for every index over the history
    history_sha256: str  # over every fixing's hash, to verify repetitions agree


def run_index_benchmark(day: date, years: int = 3, repeat: int = 3) -> IndexTimings:
    family = IndexFamily.load()
    indices = family.token_indices() + family.gpu_indices()
    start = day - timedelta(days=365 * years)
    one_day: list[float] = []
    history: list[float] = []
    digests: set[str] = set()
    for _ in range(repeat):
        begin = time.perf_counter()
        fixings = family.compute(day)
        one_day.append(time.perf_counter() - begin)
        begin = time.perf_counter()
        series = family.history(indices, start, day)
        history.append(time.perf_counter() - begin)
        digest = hashlib.sha256()
        for code in indices:
            for fixing in series[code]:
                digest.update(fixing.inputs_sha256.encode())
        digest.update("".join(fixings[code].inputs_sha256 for code in indices).encode())
        digests.add(digest.hexdigest())
    if len(digests) != 1:
        raise RuntimeError("index benchmark: repetitions gave different fixings")
    return IndexTimings(
        day=day,
        indices=len(indices),
        one_day_s=statistics.median(one_day),
        history_days=(day - start).days + 1,
        history_s=statistics.median(history),
        history_sha256=digests.pop(),
    )
