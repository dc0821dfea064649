"""`engine run` through the whole pipeline and `clearing statement`, as the README shows them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from tokenfutures.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_journal(tmp_path: Path) -> Path:
    """The command file of the README's tour, exactly as printed there."""
    found = re.search(r"cat > orders.jsonl <<'EOF'\n(.*?)\nEOF\n", README.read_text("utf-8"), re.S)
    assert found is not None, "the README's engine run example is missing"
    path = tmp_path / "orders.jsonl"
    path.write_text(found.group(1) + "\n", encoding="utf-8")
    return path


def _invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(arg) for arg in args])


def test_the_readme_example_runs_and_conserves_money(tmp_path: Path) -> None:
    journal = _readme_journal(tmp_path)
    result = _invoke("engine", "run", journal, "--json")
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads(result.stdout)
    assert (summary["trades"], summary["rejected"], summary["money_conserved"]) == (1, 0, True)
    # 3 lots traded at A's resting bid 2.505; each side pays 0.005 % of 3 x 2.505 x 10,000
    # = 3.7575 -> 3.76; the settlement price is that trade's price, so no variation margin
    assert summary["accounts"]["A"]["cash"] == "49996.24"
    assert summary["accounts"]["A"]["positions"] == {"TKN2612": 3}
    assert summary["accounts"]["B"]["positions"] == {"TKN2612": -3}
    human = _invoke("engine", "run", journal)
    assert "money conserved yes" in human.stdout


def test_statement_as_text_and_json(tmp_path: Path) -> None:
    journal = _readme_journal(tmp_path)
    args = ("clearing", "statement", "--journal", journal, "--account", "A", "--date")
    text = _invoke(*args, "2026-11-23")
    assert text.exit_code == 0, text.output
    assert "Daily statement  account A (member M1)  trading day 2026-11-23" in text.stdout
    assert re.search(r"closing balance\s+49996\.24", text.stdout)
    assert "TKN2612   buy       3 @ 2.505    fee 3.76" in text.stdout
    data = json.loads(_invoke(*args, "2026-11-23", "--json").stdout)
    assert data["opening_balance"] == "0.00"
    assert (data["deposits"], data["fees"], data["closing_balance"]) == (
        "50000.00",
        "3.76",
        "49996.24",
    )
    # 3 lots: scan range 10 % of 2.505 = 250.5 -> 251 ticks x USD 10 x 3 = 7,530
    assert (data["initial_margin"], data["maintenance_margin"]) == ("7530.00", "6024.00")
    assert data["positions"] == [
        {
            "symbol": "TKN2612",
            "quantity": 3,
            "average_entry_price": "2.505",
            "settlement_price": "2.505",
            "unrealised_pnl": "0.00",
        }
    ]


def test_statement_errors_name_what_is_missing(tmp_path: Path) -> None:
    journal = _readme_journal(tmp_path)
    args = ("clearing", "statement", "--journal", journal, "--date")
    wrong_day = _invoke(*args, "2026-11-24", "--account", "A")
    assert wrong_day.exit_code == 1
    assert "no end of day on 2026-11-24 for 'A'; statements: 2026-11-23" in wrong_day.output
    nobody = _invoke(*args, "2026-11-23", "--account", "Z")
    assert nobody.exit_code == 1
    assert "account 'Z' has no statement" in nobody.output
    bad_date = _invoke(*args, "23/11/2026", "--account", "A")
    assert bad_date.exit_code == 2
    assert "--date" in bad_date.output


def test_no_risk_accepts_orders_from_unknown_accounts(tmp_path: Path) -> None:
    journal = tmp_path / "bare.jsonl"
    journal.write_text(
        '{"type":"new_order","ts":"2026-11-23T01:31:00Z","account":"X","client_order_id":"x1",'
        '"symbol":"TKN2612","side":"buy","price":"2.505","quantity":5}\n',
        encoding="utf-8",
    )
    risky = json.loads(_invoke("engine", "run", journal, "--json").stdout)
    assert risky["rejected"] == 1
    bare = json.loads(_invoke("engine", "run", journal, "--json", "--no-risk").stdout)
    assert (bare["rejected"], bare["books"]["TKN2612"]["bids"]) == (0, [["2.505", 5]])
