"""`tokenfutures keys`: create, list and revoke API keys on a real SQLite file."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tokenfutures.cli.keys import keys_app
from tokenfutures.service.auth import authenticate, signed_headers
from tokenfutures.service.keys import KeyStore

NOW = 1_795_000_000_000


def _run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(keys_app, list(args), env=env)


def _text(result: Result) -> str:
    """The output with rich's error box and line wrapping taken out."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())


def _create(db: Path | str, *args: str) -> dict[str, object]:
    result = _run("create", "--db", str(db), "--json", *args)
    assert result.exit_code == 0, result.output
    created: dict[str, object] = json.loads(result.stdout)
    return created


def test_create_json_round_trips_through_the_store(tmp_path: Path) -> None:
    db = tmp_path / "exchange.db"
    created = _create(db, "--account", "A", "--scopes", "trade, read")
    assert set(created) == {"key", "secret", "account", "scopes"}
    assert created["account"] == "A"
    assert created["scopes"] == ["read", "trade"]
    key, secret = str(created["key"]), str(created["secret"])
    store = KeyStore(db)
    try:
        stored = store.get(key)
        assert stored is not None
        assert stored.secret == secret
        headers = signed_headers((key, secret), NOW, "GET", "/v1/account", b"")
        assert authenticate(store, headers, "GET", "/v1/account", b"", NOW, "trade") == stored
    finally:
        store.close()


def test_new_keys_are_read_only_by_default(tmp_path: Path) -> None:
    assert _create(tmp_path / "x.db", "--account", "A")["scopes"] == ["read"]


def test_create_human_output_shows_the_secret_once_with_a_warning(tmp_path: Path) -> None:
    result = _run("create", "--db", str(tmp_path / "x.db"), "--account", "A")
    assert result.exit_code == 0, result.output
    assert re.search(r"^key +tfk_\S{24}$", result.stdout, re.MULTILINE)
    assert re.search(r"^secret +\S{43,}$", result.stdout, re.MULTILINE)
    assert "shown this once" in result.stdout


def test_list_never_prints_secrets(tmp_path: Path) -> None:
    db = tmp_path / "exchange.db"
    a = _create(db, "--account", "A", "--scopes", "read,trade")
    b = _create(db, "--account", "B")
    for args in ([], ["--json"], ["--account", "A"], ["--account", "A", "--json"]):
        result = _run("list", "--db", str(db), *args)
        assert result.exit_code == 0, result.output
        assert str(a["secret"]) not in result.output
        assert str(b["secret"]) not in result.output
        assert str(a["key"]) in result.output
    listed = json.loads(_run("list", "--db", str(db), "--json").stdout)
    assert [row["key"] for row in listed] == [a["key"], b["key"]]
    assert set(listed[0]) == {"key", "account", "scopes", "created_ts"}
    only_a = json.loads(_run("list", "--db", str(db), "--account", "A", "--json").stdout)
    assert [row["key"] for row in only_a] == [a["key"]]


def test_revoke_then_list(tmp_path: Path) -> None:
    db = tmp_path / "exchange.db"
    key = str(_create(db, "--account", "A")["key"])
    result = _run("revoke", key, "--db", str(db))
    assert result.exit_code == 0, result.output
    assert json.loads(_run("list", "--db", str(db), "--json").stdout) == []
    again = _run("revoke", key, "--db", str(db))
    assert again.exit_code == 2
    assert "KEY" in _text(again)
    assert "no active key" in _text(again)


def test_bad_scope_exits_2_naming_scopes(tmp_path: Path) -> None:
    db = tmp_path / "exchange.db"
    result = _run("create", "--db", str(db), "--account", "A", "--scopes", "read,withdraw")
    assert result.exit_code == 2
    assert "--scopes" in _text(result)
    assert "'withdraw'" in _text(result)
    assert not db.exists()  # nothing was created


def test_bad_account_exits_2_naming_account(tmp_path: Path) -> None:
    result = _run("create", "--db", str(tmp_path / "x.db"), "--account", " A")
    assert result.exit_code == 2
    assert "--account" in _text(result)
    assert "spaces" in _text(result)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_an_unreachable_postgres_url_exits_2_naming_db(scheme: str) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"{scheme}://tf:hunter2@127.0.0.1:{port}/tf?connect_timeout=2"
    result = _run("create", "--db", url, "--account", "A")
    assert result.exit_code == 2
    assert "--db" in _text(result)
    assert "hunter2" not in result.output


@pytest.mark.parametrize("url", ["mysql://localhost/tf", "sqlite://", "sqlite://relative.db"])
def test_other_db_urls_are_refused_naming_db(url: str) -> None:
    result = _run("list", "--db", url)
    assert result.exit_code == 2
    assert "--db" in _text(result)


def test_sqlite_urls_and_the_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absolute = tmp_path / "abs.db"
    _create(f"sqlite:///{absolute}", "--account", "A")  # sqlite:////tmp/... : absolute
    assert absolute.is_file()
    monkeypatch.chdir(tmp_path)
    _create("sqlite:///rel/keys.db", "--account", "A")  # relative to the directory
    assert (tmp_path / "rel" / "keys.db").is_file()
    env_db = tmp_path / "env.db"
    result = _run("create", "--account", "E", "--json", env={"TOKENFUTURES_DB": str(env_db)})
    assert result.exit_code == 0, result.output
    assert env_db.is_file()


def test_the_default_database_is_data_exchange_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TOKENFUTURES_DB", raising=False)
    result = _run("create", "--account", "A", "--json")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "exchange.db").is_file()


def test_list_on_a_missing_database_exits_2_naming_db(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    result = _run("list", "--db", str(missing))
    assert result.exit_code == 2
    assert "--db" in _text(result)
    assert "no database" in _text(result)
    assert not missing.exists()
