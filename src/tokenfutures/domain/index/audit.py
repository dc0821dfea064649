"""The audit trail of a fixing: a canonical hash anyone can recompute, and an account in words.

Canonical serialisation (docs/index-methodology.md, "The hash"): one JSON document, UTF-8,
keys sorted, separators ``,`` and ``:`` with no spaces, non-ASCII escaped::

    {"constituents": [...], "fixing": {...}, "format": "tokenfutures-index-audit/1",
     "methodology_version": "1.0.0", "observations": [[...], ...]}

``observations`` holds every observation given to the computation as an array of its fields
in declaration order (dates as ISO strings, levels as their values), sorted; ``constituents``
the constituents list (empty for GPU indices); ``fixing`` every published field except
``inputs_sha256``. ``inputs_sha256`` is the SHA-256 of that document, in hex.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from tokenfutures.domain.index.fixing import Fixing, Quality
from tokenfutures.domain.index.methodology import Constituents
from tokenfutures.domain.index.observations import (
    MICRO_USD,
    GpuPriceObservation,
    TokenPriceObservation,
)

FORMAT = "tokenfutures-index-audit/1"
Observation = TokenPriceObservation | GpuPriceObservation


def _row(item: Observation) -> list[Any]:
    if isinstance(item, TokenPriceObservation):
        return [
            item.source,
            item.contributor,
            item.provider,
            item.model,
            item.day.isoformat(),
            item.input,
            item.output,
            item.cached_input,
            item.level.value,
        ]
    return [
        item.source,
        item.contributor,
        item.provider,
        item.accelerator,
        item.variant,
        item.gpus_per_instance,
        item.day.isoformat(),
        item.price,
        item.level.value,
    ]


def _sort_key(row: list[Any]) -> tuple[Any, ...]:
    return tuple((0, "") if value is None else (1, value) for value in row)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical_inputs(
    observations: Iterable[Observation], constituents: Constituents | None
) -> tuple[str, str]:
    """The serialised observations and constituents (computed once, shared by a day's indices)."""
    rows = sorted((_row(item) for item in observations), key=_sort_key)
    listed = [
        {
            "delisted": None if item.delisted is None else item.delisted.isoformat(),
            "grades": list(item.grades),
            "listed": item.listed.isoformat(),
            "maker": item.maker,
            "name": item.name,
            "providers": {provider: list(models) for provider, models in item.providers},
        }
        for item in (constituents.items if constituents is not None else ())
    ]
    return _dumps(rows), _dumps(listed)


def fixing_document(fixing: Fixing) -> dict[str, Any]:
    """Every published field of a fixing except its hash, as JSON-ready values."""
    return {
        "index": fixing.index,
        "day": fixing.day.isoformat(),
        "value": fixing.value,
        "unit": fixing.unit,
        "methodology_version": fixing.methodology_version,
        "constituents": [
            {
                "name": item.name,
                "grade": item.grade,
                "price": item.price,
                "weight_bp": item.weight_bp,
                "providers": list(item.providers),
                "inputs": item.inputs,
                "level": item.level.value,
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
        "coverage_bp": fixing.coverage_bp,
        "quality": fixing.quality.value,
        "level": fixing.level.value,
        "version": fixing.version,
    }


def _digest(observations_json: str, constituents_json: str, fixing: Fixing) -> str:
    document = (
        f'{{"constituents":{constituents_json},"fixing":{_dumps(fixing_document(fixing))},'
        f'"format":{_dumps(FORMAT)},"methodology_version":{_dumps(fixing.methodology_version)},'
        f'"observations":{observations_json}}}'
    )
    return hashlib.sha256(document.encode("ascii")).hexdigest()


def inputs_sha256(
    observations: Iterable[Observation], constituents: Constituents | None, fixing: Fixing
) -> str:
    """SHA-256 over the canonical inputs, methodology version and output (hash field ignored)."""
    return _digest(*canonical_inputs(observations, constituents), fixing)


def seal(fixing: Fixing, canonical: tuple[str, str]) -> Fixing:
    """The fixing with its ``inputs_sha256`` filled from pre-serialised inputs."""
    return replace(fixing, inputs_sha256=_digest(canonical[0], canonical[1], fixing))


def usd(micro: int) -> str:
    """Micro-USD as an exact decimal string, e.g. 2_500_000 -> "2.500000"."""
    sign = "-" if micro < 0 else ""
    whole, fraction = divmod(abs(micro), MICRO_USD)
    return f"{sign}{whole}.{fraction:06d}"


def percent(bp: int) -> str:
    """Basis points as a percentage string, e.g. 6666 -> "66.66%"."""
    return f"{bp // 100}.{bp % 100:02d}%"


def _value_sentence(fixing: Fixing) -> str:
    if fixing.value is None:
        return (
            f"No value was published for {fixing.index} on {fixing.day.isoformat()}: the data "
            f"covered {percent(fixing.coverage_bp)} of the index, below the methodology's floor"
            " or minimum number of constituents."
        )
    flag = (
        "All sufficiency rules were met (quality ok)."
        if fixing.quality is Quality.OK
        else "It is published under the documented fallback and flagged low_coverage."
    )
    return (
        f"{fixing.index} fixed at {usd(fixing.value)} {fixing.unit} on "
        f"{fixing.day.isoformat()} under methodology {fixing.methodology_version} "
        f"(fixing version {fixing.version}). Coverage was {percent(fixing.coverage_bp)} of the "
        f"index weight; the weakest data level used was {fixing.level.value}. {flag}"
    )


def explain(fixing: Fixing) -> str:
    """The audit trail of one fixing in plain words."""
    lines = [_value_sentence(fixing), ""]
    if fixing.constituents:
        lines.append("Constituents used (price, weight, data level, providers):")
    for item in fixing.constituents:
        sourcing = "single provider" if len(item.providers) == 1 else "several providers"
        lines.append(
            f"- {item.name} ({item.grade}): {usd(item.price)} at {percent(item.weight_bp)} "
            f"weight, from {item.inputs} input(s) at level {item.level.value}, {sourcing}: "
            f"{', '.join(item.providers)}."
        )
    if fixing.value is not None:
        lines.append(
            "The value is the weighted average of these prices, rounded half to even to the "
            "micro-dollar; the weights are exact (equal within a grade, the grade weights of the "
            "methodology in the composite) and shown rounded to the basis point."
        )
    lines.append("")
    if fixing.excluded:
        lines.append(f"Inputs excluded ({len(fixing.excluded)}), each with its reason:")
        lines.extend(
            f"- {item.provider} {item.name} from {item.contributor} ({item.source}): {item.reason}."
            for item in fixing.excluded
        )
    else:
        lines.append("No input was excluded.")
    lines += [
        "",
        f"Audit hash (SHA-256 over the sorted inputs, methodology version and this output): "
        f"{fixing.inputs_sha256}. Recompute it as described in docs/index-methodology.md.",
    ]
    return "\n".join(lines)
