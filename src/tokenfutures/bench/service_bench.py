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
import gc
import json
import math
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tokenfutures.service.auth import sign, signed_headers
from tokenfutures.service.journal import SqliteJournal
from tokenfutures.service.keys import KeyStore
from tokenfutures.service.market_data import MarketData
from tokenfutures.service.sequencer import Sequencer, market_for_journal

Progress = Callable[[str], None]

CYCLE = ("passive", "passive", "cancel", "cancel", "maker", "taker",
         "passive", "passive", "cancel", "cancel")  # fmt: skip
MIN_RESTING = 10  # resting orders an account keeps before its cancels start
PASSIVE_LEVELS = 20  # passive prices 2 .. 21 ticks from the settlement price
KEY_RATE = 40  # order-entry requests per second per key (the API allows 50/s, burst 100)
SUSTAINED_SHARE = 0.95  # achieved / offered
SUSTAINED_P99_MS = 100.0  # a backlog building up shows here first
SUSTAINED_LAG_MS = 50.0  # the sender's own lag behind its schedule (p99)
SUSTAINED_ERRORS = 0.01  # share of the requests
CLIENT_BUSY = 0.9  # cores: a load generator this busy is a limit itself
STARTUP_S = 30.0
STOP_S = 5.0
BACKLOG_S = 0.5  # the sender sheds while more than this many seconds of requests are unanswered
MIN_BACKLOG = 200
UNSERVED = frozenset({"shed_by_sender", "not_sent", "unanswered"})
SETTLE_S = 60.0
MAX_LAG_SAMPLES = 200_000
SHANGHAI = ZoneInfo("Asia/Shanghai")
BENCH_MEMBER = "BENCH"
BENCH_DEPOSIT = "10000000.00"
ACCOUNTS = ("bench-a", "bench-b")


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    seconds: float = 3.0
    repeat: int = 3
    rest_rates: tuple[int, ...] = (250, 1_000)
    ws_rates: tuple[int, ...] = (1_000, 2_000, 5_000)
    ws_connections: int = 16  # at least this many order-entry connections, half per account
    rest_connections: int = 32  # keep-alive connections, half per account
    subscribers: int = 100
    fanout_rates: tuple[int, ...] = (100,)  # orders/s of the fan-out driver
    drain_s: float = 3.0  # waiting for the last answers after the last request
    profile: bool = False
    ceiling_commands: int = 20_000


# --- the server ----------------------------------------------------------------------------

_LAUNCH = (
    "import sys\nfrom tokenfutures.cli import app\napp(sys.argv[1:], prog_name='tokenfutures')\n"
)
_LAUNCH_PROFILED = (  # SIGUSR1 starts a profile, SIGUSR2 writes it to OUT.0, OUT.1, ...
    "import cProfile, os, signal, sys\n"
    "from tokenfutures.cli import app\n"
    "out = sys.argv.pop(1)\n"
    "state = {'profiler': None, 'count': 0}\n"
    "def start(*_):\n"
    "    state['profiler'] = cProfile.Profile()\n"
    "    state['profiler'].enable()\n"
    "def stop(*_):\n"
    "    profiler, state['profiler'] = state['profiler'], None\n"
    "    if profiler is not None:\n"
    "        profiler.disable()\n"
    "        target = f\"{out}.{state['count']}\"\n"
    "        profiler.dump_stats(target + '.part')\n"
    "        os.replace(target + '.part', target)\n"
    "        state['count'] += 1\n"
    "signal.signal(signal.SIGUSR1, start)\n"
    "signal.signal(signal.SIGUSR2, stop)\n"
    "try:\n"
    "    app(sys.argv[1:], prog_name='tokenfutures', standalone_mode=False)\n"
    "except KeyboardInterrupt:\n"
    "    pass\n"
)


class ServerError(RuntimeError):
    """The server did not start, or refused the set-up."""


class ServerProcess:
    """``tokenfutures serve --sandbox`` on 127.0.0.1 and a free port, on a fresh journal in
    ``directory``; stopped on exit whatever happened (SIGINT, then SIGKILL)."""

    def __init__(self, directory: Path, profile_to: Path | None = None) -> None:
        self.directory = directory
        self.db = directory / "exchange.db"
        self.profile_to = profile_to
        self.profiles: list[Path] = []
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log = directory / "server.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerProcess:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        serve = ["serve", "--db", str(self.db), "--host", "127.0.0.1",
                 "--port", str(self.port), "--sandbox"]  # fmt: skip
        if self.profile_to is None:
            command = [sys.executable, "-c", _LAUNCH, *serve]
        else:
            command = [sys.executable, "-c", _LAUNCH_PROFILED, str(self.profile_to), *serve]
        with self._log.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_S
        with httpx.Client(base_url=self.base_url, timeout=2.0, trust_env=False) as http:
            while time.monotonic() < deadline:
                if self.process is None or self.process.poll() is not None:
                    raise ServerError(f"the server exited at start-up:\n{self.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get("/v1/instruments").status_code == 200:
                        return
                time.sleep(0.1)
        raise ServerError(f"the server did not answer within {STARTUP_S:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGINT (uvicorn shuts down, the journal closes), then SIGKILL if it takes long."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_S)

    def profile(self, on: bool) -> None:
        """Start a profile, or stop it and wait until it is written (``profile_to``.N, N
        counting from 0); nothing for a server started without ``profile_to``."""
        if self.profile_to is None or self.process is None:
            return
        if on:
            self.process.send_signal(signal.SIGUSR1)
            return
        target = Path(f"{self.profile_to}.{len(self.profiles)}")
        self.process.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + STARTUP_S
        while not target.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if target.exists():
            self.profiles.append(target)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def cpu(self) -> CpuSample:
        """CPU seconds so far of the server's main thread, of all its threads, and of the
        whole machine."""
        pid = -1 if self.process is None else self.process.pid
        busy, total = _machine_jiffies()
        return CpuSample(
            time.perf_counter(), _cpu_seconds(pid, pid), _cpu_seconds(pid, None), busy, total
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _cpu_seconds(pid: int, thread: int | None) -> float:
    """utime + stime of a process (or one of its threads) from /proc; 0.0 elsewhere."""
    path = f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat"
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_jiffies() -> tuple[int, int]:
    """(busy, all) CPU time of the whole machine so far, from /proc/stat; (0, 0) elsewhere."""
    try:
        first = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    except OSError:
        return 0, 0
    values = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(values) - values[3] - values[4], sum(values)


@dataclass(frozen=True, slots=True)
class CpuSample:
    at: float
    main: float
    total: float
    machine_busy: int
    machine_all: int


@dataclass(frozen=True, slots=True)
class CpuShare:
    """CPU used over an interval, in cores (1.0 = one core busy all the time), except
    ``machine``: the busy share of all the machine's cores (1.0 = all busy)."""

    server_loop: float  # the server's main thread: event loop, HTTP, WebSocket, sequencer
    server_other: float  # the server's other threads: the journal writer
    client: float  # this process: the load generator
    machine: float

    @staticmethod
    def between(before: CpuSample, after: CpuSample, client_s: float) -> CpuShare:
        span = max(after.at - before.at, 1e-9)
        machine_all = after.machine_all - before.machine_all
        return CpuShare(
            (after.main - before.main) / span,
            ((after.total - after.main) - (before.total - before.main)) / span,
            client_s / span,
            (after.machine_busy - before.machine_busy) / machine_all if machine_all else 0.0,
        )

    def as_dict(self) -> dict[str, float]:
        names = ("server_loop", "server_other", "client", "machine")
        return {name: round(getattr(self, name), 3) for name in names}


class _CpuWatch:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.before = server.cpu()
        self.client = time.process_time()

    def share(self) -> CpuShare:
        return CpuShare.between(self.before, self.server.cpu(), time.process_time() - self.client)


# --- the market and the accounts -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contract:
    symbol: str
    mid: Decimal
    tick: Decimal

    def price(self, ticks: int) -> str:
        return str(self.mid + ticks * self.tick)


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    keys: tuple[tuple[str, str], ...]  # (key, secret) pairs with the trade scope


async def front_month(http: httpx.AsyncClient) -> Contract:
    """The TKN contract trading now with the nearest last trading day."""
    listed = (await http.get("/v1/instruments")).json()
    live = [
        c for c in listed
        if c["product"] == "TKN" and not c["delisted"] and c["phase"] == "continuous"
    ]  # fmt: skip
    if not live:
        raise ServerError("no TKN contract is trading")
    front = min(live, key=lambda c: c["last_trading_day"])
    return Contract(
        front["symbol"], Decimal(front["settlement_price"]), Decimal(front["tick_size"])
    )


async def open_accounts(http: httpx.AsyncClient, db: Path, keys_each: int) -> list[Account]:
    """The two market-maker accounts, opened and funded through the admin API, with
    ``keys_each`` trade keys each (and an operator key for the admin calls)."""
    store = KeyStore(db)
    try:
        operator = store.create("bench-operator", ("admin",))
        keys = {name: [store.create(name, ("read", "trade")) for _ in range(keys_each)]
                for name in ACCOUNTS}  # fmt: skip
    finally:
        store.close()
    commands: list[dict[str, Any]] = [{"type": "add_member", "member": BENCH_MEMBER}]
    for name in ACCOUNTS:
        commands += [
            {"type": "open_account", "account": name, "member": BENCH_MEMBER,
             "opening_cap_exempt": True},
            {"type": "deposit", "account": name, "amount": BENCH_DEPOSIT},
        ]  # fmt: skip
    for command in commands:
        answer = await _signed(http, (operator.key, operator.secret), "/v1/admin/commands", command)
        events = answer.json().get("events", []) if answer.status_code == 200 else []
        if answer.status_code != 200 or any(e.get("type") == "rejected" for e in events):
            raise ServerError(f"{command['type']}: {answer.status_code} {answer.text[:300]}")
    return [Account(name, tuple((k.key, k.secret) for k in keys[name])) for name in ACCOUNTS]


async def _signed(
    http: httpx.AsyncClient, key: tuple[str, str], path: str, body: dict[str, Any]
) -> httpx.Response:
    content = json.dumps(body, separators=(",", ":")).encode()
    headers = signed_headers(key, int(time.time() * 1000), "POST", path, content)
    headers["content-type"] = "application/json"
    return await http.post(path, content=content, headers=headers)


async def settle(http: httpx.AsyncClient, contract: Contract, accounts: Sequence[Account]) -> None:
    """Wait until the server has worked off any backlog, cancel every resting order of the
    accounts, and wait again: the next stage starts on an idle server and an empty book."""
    await _until_quiet(http, contract.symbol)
    for account in accounts:
        with contextlib.suppress(httpx.HTTPError):
            await _signed(http, account.keys[0], "/v1/orders/cancel-all", {})
    await _until_quiet(http, contract.symbol)


async def _until_quiet(http: httpx.AsyncClient, symbol: str) -> None:
    """Until the journal's last sequence number stays put for 0.3 s (at most SETTLE_S)."""
    last = None
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
            seq = (await http.get(f"/v1/book/{symbol}", params={"depth": 1})).json()["seq"]
            if seq == last:
                return
            last = seq
        await asyncio.sleep(0.3)


def keys_each(rate: int) -> int:
    """Keys per account so that no key goes above ``KEY_RATE`` requests/s."""
    return max(1, math.ceil(rate / KEY_RATE / 2))


# --- the order flow ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    account: int  # 0 or 1
    kind: str  # passive, cancel, maker, taker
    client_order_id: str
    lane: int  # which of the account's connections carries it
    side: str = ""
    price: str = ""

    def order_fields(self, symbol: str) -> dict[str, Any]:
        return {"symbol": symbol, "side": self.side, "quantity": 1, "price": self.price,
                "time_in_force": "IOC" if self.kind == "taker" else "GTC",
                "client_order_id": self.client_order_id}  # fmt: skip


class OrderFlow:
    """The requests of one stage, slot by slot (see the module's docstring). Each account's
    new orders go round its ``lanes`` connections; a cancel goes on the lane of its order.

    Crossing pairs: the first account makes (a GTC limit one tick inside the passive
    orders, on the side that alternates pair by pair), the second takes (an IOC at the same
    price). Neither can meet an order of its own account: the maker's price is inside
    everyone's passive orders, and the taker's IOC reaches no further than the maker's
    price. So when a taker comes before its maker (they travel on different connections),
    the maker rests and the next taker of that side fills it: what rests at those two
    prices stays as small as the connections' skew."""

    def __init__(self, contract: Contract, prefix: str, lanes: int) -> None:
        self.contract = contract
        self.prefix = prefix
        self.lanes = max(1, lanes)
        self.resting: tuple[deque[tuple[str, int]], deque[tuple[str, int]]] = (deque(), deque())
        self.passive = [0, 0]
        self.turn = [0, 0]
        self.kinds: Counter[str] = Counter()

    def next(self, slot: int) -> Request:
        kind = CYCLE[slot % len(CYCLE)]
        account = slot % 2
        if kind == "cancel" and len(self.resting[account]) > MIN_RESTING:
            client_order_id, lane = self.resting[account].popleft()
            self.kinds[kind] += 1
            return Request(account, kind, client_order_id, lane)
        if kind in ("maker", "taker"):
            account = 0 if kind == "maker" else 1
            maker_sells = (slot // len(CYCLE)) % 2 == 0  # alternate, so positions stay flat
            sell = maker_sells == (kind == "maker")
            side = "sell" if sell else "buy"
            price = self.contract.price(1 if maker_sells else -1)
        else:
            kind = "passive"
            n = self.passive[account]
            self.passive[account] = n + 1
            side = "buy" if n % 2 == 0 else "sell"
            ticks = 2 + (n // 2) % PASSIVE_LEVELS
            price = self.contract.price(-ticks if side == "buy" else ticks)
        lane = self.turn[account] % self.lanes
        self.turn[account] += 1
        request = Request(account, kind, f"{self.prefix}-{slot}", lane, side, price)
        if kind == "passive":
            self.resting[account].append((request.client_order_id, lane))
        self.kinds[kind] += 1
        return request


# --- order entry at a fixed offered rate ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadRun:
    transport: str  # rest or ws
    offered_per_s: int
    seconds: float
    scheduled: int
    sent: int
    acked: int
    errors: dict[str, int]
    error_examples: dict[str, str]
    achieved_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    send_lag_p99_ms: float
    connections: int
    keys: int
    kinds: dict[str, int]
    cpu: CpuShare

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def unserved(self) -> int:
        """Requests the sender shed or never sent, and those left unanswered."""
        return sum(n for reason, n in self.errors.items() if reason in UNSERVED)

    @property
    def refused(self) -> int:
        """Requests answered with an error (or failed on the connection)."""
        return self.error_count - self.unserved

    @property
    def sustained(self) -> bool:
        return (
            self.achieved_per_s >= SUSTAINED_SHARE * self.offered_per_s
            and self.error_count <= SUSTAINED_ERRORS * self.scheduled
            and self.p99_ms <= SUSTAINED_P99_MS
            and self.send_lag_p99_ms <= SUSTAINED_LAG_MS
        )

    @property
    def limited_by(self) -> str | None:
        """None when sustained; ``client`` when the sender fell behind its schedule for most
        of the latency or the client used ``CLIENT_BUSY`` of a core or more (it then slows
        the server down too: they share the machine), ``server`` otherwise."""
        if self.sustained:
            return None
        behind = self.send_lag_p99_ms > SUSTAINED_LAG_MS and self.send_lag_p99_ms > self.p99_ms / 2
        return "client" if behind or self.cpu.client >= CLIENT_BUSY else "server"

    def as_dict(self) -> dict[str, Any]:
        return {
            "transport": self.transport,
            "offered_per_s": self.offered_per_s,
            "seconds": self.seconds,
            "scheduled": self.scheduled,
            "sent": self.sent,
            "acked": self.acked,
            "errors": self.errors,
            "error_examples": self.error_examples,
            "achieved_per_s": round(self.achieved_per_s, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "max_ms": round(self.max_ms, 2),
            "send_lag_p99_ms": round(self.send_lag_p99_ms, 2),
            "sustained": self.sustained,
            "limited_by": self.limited_by,
            "connections": self.connections,
            "keys": self.keys,
            "kinds": self.kinds,
            "cpu": self.cpu.as_dict(),
        }


async def paced(
    rate: int, total: int, give_up_s: float, emit: Callable[[int, float], Awaitable[None]]
) -> tuple[int, float, list[float]]:
    """Call ``emit(slot, due)`` for slots 0..total-1 at ``start + slot / rate`` (open loop),
    giving up ``give_up_s`` after the start: (slots emitted, start, how late each emit
    finished)."""
    start = time.perf_counter() + 0.02
    give_up = start + give_up_s
    lags: list[float] = []
    sent = 0
    while sent < total:
        now = time.perf_counter()
        if now > give_up:
            break
        due = min(total, math.floor((now - start) * rate) + 1)
        if due <= sent:
            await asyncio.sleep(start + sent / rate - now)
            continue
        for slot in range(sent, due):
            scheduled = start + slot / rate
            await emit(slot, scheduled)
            lags.append(time.perf_counter() - scheduled)
        sent = due
    return sent, start, lags


def quantile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank quantile of an ascending sequence; 0.0 when empty."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered), max(1, math.ceil(q * len(ordered)))) - 1]


class _OrderEntry:
    """One stage: the flow sent at ``rate`` for ``seconds``, the answers tallied as they
    come. Subclasses connect, send one request and close."""

    transport = ""

    def __init__(
        self, server: ServerProcess, accounts: Sequence[Account], contract: Contract,
        prefix: str, rate: int, seconds: float, lanes: int, drain_s: float,
    ) -> None:  # fmt: skip
        self.server, self.accounts, self.contract = server, accounts, contract
        self.rate, self.seconds, self.drain_s = rate, seconds, drain_s
        self.flow = OrderFlow(contract, prefix, lanes)
        self.total = max(1, round(rate * seconds))
        self.pending: dict[int, float] = {}  # slot -> when it was due
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        self.acked = self.answered = 0
        self.last_answer = 0.0
        self.expected = self.total
        self.done = asyncio.Event()
        self.backlog = max(MIN_BACKLOG, round(rate * BACKLOG_S))
        self.shed = 0
        self.maker_shed = False

    async def _due(self, slot: int, due: float) -> None:
        """Send slot ``slot``, unless too much is unanswered already: the server is far
        behind, and the sender sheds instead of building a backlog that outlasts the stage.
        The two halves of a crossing pair are sent or shed together (a lone half would rest
        at the settlement price for good)."""
        kind = CYCLE[slot % len(CYCLE)]
        if kind == "taker":
            shed = self.maker_shed
        else:
            shed = len(self.pending) >= self.backlog
            self.maker_shed = shed and kind == "maker"
        if shed:
            self.shed += 1
            return
        await self.emit(slot, due)

    def answer(self, slot: int, reason: str | None, detail: str = "") -> None:
        """Slot ``slot`` was answered: acknowledged (``reason`` None) or refused."""
        due = self.pending.pop(slot, None)
        if due is None:
            return
        now = time.perf_counter()
        self.latencies.append(now - due)
        self.last_answer = now
        self.answered += 1
        if reason is None:
            self.acked += 1
        else:
            self.errors[reason] += 1
            self.examples.setdefault(reason, detail[:200])
        if self.answered >= self.expected:
            self.done.set()

    async def open(self) -> None:
        raise NotImplementedError

    async def emit(self, slot: int, due: float) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def shape(self) -> tuple[int, int]:
        """(connections, keys) used."""
        raise NotImplementedError

    async def run(self) -> LoadRun:
        await self.open()
        try:
            watch = _CpuWatch(self.server)
            slots, start, lags = await paced(
                self.rate, self.total, self.seconds + self.drain_s, self._due
            )
            sent = self.expected = slots - self.shed
            if self.answered < sent:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.done.wait(), self.drain_s)
            cpu = watch.share()
        finally:
            await self.close()
        return self._result(sent, start, lags, cpu)

    def _result(self, sent: int, start: float, lags: list[float], cpu: CpuShare) -> LoadRun:
        errors = Counter(self.errors)
        if self.shed:
            errors["shed_by_sender"] += self.shed
        if self.total - sent - self.shed:
            errors["not_sent"] += self.total - sent - self.shed
        if self.pending:
            errors["unanswered"] += len(self.pending)
        ordered = sorted(self.latencies)
        span = max(self.last_answer - start, self.total / self.rate)
        connections, keys = self.shape()
        return LoadRun(
            transport=self.transport,
            offered_per_s=self.rate,
            seconds=self.seconds,
            scheduled=self.total,
            sent=sent,
            acked=self.acked,
            errors=dict(sorted(errors.items())),
            error_examples=dict(sorted(self.examples.items())),
            achieved_per_s=self.answered / span if self.answered and span > 0 else 0.0,
            p50_ms=quantile(ordered, 0.50) * 1000,
            p99_ms=quantile(ordered, 0.99) * 1000,
            max_ms=(ordered[-1] if ordered else 0.0) * 1000,
            send_lag_p99_ms=quantile(sorted(lags), 0.99) * 1000,
            connections=connections,
            keys=keys,
            kinds=dict(sorted(self.flow.kinds.items())),
            cpu=cpu,
        )


def _ws_url(server: ServerProcess) -> str:
    return server.base_url.replace("http://", "ws://", 1) + "/v1/ws"


async def ws_login(server: ServerProcess, key: tuple[str, str]) -> ClientConnection:
    """A WebSocket authenticated with ``key`` (signed like client.py does)."""
    ws = await connect(_ws_url(server), proxy=None, max_size=2**22)
    now_ms = int(time.time() * 1000)
    auth = {"op": "auth", "key": key[0], "timestamp": now_ms,
            "signature": sign(key[1], now_ms, "GET", "/v1/ws", b"")}  # fmt: skip
    await ws.send(json.dumps(auth))
    answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
    if answer.get("op") != "authenticated":
        await ws.close()
        raise ServerError(f"WebSocket auth refused: {answer}")
    return ws


class WsOrderEntry(_OrderEntry):
    """``place_order`` and ``cancel_order`` on ``lanes`` connections per account, each with
    its own key; answers matched to requests by ``id``."""

    transport = "ws"

    async def open(self) -> None:
        lanes = self.flow.lanes
        self.sockets = [
            [await ws_login(self.server, account.keys[lane]) for lane in range(lanes)]
            for account in self.accounts
        ]
        self.readers = [asyncio.create_task(self._receive(ws)) for own in self.sockets
                        for ws in own]  # fmt: skip

    async def _receive(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in ws:
                message = json.loads(text)
                slot = message.get("id")
                if not isinstance(slot, int):
                    continue
                if message.get("op") == "result":
                    self.answer(slot, None)
                else:
                    error = message.get("error") or {}
                    self.answer(slot, str(error.get("reason")), str(error.get("detail")))

    async def emit(self, slot: int, due: float) -> None:
        request = self.flow.next(slot)
        if request.kind == "cancel":
            message: dict[str, Any] = {"op": "cancel_order", "id": slot,
                                       "client_order_id": request.client_order_id}  # fmt: skip
        else:
            message = {"op": "place_order", "id": slot,
                       **request.order_fields(self.contract.symbol)}  # fmt: skip
        self.pending[slot] = due
        try:
            await self.sockets[request.account][request.lane].send(json.dumps(message))
        except ConnectionClosed:
            self.answer(slot, "connection_closed")

    async def close(self) -> None:
        for own in self.sockets:
            for ws in own:
                await ws.close()  # the server cancels the session's orders on disconnect
        await asyncio.wait(self.readers, timeout=10)
        for reader in self.readers:
            reader.cancel()

    def shape(self) -> tuple[int, int]:
        count = sum(map(len, self.sockets))
        return count, count


class RestOrderEntry(_OrderEntry):
    """Signed ``POST /v1/orders`` and ``DELETE /v1/orders/by-client-id/{id}`` by ``lanes``
    workers per account, each with its own keep-alive connection (its own
    ``httpx.AsyncClient``: one shared pool with thousands of waiting requests costs the
    client more than the server) and its queue of due requests. A request is signed when it
    is sent, with its account's keys in turn."""

    transport = "rest"

    async def open(self) -> None:
        lanes = self.flow.lanes
        self.keys = [account.keys[: keys_each(self.rate)] for account in self.accounts]
        self.turn = [0, 0]
        self.queues: list[asyncio.Queue[int | None]] = [asyncio.Queue() for _ in range(2 * lanes)]
        self.requests: dict[int, Request] = {}
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        self.clients = [
            httpx.AsyncClient(base_url=self.server.base_url, limits=limits, trust_env=False,
                              timeout=self.seconds + self.drain_s)
            for _ in self.queues
        ]  # fmt: skip
        self.workers = [asyncio.create_task(self._work(http, queue))
                        for http, queue in zip(self.clients, self.queues, strict=True)]  # fmt: skip

    async def _work(self, http: httpx.AsyncClient, queue: asyncio.Queue[int | None]) -> None:
        for _ in range(self.total + 1):
            slot = await queue.get()
            if slot is None:
                return
            await self._send(http, slot, self.requests.pop(slot))

    async def _send(self, http: httpx.AsyncClient, slot: int, request: Request) -> None:
        own = self.keys[request.account]
        key = own[self.turn[request.account] % len(own)]
        self.turn[request.account] += 1
        if request.kind == "cancel":
            method, path, body = "DELETE", f"/v1/orders/by-client-id/{request.client_order_id}", b""
            headers: dict[str, str] = {}
        else:
            method, path = "POST", "/v1/orders"
            fields = request.order_fields(self.contract.symbol)
            body = json.dumps(fields, separators=(",", ":")).encode()
            headers = {"content-type": "application/json"}
        headers |= signed_headers(key, int(time.time() * 1000), method, path, body)
        try:
            response = await http.request(method, path, content=body, headers=headers)
        except httpx.HTTPError as error:
            self.answer(slot, type(error).__name__, str(error))
            return
        if response.status_code < 300:
            self.answer(slot, None)
            return
        try:
            error_body = response.json()["error"]
            self.answer(slot, str(error_body["reason"]), str(error_body["detail"]))
        except (ValueError, KeyError, TypeError):
            self.answer(slot, f"http_{response.status_code}", response.text)

    async def emit(self, slot: int, due: float) -> None:
        request = self.flow.next(slot)
        self.pending[slot] = due
        self.requests[slot] = request
        self.queues[request.account * self.flow.lanes + request.lane].put_nowait(slot)

    async def close(self) -> None:
        for queue in self.queues:
            queue.put_nowait(None)
        await asyncio.wait(self.workers, timeout=self.drain_s)
        for worker in self.workers:
            worker.cancel()
        await asyncio.wait(self.workers, timeout=10)
        for http in self.clients:
            await http.aclose()

    def shape(self) -> tuple[int, int]:
        return len(self.clients), sum(map(len, self.keys))


async def ws_stage(server: ServerProcess, accounts: Sequence[Account], contract: Contract,
                   prefix: str, rate: int, spec: ServiceSpec) -> LoadRun:  # fmt: skip
    """Order entry over the WebSocket at ``rate`` requests/s for ``spec.seconds``."""
    lanes = max(1, spec.ws_connections // 2, keys_each(rate))
    stage = WsOrderEntry(server, accounts, contract, prefix, rate, spec.seconds, lanes,
                         spec.drain_s)  # fmt: skip
    return await stage.run()


async def rest_stage(server: ServerProcess, accounts: Sequence[Account], contract: Contract,
                     prefix: str, rate: int, spec: ServiceSpec) -> LoadRun:  # fmt: skip
    """Order entry over REST at ``rate`` requests/s for ``spec.seconds``."""
    lanes = max(1, spec.rest_connections // 2)
    stage = RestOrderEntry(server, accounts, contract, prefix, rate, spec.seconds, lanes,
                           spec.drain_s)  # fmt: skip
    return await stage.run()


# --- fan-out -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FanoutRun:
    subscribers: int
    driver: LoadRun
    deliveries: int  # messages received by all subscribers, snapshots excluded
    window_deliveries: int  # of which received while the driver was sending
    deliveries_per_s: float  # window_deliveries / the driver's sending time
    published: int  # book deltas and trades one subscriber was due
    complete_subscribers: int  # subscribers that received every message, in order
    lost: int  # messages due to some subscriber and not received
    lag_p50_ms: float  # receipt minus the trade's exchange timestamp, trades only
    lag_p99_ms: float
    lag_samples: int
    cpu: CpuShare

    def as_dict(self) -> dict[str, Any]:
        return {
            "subscribers": self.subscribers,
            "driver": self.driver.as_dict(),
            "deliveries": self.deliveries,
            "window_deliveries": self.window_deliveries,
            "deliveries_per_s": round(self.deliveries_per_s, 1),
            "published": self.published,
            "complete_subscribers": self.complete_subscribers,
            "lost": self.lost,
            "lag_p50_ms": round(self.lag_p50_ms, 2),
            "lag_p99_ms": round(self.lag_p99_ms, 2),
            "lag_samples": self.lag_samples,
            "cpu": self.cpu.as_dict(),
        }


class _Listener:
    """One subscriber's count, with the checks of its sequence numbers and trade ids."""

    def __init__(self, shared: _Listeners) -> None:
        self.shared = shared
        self.book_seq = self.trade_id = 0
        self.received = self.in_window = self.missed = self.deltas = self.trades = 0

    async def listen(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in ws:
                self.take(time.time(), json.loads(text))

    def take(self, now: float, message: dict[str, Any]) -> None:
        channel = message.get("channel")
        if channel == "book" and message.get("type") == "snapshot":
            self.book_seq = message["seq"]
            return
        if channel == "book":
            self.missed += max(0, message["prev_seq"] - self.book_seq)
            self.book_seq = message["seq"]
            self.deltas += 1
        elif channel == "trades":
            trade_id = message["trade_id"]
            if self.trade_id:
                self.missed += max(0, trade_id - self.trade_id - 1)
            self.trade_id = trade_id
            self.trades += 1
            if len(self.shared.lags) < MAX_LAG_SAMPLES:
                self.shared.lags.append(now - datetime.fromisoformat(message["ts"]).timestamp())
        else:
            return
        self.received += 1
        self.shared.last_receipt = now
        if self.shared.window[0] <= now <= self.shared.window[1]:
            self.in_window += 1


class _Listeners:
    def __init__(self, count: int) -> None:
        self.lags: list[float] = []
        self.window = [math.inf, math.inf]  # wall-clock start and end of the driver's sending
        self.last_receipt = time.time()
        self.each = [_Listener(self) for _ in range(count)]

    async def quiet(self, limit_s: float) -> None:
        """Until nothing arrived for 0.5 s, at most ``limit_s``."""
        for _ in range(max(1, int(limit_s / 0.1))):
            if time.time() - self.last_receipt > 0.5:
                return
            await asyncio.sleep(0.1)

    def result(self, driver: LoadRun, cpu: CpuShare) -> FanoutRun:
        published = max((s.deltas + s.trades + s.missed for s in self.each), default=0)
        ordered = sorted(self.lags)
        in_window = sum(s.in_window for s in self.each)
        return FanoutRun(
            subscribers=len(self.each),
            driver=driver,
            deliveries=sum(s.received for s in self.each),
            window_deliveries=in_window,
            deliveries_per_s=in_window / max(self.window[1] - self.window[0], 1e-9),
            published=published,
            complete_subscribers=sum(1 for s in self.each if s.deltas + s.trades == published),
            lost=sum(published - s.deltas - s.trades for s in self.each),
            lag_p50_ms=quantile(ordered, 0.50) * 1000,
            lag_p99_ms=quantile(ordered, 0.99) * 1000,
            lag_samples=len(ordered),
            cpu=cpu,
        )


async def fanout_stage(server: ServerProcess, accounts: Sequence[Account], contract: Contract,
                       prefix: str, rate: int, spec: ServiceSpec) -> FanoutRun:  # fmt: skip
    """``spec.subscribers`` subscribers to the contract's book and trades while a WebSocket
    driver enters orders at ``rate``."""
    channels = [f"book:{contract.symbol}", f"trades:{contract.symbol}"]

    async def subscribe() -> ClientConnection:
        ws = await connect(_ws_url(server), proxy=None, max_size=2**22)
        await ws.send(json.dumps({"op": "subscribe", "channels": channels}))
        return ws

    listeners = _Listeners(spec.subscribers)
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    try:
        for _ in range(spec.subscribers):
            sockets.append(await subscribe())
            readers.append(asyncio.create_task(listeners.each[len(readers)].listen(sockets[-1])))
        await asyncio.sleep(0.5)  # every snapshot in
        watch = _CpuWatch(server)
        listeners.window[0] = time.time()
        driver = await ws_stage(
            server,
            accounts,
            contract,
            prefix,
            rate,
            replace(spec, ws_connections=max(2, spec.ws_connections // 4)),
        )
        listeners.window[1] = time.time()
        await listeners.quiet(spec.drain_s)
        cpu = watch.share()
    finally:
        for ws in sockets:
            await ws.close()
        if readers:
            await asyncio.wait(readers, timeout=10)
        for reader in readers:
            reader.cancel()
    return listeners.result(driver, cpu)


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


async def repetition(
    server: ServerProcess, spec: ServiceSpec, plan: Plan, number: int, progress: Progress
) -> tuple[Contract, Repetition]:
    """Every stage of ``plan`` against ``server``, in order, settling in between. A server
    started with ``profile_to`` profiles each WebSocket and fan-out stage apart."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    rest: list[LoadRun] = []
    ws: list[LoadRun] = []
    fanout: list[FanoutRun] = []
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10, trust_env=False) as http:
        contract = await front_month(http)
        rates = (*plan.rest_rates, *plan.ws_rates, *plan.fanout_rates)
        accounts = await open_accounts(
            http, server.db, max(spec.ws_connections // 2, *map(keys_each, rates), 1)
        )
        for rate in plan.rest_rates:
            server.profile(True)
            try:
                run = await rest_stage(
                    server, accounts, contract, f"r{number}-rest{rate}", rate, spec
                )
            finally:
                server.profile(False)
            progress(f"  {run_line(run)}")
            rest.append(run)
            await settle(http, contract, accounts)
        for rate in plan.ws_rates:
            server.profile(True)
            try:
                run = await ws_stage(server, accounts, contract, f"r{number}-ws{rate}", rate, spec)
            finally:
                server.profile(False)
            progress(f"  {run_line(run)}")
            ws.append(run)
            await settle(http, contract, accounts)
        for rate in plan.fanout_rates:
            server.profile(True)
            try:
                found = await fanout_stage(
                    server, accounts, contract, f"r{number}-fan{rate}", rate, spec
                )
            finally:
                server.profile(False)
            progress(f"  {fanout_line(found)}")
            fanout.append(found)
            await settle(http, contract, accounts)
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
