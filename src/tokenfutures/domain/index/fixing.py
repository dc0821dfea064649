"""What one index determination publishes: the value and its full audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from tokenfutures.domain.index.observations import DataLevel


class Quality(StrEnum):
    OK = "ok"  # every rule met
    LOW_COVERAGE = "low_coverage"  # published under the documented fallback, flagged
    NOT_PUBLISHED = "not_published"  # below the coverage floor: no value


@dataclass(frozen=True, slots=True)
class ConstituentPrice:
    """A constituent as used: its robust price, its weight in the index and where it came from."""

    name: str  # canonical model (token indices) or "H100 SXM"-like key (GPU indices)
    grade: str  # the sub-index it belongs to
    price: int  # micro-USD per standard million tokens (or per GPU-hour)
    weight_bp: int  # weight in the index, basis points; the weights of an index sum to 10,000
    providers: tuple[str, ...]  # the providers whose inputs were used
    inputs: int  # number of inputs used
    level: DataLevel  # best data level used


@dataclass(frozen=True, slots=True)
class Exclusion:
    """An input left out, and why (e.g. "outlier: 4.1 MADs from the median", "stale")."""

    provider: str
    name: str  # the provider's model id or accelerator
    contributor: str
    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class Fixing:
    index: str  # e.g. "TKN", "TKN-OPEN", "GPU-H100"
    day: date
    value: int | None  # micro-USD per unit; None when not published
    unit: str  # e.g. "USD per million standard tokens", "USD per GPU-hour"
    methodology_version: str
    constituents: tuple[ConstituentPrice, ...]
    excluded: tuple[Exclusion, ...]
    coverage_bp: int  # share of the index's weight that had enough data, basis points
    quality: Quality
    level: DataLevel  # the weakest data level the value rests on
    inputs_sha256: str  # SHA-256 over the canonical inputs and the output
    version: int = 1  # corrections are new versions; history is never rewritten
