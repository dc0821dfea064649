"""The read models as database tables: orders, trades, fills, positions, settlement prices,
daily statements and index fixings, in the database that holds the journal.

The store listens to the sequencer (``sequencer.listeners.append(store.on_events)``) and must
not slow it down, so the work is split:

- ``on_events(seq, events)`` runs in the sequencer, after the command is durable and applied.
  It only follows the orders' states and picks up the house's immutable records of the moment
  (``read_store_records.Recorder``), and puts the result on a queue. It never raises: a
  failure of the store stops the store, never the exchange.
- A writer thread takes what is queued, turns it into rows (decimal text, JSON) and writes
  them in one transaction per batch, together with the last sequence number written, the
  store's **position** (table ``read_store_position``). Woken by a change, it lets
  ``linger_s`` pass before it writes, so a busy exchange gives it a few large transactions
  rather than many small ones (the read models are that much behind). A batch bigger than
  ``batch_rows`` rows is written in several transactions, the position in the last; every
  write is an upsert (a position's final-settlement close is guarded by its sequence
  number), so writing a command's rows twice gives the same tables.

Recovery (:func:`recover`): the store opens at its position, with the orders still live
then, and listens while the sequencer recovers. Commands at or below the position are
skipped; the next ones are written. So the sequencer must replay from the store's position or
earlier: from its latest snapshot when that is not past the position, else from the first
command. Sequence numbers are contiguous, so a command arriving after a gap (commands the
store never saw) stops the store with the reason rather than leaving holes: the rows are only
ever a prefix of the journal. :meth:`ReadStore.lag` is the journal's last sequence number
minus the position.

Index fixings are not commands: :meth:`ReadStore.record_fixings` queues published fixing
documents, written by the same thread.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tokenfutures.domain.clearing.house import ClearingHouse
from tokenfutures.engine.codec import Codec
from tokenfutures.service.config import Database
from tokenfutures.service.read_store_records import (
    FIXINGS_TABLE,
    Change,
    Formatter,
    Recorder,
    fixing_row,
)
from tokenfutures.service.read_store_schema import ReadStoreError
from tokenfutures.service.sequencer import Sequencer

log = logging.getLogger(__name__)

BATCH_ROWS = 2_000  # rows per transaction at most: the journal never waits long for SQLite
LINGER_S = 0.05  # once woken, the writer waits this long for more before it writes
RETRY_DELAYS_S = (0.1, 0.5, 2.0)  # a failed transaction is tried again after these pauses

Rows = Sequence[tuple[Any, ...]]


class ReadStoreBackend(Protocol):
    """One database's read-model tables: :class:`~.read_store_sqlite.SqliteReadStore` or
    :class:`~.read_store_pg.PostgresReadStore`."""

    @property
    def location(self) -> str: ...

    def position(self) -> int: ...
    def live_orders(self) -> list[tuple[Any, ...]]: ...
    def write(self, tables: Sequence[tuple[str, Rows]], closes: Rows, seq: int | None) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Fixings:
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class _Marker:
    """Set by the writer once everything queued before it is written (or the store failed)."""

    done: threading.Event


_STOP = object()


class ReadStore:
    def __init__(
        self,
        backend: ReadStoreBackend,
        house: ClearingHouse,
        codec: Codec,
        *,
        journal_last_seq: int | None = None,
        batch_rows: int = BATCH_ROWS,
        linger_s: float = LINGER_S,
        retry_delays: Sequence[float] = RETRY_DELAYS_S,
    ) -> None:
        self.backend = backend
        position = backend.position()
        if journal_last_seq is not None and position > journal_last_seq:
            raise ReadStoreError(
                f"{backend.location}: the read models are at command {position}, past the "
                f"journal's last {journal_last_seq}"
            )
        self._recorder = Recorder(house, backend.live_orders())
        self._formatter = Formatter(codec)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._queued = position  # the last command handed to the writer
        self._written = position  # the last command whose rows are committed
        self._batch_rows = batch_rows
        self._linger_s = linger_s
        self._retry_delays = tuple(retry_delays)
        self.failure: BaseException | None = None  # why the store stopped following
        self._write_failed = False  # the writer gave up: nothing more is written
        self.rows_written = 0
        self.transactions = 0
        self._thread = threading.Thread(target=self._run, name="read-store", daemon=True)

    # --- the sequencer's side --------------------------------------------------------------

    @property
    def position(self) -> int:
        """The last journal sequence number whose rows are committed."""
        return self._written

    @property
    def queued(self) -> int:
        """The last journal sequence number handed to the writer."""
        return self._queued

    def lag(self, journal_last_seq: int) -> int:
        """Commands the journal holds that the read models do not show yet."""
        return max(0, journal_last_seq - self._written)

    def on_events(self, seq: int, events: list[Any]) -> None:
        """The sequencer's listener: command ``seq`` is durable and applied with ``events``."""
        if seq <= self._queued or self.failure is not None:
            return  # written before a restart, or the store has stopped
        try:
            if seq != self._queued + 1:
                raise ReadStoreError(
                    f"the read models are at command {self._queued} and the next command seen "
                    f"is {seq}: the commands between were not replayed to the store"
                )
            change = self._recorder.record(seq, events)
            self._queue.put(seq if change is None else change)
            self._queued = seq
        except Exception as error:  # the exchange goes on; the store stops where it is
            self._fail(error)

    def record_fixings(self, documents: Iterable[dict[str, Any]]) -> None:
        """Queue published fixing documents (the fixings journal's lines: the fixing's fields
        plus ``version`` and ``published_at``) for the ``index_fixings`` table. A document
        without the fields a row needs raises ``ValueError`` and nothing is queued."""
        rows = {(r[0], r[1], r[2]): r for r in map(fixing_row, documents)}  # one per key
        if rows:
            self._queue.put(_Fixings(list(rows.values())))

    # --- running ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer (again: nothing happens)."""
        if self._thread.ident is None:
            self._thread.start()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything queued so far is written (or the store failed); whether it
        was, within ``timeout`` seconds."""
        if not self._thread.is_alive():
            return self.failure is None and self._queue.empty()
        marker = _Marker(threading.Event())
        self._queue.put(marker)
        return marker.done.wait(timeout) and self.failure is None

    def stop(self, timeout: float = 60.0) -> None:
        """Write what is queued, stop the writer and close the database connection."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
        if not self._thread.is_alive():
            self.backend.close()

    def stats(self) -> dict[str, Any]:
        return {
            "position": self._written,
            "queued": self._queued,
            "rows_written": self.rows_written,
            "transactions": self.transactions,
            "failure": None if self.failure is None else str(self.failure),
        }

    def _fail(self, error: BaseException) -> None:
        """Stop following the journal: nothing more is queued (what is queued is written,
        unless the writer itself failed)."""
        if self.failure is None:
            self.failure = error
            log.error("read models stopped after command %d: %s", self._queued, error)

    # --- the writer's thread ---------------------------------------------------------------

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            if self._linger_s > 0 and self._queue.empty() and isinstance(items[0], Change | int):
                time.sleep(self._linger_s)  # let more arrive: fewer, larger transactions
            size = _size(items[0])
            while size < self._batch_rows:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                items.append(item)
                size += _size(item)
            if not self._write_items(items):
                return

    def _write_items(self, items: list[Any]) -> bool:
        """Write ``items`` in queue order; False once the writer must end."""
        change: Change | None = None
        for item in items:
            if isinstance(item, Change):
                if change is None:
                    change = item
                else:
                    change.merge(item)
            elif isinstance(item, int):
                if change is None:
                    change = Change(item)
                change.seq = item
            else:
                if change is not None:
                    self._write_change(change)
                    change = None
                if isinstance(item, _Fixings):
                    self._write_fixings(item)
                elif isinstance(item, _Marker):
                    item.done.set()
                else:  # _STOP
                    return False
        if change is not None:
            self._write_change(change)
        return True

    def _write_change(self, change: Change) -> None:
        if self._write_failed:
            return
        formatter = self._formatter
        try:
            tables = list(formatter.rows(change))
            closes = [formatter.close(*c) for c in change.closes or ()]
        except Exception as error:  # a record it cannot format: a bug, the store stops
            self._write_failed = True
            self._fail(error)
            return
        limit = self._batch_rows
        chunk: list[tuple[str, Rows]] = []
        room = limit
        for table, rows in tables:
            start = 0
            while start < len(rows):
                part = rows[start : start + room]
                chunk.append((table, part))
                start += len(part)
                room -= len(part)
                if room == 0:
                    if not self._transaction(chunk, [], None):
                        return
                    chunk, room = [], limit
        if self._transaction(chunk, closes, change.seq):
            self._written = change.seq

    def _write_fixings(self, item: _Fixings) -> None:
        if not self._write_failed:
            self._transaction([(FIXINGS_TABLE, item.rows)], [], None)

    def _transaction(self, tables: list[tuple[str, Rows]], closes: Rows, seq: int | None) -> bool:
        """One transaction, tried again after each pause of ``retry_delays``; False (and the
        store stopped) if it never succeeds."""
        for delay in (*self._retry_delays, None):
            try:
                self.backend.write(tables, closes, seq)
            except Exception as error:
                if delay is None:
                    self._write_failed = True
                    self._fail(error)
                    return False
                log.warning("read models: write failed (%s), trying again in %.1f s", error, delay)
                time.sleep(delay)
            else:
                self.transactions += 1
                self.rows_written += sum(len(rows) for _, rows in tables) + len(closes)
                return True
        return False


def _size(item: Any) -> int:
    if isinstance(item, Change):
        return item.size()
    if isinstance(item, _Fixings):
        return len(item.rows)
    return 1


def open_read_store(
    db: Database, house: ClearingHouse, codec: Codec, *, journal_last_seq: int | None = None
) -> ReadStore:
    """The read store of ``db`` (the journal's database), its tables created or upgraded; not
    started. ``journal_last_seq``: refuse read models that are ahead of the journal.
    :class:`ReadStoreError` (with the reason) if it cannot be opened."""
    backend: ReadStoreBackend
    if db.url is None:
        from tokenfutures.service.read_store_sqlite import SqliteReadStore

        assert db.path is not None
        backend = SqliteReadStore(db.path)
    else:
        from tokenfutures.service.pg_journal import DatabaseUnavailableError
        from tokenfutures.service.read_store_pg import PostgresReadStore

        try:
            backend = PostgresReadStore(db.url)
        except DatabaseUnavailableError as error:
            raise ReadStoreError(str(error)) from None
    try:
        return ReadStore(backend, house, codec, journal_last_seq=journal_last_seq)
    except BaseException:
        backend.close()
        raise


def recover(sequencer: Sequencer, store: ReadStore) -> int:
    """Recover ``sequencer`` with ``store`` listening (registered here if it is not yet) and
    writing (started here: what the replay hands it is written meanwhile, not held in memory),
    so that the store sees every command after its position: from the latest snapshot when
    that is not past the store's position, else by replaying the whole journal. The commands
    replayed."""
    if store.on_events not in sequencer.listeners:
        sequencer.listeners.append(store.on_events)
    store.start()
    journal = sequencer.journal
    latest = journal.latest_snapshot(journal.last_seq())
    use_snapshot = latest is None or latest[0] <= store.position
    if not use_snapshot:
        log.warning(
            "the read models are at command %d, before the latest snapshot (%d): replaying "
            "the whole journal",
            store.position,
            latest[0] if latest else 0,
        )
    return sequencer.recover(use_snapshot=use_snapshot)
