"""The published fixings, append-only: corrections are new versions, history is never rewritten.

One JSON object per line (the published fixing document plus ``version`` and
``published_at``). Publishing a fixing identical to the latest version of its index and day
changes nothing; a different one is appended as the next version. Lines already written are
never modified, and each append is flushed to disk before it is reported.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Publication:
    index: str
    date: str
    version: int
    status: str  # "published" (first version), "corrected" (a new version), "unchanged"


class FixingJournal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def versions(self, index: str, day: str) -> list[dict[str, Any]]:
        """Every published version of one index and day, oldest first."""
        return [row for row in self._rows() if row["index"] == index and row["date"] == day]

    def latest(self, index: str, day: str) -> dict[str, Any] | None:
        found = self.versions(index, day)
        return found[-1] if found else None

    def publish(self, documents: list[dict[str, Any]], published_at: str) -> list[Publication]:
        """Append every document that differs from its latest published version."""
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for row in self._rows():
            latest[(row["index"], row["date"])] = row
        results = []
        lines = []
        for document in documents:
            key = (document["index"], document["date"])
            previous = latest.get(key)
            if previous is not None and _same(previous, document):
                results.append(Publication(*key, previous["version"], "unchanged"))
                continue
            version = 1 if previous is None else previous["version"] + 1
            row = document | {"version": version, "published_at": published_at}
            lines.append(json.dumps(row, sort_keys=True, separators=(",", ":")))
            latest[key] = row
            results.append(Publication(*key, version, "published" if version == 1 else "corrected"))
        if lines:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")
                out.flush()
                os.fsync(out.fileno())
        return results

    def _rows(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        rows = []
        for number, line in enumerate(self.path.read_text("utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise ValueError(f"{self.path}:{number}: not a published fixing: {error}") from None
        return rows


def _same(previous: dict[str, Any], document: dict[str, Any]) -> bool:
    """The same determination: same value, quality and input hash."""
    return all(previous.get(k) == document.get(k) for k in ("value", "quality", "inputs_sha256"))
