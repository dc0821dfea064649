"""`tokenfutures contracts list|show` through the real command, with the real calendars."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tokenfutures.adapters.calendars import HOLIDAYS_ENV
from tokenfutures.cli import app
from tokenfutures.domain.contracts import ProductSpec

LIST_KEYS = {
    "symbol",
    "product",
    "underlying",
    "currency",
    "contract_size",
    "tick_size",
    "tick_value",
    "price_limit_pct",
    "margin_pct",
    "first_trading_day",
    "last_trading_day",
    "final_settlement_window",
    "provisional",
}


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv(HOLIDAYS_ENV, raising=False)
    return CliRunner()


def run(runner: CliRunner, *args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(app, ["contracts", *args], env=env)


def flat(text: str) -> str:
    """Output without the error box and line wrapping, to search for a whole message."""
    return re.sub(r"[\s│╭╮╰╯─]+", "", text)


def listing(runner: CliRunner, *args: str) -> list[dict[str, Any]]:
    result = run(runner, "list", "--date", "2026-11-21", "--json", *args)
    assert result.exit_code == 0, result.output
    entries: list[dict[str, Any]] = json.loads(result.stdout)
    return entries


def holidays_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "holidays-2027.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_list_json_on_a_saturday(runner: CliRunner) -> None:
    entries = listing(runner)
    assert len(entries) == 24
    assert [e["symbol"] for e in entries[:2]] == ["GPU2612", "GPU2701"]
    assert [e["symbol"] for e in entries[12:15]] == ["TKN2611", "TKN2612", "TKN2701"]
    assert entries[-1]["symbol"] == "TKN2710"
    for entry in entries:
        assert set(entry) >= LIST_KEYS


def test_list_json_values(runner: CliRunner) -> None:
    by_symbol = {entry["symbol"]: entry for entry in listing(runner)}
    tkn = by_symbol["TKN2612"]
    assert {key: tkn[key] for key in LIST_KEYS} == {
        "symbol": "TKN2612",
        "product": "TKN",
        "underlying": "TKN",
        "currency": "USD",
        "contract_size": "10000",
        "tick_size": "0.001",
        "tick_value": "10.00",
        "price_limit_pct": "8",
        "margin_pct": "10",
        "first_trading_day": "2026-01-05",
        "last_trading_day": "2026-12-31",
        "final_settlement_window": {
            "start": "2026-12-25",
            "end": "2026-12-31",
            "days": 5,
            "dates": ["2026-12-25", "2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31"],
        },
        "provisional": False,
    }
    gpu = by_symbol["GPU2612"]
    assert (gpu["underlying"], gpu["tick_size"], gpu["tick_value"]) == ("GPU-H100", "0.005", "5.00")
    assert (gpu["price_limit_pct"], gpu["margin_pct"]) == ("6", "8")
    assert gpu["last_trading_day"] == "2026-12-15"
    assert gpu["final_settlement_window"]["days"] == 10
    assert by_symbol["TKN2701"]["provisional"] is True
    assert by_symbol["TKN2701"]["last_trading_day"] == "2027-01-29"


def test_list_table(runner: CliRunner) -> None:
    result = run(runner, "list", "--date", "2026-11-21")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Contracts listed on 2026-11-21"
    assert lines[2].split()[:4] == ["symbol", "underlying", "size", "tick"]
    tkn2611 = next(line for line in lines if line.startswith("TKN2611"))
    assert tkn2611.split() == [
        "TKN2611",
        "TKN",
        "10000",
        "million",
        "tokens",
        "0.001",
        "USD",
        "10.00",
        "8%",
        "10%",
        "2025-12-01",
        "2026-11-30",
        "2026-11-24..2026-11-30",
        "(5d)",
        "confirmed",
    ]
    assert next(line for line in lines if line.startswith("TKN2701")).endswith("provisional")
    assert "exchange holidays are known until 2026-12-31" in result.stdout
    assert sum(1 for line in lines if re.match(r"(GPU|TKN)\d{4} ", line)) == 24


HOLIDAYS_2027 = '[holidays]\n"2027" = ["2027-01-01", "2027-01-29", "2027-02-08..2027-02-12"]\n'


def test_holidays_file_confirms_2027(runner: CliRunner, tmp_path: Path) -> None:
    path = holidays_file(tmp_path, HOLIDAYS_2027)
    by_symbol = {e["symbol"]: e for e in listing(runner, "--holidays", str(path))}
    assert not any(entry["provisional"] for entry in by_symbol.values())
    assert by_symbol["TKN2701"]["last_trading_day"] == "2027-01-28"
    table = run(runner, "list", "--date", "2026-11-21", "--holidays", str(path))
    assert "provisional" not in table.stdout


def test_holidays_file_from_environment(runner: CliRunner, tmp_path: Path) -> None:
    path = holidays_file(tmp_path, HOLIDAYS_2027)
    result = run(runner, "list", "--date", "2026-11-21", "--json", env={HOLIDAYS_ENV: str(path)})
    assert result.exit_code == 0, result.output
    tkn2701 = next(e for e in json.loads(result.stdout) if e["symbol"] == "TKN2701")
    assert (tkn2701["last_trading_day"], tkn2701["provisional"]) == ("2027-01-28", False)


@pytest.mark.parametrize("bad", ["2026-13-01", "2026-11-31", "21/11/2026", "20261121", "today"])
def test_bad_date_is_a_usage_error(runner: CliRunner, bad: str) -> None:
    result = run(runner, "list", "--date", bad)
    assert result.exit_code == 2
    assert flat(f"Invalid value for '--date': '{bad}' is not a valid date as YYYY-MM-DD") in flat(
        result.output
    )


def test_bad_holidays_file_names_file_and_entry(runner: CliRunner, tmp_path: Path) -> None:
    path = holidays_file(tmp_path, '[holidays]\n"2027" = ["2027-02-30"]\n')
    result = run(runner, "list", "--holidays", str(path))
    assert result.exit_code == 2
    expected = f"holidays file {path}: holidays.2027: '2027-02-30': not a YYYY-MM-DD date"
    assert flat(expected) in flat(result.output)


def test_missing_holidays_file(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, "list", "--holidays", str(tmp_path / "absent.toml"))
    assert result.exit_code == 2
    assert "--holidays" in result.output


def test_default_date_is_today(runner: CliRunner) -> None:
    result = run(runner, "list", "--json")
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)
    assert sorted({e["product"] for e in entries}) == ["GPU", "TKN"]
    assert len(entries) == 24


def test_show_json_has_every_spec_field(runner: CliRunner) -> None:
    result = run(runner, "show", "TKN2612", "--date", "2026-11-21", "--json")
    assert result.exit_code == 0, result.output
    details = json.loads(result.stdout)
    assert set(details) >= {field.name for field in dataclasses.fields(ProductSpec)} | LIST_KEYS
    assert details["sessions"] == [
        {"start": "09:00", "end": "10:15"},
        {"start": "10:30", "end": "11:30"},
        {"start": "13:30", "end": "15:00"},
    ]
    assert details["night_session"] == {"start": "21:00", "end": "01:00"}
    assert (details["fee_rate"], details["reference_price"]) == ("0.00005", "2.500")
    assert (details["last_trading_day_rule"], details["final_settlement_days"]) == (
        "last_business_day",
        5,
    )
    assert (details["year"], details["month"], details["timezone"]) == (2026, 12, "Asia/Shanghai")


def test_show_table(runner: CliRunner) -> None:
    result = run(runner, "show", "gpu2612", "--date", "2026-11-21")
    assert result.exit_code == 0, result.output
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert rows["symbol"] == "GPU2612"
    assert rows["last_trading_day"] == "2026-12-15"
    assert rows["final_settlement_window"] == "2026-12-02 to 2026-12-15 (10 business days)"
    assert rows["night_session"] == "21:00-02:30"
    assert rows["provisional"] == "no"


def test_show_unlisted_symbol(runner: CliRunner) -> None:
    result = run(runner, "show", "TKN2610", "--date", "2026-11-21")
    assert result.exit_code == 2
    assert flat("TKN2610 is not listed on 2026-11-21; TKN lists TKN2611 to TKN2710") in flat(
        result.output
    )


def test_custom_products_file(runner: CliRunner, tmp_path: Path) -> None:
    packaged = Path(__file__).parents[2] / "src/tokenfutures/data/products.toml"
    text = packaged.read_text(encoding="utf-8").replace("listed_months = 12", "listed_months = 3")
    path = tmp_path / "products.toml"
    path.write_text(text, encoding="utf-8")
    symbols = [e["symbol"] for e in listing(runner, "--products", str(path))]
    assert symbols == ["GPU2612", "GPU2701", "GPU2702", "TKN2611", "TKN2612", "TKN2701"]
    path.write_text(text.replace("tick_size = 0.005", "tick_size = 0"), encoding="utf-8")
    result = run(runner, "list", "--products", str(path))
    assert result.exit_code == 2
    assert flat(f"products file {path}: product GPU: tick_size: must be positive") in flat(
        result.output
    )
