"""A real exchange process for the service tests: start, stop, SIGKILL and restart
``tokenfutures serve --sandbox`` on one SQLite file, open sandbox accounts, make keys with
the ``tokenfutures keys`` CLI, replay the journal with ``tokenfutures replay``, and send raw
signed requests (to forge bad signatures and stale timestamps).

Everything is bounded in time: a server that does not answer within ``START_TIMEOUT_S``
fails the test with its log, and every subprocess has a timeout.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tokenfutures.client import ApiError, Client
from tokenfutures.service.auth import signed_headers

CLI = [sys.executable, "-c", "from tokenfutures.cli import app; app()"]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
CLI_TIMEOUT_S = 60.0
STARTED = re.compile(r"journal (.+): (\d+) commands replayed, state hash ([0-9a-f]{64})")

T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_cli(
    *args: str, cwd: Path, timeout: float = CLI_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    env.pop("TOKENFUTURES_DB", None)
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


@dataclass
class Started:
    """What a server printed when it started: the commands it replayed and its state hash."""

    commands: int
    state_hash: str


@dataclass
class Trader:
    account: str
    key: str
    secret: str
    client: Client


@dataclass
class Exchange:
    """``tokenfutures serve --sandbox`` on ``root/ex.db``; one process at a time."""

    root: Path
    db: Path = field(init=False)
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    starts: int = 0
    last_start: Started | None = None
    _clients: list[Client] = field(default_factory=list)
    _log: Path | None = None
    serve_args: tuple[str, ...] = ()  # more ``serve`` options, e.g. ("--query-rate", "1000")

    def __post_init__(self) -> None:
        self.db = self.root / "ex.db"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- the process -----------------------------------------------------------------------

    def spawn(self, port: int | None = None) -> tuple[subprocess.Popen[bytes], Path]:
        """Start a server process on this db (not waiting for it): the process and its log."""
        self.starts += 1
        log = self.root / f"serve-{self.starts}.log"
        env = os.environ | {"PYTHONUNBUFFERED": "1"}
        env.pop("TOKENFUTURES_DB", None)
        args = ["serve", "--sandbox", "--db", str(self.db), "--host", "127.0.0.1",
                "--signup-rate", "1000", "--ip-rate", "100000", *self.serve_args]  # fmt: skip
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*CLI, *args, "--port", str(port or free_port())],
                cwd=self.root,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return proc, log

    def start(self) -> Started:
        """Start the server and wait (bounded) until ``/v1/instruments`` answers."""
        assert self.proc is None, "already running"
        for _attempt in range(3):  # a free port can be taken between probe and bind
            port = free_port()
            proc, log = self.spawn(port)
            self.proc, self.port, self._log = proc, port, log
            if self._wait_ready():
                self.last_start = self._started(log)
                return self.last_start
            self.proc = None
            if "address already in use" not in log.read_text().lower():
                break
        raise AssertionError(f"the server did not start:\n{self.log_text()}")

    def _wait_ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if httpx.get(self.url + "/v1/instruments", timeout=1.0).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"no answer within {START_TIMEOUT_S} s:\n{self.log_text()}")

    @staticmethod
    def _started(log: Path) -> Started:
        found = STARTED.search(log.read_text())
        assert found is not None, f"no 'state hash' line in the log:\n{log.read_text()}"
        return Started(int(found.group(2)), found.group(3))

    def log_text(self) -> str:
        return "" if self._log is None else self._log.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM (uvicorn's graceful shutdown) and wait; the exit code."""
        return self._end(signal.SIGTERM)

    def kill(self) -> int:
        """SIGKILL: the process dies wherever it is; the exit code."""
        return self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> int:
        proc, self.proc = self.proc, None
        if proc is None:
            return 0
        if proc.poll() is None:
            proc.send_signal(sig)
        try:
            return proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
            raise AssertionError(f"the server ignored {sig.name}:\n{self.log_text()}") from None

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        self.kill()

    # --- the CLI ---------------------------------------------------------------------------

    def replay(self) -> dict[str, Any]:
        """``tokenfutures replay --db ... --json``."""
        done = run_cli("replay", "--db", str(self.db), "--json", cwd=self.root)
        assert done.returncode == 0, done.stdout + done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def create_key(self, account: str, scopes: str | None = None) -> dict[str, Any]:
        """``tokenfutures keys create --account ... [--scopes ...] --json``."""
        args = ["keys", "create", "--account", account, "--db", str(self.db), "--json"]
        done = run_cli(*args, *(["--scopes", scopes] if scopes else []), cwd=self.root)
        assert done.returncode == 0, done.stdout + done.stderr
        created: dict[str, Any] = json.loads(done.stdout)
        return created

    def revoke_key(self, key: str) -> None:
        done = run_cli("keys", "revoke", key, "--db", str(self.db), cwd=self.root)
        assert done.returncode == 0, done.stdout + done.stderr

    def journal_last_seq(self) -> int:
        """The journal's last sequence number, read from the file (read-only)."""
        import sqlite3

        db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            row = db.execute("SELECT MAX(seq) FROM commands").fetchone()
        finally:
            db.close()
        return int(row[0] or 0)

    # --- accounts and clients --------------------------------------------------------------

    def client(self, key: str | None = None, secret: str | None = None, **kw: Any) -> Client:
        client = Client(self.url, key, secret, **kw)
        self._clients.append(client)
        return client

    def account(self, name: str | None = None, *, timeout: float = 10.0) -> Trader:
        """A sandbox account (USD 1,000,000) with a read/trade key."""
        body = {} if name is None else {"account": name}
        response = httpx.post(self.url + "/v1/sandbox/accounts", json=body, timeout=timeout)
        assert response.status_code == 201, response.text
        made = response.json()
        client = self.client(made["key"], made["secret"], timeout=timeout)
        return Trader(made["account"], made["key"], made["secret"], client)

    def trader(self, account: str, key: dict[str, Any]) -> Trader:
        return Trader(account, key["key"], key["secret"], self.client(key["key"], key["secret"]))


# --- raw requests ----------------------------------------------------------------------------


def raw_request(
    base_url: str,
    method: str,
    target: str,
    body: Any = None,
    *,
    key: str | None = None,
    secret: str | None = None,
    skew_ms: int = 0,
    content: bytes | None = None,
    http: httpx.Client | None = None,
) -> httpx.Response:
    """One request as sent: signed with ``(key, secret)`` at now + ``skew_ms`` when a key is
    given; ``content`` overrides the JSON encoding of ``body``; ``http`` reuses a connection."""
    if content is None:
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    headers = {"content-type": "application/json"} if content else {}
    if key is not None and secret is not None:
        now_ms = int(time.time() * 1000) + skew_ms
        headers |= signed_headers((key, secret), now_ms, method, target, content)
    send = httpx.request if http is None else http.request
    return send(method, base_url + target, content=content, headers=headers, timeout=10)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of a refusal (asserting the documented shape)."""
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"reason", "field", "detail"}, body
    error: dict[str, Any] = body["error"]
    return error


def with_backoff(call: Callable[[], T], *, deadline_s: float = 10.0) -> T:
    """``call()``, waiting out 429s (Retry-After) up to ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return call()
        except ApiError as error:
            if error.status != 429 or time.monotonic() > deadline:
                raise
            time.sleep(min(error.retry_after or 0.1, 2.0))


# --- prices ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contract:
    symbol: str
    tick: Decimal
    reference: Decimal
    lower: Decimal
    upper: Decimal
    max_quantity: int

    @classmethod
    def of(cls, instrument: dict[str, Any]) -> Contract:
        return cls(
            instrument["symbol"],
            Decimal(instrument["tick_size"]),
            Decimal(instrument["settlement_price"]),
            Decimal(instrument["lower_limit"]),
            Decimal(instrument["upper_limit"]),
            int(instrument["max_order_quantity"]),
        )

    def price(self, ticks: int = 0) -> str:
        """The reference price ``ticks`` ticks away, as the API writes it."""
        return str((self.reference + ticks * self.tick).quantize(self.tick))

    def above_limit(self) -> str:
        return str((self.upper + self.tick).quantize(self.tick))

    def off_tick(self) -> str:
        return str(self.reference + self.tick / 10)


def contracts(url: str) -> list[Contract]:
    answer = httpx.get(url + "/v1/instruments", timeout=10).json()
    return [Contract.of(i) for i in answer if i["phase"] == "continuous" and not i["delisted"]]
