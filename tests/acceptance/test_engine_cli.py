"""`tokenfutures engine run FILE [--events OUT] [--json] [--date]`: replaying command files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from tokenfutures.cli import app
from tokenfutures.engine.runner import run_file_lines

SETUP = [
    {"type": "add_member", "ts": "2026-11-23T01:00:00Z", "member": "M"},
    {"type": "open_account", "ts": "2026-11-23T01:00:00Z", "account": "A", "member": "M"},
    {"type": "open_account", "ts": "2026-11-23T01:00:00Z", "account": "B", "member": "M"},
    {"type": "open_account", "ts": "2026-11-23T01:00:00Z", "account": "C", "member": "M"},
    {"type": "deposit", "ts": "2026-11-23T01:00:00Z", "account": "B", "amount": "100000.00"},
    {"type": "deposit", "ts": "2026-11-23T01:00:00Z", "account": "C", "amount": "100000.00"},
]
S = len(SETUP)  # the session's lines come after the set-up
TRADING = [
    # reference prices first, so that the test does not depend on the product file's
    {"type": "set_reference_price", "ts": "2026-11-23T01:29:00Z", "symbol": "TKN2612",
     "price": "2.500"},
    {"type": "set_reference_price", "ts": "2026-11-23T01:29:00Z", "symbol": "GPU2612",
     "price": "2.250"},
    {"type": "deposit", "ts": "2026-11-23T01:30:00Z", "account": "A", "amount": "100000.00"},
    {"type": "new_order", "ts": "2026-11-23T01:30:01Z", "account": "B", "client_order_id": "b1",
     "symbol": "TKN2612", "side": "sell", "quantity": 3, "price": "2.501"},
    {"type": "new_order", "ts": "2026-11-23T01:30:02Z", "account": "A", "client_order_id": "a1",
     "symbol": "TKN2612", "side": "buy", "quantity": 5, "price": 2.502},
    {"type": "new_order", "ts": "2026-11-23T01:30:03Z", "account": "C", "client_order_id": "c1",
     "symbol": "GPU2612", "side": "sell", "quantity": 2, "price": "2.260"},
]  # fmt: skip
SESSION = SETUP + TRADING


def _write(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["engine", "run", *map(str, args)])


def _summary(*args: str | Path) -> dict[str, Any]:
    result = _run(*args, "--json")
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def session(tmp_path: Path) -> Path:
    return _write(tmp_path / "session.jsonl", SESSION)


def test_json_summary(session: Path) -> None:
    summary = _summary(session)
    assert set(summary) == {
        "commands", "events", "trades", "rejected", "state_hash", "books", "accounts",
        "money_conserved",
    }  # fmt: skip
    assert (summary["commands"], summary["events"], summary["trades"], summary["rejected"]) == (
        S + 6, S + 8, 1, 0,
    )  # fmt: skip
    assert summary["money_conserved"] is True
    assert summary["accounts"]["A"] == {
        "cash": "99996.25",  # less the fee: 0.005 % of 3 x 2.501 x 10,000 = 3.7515
        # 3 lots held + 2 working: 5 x 250 ticks (10 % of 2.500) x USD 10, plus the 2 working
        # lots' price (2.502) one tick above the mark (2.501): 12,500 + 20
        "positions": {"TKN2612": 3},
        "initial_margin": "12520.00",
        "maintenance_margin": "10020.00",  # 80 % of 12,500, plus the 20
        "equity": "99996.25",
    }
    assert len(summary["state_hash"]) == 64
    assert summary["books"]["TKN2612"] == {"bids": [["2.502", 2]], "asks": []}
    assert summary["books"]["GPU2612"] == {"bids": [], "asks": [["2.260", 2]]}
    assert summary["books"]["TKN2701"] == {"bids": [], "asks": []}


def test_same_input_gives_the_same_output(session: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    assert _run(session, "--events", first).stdout == _run(session, "--events", second).stdout
    assert first.read_bytes() == second.read_bytes()
    assert _summary(session) == _summary(session)


def test_events_file_is_json_lines_in_order(session: Path, tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    assert _run(session, "--events", out).exit_code == 0
    events = _events(out)
    events = events[S:]
    assert [(e["type"], e["line"] - S) for e in events] == [
        ("reference_price_set", 1), ("reference_price_set", 2), ("funds_deposited", 3),
        ("order_accepted", 4), ("order_accepted", 5), ("trade", 5), ("trade_cleared", 5),
        ("order_accepted", 6),
    ]  # fmt: skip
    assert events[2] == {
        "type": "funds_deposited", "ts": "2026-11-23T01:30:00Z", "account": "A",
        "amount": "100000.00", "balance": "100000.00", "line": S + 3,
    }  # fmt: skip
    trade = events[5]
    assert (trade["price"], trade["quantity"], trade["aggressor"]) == ("2.501", 3, "buy")
    assert (trade["buy_client_order_id"], trade["sell_client_order_id"]) == ("a1", "b1")


def test_malformed_lines_are_named_by_line_and_field(tmp_path: Path) -> None:
    buy = TRADING[4]
    lines: list[dict[str, Any] | str] = [
        TRADING[0],
        TRADING[3],
        "",
        "{not json",
        {**buy, "quantity": "5"},
        {**buy, "price": "2.5025"},
        {**buy, "colour": "red"},
        {**buy, "ts": "2026-11-23T01:30:02"},
        buy,
    ]
    out = tmp_path / "events.jsonl"
    result = _run(_write(tmp_path / "bad.jsonl", lines), "--events", out, "--json", "--no-risk")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["commands"], summary["rejected"], summary["trades"]) == (8, 5, 1)
    rejected = [
        (e["line"], e["reason"], e["field"]) for e in _events(out) if e["type"] == "rejected"
    ]
    assert rejected == [
        (4, "malformed_command", None),
        (5, "invalid_field", "quantity"),
        (6, "price_not_on_tick", "price"),
        (7, "invalid_field", "colour"),
        (8, "invalid_field", "ts"),
    ]
    named = [e for e in _events(out) if e["type"] == "rejected" and e["line"] == 5][0]
    assert (named["command"], named["account"], named["client_order_id"]) == (
        "new_order",
        "A",
        "a1",
    )


def test_core_rejections_are_counted_and_change_nothing(session: Path, tmp_path: Path) -> None:
    duplicate = {**TRADING[5], "ts": "2026-11-23T01:30:04Z", "price": "2.200"}
    longer = _write(tmp_path / "longer.jsonl", [*SESSION, duplicate])
    base, more = _summary(session), _summary(longer)
    assert (more["commands"], more["rejected"]) == (S + 7, 1)
    assert more["state_hash"] == base["state_hash"]


def test_listing_date_option(session: Path) -> None:
    summary = _summary(session, "--date", "2026-11-23")
    assert summary == _summary(session)
    earlier = _summary(session, "--date", "2025-01-06")  # TKN2612 is not listed yet
    assert "TKN2612" not in earlier["books"]
    assert earlier["rejected"] == 5


def test_human_readable_summary(session: Path) -> None:
    result = _run(session)
    assert result.exit_code == 0
    assert f"commands {S + 6}  events {S + 8}  trades 1  rejected 0" in result.stdout
    assert "money conserved yes" in result.stdout
    assert f"state hash {_summary(session)['state_hash']}" in result.stdout
    assert "TKN2612" in result.stdout
    assert "2.502" in result.stdout


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = _run(tmp_path / "missing.jsonl")
    assert result.exit_code == 2
    assert "COMMANDS" in result.output


def test_a_bad_date_is_a_usage_error(session: Path) -> None:
    result = _run(session, "--date", "23/11/2026")
    assert result.exit_code == 2
    assert "--date" in result.output


def test_a_file_without_any_readable_time_needs_a_date(tmp_path: Path) -> None:
    result = _run(_write(tmp_path / "no-ts.jsonl", ["{}", "junk"]))
    assert result.exit_code == 2
    assert "--date" in result.output


def test_the_command_agrees_with_the_runner(session: Path) -> None:
    lines = session.read_text(encoding="utf-8").splitlines()
    assert run_file_lines(lines).as_dict() == _summary(session)
