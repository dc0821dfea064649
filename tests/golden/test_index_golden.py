"""Golden index values on the bundled data: any change to a published number shows up here.

The values rest on the pinned genai-prices release and the packaged GPU snapshot. After a
deliberate methodology or data change, regenerate with
``TOKENFUTURES_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/golden`` and review the diff.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

from tokenfutures.engine.index_json import fixing_json
from tokenfutures.engine.indices import IndexFamily

GOLDEN = Path(__file__).with_name("index_fixings.json")
DAYS = [date(2025, 3, 3), date(2025, 9, 1), date(2026, 11, 20), date(2026, 11, 21)]
FIELDS = ("value", "quality", "coverage", "data_level", "methodology_version", "inputs_sha256")


def _current() -> dict[str, dict[str, dict[str, object]]]:
    family = IndexFamily.load()
    result: dict[str, dict[str, dict[str, object]]] = {}
    for day in DAYS:
        fixings = family.compute(day)
        result[day.isoformat()] = {
            code: {field: fixing_json(fixing)[field] for field in FIELDS}
            for code, fixing in sorted(fixings.items())
        }
    return result


def test_fixings_match_the_golden_file() -> None:
    current = _current()
    if os.environ.get("TOKENFUTURES_REGENERATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip("golden file regenerated")
    assert current == json.loads(GOLDEN.read_text(encoding="utf-8"))


def test_the_golden_file_holds_published_values() -> None:
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    latest = golden[DAYS[-1].isoformat()]
    assert latest["TKN-OPEN"]["quality"] == "ok"
    assert latest["GPU-H100"]["value"] is not None
    assert set(latest) >= {"TKN", "TKN-FRONTIER", "TKN-EFFICIENT", "TKN-OPEN", "TKN-CHINESE"}
