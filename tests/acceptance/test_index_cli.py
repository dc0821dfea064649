"""`tokenfutures index ...` as a user runs it, on the packaged data and small files."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from tokenfutures.adapters.fixing_journal import FixingJournal
from tokenfutures.cli import app

runner = CliRunner()
FIXTURES = Path(__file__).parents[1] / "fixtures" / "index"
DAY = "2026-11-20"
PUBLISHED = {
    "index", "date", "value", "unit", "methodology_version", "constituents", "excluded",
    "coverage", "quality", "inputs_sha256",
}  # fmt: skip


def _run(*args: str) -> str:
    result = runner.invoke(app, ["index", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_index_list_names_every_index_with_its_unit() -> None:
    rows = json.loads(_run("list", "--json"))
    codes = [row["index"] for row in rows]
    assert codes[:5] == ["TKN", "TKN-FRONTIER", "TKN-EFFICIENT", "TKN-OPEN", "TKN-CHINESE"]
    assert "GPU-H100" in codes
    assert {row["methodology_version"] for row in rows} == {"1.0.0"}


def test_compute_publishes_every_field_and_is_reproducible() -> None:
    first = json.loads(_run("compute", "--index", "TKN-OPEN", "--date", DAY, "--json"))
    second = json.loads(_run("compute", "--index", "TKN-OPEN", "--date", DAY, "--json"))
    assert first == second
    assert set(first) >= PUBLISHED
    assert first["value"] == "0.687039"
    assert first["quality"] == "ok"
    assert all(item["reason"] for item in first["excluded"])
    assert sum(Decimal(item["weight"]) for item in first["constituents"]) == 100
    assert len(first["inputs_sha256"]) == 64


def test_gpu_index_reads_the_packaged_snapshot() -> None:
    fixing = json.loads(_run("compute", "--index", "GPU-H100", "--date", "2026-11-21", "--json"))
    assert fixing["value"] == "2.4571"
    assert fixing["unit"] == "USD per GPU-hour"


def test_contributed_quotes_join_the_list_prices() -> None:
    plain = json.loads(_run("compute", "--index", "TKN", "--date", DAY, "--json"))
    source = f"csv:{FIXTURES / 'token_quotes.csv'}"
    mixed = json.loads(
        _run("compute", "--index", "TKN", "--date", DAY, "--source", "genai-prices",
             "--source", source, "--json")
    )  # fmt: skip
    assert mixed["inputs_sha256"] != plain["inputs_sha256"]
    contributed = mixed["sources"][-1]
    assert contributed["name"] == "csv:token_quotes.csv"
    assert len(contributed["sha256"]) == 64
    assert contributed["skipped"], "the duplicate row is reported, not silently dropped"


def test_explain_reads_like_an_audit_trail() -> None:
    text = _run("explain", "--index", "TKN-OPEN", "--date", DAY)
    assert "TKN-OPEN" in text
    assert "0.687039" in text
    assert "excluded" in text.lower()


def test_history_writes_a_csv_and_a_chart(tmp_path: Path) -> None:
    series, chart = tmp_path / "tkn.csv", tmp_path / "tkn.png"
    _run("history", "--index", "TKN-OPEN", "--start", "2026-11-01", "--end", DAY,
         "--csv", str(series), "--plot", str(chart))  # fmt: skip
    rows = series.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "date,value,quality,inputs_sha256"
    assert len(rows) == 1 + 20
    assert rows[-1].startswith(f"{DAY},0.687039,ok,")
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_input_is_named() -> None:
    unknown = runner.invoke(app, ["index", "compute", "--index", "NOPE", "--date", DAY])
    assert unknown.exit_code == 2
    assert "--index" in unknown.output
    bad_source = runner.invoke(app, ["index", "compute", "--date", DAY, "--source", "ftp:x"])
    assert bad_source.exit_code == 2
    assert "ftp:x" in bad_source.output
    missing = runner.invoke(app, ["index", "compute", "--source", "csv:/nonexistent.csv"])
    assert missing.exit_code == 2
    bad_date = runner.invoke(app, ["index", "compute", "--date", "2026-13-01"])
    assert bad_date.exit_code == 2


def test_a_fixing_for_a_future_day_is_refused() -> None:
    result = runner.invoke(app, ["index", "compute", "--date", "2999-01-01"])
    assert result.exit_code == 2
    assert "future" in result.output


def test_final_settlement_averages_the_index_over_the_contract_window() -> None:
    document = json.loads(_run("settlement", "TKN2610", "--date", "2026-10-20", "--json"))
    assert document["index"] == "TKN"
    assert len(document["window"]) == len(document["fixings"]) == 5
    values = [Decimal(row["value"]) for row in document["fixings"]]
    assert Decimal(document["final_settlement_price"]) == sum(values) / len(values)


def test_settlement_before_the_window_is_complete_is_refused() -> None:
    result = runner.invoke(app, ["index", "settlement", "TKN2612", "--date", "2026-11-20"])
    assert result.exit_code == 2
    assert "not yet complete" in result.output


def test_an_openrouter_models_file_joins_as_a_reseller() -> None:
    source = f"openrouter:{FIXTURES / 'openrouter_models.json'}"
    fixing = json.loads(
        _run("compute", "--index", "TKN-FRONTIER", "--date", DAY, "--source", "genai-prices",
             "--source", source, "--json")
    )  # fmt: skip
    (sonnet,) = [c for c in fixing["constituents"] if c["name"] == "claude-sonnet-4.5"]
    assert "openrouter" in sonnet["providers"]
    composite = json.loads(
        _run("compute", "--index", "TKN", "--date", DAY, "--source", "genai-prices",
             "--source", source, "--json")
    )  # fmt: skip
    unknown = {e["name"] for e in composite["excluded"] if e["reason"].startswith("unknown model")}
    assert "deepseek/deepseek-chat" in unknown  # not mapped: listed, with its reason


def test_publishing_twice_keeps_one_version_and_new_data_corrects(tmp_path: Path) -> None:
    journal = str(tmp_path / "fixings.jsonl")
    first = _run("publish", "--date", DAY, "--journal", journal)
    assert "TKN-OPEN       2026-11-20  version 1  published" in first
    assert "version 1  unchanged" in _run("publish", "--date", DAY, "--journal", journal)
    source = f"csv:{FIXTURES / 'token_quotes.csv'}"
    again = _run("publish", "--date", DAY, "--journal", journal, "--source", "genai-prices",
                 "--source", source)  # fmt: skip
    assert "TKN            2026-11-20  version 2  corrected" in again


def test_the_gpu_snapshot_never_back_fills_history() -> None:
    before = json.loads(_run("compute", "--index", "GPU-H100", "--date", "2026-11-20", "--json"))
    assert before["value"] is None
    assert before["quality"] == "not_published"
    assert any("after the fixing day" in e["reason"] for e in before["excluded"])


def test_settlement_uses_the_latest_published_versions(tmp_path: Path) -> None:
    journal = tmp_path / "fixings.jsonl"
    window = [f"2026-10-{day}" for day in (26, 27, 28, 29, 30)]
    for day in window:
        _run("publish", "--date", day, "--journal", str(journal))
    correction = FixingJournal(journal).latest("TKN", "2026-10-28")
    assert correction is not None
    correction = correction | {"value": "3.408331", "inputs_sha256": "c" * 64}
    assert FixingJournal(journal).publish([correction], "t")[0].status == "corrected"
    document = json.loads(
        _run("settlement", "TKN2610", "--date", "2026-10-20", "--journal", str(journal), "--json")
    )
    assert [row["origin"] for row in document["fixings"]] == ["published v1"] * 2 + [
        "published v2"
    ] + ["published v1"] * 2
    assert document["final_settlement_price"] == "3.328331"  # (4 x 3.308331 + 3.408331) / 5
