"""The robust cross-provider price of one constituent: hierarchy, caps, median and MAD.

All arithmetic is exact on integers. A value at scale ``S`` means ``value / S`` micro-USD;
``median2`` returns twice the median, so the median of an even count stays exact. The steps,
for the inputs of one constituent on one day (already valid, listed and fresh):

1. **Data hierarchy.** Levels are tried best first (trade, firm quote, list price); the first
   level with at least ``required`` independent providers *and* ``required`` distinct
   contributors is used. Else the maker's own price (token indices), else, where partial data
   is allowed (GPU indices), the level with the most independent providers. Inputs at other
   levels are excluded with their reason.
2. **Contributor cap.** Each contributor has one vote: the median of its inputs for the
   constituent, whatever the number of rows, model ids or providers it sent.
3. **Outliers.** With at least ``min_inputs`` votes, a vote more than ``k`` scaled MADs
   (MAD x 1.4826) from the median of the votes is excluded. When the MAD is 0 (more than half
   the votes agree exactly), every vote equal to the median is kept and every other excluded.
4. **Price.** The median of the kept votes, rounded half to even to the micro-USD.

Bound (docs/index-methodology.md, "Manipulation bound"): with n >= 4 votes, at least 3 of them
are kept and the kept set is an interval around the median, so the price lies between the
smallest and the largest of the *other* n - 1 votes whatever one vote says.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tokenfutures.domain.index.fixing import Exclusion
from tokenfutures.domain.index.methodology import OutlierRule
from tokenfutures.domain.index.observations import DataLevel


@dataclass(frozen=True, slots=True)
class Input:
    """One valid input of a constituent, its price exact at the caller's scale."""

    provider: str
    name: str  # the provider's model id, or the accelerator variant
    contributor: str
    source: str
    level: DataLevel
    value: int

    def excluded(self, reason: str) -> Exclusion:
        return Exclusion(self.provider, self.name, self.contributor, self.source, reason)


@dataclass(frozen=True, slots=True)
class Determination:
    """A constituent's robust price (None when the data do not suffice) and the exclusions."""

    price: int | None  # micro-USD, rounded half to even
    providers: tuple[str, ...]  # providers of the inputs used
    independent: int  # independent providers (aggregators not counted) at the level used
    inputs: int  # inputs used
    level: DataLevel | None
    maker_only: bool  # the maker's own price stands alone (flagged)
    excluded: tuple[Exclusion, ...]


def round_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, ties to even (denominator > 0)."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        return quotient + 1
    return quotient


def median2(values: Sequence[int]) -> int:
    """Twice the median of a non-empty sequence, exact."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return 2 * ordered[middle]
    return ordered[middle - 1] + ordered[middle]


def outliers(values: Sequence[int], rule: OutlierRule) -> dict[int, str]:
    """Positions of the values the median/MAD rule excludes, each with its reason."""
    if len(values) < rule.min_inputs:
        return {}
    centre2 = median2(values)
    deviations2 = [abs(2 * value - centre2) for value in values]  # 2 x |x - median|
    mad4 = median2(deviations2)  # 4 x MAD
    # |x - m| > k * scale * MAD  <=>  2|x - m| * 2 * 10_000 > k * scale_e4 * 4 MAD
    limit = rule.k * rule.mad_scale_e4 * mad4
    found = {}
    for position, deviation2 in enumerate(deviations2):
        if deviation2 * 20_000 <= limit:
            continue
        if mad4 == 0:
            found[position] = "outlier: differs from the median while most inputs agree (MAD 0)"
        else:
            tenths = deviation2 * 200_000 // (rule.mad_scale_e4 * mad4)
            found[position] = (
                f"outlier: {tenths // 10}.{tenths % 10} scaled MADs from the median"
                f" (limit {rule.k})"
            )
    return found


def _independent(inputs: Iterable[Input], aggregators: tuple[str, ...]) -> int:
    """Independent support: distinct non-aggregator providers, but never more than the
    distinct contributors who reported them (one contributor naming three providers is one
    voice, not three)."""
    own = [item for item in inputs if item.provider not in aggregators]
    return min(len({item.provider for item in own}), len({item.contributor for item in own}))


def _maker_own(item: Input, maker: str | None) -> bool:
    """The maker's own price, reported by the maker itself: the only input that may stand alone."""
    return maker is not None and item.provider == maker and item.contributor == maker


def _choose_level(
    by_level: dict[DataLevel, list[Input]],
    required: int,
    maker: str | None,
    aggregators: tuple[str, ...],
    partial: bool,
) -> tuple[DataLevel | None, bool]:
    """The level to use and whether it is the maker-only fallback."""
    levels = sorted(by_level, key=lambda level: level.rank)
    for level in levels:
        rows = by_level[level]
        contributors = len({item.contributor for item in rows})
        if _independent(rows, aggregators) >= required and contributors >= required:
            return level, False
    for level in levels:
        if any(_maker_own(item, maker) for item in by_level[level]):
            return level, True
    if partial and levels:
        best = max(levels, key=lambda lv: (_independent(by_level[lv], aggregators), -lv.rank))
        return best, False
    return None, False


def _level_reason(item: Input, level: DataLevel) -> str:
    if item.level == level:
        return "below min providers: the maker's own price is used alone"
    if item.level.rank > level.rank:
        return f"lower data level than another input: {level.value} inputs used"
    return f"too few independent {item.level.value} inputs: {level.value} inputs used"


def determine(
    inputs: Sequence[Input],
    *,
    required: int,
    maker: str | None,
    aggregators: tuple[str, ...],
    rule: OutlierRule,
    scale: int,
    partial: bool = False,
) -> Determination:
    """The robust price of one constituent from its inputs (any order; result order-free)."""
    ordered = sorted(inputs, key=_input_key)
    by_level: dict[DataLevel, list[Input]] = {}
    for item in ordered:
        by_level.setdefault(item.level, []).append(item)
    level, maker_only = _choose_level(by_level, required, maker, aggregators, partial)
    if level is None:
        found = _independent(ordered, aggregators)
        reason = f"below min providers: {found} independent provider(s), {required} required"
        return Determination(None, (), found, 0, None, False, _all(ordered, reason))
    used = [i for i in by_level[level] if not maker_only or _maker_own(i, maker)]
    excluded = [item.excluded(_level_reason(item, level)) for item in ordered if item not in used]
    votes: dict[str, list[Input]] = {}
    for item in used:
        votes.setdefault(item.contributor, []).append(item)
    names = sorted(votes)
    values = [median2([item.value for item in votes[name]]) for name in names]
    rejected = outliers(values, rule)
    kept_values = []
    kept_inputs: list[Input] = []
    for position, name in enumerate(names):
        if position in rejected:
            excluded.extend(item.excluded(rejected[position]) for item in votes[name])
        else:
            kept_values.append(values[position])
            kept_inputs.extend(votes[name])
    price = round_half_even(median2(kept_values), 4 * scale)
    return Determination(
        price=price,
        providers=tuple(sorted({item.provider for item in kept_inputs})),
        independent=_independent(kept_inputs, aggregators),
        inputs=len(kept_inputs),
        level=level,
        maker_only=maker_only,
        excluded=tuple(sorted(excluded, key=exclusion_key)),
    )


def allocate(weights: Sequence[int], total: int = 10_000) -> list[int]:
    """Integer shares of ``total`` proportional to ``weights`` (largest remainder, ties first)."""
    whole = sum(weights)
    shares = [weight * total // whole for weight in weights]
    remainders = [weight * total % whole for weight in weights]
    order = sorted(range(len(weights)), key=lambda position: (-remainders[position], position))
    for position in order[: total - sum(shares)]:
        shares[position] += 1
    return shares


def _all(inputs: Iterable[Input], reason: str) -> tuple[Exclusion, ...]:
    return tuple(sorted((item.excluded(reason) for item in inputs), key=exclusion_key))


def _input_key(item: Input) -> tuple[str, str, str, str, int, int]:
    return (item.provider, item.name, item.contributor, item.source, item.level.rank, item.value)


def exclusion_key(item: Exclusion) -> tuple[str, str, str, str, str]:
    return (item.provider, item.name, item.contributor, item.source, item.reason)
