"""The benchmark as the service shows it: each day's fixings with their audit trail, and the
indices' daily history.

A day's fixing of an index is the fixings journal's latest published version where there is
one (what the exchange settles on), else the value computed from the packaged data (shown, not
published: publishing is the daily cycle's and the demo's, never a reader's). The journal is
read again for today and yesterday once ``RECHECK_S`` has passed, so a correction or an end of
day's publication shows; other days are kept as first read (at most ``DAYS_KEPT`` of them).

The history is computed from the dated price history (``IndexFamily.history``) over one of a
few fixed ranges (``HISTORY_RANGES``: the shortest that covers the days asked for), once per
range and day, and sliced. Computations are blocking (seconds for three years) and run one at
a time on the board's own thread, off the event loop and away from the thread pool others use;
callers asking for the same thing at once share one computation.

Listeners registered with ``on_fixings`` hear of today's fixings when the board first loads
them and whenever a new published version of one of them appears.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tokenfutures.adapters.fixing_journal import FixingJournal
from tokenfutures.engine.index_json import fixing_json, sources_json, usd_text
from tokenfutures.engine.indices import DEFAULT_SOURCES, IndexFamily

HISTORY_RANGES = (90, 365, 1_100)  # days; the longest is as far back as the price history goes
HISTORY_DAYS_MAX = HISTORY_RANGES[-1]
DAYS_KEPT = 32  # days of documents kept in memory (a fixing with its audit trail is large)
RECHECK_S = 60.0  # how long today's and yesterday's published versions are trusted

Documents = dict[str, dict[str, Any]]  # index code -> the fixing's document


def utc_today() -> date:
    return datetime.now(UTC).date()


class IndexBoard:
    def __init__(
        self,
        family: IndexFamily | None = None,
        journal: FixingJournal | None = None,
        *,
        today: Callable[[], date] = utc_today,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._family = family
        self.journal = journal
        self.today = today
        self._monotonic = monotonic
        self._computed: dict[date, Documents] = {}
        self._published: dict[date, tuple[float, Documents]] = {}  # read at, rows
        self._history: dict[tuple[date, int], dict[str, list[dict[str, Any]]]] = {}
        self._running: dict[object, asyncio.Future[Any]] = {}
        self._listeners: list[Callable[[list[dict[str, Any]]], None]] = []
        self._heard: dict[str, tuple[str, ...]] = {}  # index -> what was last told of it
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="index-board")

    @property
    def family(self) -> IndexFamily:
        if self._family is None:
            self._family = IndexFamily.load()
        return self._family

    def codes(self) -> list[tuple[str, str]]:
        """(index code, kind) of every index the methodology publishes, token indices first."""
        family = self.family
        return [(c, "token") for c in family.token_indices()] + [
            (c, "gpu") for c in family.gpu_indices()
        ]

    def on_fixings(self, listener: Callable[[list[dict[str, Any]]], None]) -> None:
        """Call ``listener`` with today's fixings when they are first loaded or change."""
        self._listeners.append(listener)

    def close(self) -> None:
        self._worker.shutdown(wait=False, cancel_futures=True)

    # --- days ------------------------------------------------------------------------------

    async def day(self, day: date) -> Documents:
        """Every index's document for ``day`` (published version, else computed)."""
        computed = self._computed.get(day)
        if computed is None:
            computed = await self._once(("computed", day), self._compute_day, day)
            if len(self._computed) >= DAYS_KEPT:
                del self._computed[next(iter(self._computed))]
            self._computed[day] = computed
        published = await self._published_on(day)
        documents = computed | published
        if day == self.today():
            self._tell(documents)
        return documents

    async def latest(self) -> tuple[date, Documents]:
        """Today's fixings, or yesterday's for the indices without a value today."""
        today = self.today()
        documents = dict(await self.day(today))
        if not documents or any(doc.get("value") is None for doc in documents.values()):
            earlier = await self.day(today - timedelta(days=1))
            for code, doc in earlier.items():
                if documents.get(code, {}).get("value") is None:
                    documents[code] = doc
        return today, documents

    async def _published_on(self, day: date) -> Documents:
        if self.journal is None:
            return {}
        known: tuple[float, Documents] | None = self._published.get(day)
        recent = day >= self.today() - timedelta(days=1)
        if known is not None and not (recent and self._monotonic() - known[0] > RECHECK_S):
            return known[1]
        rows: Documents = await self._once(("published", day), self._read_published, day)
        if len(self._published) >= DAYS_KEPT:
            del self._published[next(iter(self._published))]
        self._published[day] = (self._monotonic(), rows)
        return rows

    def _tell(self, documents: Documents) -> None:
        fresh = []
        for code, doc in documents.items():
            mark = tuple(str(doc.get(k)) for k in ("date", "version", "value", "published_at"))
            if self._heard.get(code) != mark:
                self._heard[code] = mark
                fresh.append(doc)
        if fresh:
            for listener in self._listeners:
                listener(fresh)

    # --- history ---------------------------------------------------------------------------

    async def history(self, days: int) -> dict[str, list[dict[str, Any]]]:
        """The last ``days`` daily fixings of every index up to today: date, value, quality."""
        end = self.today()
        span = next((r for r in HISTORY_RANGES if r >= days), HISTORY_DAYS_MAX)
        key = (end, span)
        found = self._history.get(key)
        if found is None:
            start = end - timedelta(days=span - 1)
            found = await self._once(("history", key), self._compute_history, start, end)
            self._history = {k: v for k, v in self._history.items() if k[0] == end}
            self._history[key] = found
        first = (end - timedelta(days=days - 1)).isoformat()
        return {code: [p for p in points if p["date"] >= first] for code, points in found.items()}

    # --- computations, one at a time on the board's thread ---------------------------------

    async def _once(self, key: object, work: Callable[..., Any], *args: Any) -> Any:
        running = self._running.get(key)
        if running is None:
            loop = asyncio.get_running_loop()
            running = asyncio.ensure_future(loop.run_in_executor(self._worker, work, *args))
            self._running[key] = running
            running.add_done_callback(lambda _: self._running.pop(key, None))
        return await asyncio.shield(running)  # a caller that gives up stops no one else

    def _read_published(self, day: date) -> Documents:
        assert self.journal is not None
        rows: Documents = {}
        for code, _ in self.codes():
            row = self.journal.latest(code, day.isoformat())
            if row is not None:
                rows[code] = row
        return rows

    def _compute_day(self, day: date) -> Documents:
        fixings, snapshots = self.family.compute_with_sources(day, DEFAULT_SOURCES)
        read = sources_json(snapshots)
        return {code: fixing_json(fixing) | {"sources": read} for code, fixing in fixings.items()}

    def _compute_history(self, start: date, end: date) -> dict[str, list[dict[str, Any]]]:
        codes = [code for code, _ in self.codes()]
        series = self.family.history(codes, start, end)
        return {
            code: [
                {"date": f.day.isoformat(), "value": usd_text(f.value), "quality": f.quality.value}
                for f in fixings
                if f.value is not None
            ]
            for code, fixings in series.items()
        }
