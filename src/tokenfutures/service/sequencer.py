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

**Snapshots.** Every ``snapshot_every`` commands (and on :meth:`Sequencer.take_snapshot`) the
whole state (clearing house, read models, and every read model registered in
``snapshot_parts``) is exported on the event loop between two batches, so nothing changes
while it is read; it is encoded and compressed on a thread of its own and written to the
journal on the journal's thread, off the event loop. :meth:`Sequencer.recover` restores the
latest snapshot, checks that the restored state hash is the one recorded, and replays only
the commands after it; a snapshot that cannot be used is logged and the whole journal is
replayed instead, so recovery is never silently wrong. The journal stays the record: a
replay from the first command (``recover(use_snapshot=False)``) audits it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from typing import Any

from tokenfutures.domain.commands import NewOrder
from tokenfutures.domain.invariants import InvariantViolation
from tokenfutures.domain.rejects import RejectReason
from tokenfutures.engine import snapshot
from tokenfutures.engine.codec import CommandError
from tokenfutures.engine.event_codec import encode_event, refusal_json
from tokenfutures.engine.market import Market, build_market
from tokenfutures.engine.snapshot import SnapshotError, SnapshotPart
from tokenfutures.engine.timestamps import format_ts
from tokenfutures.service.journal import Journal
from tokenfutures.service.market_stats import MarketStats
from tokenfutures.service.views import Views

MAX_BATCH = 2_000
SNAPSHOT_EVERY = 100_000  # commands between two snapshots, by default
Listener = Callable[[int, list[Any]], None]  # (sequence number, domain events)
log = logging.getLogger("tokenfutures.sequencer")


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
    """The market of the journal's listing date, recorded when the journal was created (the
    months listed since are commands of the journal: replaying it lists them again)."""
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
        snapshot_every: int | None = SNAPSHOT_EVERY,
    ) -> None:
        if snapshot_every is not None and snapshot_every < 1:
            raise ValueError("snapshot_every: must be at least 1 command, or None for never")
        self.journal = journal
        self.market = market
        self.house = market.house
        self.codec = market.codec
        self.views = Views()
        self.listeners: list[Listener] = []
        # read models kept in snapshots, by name: register them before recover()
        self.snapshot_parts: dict[str, SnapshotPart] = {}
        self.stats = MarketStats()  # candles and the trading day's figures, from the trades
        self.snapshot_parts["market_stats"] = self.stats
        self.last_seq = 0
        self.last_ts = 0
        self.recovered_from: int | None = None  # the snapshot recover() started from
        self._clock = clock
        self._max_batch = max_batch
        self._snapshot_every = snapshot_every
        self._since_snapshot = 0  # commands applied since the last snapshot was exported
        self._snapshot_task: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[Outcome]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot")
        self._failure: BaseException | None = None
        self._stopped = False

    # --- recovery --------------------------------------------------------------------------

    def recover(self, use_snapshot: bool = True) -> int:
        """Rebuild the state from the journal; the number of commands replayed.

        With ``use_snapshot`` the latest snapshot is restored first (its position is then
        ``recovered_from``) and only the commands after it are replayed; without it, or when
        the snapshot cannot be used (logged), the whole journal is replayed. Listeners
        registered before see the events of the commands replayed.
        """
        if use_snapshot and self.last_seq == 0:
            self._restore_latest_snapshot()
        count = 0
        for seq, line in self.journal.read(self.last_seq):
            command = self.codec.decode_line(line)
            events, _ = self._apply(command)
            self.last_seq, self.last_ts = seq, max(self.last_ts, command.ts)
            for listener in self.listeners:
                listener(seq, events)
            count += 1
        self._since_snapshot = self.last_seq - (self.recovered_from or 0)
        return count

    def _restore_latest_snapshot(self) -> None:
        stored = self.journal.latest_snapshot(self.journal.last_seq())
        if stored is None:
            return
        seq, state_hash, body = stored
        empty = snapshot.read_document(self._capture()[2])  # what to go back to
        try:
            with snapshot.collector_paused():
                self._restore(seq, state_hash, body)
        except SnapshotError as error:
            log.error("the snapshot at %d is not used (%s): replaying the whole journal", seq,
                      error)  # fmt: skip
            self._load(empty)
            return
        self.recovered_from = seq

    def _restore(self, seq: int, state_hash: str, body: bytes) -> None:
        found = snapshot.read_document(snapshot.decode(body))
        if (found.seq, found.state_hash) != (seq, state_hash):
            raise SnapshotError(
                f"the journal files it at {seq} with hash {state_hash}, "
                f"it holds {found.seq} with hash {found.state_hash}"
            )
        missing = sorted(set(self.snapshot_parts) - set(found.parts))
        if missing:
            raise SnapshotError(f"it holds no state for {', '.join(missing)}")
        self._load(found)
        restored = self.house.state_hash()
        if restored != state_hash:
            raise SnapshotError(f"the restored state hash {restored} is not {state_hash}")
        try:
            self.house.check_invariants()
        except InvariantViolation as error:
            raise SnapshotError(f"the restored state is inconsistent: {error}") from error

    def _load(self, found: snapshot.Snapshot) -> None:
        """Replace the whole state (clearing house, read models, parts) by ``found``'s."""
        snapshot.restore_house(self.house, found.house, self.market.catalog)
        try:
            self.views.restore(found.views)
            for name, part in self.snapshot_parts.items():
                part.restore(found.parts[name])
        except Exception as error:  # a read model that cannot read its state back
            raise SnapshotError(f"read models: {type(error).__name__}: {error}") from error
        self.last_seq, self.last_ts = found.seq, found.last_ts

    # --- snapshots -------------------------------------------------------------------------

    async def take_snapshot(self) -> tuple[int, str]:
        """Take a snapshot now and write it to the journal; its (position, state hash)."""
        if self._failure is not None or self._stopped:
            raise SequencerStopped("the sequencer is not running") from self._failure
        if self.last_seq == 0:
            raise ValueError("nothing has been journaled yet: there is no state to snapshot")
        seq, state_hash, data = self._capture()
        await self._write_snapshot(seq, state_hash, data)
        return seq, state_hash

    def _capture(self) -> tuple[int, str, dict[str, Any]]:
        """The whole state now, as a snapshot document (read on the event loop, between
        commands: nothing changes while it is read)."""
        with snapshot.collector_paused():
            state_hash = self.house.state_hash()
            parts = {name: part.export() for name, part in self.snapshot_parts.items()}
            data = snapshot.document(
                self.last_seq, self.last_ts, state_hash, snapshot.export_house(self.house),
                self.views.export(), parts,
            )  # fmt: skip
        self._since_snapshot = 0
        return self.last_seq, state_hash, data

    async def _write_snapshot(self, seq: int, state_hash: str, data: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(self._encoder, snapshot.encode, data)
        await loop.run_in_executor(self._writer, self.journal.write_snapshot, seq, state_hash, body)

    async def _snapshot_in_background(self, seq: int, state_hash: str, data: dict[str, Any]
                                      ) -> None:  # fmt: skip
        try:
            await self._write_snapshot(seq, state_hash, data)
        except Exception:  # the journal still has every command: recovery replays more
            log.exception("the snapshot at %d could not be written", seq)

    def _start_snapshot(self) -> None:
        """Export the state now; encode and write it in the background."""
        try:
            seq, state_hash, data = self._capture()
        except Exception:  # a snapshot saves time only: the journal holds every command
            log.exception("the state could not be exported for a snapshot")
            self._since_snapshot = 0
            return
        write = self._snapshot_in_background(seq, state_hash, data)
        self._snapshot_task = asyncio.get_running_loop().create_task(write)

    def _snapshot_due(self) -> bool:
        every = self._snapshot_every
        running = self._snapshot_task is not None and not self._snapshot_task.done()
        return every is not None and self._since_snapshot >= every and not running

    # --- running ---------------------------------------------------------------------------

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="sequencer")

    async def stop(self) -> None:
        """Stop sequencing: commands submitted from now on, those waiting and those of the
        batch being written get ``SequencerStopped`` (a command already written is in the
        journal: a retry with its client order id finds it after the restart)."""
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._queue is not None:
            _refuse_waiting(self._queue, "the sequencer stopped")
        if self._snapshot_task is not None:  # a snapshot being written is finished
            await self._snapshot_task
            self._snapshot_task = None
        self._encoder.shutdown(wait=True)
        self._writer.shutdown(wait=True)

    async def submit(self, command: dict[str, Any]) -> Outcome:
        """Sequence one command; resolves once it is durable and applied."""
        if self._failure is not None or self._queue is None or self._stopped:
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
            except asyncio.CancelledError:  # stopped while the batch was being written
                _refuse(batch, "the sequencer stopped")
                raise
            except Exception as error:  # the journal failed: stop, acknowledge nothing more
                self._failure = error
                _refuse(batch, f"journal write failed: {error}")
                _refuse_waiting(queue, "the sequencer stopped")
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
        self._since_snapshot += len(ready)
        if self._snapshot_due():
            self._start_snapshot()

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
        self.stats.apply(events)
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


Waiting = tuple[dict[str, Any], "asyncio.Future[Outcome]"]


def _refuse(batch: list[Waiting], why: str) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(SequencerStopped(why))


def _refuse_waiting(queue: asyncio.Queue[Waiting], why: str) -> None:
    while not queue.empty():
        _refuse([queue.get_nowait()], why)
