"""The published-fixings journal: corrections are new versions, history is never rewritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokenfutures.adapters.fixing_journal import FixingJournal


def _doc(value: str, sha: str = "a" * 64, index: str = "TKN") -> dict[str, object]:
    return {"index": index, "date": "2026-11-20", "value": value, "quality": "ok",
            "inputs_sha256": sha}  # fmt: skip


def test_first_publication_then_unchanged_then_a_correction(tmp_path: Path) -> None:
    journal = FixingJournal(tmp_path / "fixings.jsonl")
    assert journal.publish([_doc("3.30")], "t1")[0].status == "published"
    first_line = journal.path.read_bytes()
    assert journal.publish([_doc("3.30")], "t2")[0].status == "unchanged"
    corrected = journal.publish([_doc("3.31", "b" * 64)], "t3")[0]
    assert (corrected.version, corrected.status) == (2, "corrected")
    assert journal.path.read_bytes().startswith(first_line)  # history is never rewritten
    versions = journal.versions("TKN", "2026-11-20")
    assert [(v["version"], v["value"], v["published_at"]) for v in versions] == [
        (1, "3.30", "t1"),
        (2, "3.31", "t3"),
    ]
    assert journal.latest("TKN", "2026-11-20")["value"] == "3.31"  # type: ignore[index]


def test_indices_and_days_are_versioned_separately(tmp_path: Path) -> None:
    journal = FixingJournal(tmp_path / "fixings.jsonl")
    results = journal.publish([_doc("1", index="TKN"), _doc("2", index="GPU-H100")], "t")
    assert [(r.index, r.version) for r in results] == [("TKN", 1), ("GPU-H100", 1)]
    assert journal.latest("TKN-OPEN", "2026-11-20") is None


def test_a_damaged_journal_is_named_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "fixings.jsonl"
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="fixings.jsonl:1"):
        FixingJournal(path).publish([_doc("1")], "t")
    assert path.read_text(encoding="utf-8") == "{not json\n"
