"""The sequencer: the one writer that owns the engine.

Commands arrive as JSON-ready dicts (from the API, the admin, the daily cycle). The
sequencer stamps each with its ``ts`` (exchange time, never earlier than the previous
command's), checks that it reads as a command, and collects what is waiting into a batch:

1. the batch's command lines are appended to the journal in one transaction and made
   durable (one fsync for the batch: group commit), off the event loop;
2. only then is each command applied to the clearing house, in order, and its events become
   the command's **outcome**: the caller's acknowledgement;
3. the read models are updated and listeners (market data, private streams) get the events.

So nothing is acknowledged, or visible, before it is durable, and a replay of the journal
rebuilds exactly the state every client has seen. A line that does not read as a command is
refused at once and never journaled. If the journal cannot be written the sequencer stops:
it never acknowledges what it could not make durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

from tokenfutures.domain.commands import NewOrder
from tokenfutures.domain.rejects import RejectReason
from tokenfutures.engine.codec import CommandError
from tokenfutures.engine.event_codec import encode_event, refusal_json
from tokenfutures.engine.market import Market, build_market
from tokenfutures.engine.timestamps import format_ts
from tokenfutures.service.journal import Journal
from tokenfutures.service.views import Views

MAX_BATCH = 2_000
Listener = Callable[[int, list[Any]], None]  # (sequence number, domain events)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command did: its journal sequence number (None if refused unread) and events."""

    seq: int | None
    events: list[dict[str, Any]]
    duplicate_of: int | None = None  # a new order whose client order id was already used

    @property
    def rejected(self) -> dict[str, Any] | None:
        found = [e for e in self.events if e["type"] == "rejected"]
        return found[0] if found else None


class SequencerStopped(RuntimeError):
    """The sequencer stopped (the journal failed, or it was shut down)."""


def market_for_journal(journal: Journal, today: date) -> Market:
    """The market of the journal's listing date, recorded when the journal was created."""
    listed = journal.get_meta("listing_date")
    if listed is None:
        journal.set_meta("listing_date", today.isoformat())
        listed = today.isoformat()
    return build_market(date.fromisoformat(listed))


class Sequencer:
    def __init__(
        self,
        journal: Journal,
        market: Market,
        *,
        clock: Callable[[], int] = time.time_ns,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.journal = journal
        self.market = market
        self.house = market.house
        self.codec = market.codec
        self.views = Views()
        self.listeners: list[Listener] = []
        self.last_seq = 0
        self.last_ts = 0
        self._clock = clock
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[Outcome]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._failure: BaseException | None = None

    # --- recovery --------------------------------------------------------------------------

    def recover(self) -> int:
        """Replay the journal into the engine and the read models; the commands replayed."""
        count = 0
        for seq, line in self.journal.read(self.last_seq):
            command = self.codec.decode_line(line)
            self._apply(command)
            self.last_seq, self.last_ts = seq, max(self.last_ts, command.ts)
            count += 1
        return count

    # --- running ---------------------------------------------------------------------------

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sequencer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._writer.shutdown(wait=True)

    async def submit(self, command: dict[str, Any]) -> Outcome:
        """Sequence one command; resolves once it is durable and applied."""
        if self._failure is not None or self._queue is None:
            raise SequencerStopped("the sequencer is not running") from self._failure
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        await self._queue.put((command, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            batch = [await queue.get()]
            while len(batch) < self._max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            try:
                await self._process(batch)
            except Exception as error:  # the journal failed: stop, acknowledge nothing more
                self._failure = error
                for _, future in batch:
                    if not future.done():
                        future.set_exception(SequencerStopped(f"journal write failed: {error}"))
                while not queue.empty():
                    _, future = queue.get_nowait()
                    future.set_exception(SequencerStopped("the sequencer stopped"))
                return

    async def _process(self, batch: list[tuple[dict[str, Any], asyncio.Future[Outcome]]]) -> None:
        ready: list[tuple[str, Any, asyncio.Future[Outcome]]] = []
        for data, future in batch:
            line, command, refusal = self._read(data)
            if refusal is not None:
                future.set_result(Outcome(None, [refusal]))
            else:
                ready.append((line, command, future))
        if not ready:
            return
        lines = [line for line, _, _ in ready]
        loop = asyncio.get_running_loop()
        last = await loop.run_in_executor(self._writer, self.journal.append, lines)
        first = last - len(ready) + 1
        for offset, (_, command, future) in enumerate(ready):
            seq = first + offset
            events, duplicate_of = self._apply(command)
            self.last_seq = seq
            for listener in self.listeners:
                listener(seq, events)
            if not future.done():
                encoded = [encode_event(e, self.codec) for e in events]
                future.set_result(Outcome(seq, encoded, duplicate_of))

    def _apply(self, command: Any) -> tuple[list[Any], int | None]:
        """Apply one sequenced command (live and in replay alike): its events, and the order it
        repeats when it is a new order whose client order id the account used today (a retry
        gets the original order, or the original refusal, and nothing else happens)."""
        if type(command) is NewOrder:
            key = (command.account, command.client_order_id)
            known = self.views.by_client.get(key)
            if known is not None:
                return [], known
            refusal = self.views.rejections.get(key)
            if refusal is not None:
                return [refusal], None
        events = self.house.handle(command)
        self.views.apply(events)
        return events, None

    def _read(self, data: dict[str, Any]) -> tuple[str, Any, dict[str, Any] | None]:
        """Stamp and decode one command: (journal line, command, None) or a refusal."""
        ts = max(self._clock() // 1_000, self.last_ts)
        self.last_ts = ts
        stamped = {"type": data.get("type"), "ts": format_ts(ts)}
        stamped.update((k, v) for k, v in data.items() if k not in ("type", "ts"))
        try:
            line = json.dumps(stamped, separators=(",", ":"))
            command = self.codec.decode_line(line)
        except CommandError as error:
            return "", None, refusal_json(stamped, error)
        except (TypeError, ValueError) as error:  # not JSON-serialisable input
            refusal = CommandError(RejectReason.MALFORMED_COMMAND, None, f"not JSON: {error}")
            return "", None, refusal_json(stamped, refusal)
        return line, command, None
