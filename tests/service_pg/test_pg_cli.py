"""``tokenfutures serve|replay|keys --db postgresql://...``: the CLI on a PostgreSQL database,
as real processes against the private test server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from service.harness import CLI, START_TIMEOUT_S, STARTED, STOP_TIMEOUT_S, free_port, run_cli


def _json(done: subprocess.CompletedProcess[str]) -> object:
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_keys_are_created_listed_and_revoked_in_postgres(pg_url: str, tmp_path: Path) -> None:
    made = _json(
        run_cli("keys", "create", "--db", pg_url, "--account", "A", "--json", cwd=tmp_path)
    )
    assert isinstance(made, dict)
    listed = _json(run_cli("keys", "list", "--db", pg_url, "--json", cwd=tmp_path))
    assert isinstance(listed, list)
    assert [(k["key"], k["account"], k["scopes"]) for k in listed] == [(made["key"], "A", ["read"])]
    done = run_cli("keys", "revoke", made["key"], "--db", pg_url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert _json(run_cli("keys", "list", "--db", pg_url, "--json", cwd=tmp_path)) == []
    assert not list(tmp_path.iterdir())  # no SQLite file was made on the side


def test_an_unreachable_database_is_a_usage_error_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://tf:hunter2@127.0.0.1:{free_port()}/tf?connect_timeout=2"
    for args in (["keys", "list"], ["replay"]):
        done = run_cli(*args, "--db", url, cwd=tmp_path)
        assert done.returncode == 2, done.stdout + done.stderr
        assert "--db" in done.stderr
        assert "hunter2" not in done.stdout + done.stderr


def _serve(pg_url: str, root: Path, name: str) -> tuple[subprocess.Popen[bytes], Path, str]:
    port = free_port()
    log = root / f"{name}.log"
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    args = ["serve", "--sandbox", "--db", pg_url, "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*CLI, *args], cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    return proc, log, f"http://127.0.0.1:{port}"


def _wait_ready(proc: subprocess.Popen[bytes], log: Path, url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(url + "/v1/instruments", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no answer within {START_TIMEOUT_S} s:\n{log.read_text()}")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(STOP_TIMEOUT_S)


@pytest.mark.slow  # two server starts: about 10 s
def test_serve_recovers_from_postgres_after_a_kill(pg_url: str, tmp_path: Path) -> None:
    proc, log, url = _serve(pg_url, tmp_path, "first")
    try:
        _wait_ready(proc, log, url)
        for _ in range(3):
            made = httpx.post(url + "/v1/sandbox/accounts", json={}, timeout=10)
            assert made.status_code == 201, made.text
        second = run_cli("serve", "--db", pg_url, "--port", str(free_port()), cwd=tmp_path)
        assert second.returncode == 2  # one writer
        assert "another process" in second.stderr
        live = _json(run_cli("replay", "--db", pg_url, "--json", cwd=tmp_path))  # a reader
    finally:
        _kill(proc)
    assert isinstance(live, dict)
    assert live["commands"] > 0
    assert live["db"] == pg_url

    proc, log, url = _serve(pg_url, tmp_path, "second")
    try:
        _wait_ready(proc, log, url)
        found = STARTED.search(log.read_text())
        assert found is not None, log.read_text()
        assert int(found.group(2)) == live["commands"]
        assert found.group(3) == live["state_hash"]
        assert found.group(1) == pg_url
    finally:
        _kill(proc)
