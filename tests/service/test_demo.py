"""``tokenfutures serve --demo`` as a user runs it: a real server process and its bots' process.

Within seconds the front months are two-sided and trades print; the reference prices come
from the index fixings the demo published; the printed keys work; SIGINT stops everything
(exit status 0, no traceback, the bots' process gone) and a rerun on the same database
replays the journal, finds the same accounts and keys, and trades on.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tokenfutures.client import Client
from tokenfutures.service.journal import SqliteJournal
from tokenfutures.service.sequencer import Sequencer, market_for_journal

from .harness import CLI, free_port

T = TypeVar("T")
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
KEY_LINE = re.compile(r"demo: (admin|trader) key\s+(tfk_\S+)\s+secret (\S+)")
REPLAYED = re.compile(r"journal .+: (\d+) commands replayed")


@dataclass
class Demo:
    """One ``serve --demo`` process on ``root/demo.db`` (working directory ``root``)."""

    root: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0
    out: Path = field(init=False)
    err: Path = field(init=False)
    clients: list[Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.proc is None
        self.runs += 1
        self.port = free_port()
        self.out, self.err = self.root / f"out-{self.runs}.log", self.root / f"err-{self.runs}.log"
        env = os.environ | {"PYTHONUNBUFFERED": "1"}
        env.pop("TOKENFUTURES_DB", None)
        args = ["serve", "--demo", "--db", str(self.root / "demo.db"), "--port", str(self.port)]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [*CLI, *args], cwd=self.root, env=env, stdout=out, stderr=err
            )

    def client(self, key: tuple[str, str] | None = None) -> Client:
        client = Client(self.url) if key is None else Client(self.url, *key)
        self.clients.append(client)
        return client

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def until(self, what: str, check: Callable[[], T | None]) -> T:
        """``check()`` once it gives something (bounded); the test fails with the logs if not."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                break
            try:
                found = check()
            except httpx.TransportError:
                found = None
            if found is not None:
                return found
            time.sleep(0.2)
        raise AssertionError(f"{what}: not within {READY_TIMEOUT_S} s\n{self.output()}")

    def keys(self) -> dict[str, tuple[str, str]] | None:
        """The admin and trader keys the demo printed (None until both are there)."""
        found = {m.group(1): (m.group(2), m.group(3)) for m in KEY_LINE.finditer(self.output())}
        return found if len(found) == 2 else None

    def bots_pid(self) -> int | None:
        """The bots' process: the server's child running ``-m tokenfutures.demo``."""
        assert self.proc is not None
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == self.proc.pid and b"tokenfutures.demo" in command:
                return int(entry.name)
        return None

    def interrupt(self) -> tuple[int, float]:
        """SIGINT, as Ctrl-C sends it; the exit status and the seconds it took."""
        proc, self.proc = self.proc, None
        assert proc is not None
        began = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            status = proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
            raise AssertionError(f"SIGINT ignored:\n{self.output()}") from None
        return status, time.monotonic() - began

    def kill(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.proc = None


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(tmp_path)
    try:
        yield running
    finally:
        pid = running.bots_pid() if running.proc is not None else None
        running.kill()
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _resting(db: Path) -> dict[str, int]:
    """Live orders per account once the journal is replayed (read-only, no server)."""
    journal = SqliteJournal(db, writer=False)
    try:
        sequencer = Sequencer(journal, market_for_journal(journal, datetime.now(UTC).date()))
        sequencer.recover()
        live = sequencer.house.exchange.registry.live
        return {account: len(orders) for account, orders in live.items() if orders}
    finally:
        journal.close()


def _front(instruments: list[dict[str, Any]], product: str) -> str:
    live = [i for i in instruments if i["product"] == product and not i["delisted"]]
    return str(min(live, key=lambda i: i["last_trading_day"])["symbol"])


def _two_sided(client: Client, symbols: list[str]) -> bool:
    books = [client.book(symbol, depth=1) for symbol in symbols]
    return all(book["bids"] and book["asks"] for book in books)


def _printed(
    client: Client, symbols: list[str], *, at_least: int = 1, after: int = 0
) -> dict[str, list[dict[str, Any]]] | None:
    """Each contract's trades with an id above ``after``, once there are ``at_least``."""
    trades = {symbol: client.trades(symbol, limit=1000) for symbol in symbols}
    fresh = {s: [t for t in found if t["trade_id"] > after] for s, found in trades.items()}
    return fresh if sum(map(len, fresh.values())) >= at_least else None


def _index_values(root: Path) -> dict[str, Decimal]:
    """The latest published value of each index in the demo's fixings journal."""
    values: dict[str, Decimal] = {}
    for line in (root / "data" / "demo-fixings.jsonl").read_text().splitlines():
        row = json.loads(line)
        values[row["index"]] = Decimal(row["value"])
    return values


def _check_reference_prices(demo: Demo, instruments: list[dict[str, Any]]) -> None:
    index = _index_values(demo.root)
    underlying = {"TKN": index["TKN"], "GPU": index["GPU-H100"]}
    for instrument in instruments:
        value = underlying[instrument["product"]]
        price = Decimal(instrument["settlement_price"])
        band = value * Decimal(instrument["price_limit_pct"]) / 100
        half_tick = Decimal(instrument["tick_size"]) / 2
        assert value - band <= price <= value + half_tick, instrument  # falls from the index
    for product, value in underlying.items():
        front = next(i for i in instruments if i["symbol"] == _front(instruments, product))
        tick = Decimal(front["tick_size"])
        assert abs(Decimal(front["settlement_price"]) - value) <= tick / 2, front


def test_the_demo_market_trades_stops_cleanly_and_resumes(demo: Demo) -> None:
    demo.start()
    keys = demo.until("the keys printed", demo.keys)
    public = demo.client()
    instruments = public.instruments()
    fronts = [_front(instruments, "TKN"), _front(instruments, "GPU")]
    symbols = [i["symbol"] for i in instruments]
    _check_reference_prices(demo, instruments)
    demo.until("two-sided front months", lambda: _two_sided(public, fronts) or None)
    first = demo.until("trades printed", lambda: _printed(public, symbols, at_least=3))
    for symbol, trades in first.items():
        view = next(i for i in instruments if i["symbol"] == symbol)
        for trade in trades:
            assert (
                Decimal(view["lower_limit"])
                <= Decimal(trade["price"])
                <= Decimal(view["upper_limit"])
            )
    assert all(i["phase"] == "continuous" for i in public.instruments())  # no breaker tripped

    admin = demo.client(keys["admin"])
    accounts = {row["account"]: row for row in admin.request("GET", "/v1/admin/accounts")}
    assert {"mm-1", "mm-2", "mm-3", "hedger", "gpu-operator", "speculator"} <= set(accounts)
    trader = demo.client(keys["trader"])
    assert trader.balances()["cash"] == "1000000.00"
    bots = demo.bots_pid()
    assert bots is not None

    status, seconds = demo.interrupt()
    assert status == 0, demo.output()
    assert seconds < STOP_TIMEOUT_S
    assert "Traceback" not in demo.err.read_text(), demo.output()
    assert not _alive(bots)
    assert _resting(demo.root / "demo.db") == {}  # the bots cancelled their orders on the way out
    last_trade = max((t["trade_id"] for ts in first.values() for t in ts), default=0)

    demo.start()  # resumes from the journal
    assert demo.until("the keys printed again", demo.keys) == keys
    replayed = REPLAYED.search(demo.output())
    assert replayed is not None
    assert int(replayed.group(1)) > 0
    public = demo.client()
    assert [i["settlement_price"] for i in public.instruments()] == [
        i["settlement_price"] for i in instruments
    ]  # reference prices are not reset
    trader = demo.client(keys["trader"])
    assert trader.balances()["cash"] == "1000000.00"  # funded once, not again
    demo.until("trades after the restart", lambda: _printed(public, symbols, after=last_trade))
    bots = demo.bots_pid()
    status, _ = demo.interrupt()
    assert status == 0, demo.output()
    assert "Traceback" not in demo.err.read_text(), demo.output()
    assert bots is not None
    assert not _alive(bots)
