"""The service benchmark's market-data fan-out to many WebSocket subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tokenfutures.bench.service_load import LoadRun, quantile, ws_stage, ws_url
from tokenfutures.bench.service_market import Account, Contract
from tokenfutures.bench.service_server import CpuShare, CpuWatch, ServerProcess
from tokenfutures.bench.service_spec import MAX_LAG_SAMPLES, ServiceSpec

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
        ws = await connect(ws_url(server), proxy=None, max_size=2**22)
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
        watch = CpuWatch(server)
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
