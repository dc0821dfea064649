"""A real ``tokenfutures serve --demo`` process for the browser tests: bound to 127.0.0.1 on a
free port, its journal and fixings journal in a temporary folder, bots trading through the
API. Everything is bounded in time; a server that does not come up fails with its log.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

CLI = [sys.executable, "-c", "from tokenfutures.cli import app; app()"]
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _env() -> dict[str, str]:
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    env.pop("TOKENFUTURES_DB", None)
    return env


@dataclass
class DemoServer:
    root: Path
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.root / "serve.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.root / "demo.db"

    def start(self) -> None:
        self.port = free_port()
        args = [
            "serve",
            "--demo",
            "--db",
            str(self.db),
            "--fixings",
            str(self.root / "fixings.jsonl"),
        ]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*CLI, *args, "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=self.root,
                env=_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # the server and its bots' process: one group to end
            )
        self._wait_for_market()

    def _wait_for_market(self) -> None:
        """Until the bots quote both sides of a TKN contract and something has traded."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"the demo server stopped:\n{self.log_text()}")
            try:
                tickers = httpx.get(self.url + "/v1/tickers", timeout=2.0).json()
            except (httpx.TransportError, ValueError):
                tickers = []
            quoted = [
                t for t in tickers if t["product"] == "TKN" and t["best_bid"] and t["best_ask"]
            ]
            if quoted and any(t["volume"] for t in tickers):
                return
            time.sleep(0.25)
        self.stop()
        raise AssertionError(f"no two-sided market within {START_TIMEOUT_S} s:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=STOP_TIMEOUT_S)

    # --- what the tests need from the exchange --------------------------------------------

    def create_key(self, account: str, scopes: str) -> dict[str, Any]:
        """``tokenfutures keys create --account A --scopes S --db ... --json``."""
        args = ["keys", "create", "--account", account, "--scopes", scopes, "--db", str(self.db)]
        done = subprocess.run(
            [*CLI, *args, "--json"], cwd=self.root, env=_env(), capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        created: dict[str, Any] = json.loads(done.stdout)
        return created

    def sandbox_account(self) -> dict[str, Any]:
        response = httpx.post(self.url + "/v1/sandbox/accounts", json={}, timeout=10)
        assert response.status_code == 201, response.text
        made: dict[str, Any] = response.json()
        return made

    def tickers(self) -> dict[str, dict[str, Any]]:
        found = httpx.get(self.url + "/v1/tickers", timeout=10).json()
        return {t["symbol"]: t for t in found}

    def instrument(self, symbol: str) -> dict[str, Any]:
        found = httpx.get(self.url + "/v1/instruments", timeout=10).json()
        return next(i for i in found if i["symbol"] == symbol)

    def busiest(self, product: str = "TKN") -> str:
        """The contract of ``product`` with the most volume today, quoted on both sides."""
        quoted = [
            t for t in self.tickers().values()
            if t["product"] == product and t["best_bid"] and t["best_ask"]
        ]  # fmt: skip
        return str(max(quoted, key=lambda t: (t["volume"], t["symbol"]))["symbol"])


def ticks_away(price: str, tick: str, ticks: int) -> str:
    """``price`` moved by ``ticks`` ticks, written as the exchange writes prices."""
    step = Decimal(tick)
    return str((Decimal(price) + ticks * step).quantize(step))
