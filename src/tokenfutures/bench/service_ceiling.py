"""The service benchmark's measures of the sequencer alone and of server profiles."""

from __future__ import annotations

import asyncio
import cProfile
import gc
import pstats
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tokenfutures.bench.service_load import OrderFlow, Request
from tokenfutures.bench.service_market import Contract
from tokenfutures.bench.service_spec import ACCOUNTS, BENCH_DEPOSIT, BENCH_MEMBER, SHANGHAI
from tokenfutures.service.journal import SqliteJournal
from tokenfutures.service.market_data import MarketData
from tokenfutures.service.sequencer import Sequencer, market_for_journal

# --- the sequencer alone -------------------------------------------------------------------


class _TimedJournal(SqliteJournal):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.append_s = self.append_max = 0.0
        self.batches = 0
        self.lines = 0

    def append(self, lines: Sequence[str]) -> int:
        began = time.perf_counter()
        last = super().append(lines)
        took = time.perf_counter() - began
        self.append_s += took
        self.append_max = max(self.append_max, took)
        self.batches += 1
        self.lines += len(lines)
        return last


class _TimedSequencer(Sequencer):
    apply_s = 0.0

    def _apply(self, command: Any) -> tuple[list[Any], int | None]:
        began = time.perf_counter()
        result = super()._apply(command)
        self.apply_s += time.perf_counter() - began
        return result


@dataclass(frozen=True, slots=True)
class SequencerCeiling:
    """The sequencer and the market-data listener, as the server has them, fed directly in
    this process by ``concurrency`` coroutines (closed loop, no HTTP, no WebSocket)."""

    commands: int
    concurrency: int
    seconds: float
    per_s: float
    mean_batch: float
    journal_ms_per_batch: float
    journal_us: float  # per command, on the journal's thread (the loop waits meanwhile)
    apply_us: float  # clearing house (risk, matching, clearing) and read models
    market_data_us: float  # book deltas, trades, private order messages
    other_us: float  # stamping, decoding, encoding events, futures, the submitting coroutines
    journal_share: float  # of the wall time
    journal_max_ms: float  # the slowest append (a WAL checkpoint lands in one now and then)
    gc_ms: float  # the garbage collector's pauses, in all
    gc_max_ms: float  # its longest pause

    def as_dict(self) -> dict[str, Any]:
        return {
            "commands": self.commands,
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 3),
            "per_s": round(self.per_s, 1),
            "mean_batch": round(self.mean_batch, 1),
            "journal_ms_per_batch": round(self.journal_ms_per_batch, 3),
            "us_per_command": {
                "journal": round(self.journal_us, 1),
                "apply": round(self.apply_us, 1),
                "market_data": round(self.market_data_us, 1),
                "other": round(self.other_us, 1),
            },
            "journal_share": round(self.journal_share, 3),
            "journal_max_ms": round(self.journal_max_ms, 2),
            "gc_ms": round(self.gc_ms, 1),
            "gc_max_ms": round(self.gc_max_ms, 2),
        }


async def sequencer_ceiling(
    directory: Path, contract: Contract, commands: int, concurrency: int = 64,
    profiler: cProfile.Profile | None = None,
) -> SequencerCeiling:  # fmt: skip
    journal = _TimedJournal(directory / "sequencer.db")
    today = datetime.now(SHANGHAI).date()
    sequencer = _TimedSequencer(journal, market_for_journal(journal, today))
    market_data = MarketData(sequencer)
    listener_s = [0.0]

    def timed_listener(seq: int, events: list[Any]) -> None:
        began = time.perf_counter()
        market_data.on_events(seq, events)
        listener_s[0] += time.perf_counter() - began

    sequencer.listeners[:] = [timed_listener]
    sequencer.start()
    try:
        await sequencer.submit({"type": "add_member", "member": BENCH_MEMBER})
        for name in ACCOUNTS:
            await sequencer.submit(
                {
                    "type": "open_account",
                    "account": name,
                    "member": BENCH_MEMBER,
                    "opening_cap_exempt": True,
                }
            )
            await sequencer.submit({"type": "deposit", "account": name, "amount": BENCH_DEPOSIT})
        flow = OrderFlow(contract, "seq", 1)
        slots = iter(range(commands))

        async def worker() -> None:
            for slot in slots:
                await sequencer.submit(_command(flow.next(slot), contract.symbol))

        journal.append_s, journal.append_max, journal.batches, journal.lines = 0.0, 0.0, 0, 0
        sequencer.apply_s = 0.0
        pauses = _GcPauses()
        began = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        try:
            with pauses:
                await asyncio.gather(*(worker() for _ in range(concurrency)))
        finally:
            if profiler is not None:
                profiler.disable()
        wall = time.perf_counter() - began
    finally:
        await sequencer.stop()
        journal.close()
    per_command = 1e6 / commands
    busy = wall - journal.append_s
    return SequencerCeiling(
        commands=commands,
        concurrency=concurrency,
        seconds=wall,
        per_s=commands / wall,
        mean_batch=journal.lines / max(journal.batches, 1),
        journal_ms_per_batch=1000 * journal.append_s / max(journal.batches, 1),
        journal_us=journal.append_s * per_command,
        apply_us=sequencer.apply_s * per_command,
        market_data_us=listener_s[0] * per_command,
        other_us=max(0.0, busy - sequencer.apply_s - listener_s[0]) * per_command,
        journal_share=journal.append_s / wall,
        journal_max_ms=1000 * journal.append_max,
        gc_ms=1000 * pauses.total,
        gc_max_ms=1000 * pauses.longest,
    )


class _GcPauses:
    """The garbage collector's pauses while in the ``with`` block (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.total = self.longest = 0.0
        self._began = 0.0

    def _callback(self, phase: str, _: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            took = time.perf_counter() - self._began
            self.total += took
            self.longest = max(self.longest, took)

    def __enter__(self) -> _GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)


def _command(request: Request, symbol: str) -> dict[str, Any]:
    """The command the API would sequence for ``request`` (as ``new_order_command`` does)."""
    command: dict[str, Any] = {
        "account": ACCOUNTS[request.account],
        "client_order_id": request.client_order_id,
        "symbol": symbol,
    }
    if request.kind == "cancel":
        return command | {"type": "cancel_order"}
    fields = request.order_fields(symbol)
    return command | {"type": "new_order", "side": request.side, "quantity": 1,
                      "price": request.price, "order_type": "limit",
                      "time_in_force": fields["time_in_force"],
                      "post_only": False, "reduce_only": False}  # fmt: skip


# --- profiles ------------------------------------------------------------------------------

_IDLE = ("<method 'poll' of 'select.epoll' objects>", "<built-in method select.select>")
_AREAS = (  # (substring of "file:function", area); the first that matches wins
    ("tokenfutures/service/market_data", "market data (book deltas, private streams)"),
    ("tokenfutures/service/sequencer", "sequencer (stamp, decode, batch, hand-off)"),
    ("tokenfutures/service/views", "read models (views)"),
    ("tokenfutures/service/formats", "JSON shapes of orders and fills"),
    ("tokenfutures/service/keys", "key store"),
    ("tokenfutures/service/", "service routes, auth, limits"),
    ("tokenfutures/domain/clearing", "clearing house (pre-trade risk, clearing)"),
    ("tokenfutures/domain/", "matching core"),
    ("tokenfutures/engine/", "codec (commands, events, timestamps)"),
    ("tokenfutures/bench/", "the benchmark's own coroutines"),
    ("<method 'handle' of 'Exchange'", "matching core"),
    ("/websockets/", "websockets protocol"),
    ("/uvicorn/", "uvicorn"),
    ("/h11/", "h11 (HTTP/1.1)"),
    ("/starlette/", "starlette / fastapi"),
    ("/fastapi/", "starlette / fastapi"),
    ("/pydantic", "pydantic"),
    ("/json/", "json"),
    ("_json.", "json"),
    ("zlib", "permessage-deflate (zlib)"),
    ("sqlite3", "sqlite3"),
    ("_hashlib", "HMAC"),
    ("/hmac.py", "HMAC"),
    ("'_socket.socket'", "socket system calls"),
    ("SimpleQueue", "sequencer (stamp, decode, batch, hand-off)"),
    ("/concurrent/", "sequencer (stamp, decode, batch, hand-off)"),
    ("/asyncio/", "asyncio"),
    ("_asyncio.", "asyncio"),
)
_OTHER = "other"

Entry = tuple[int, int, float, float, dict[tuple[str, int, str], tuple[Any, ...]]]


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    busy_s: float  # profiled time minus the time waiting in epoll/select
    idle_s: float
    areas: list[tuple[str, float]]  # (area, share of busy), largest first
    top: list[tuple[str, float, int]]  # (function, own seconds, calls), largest first

    def as_dict(self) -> dict[str, Any]:
        return {
            "busy_s": round(self.busy_s, 3),
            "idle_s": round(self.idle_s, 3),
            "areas": {name: round(share, 4) for name, share in self.areas},
            "top": [{"function": f, "own_s": round(s, 4), "calls": c} for f, s, c in self.top],
        }


def summarise_profile(stats: pstats.Stats, top: int = 15) -> ProfileSummary:
    """Own time by area of the code, and the functions with the most own time. The own time
    of a builtin of no area of its own (``dict.get``, ``strftime``, ...) goes to the areas of
    its callers, in proportion to the time each caller spent in it."""
    entries: dict[tuple[str, int, str], Entry] = stats.stats  # type: ignore[attr-defined]
    idle = 0.0
    areas: dict[str, float] = {}
    rows = []
    for (file, line, name), (_, calls, own, _cumulative, callers) in entries.items():
        if name in _IDLE:
            idle += own
            continue
        rows.append((name if file == "~" else f"{_short(file)}:{line}({name})", own, calls))
        area = _area(file, name)
        if area != _OTHER or file != "~" or not callers:
            areas[area] = areas.get(area, 0.0) + own
            continue
        through = sum(float(c[2]) for c in callers.values()) or 1.0
        for (caller_file, _, caller_name), figures in callers.items():
            caller_area = _area(caller_file, caller_name)
            areas[caller_area] = areas.get(caller_area, 0.0) + own * float(figures[2]) / through
    busy = sum(areas.values())
    rows.sort(key=lambda row: -row[1])
    ordered = sorted(areas.items(), key=lambda item: -item[1])
    shares = [(area, seconds / busy) for area, seconds in ordered] if busy else []
    return ProfileSummary(busy, idle, shares, rows[:top])


def _area(file: str, name: str) -> str:
    where = f"{file}:{name}"
    return next((area for marker, area in _AREAS if marker in where), _OTHER)


def _short(file: str) -> str:
    parts = Path(file).parts
    for anchor in ("site-packages", "src", "python3.11"):
        if anchor in parts:
            return "/".join(parts[parts.index(anchor) + 1 :])
    return "/".join(parts[-2:])
