"""Fixings as published JSON: micro-dollars become decimal strings, basis points percents."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from tokenfutures.adapters.index_sources import SourceSnapshot
from tokenfutures.domain.index.fixing import Fixing, Quality
from tokenfutures.domain.index.observations import MICRO_USD, DataLevel


def usd_text(micro: int | None) -> str | None:
    """Exact decimal text of a micro-dollar amount: 2512345 -> "2.512345"."""
    if micro is None:
        return None
    return str(Decimal(micro) / MICRO_USD)


def percent_text(bp: int) -> str:
    return str(Decimal(bp) / 100)


def fixing_json(fixing: Fixing) -> dict[str, Any]:
    """The published fields of a fixing (see docs/index-methodology.md)."""
    return {
        "index": fixing.index,
        "date": fixing.day.isoformat(),
        "value": usd_text(fixing.value),
        "unit": fixing.unit,
        "methodology_version": fixing.methodology_version,
        "version": fixing.version,
        "quality": fixing.quality.value,
        "coverage": percent_text(fixing.coverage_bp),
        "data_level": fixing.level.value,
        "constituents": [
            {
                "name": item.name,
                "grade": item.grade,
                "price": usd_text(item.price),
                "weight": percent_text(item.weight_bp),
                "providers": list(item.providers),
                "inputs": item.inputs,
                "data_level": item.level.value,
            }
            for item in fixing.constituents
        ],
        "excluded": [
            {
                "provider": item.provider,
                "name": item.name,
                "contributor": item.contributor,
                "source": item.source,
                "reason": item.reason,
            }
            for item in fixing.excluded
        ],
        "inputs_sha256": fixing.inputs_sha256,
    }


def sources_json(snapshots: list[SourceSnapshot[Any]]) -> list[dict[str, Any]]:
    """What each source read: its SHA-256 and the inputs it skipped before the methodology."""
    return [
        {
            "name": snapshot.name,
            "sha256": snapshot.sha256,
            "observations": len(snapshot.observations),
            "skipped": [{"item": s.item, "reason": s.reason} for s in snapshot.skipped],
        }
        for snapshot in snapshots
    ]


def published_fixing(document: dict[str, Any]) -> Fixing:
    """The fixing a published document records (value, quality, version, hash), for settlement.

    Constituents and exclusions stay in the document; the record carries what settlement uses.
    """
    value = document["value"]
    return Fixing(
        index=document["index"],
        day=date.fromisoformat(document["date"]),
        value=None if value is None else int(Decimal(value) * MICRO_USD),
        unit=document["unit"],
        methodology_version=document["methodology_version"],
        constituents=(),
        excluded=(),
        coverage_bp=int(Decimal(document["coverage"]) * 100),
        quality=Quality(document["quality"]),
        level=DataLevel(document["data_level"]),
        inputs_sha256=document["inputs_sha256"],
        version=document["version"],
    )
