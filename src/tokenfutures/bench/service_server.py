"""The service benchmark's server: a real `serve` subprocess, and the CPU it uses."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tokenfutures.bench.service_spec import STARTUP_S, STOP_S

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
                 "--port", str(self.port), "--sandbox",
                 "--ip-rate", "100000", "--signup-rate", "1000"]  # fmt: skip
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


class CpuWatch:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.before = server.cpu()
        self.client = time.process_time()

    def share(self) -> CpuShare:
        return CpuShare.between(self.before, self.server.cpu(), time.process_time() - self.client)
