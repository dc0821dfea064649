"""The benchmark as the service publishes it: each day's fixings with their audit trail, and
the indices' daily history.

A day's fixings are the fixings journal's latest published version of each index where there
is one (what the exchange settles on), else computed from the packaged data (and published to
the journal when the board has one, so what the API showed is on record). The history is
computed from the dated price history (``IndexFamily.history``) and cached per date range.
Computations are blocking (up to a few seconds for a year of history) and run in a worker
thread; one computation per key at a time, later callers wait for its result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tokenfutures.adapters.fixing_journal import FixingJournal
from tokenfutures.engine.index_json import fixing_json, sources_json, usd_text
from tokenfutures.engine.indices import DEFAULT_SOURCES, IndexFamily

HISTORY_DAYS_MAX = 1_100  # about three years: as far back as the packaged price history goes
DAYS_KEPT = 32  # days of documents kept in memory (a fixing with its audit trail is large)


def utc_today() -> date:
    return datetime.now(UTC).date()


class IndexBoard:
    def __init__(
        self,
        family: IndexFamily | None = None,
        journal: FixingJournal | None = None,
        *,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self._family = family
        self.journal = journal
        self.today = today
        self._days: dict[date, dict[str, dict[str, Any]]] = {}
        self._history: dict[tuple[date, date], dict[str, list[dict[str, Any]]]] = {}
        self._running: dict[object, asyncio.Future[Any]] = {}
        self._listeners: list[Callable[[list[dict[str, Any]]], None]] = []

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

    def on_publish(self, listener: Callable[[list[dict[str, Any]]], None]) -> None:
        """Call ``listener`` with the documents of each day the board loads for the first time."""
        self._listeners.append(listener)

    async def day(self, day: date) -> dict[str, dict[str, Any]]:
        """Every index's published document for ``day`` (audit trail included)."""
        found = self._days.get(day)
        if found is None:
            found = await self._once(("day", day), lambda: asyncio.to_thread(self._load_day, day))
            if day not in self._days:
                if len(self._days) >= DAYS_KEPT:
                    del self._days[next(iter(self._days))]
                self._days[day] = found
                for listener in self._listeners:
                    listener(list(found.values()))
        return found

    async def latest(self) -> tuple[date, dict[str, dict[str, Any]]]:
        """Today's fixings, or yesterday's for the indices not published today."""
        today = self.today()
        documents = dict(await self.day(today))
        if any(doc.get("value") is None for doc in documents.values()) or not documents:
            earlier = await self.day(today - timedelta(days=1))
            for code, doc in earlier.items():
                if documents.get(code, {}).get("value") is None:
                    documents[code] = doc
        return today, documents

    async def history(self, days: int) -> dict[str, list[dict[str, Any]]]:
        """The last ``days`` daily fixings of every index up to today: date, value, quality."""
        end = self.today()
        start = end - timedelta(days=days - 1)
        key = (start, end)
        found = self._history.get(key)
        if found is None:
            found = await self._once(
                ("history", key), lambda: asyncio.to_thread(self._load_history, start, end)
            )
            self._history = {key: found}  # keep the latest range only
        return found

    async def _once(self, key: object, start: Callable[[], Awaitable[Any]]) -> Any:
        running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Any] = asyncio.ensure_future(start())
        self._running[key] = future
        try:
            return await future
        finally:
            self._running.pop(key, None)

    def _load_day(self, day: date) -> dict[str, dict[str, Any]]:
        codes = [code for code, _ in self.codes()]
        documents: dict[str, dict[str, Any]] = {}
        if self.journal is not None:
            for code in codes:
                row = self.journal.latest(code, day.isoformat())
                if row is not None:
                    documents[code] = row
        missing = [code for code in codes if code not in documents]
        if not missing:
            return documents
        fixings, snapshots = self.family.compute_with_sources(day, DEFAULT_SOURCES)
        read = sources_json(snapshots)
        computed = [fixing_json(fixings[c]) | {"sources": read} for c in missing if c in fixings]
        if self.journal is not None and computed:
            stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            self.journal.publish(computed, stamp)
            for document in computed:
                row = self.journal.latest(document["index"], document["date"])
                documents[document["index"]] = row if row is not None else document
        else:
            documents.update((d["index"], d) for d in computed)
        return documents

    def _load_history(self, start: date, end: date) -> dict[str, list[dict[str, Any]]]:
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
