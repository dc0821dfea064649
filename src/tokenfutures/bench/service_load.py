"""The service benchmark's order flow and order entry at a fixed offered rate (REST, WebSocket)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tokenfutures.bench.service_market import Account, Contract, keys_each
from tokenfutures.bench.service_server import CpuShare, CpuWatch, ServerError, ServerProcess
from tokenfutures.bench.service_spec import (
    BACKLOG_S,
    CLIENT_BUSY,
    CYCLE,
    MIN_BACKLOG,
    MIN_RESTING,
    PASSIVE_LEVELS,
    SUSTAINED_ERRORS,
    SUSTAINED_LAG_MS,
    SUSTAINED_P99_MS,
    SUSTAINED_SHARE,
    UNSERVED,
    ServiceSpec,
)
from tokenfutures.service.auth import sign, signed_headers

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
            watch = CpuWatch(self.server)
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


def ws_url(server: ServerProcess) -> str:
    return server.base_url.replace("http://", "ws://", 1) + "/v1/ws"


async def ws_login(server: ServerProcess, key: tuple[str, str]) -> ClientConnection:
    """A WebSocket authenticated with ``key`` (signed like client.py does)."""
    ws = await connect(ws_url(server), proxy=None, max_size=2**22)
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
