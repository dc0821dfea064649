"""GPU-hour indices (GPU-H100, GPU-H200, GPU-B200, GPU-A100): on-demand USD per GPU-hour.

Per accelerator and fixing day: observations are screened (valid, fresh, not duplicated);
each contributor's rows for one provider and variant collapse to one input, the median of its
instance shapes (regions are already collapsed by the source); those inputs go through the
same hierarchy, contributor cap and median/MAD rule as the token indices
(``aggregation.determine``, with partial data allowed). Coverage is the share of the required
independent providers present; aggregators (resellers of other clouds) are used but never
counted as independent. Accelerators the methodology does not index are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from tokenfutures.domain.index.aggregation import Input, determine, exclusion_key, median2
from tokenfutures.domain.index.audit import canonical_inputs, seal
from tokenfutures.domain.index.fixing import ConstituentPrice, Exclusion, Fixing, Quality
from tokenfutures.domain.index.methodology import BP, Methodology
from tokenfutures.domain.index.observations import DataLevel, GpuPriceObservation

GRADE = "gpu"
ShapeKey = tuple[str, str, str, int, DataLevel]  # contributor, provider, variant, gpus, level
InputKey = tuple[str, str, str, DataLevel]  # contributor, provider, variant, level


def _exclude(item: GpuPriceObservation, reason: str) -> Exclusion:
    name = f"{item.accelerator} {item.variant}".strip() + f" x{item.gpus_per_instance}"
    return Exclusion(item.provider, name, item.contributor, item.source, reason)


def _reason(item: GpuPriceObservation, day: date, staleness_days: int) -> str | None:
    if not (item.provider and item.contributor):
        return "invalid: provider and contributor must not be empty"
    if item.price <= 0:
        return "invalid: price per GPU-hour missing, zero or negative"
    if item.gpus_per_instance < 1:
        return "invalid: gpus_per_instance must be at least 1"
    if item.day > day:
        return f"dated {item.day.isoformat()}, after the fixing day"
    if (day - item.day).days > staleness_days:
        return f"stale: dated {item.day.isoformat()}, more than {staleness_days} days old"
    return None


def _shape_price(rows: list[GpuPriceObservation]) -> tuple[int | None, list[Exclusion]]:
    """One instance shape's current price (latest day), and the rows left out."""
    newest = max(item.day for item in rows)
    excluded = [
        _exclude(item, f"superseded by this contributor's price of {newest.isoformat()}")
        for item in rows
        if item.day < newest
    ]
    current = sorted((item for item in rows if item.day == newest), key=lambda r: r.source)
    if len({item.price for item in current}) > 1:
        reason = "conflicting rows: one contributor sent different prices for the same day"
        return None, excluded + [_exclude(item, reason) for item in current]
    return current[0].price, excluded + [_exclude(item, "duplicate row") for item in current[1:]]


def _inputs(
    rows: Sequence[GpuPriceObservation], day: date, methodology: Methodology
) -> tuple[list[Input], list[Exclusion]]:
    """Inputs at scale 2 (twice the median of the instance shapes), and the exclusions."""
    excluded: list[Exclusion] = []
    shapes: dict[ShapeKey, list[GpuPriceObservation]] = {}
    for item in rows:
        reason = _reason(item, day, methodology.staleness_days)
        if reason is not None:
            excluded.append(_exclude(item, reason))
            continue
        key = (item.contributor, item.provider, item.variant, item.gpus_per_instance, item.level)
        shapes.setdefault(key, []).append(item)
    grouped: dict[InputKey, list[int]] = {}
    sources: dict[InputKey, str] = {}
    for key in sorted(shapes, key=lambda k: (k[0], k[1], k[2], k[3], k[4].rank)):
        price, left_out = _shape_price(shapes[key])
        excluded.extend(left_out)
        if price is not None:
            short = (key[0], key[1], key[2], key[4])
            grouped.setdefault(short, []).append(price)
            source = min(item.source for item in shapes[key])
            sources[short] = min(sources.get(short, source), source)
    accelerator = rows[0].accelerator if rows else ""
    inputs = [
        Input(
            provider,
            f"{accelerator} {variant}".strip(),
            contributor,
            sources[key],
            level,
            median2(prices),
        )
        for key, prices in grouped.items()
        for contributor, provider, variant, level in [key]
    ]
    return inputs, excluded


def _fixing(
    accelerator: str, day: date, methodology: Methodology, rows: Sequence[GpuPriceObservation]
) -> Fixing:
    gpu = methodology.gpu
    inputs, excluded = _inputs(rows, day, methodology)
    result = determine(
        inputs,
        required=gpu.min_providers,
        maker=None,
        aggregators=gpu.aggregators,
        rule=methodology.outliers,
        scale=2,
        partial=True,
    )
    coverage = 0 if result.price is None else min(BP, result.independent * BP // gpu.min_providers)
    if coverage < methodology.coverage_floor_bp:
        quality = Quality.NOT_PUBLISHED
    elif coverage < BP:
        quality = Quality.LOW_COVERAGE
    else:
        quality = Quality.OK
    parts: tuple[ConstituentPrice, ...] = ()
    if quality is not Quality.NOT_PUBLISHED and result.price is not None:
        assert result.level is not None
        parts = (
            ConstituentPrice(
                accelerator,
                GRADE,
                result.price,
                BP,
                result.providers,
                result.inputs,
                result.level,
            ),
        )
    return Fixing(
        index=gpu.index_code(accelerator),
        day=day,
        value=parts[0].price if parts else None,
        unit=gpu.unit,
        methodology_version=methodology.version,
        constituents=parts,
        excluded=tuple(sorted({*excluded, *result.excluded}, key=exclusion_key)),
        coverage_bp=coverage,
        quality=quality,
        level=parts[0].level if parts else DataLevel.LIST_PRICE,
        inputs_sha256="",
    )


def compute_gpu_fixings(
    day: date, observations: Sequence[GpuPriceObservation], methodology: Methodology
) -> dict[str, Fixing]:
    """One fixing per accelerator of the methodology, keyed by index code (e.g. "GPU-H100")."""
    fixings = {}
    for accelerator in methodology.gpu.accelerators:
        rows = [item for item in observations if item.accelerator == accelerator]
        fixing = _fixing(accelerator, day, methodology, rows)
        fixings[fixing.index] = seal(fixing, canonical_inputs(rows, None))
    return fixings
