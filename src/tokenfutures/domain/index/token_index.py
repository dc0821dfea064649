"""Token price indices: the grade sub-indices (TKN-FRONTIER, ...) and the composite TKN.

For a fixing day, every observation is first screened (valid, known model, listed, fresh,
not a duplicate); the rest become inputs valued at their blended price (scale 10,000: the
blend weights are basis points). Each constituent then gets its robust price
(``aggregation.determine``); a grade is the equal-weighted average of its priced
constituents, and the composite the grade-weighted average of the published grades.
The result does not depend on the order of the observations.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from tokenfutures.domain.index.aggregation import (
    Determination,
    Input,
    allocate,
    determine,
    exclusion_key,
    round_half_even,
)
from tokenfutures.domain.index.audit import canonical_inputs, seal
from tokenfutures.domain.index.fixing import ConstituentPrice, Exclusion, Fixing, Quality
from tokenfutures.domain.index.methodology import (
    BP,
    Blend,
    Constituent,
    Constituents,
    Grade,
    Methodology,
)
from tokenfutures.domain.index.observations import DataLevel, TokenPriceObservation

Key = tuple[str, str, str, DataLevel]  # contributor, provider, model, level


def rebalance_date(day: date) -> date:
    """The rebalance in force on ``day``: the first Monday-Friday of its month, or the last."""
    first = day.replace(day=1)
    while first.weekday() >= 5:
        first += timedelta(days=1)
    if day >= first:
        return first
    return rebalance_date(day.replace(day=1) - timedelta(days=1))


def listing_reason(item: Constituent, day: date) -> str | None:
    """Why the constituent is not in the basket on ``day``, or None when it is."""
    in_force = rebalance_date(day)
    if item.listed > in_force:
        entry = item.listed
        while rebalance_date(entry) < item.listed:
            entry = (entry.replace(day=28) + timedelta(days=4)).replace(day=1)
        return f"not listed yet: enters the basket at the rebalance of {rebalance_date(entry)}"
    if item.delisted is not None and day >= item.delisted:
        return f"delisted on {item.delisted.isoformat()}"
    return None


def blended(item: TokenPriceObservation, blend: Blend) -> int:
    """The price of one standard million tokens at scale 10,000 (exact)."""
    cached = item.input if item.cached_input is None else item.cached_input
    return (
        item.input * blend.input_bp + cached * blend.cached_input_bp + item.output * blend.output_bp
    )


def invalid_reason(item: TokenPriceObservation, blend: Blend) -> str | None:
    if not (item.provider and item.model and item.contributor):
        return "invalid: provider, model and contributor must not be empty"
    if item.input <= 0:
        return "invalid: input price missing, zero or negative"
    if item.output <= 0:
        return "invalid: output price missing, zero or negative"
    if item.cached_input is not None and item.cached_input < 0:
        return "invalid: cached input price negative"
    if item.cached_input == 0 and blend.cached_input_bp > 0:
        return "invalid: cached input price zero while the blend weighs it"
    return None


def _age_reason(item: TokenPriceObservation, day: date, staleness_days: int) -> str | None:
    if item.day > day:
        return f"dated {item.day.isoformat()}, after the fixing day"
    if (day - item.day).days > staleness_days:
        return f"stale: dated {item.day.isoformat()}, more than {staleness_days} days old"
    return None


def _screen(
    day: date,
    observations: Iterable[TokenPriceObservation],
    methodology: Methodology,
    lookup: dict[tuple[str, str], Constituent],
) -> tuple[dict[str, list[Exclusion]], list[Exclusion], dict[Key, list[TokenPriceObservation]]]:
    """Exclusions per constituent, unattributable exclusions, and fresh rows per key."""
    per_name: dict[str, list[Exclusion]] = {}
    loose: list[Exclusion] = []
    fresh: dict[Key, list[TokenPriceObservation]] = {}
    for item in observations:
        constituent = lookup.get((item.provider, item.model))
        reason = invalid_reason(item, methodology.blend)
        if reason is None and constituent is None:
            reason = "unknown model: not in the constituents list"
        if reason is None and constituent is not None:
            reason = listing_reason(constituent, day) or _age_reason(
                item, day, methodology.staleness_days
            )
        if reason is None:
            fresh.setdefault((item.contributor, item.provider, item.model, item.level), []).append(
                item
            )
            continue
        exclusion = Exclusion(item.provider, item.model, item.contributor, item.source, reason)
        target = loose if constituent is None else per_name.setdefault(constituent.name, [])
        target.append(exclusion)
    return per_name, loose, fresh


def _latest(rows: list[TokenPriceObservation], blend: Blend) -> tuple[int | None, list[Exclusion]]:
    """The carried-forward value of one key, and the rows left out (superseded, duplicate)."""
    newest = max(item.day for item in rows)
    excluded = [
        _exclude(item, f"superseded by this contributor's price of {newest.isoformat()}")
        for item in rows
        if item.day < newest
    ]
    current = sorted((item for item in rows if item.day == newest), key=_row_key)
    values = {blended(item, blend) for item in current}
    prices = {(item.input, item.output, item.cached_input) for item in current}
    if len(prices) > 1 or len(values) > 1:
        reason = "conflicting rows: one contributor sent different prices for the same day"
        return None, excluded + [_exclude(item, reason) for item in current]
    return values.pop(), excluded + [_exclude(item, "duplicate row") for item in current[1:]]


def _exclude(item: TokenPriceObservation, reason: str) -> Exclusion:
    return Exclusion(item.provider, item.model, item.contributor, item.source, reason)


def _row_key(item: TokenPriceObservation) -> tuple[str, str]:
    return (item.source, item.day.isoformat())


def _determinations(
    day: date,
    observations: Sequence[TokenPriceObservation],
    constituents: Constituents,
    methodology: Methodology,
) -> tuple[dict[str, Determination], dict[str, list[Exclusion]], list[Exclusion]]:
    """Each basket constituent's price; exclusions of constituents outside it; the rest."""
    lookup = constituents.lookup()
    per_name, loose, fresh = _screen(day, observations, methodology, lookup)
    inputs: dict[str, list[Input]] = {}
    for key in sorted(fresh, key=lambda k: (k[0], k[1], k[2], k[3].rank)):
        contributor, provider, model, level = key
        name = lookup[(provider, model)].name
        value, excluded = _latest(fresh[key], methodology.blend)
        per_name.setdefault(name, []).extend(excluded)
        if value is not None:
            source = min(item.source for item in fresh[key])
            inputs.setdefault(name, []).append(
                Input(provider, model, contributor, source, level, value)
            )
    results = {}
    for item in constituents.items:
        if listing_reason(item, day) is not None:
            continue
        result = determine(
            inputs.get(item.name, []),
            required=methodology.min_providers,
            maker=item.maker,
            aggregators=methodology.aggregators,
            rule=methodology.outliers,
            scale=BP,
        )
        screened = per_name.get(item.name, [])
        results[item.name] = Determination(
            result.price,
            result.providers,
            result.independent,
            result.inputs,
            result.level,
            result.maker_only,
            tuple(sorted([*result.excluded, *screened], key=exclusion_key)),
        )
    others = {name: found for name, found in per_name.items() if name not in results}
    return results, others, loose


def _fixing(
    index: str,
    day: date,
    methodology: Methodology,
    parts: list[ConstituentPrice],
    raw: list[int],
    excluded: Iterable[Exclusion],
    coverage_bp: int,
    quality: Quality,
) -> Fixing:
    value = None
    if quality is not Quality.NOT_PUBLISHED:
        total = sum(part.price * weight for part, weight in zip(parts, raw, strict=True))
        value = round_half_even(total, sum(raw))
    level = max((part.level for part in parts), key=lambda lv: lv.rank, default=None)
    return Fixing(
        index=index,
        day=day,
        value=value,
        unit=methodology.unit,
        methodology_version=methodology.version,
        constituents=tuple(parts) if value is not None else (),
        excluded=tuple(sorted(set(excluded), key=exclusion_key)),
        coverage_bp=coverage_bp,
        quality=quality,
        level=level or DataLevel.LIST_PRICE,
        inputs_sha256="",
    )


def _unpriced(name: str, result: Determination) -> Exclusion:
    """A basket member without a price is named in the fixing, with the reason."""
    why = "its inputs were all excluded (see above)" if result.excluded else "no input at all"
    return Exclusion("basket", name, "", "", f"constituent not priced on this day: {why}")


def _grade_fixing(
    grade: Grade,
    day: date,
    methodology: Methodology,
    members: list[str],
    results: dict[str, Determination],
    outside: list[Exclusion],
) -> Fixing:
    priced = [name for name in members if results[name].price is not None]
    weights = allocate([1] * len(priced)) if priced else []
    parts = []
    for name, weight in zip(priced, weights, strict=True):
        result = results[name]
        assert result.price is not None
        assert result.level is not None
        parts.append(
            ConstituentPrice(
                name,
                grade.name,
                result.price,
                weight,
                result.providers,
                result.inputs,
                result.level,
            )
        )
    coverage = len(priced) * BP // len(members) if members else 0
    flagged = any(results[name].maker_only for name in priced)
    if coverage < methodology.coverage_floor_bp or len(priced) < grade.min_constituents:
        quality = Quality.NOT_PUBLISHED
    elif coverage < BP or flagged:
        quality = Quality.LOW_COVERAGE
    else:
        quality = Quality.OK
    excluded = [*outside, *(found for name in members for found in results[name].excluded)]
    excluded.extend(_unpriced(name, results[name]) for name in members if name not in priced)
    return _fixing(
        grade.index, day, methodology, parts, [1] * len(parts), excluded, coverage, quality
    )


def _composite(
    day: date, methodology: Methodology, grades: dict[str, Fixing], loose: list[Exclusion]
) -> Fixing:
    published = [g for g in methodology.grades if grades[g.index].value is not None]
    weights = allocate([g.weight_bp for g in published]) if published else []
    parts = []
    for grade, weight in zip(published, weights, strict=True):
        fixing = grades[grade.index]
        assert fixing.value is not None
        providers = sorted({p for part in fixing.constituents for p in part.providers})
        inputs = sum(part.inputs for part in fixing.constituents)
        parts.append(
            ConstituentPrice(
                grade.index,
                grade.name,
                fixing.value,
                weight,
                tuple(providers),
                inputs,
                fixing.level,
            )
        )
    coverage = sum(g.weight_bp * grades[g.index].coverage_bp for g in published) // BP
    if coverage < methodology.coverage_floor_bp:
        quality = Quality.NOT_PUBLISHED
    elif all(fixing.quality is Quality.OK for fixing in grades.values()):
        quality = Quality.OK
    else:
        quality = Quality.LOW_COVERAGE
    excluded = [*loose, *(e for fixing in grades.values() for e in fixing.excluded)]
    return _fixing(
        methodology.composite,
        day,
        methodology,
        parts,
        [g.weight_bp for g in published],
        excluded,
        coverage,
        quality,
    )


def compute_token_fixings(
    day: date,
    observations: Sequence[TokenPriceObservation],
    constituents: Constituents,
    methodology: Methodology,
) -> dict[str, Fixing]:
    """The composite and every grade sub-index for ``day``, keyed by index code."""
    results, others, loose = _determinations(day, observations, constituents, methodology)
    fixings = {}
    for grade in methodology.grades:
        names = [item.name for item in constituents.items if grade.name in item.grades]
        members = [name for name in names if name in results]
        outside = [found for name in names for found in others.get(name, [])]
        fixings[grade.index] = _grade_fixing(grade, day, methodology, members, results, outside)
    fixings[methodology.composite] = _composite(day, methodology, fixings, loose)
    canonical = canonical_inputs(observations, constituents)
    return {code: seal(fixing, canonical) for code, fixing in fixings.items()}
