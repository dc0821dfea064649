"""`tokenfutures demo`: the scripted trading session through the core, without a server."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from tokenfutures.cli import app

runner = CliRunner()


def _demo(day: str) -> str:
    result = runner.invoke(app, ["demo", "--date", day])
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_lists_contracts_and_walks_through_the_rules() -> None:
    output = _demo("2026-11-23")
    assert "TKN2611" in output
    assert "GPU2612" in output
    assert "auction: price 2.500, volume 11" in output
    assert "rejected s-ioc: not_allowed_in_auction" in output
    assert "rejected s-po: post_only_would_trade" in output
    assert "order cancelled h-fok: fok_not_fillable" in output
    assert "stop s-stop triggered by a trade at 2.545" in output
    assert "order cancelled mm-s4: self_trade_prevented" in output
    assert "rejected s-tick: price_not_on_tick" in output
    assert "order expired mm-b2: end of day" in output
    assert "rejected s-big: insufficient_margin" in output
    assert "TKN2611 settles at 2.520 (vwap_day, volume 43, open interest 31)" in output
    assert "SPEC variation margin -2250.00" in output
    assert "39 commands, 137 events, 8 trades, 5 rejected" in output


def _state_hash(output: str) -> str:
    found = re.search(r"state hash ([0-9a-f]{64})", output)
    assert found is not None, output
    return found.group(1)


def test_demo_is_deterministic_for_a_date() -> None:
    assert _state_hash(_demo("2026-11-23")) == _state_hash(_demo("2026-11-23"))
    assert _state_hash(_demo("2026-11-23")) != _state_hash(_demo("2026-11-24"))
