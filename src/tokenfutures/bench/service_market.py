"""The service benchmark's market: the front month, funded accounts, settling between runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tokenfutures.bench.service_server import ServerError
from tokenfutures.bench.service_spec import (
    ACCOUNTS,
    BENCH_DEPOSIT,
    BENCH_MEMBER,
    KEY_RATE,
    SETTLE_S,
)
from tokenfutures.service.auth import signed_headers
from tokenfutures.service.keys import KeyStore

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
