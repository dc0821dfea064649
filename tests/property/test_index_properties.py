"""Properties of the index methodology that must hold for any data (docs/index-methodology.md).

- order: the fixings (hashes included) do not depend on the order of the observations;
- scale: multiplying every price by k multiplies each value by k, up to the rounding bound
  |I(k p) - k I(p)| <= (k + 1) x r / 2 micro-USD, r the number of roundings (2 for a grade,
  3 for the composite; the exclusions and publication decisions are exactly unchanged);
- manipulation: one contributor quoting anything (0, 100x, any level) moves a grade by at most
  the average over its constituents of the range of the other contributors' prices, plus the
  rounding (+1 micro-USD), when each constituent has 3 other independent contributors;
- coverage: below the coverage floor a grade is not published;
- hierarchy: sufficient trades outrank list prices;
- settlement: the final settlement price is the rounded average of the window.
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

import tokenfutures
from tokenfutures.domain.index.aggregation import round_half_even
from tokenfutures.domain.index.fixing import Quality
from tokenfutures.domain.index.gpu_index import compute_gpu_fixings
from tokenfutures.domain.index.methodology import parse_constituents, parse_methodology
from tokenfutures.domain.index.observations import (
    DataLevel,
    GpuPriceObservation,
    TokenPriceObservation,
)
from tokenfutures.domain.index.settlement import final_settlement_price
from tokenfutures.domain.index.token_index import compute_token_fixings

DAY = date(2025, 6, 10)
PACKAGED = Path(tokenfutures.__file__).parent / "data" / "index_methodology.toml"
_DOC = tomllib.loads(PACKAGED.read_text(encoding="utf-8"))
for _body in _DOC["grades"].values():
    _body["min_constituents"] = 1  # so that small generated baskets publish
METHODOLOGY = parse_methodology(_DOC)
PROVIDERS = ("a", "b", "c", "d", "openrouter")
MODELS = ("open-1", "open-2", "open-3", "front-1", "front-2")
CONSTITUENTS = parse_constituents(
    {
        "constituent": [
            {
                "name": model,
                "grades": ["open", "chinese"] if model.startswith("open") else ["frontier"],
                "listed": "2025-01-01",
                "maker": "a",
                "providers": {p: [f"{p}/{model}"] for p in (*PROVIDERS, "m")},
            }
            for model in MODELS
        ]
    },
    METHODOLOGY,
)
OPEN = ("open-1", "open-2", "open-3")
LEVELS = st.sampled_from(list(DataLevel))
PRICES = st.integers(min_value=1, max_value=100_000_000)


def row(contributor: str, provider: str, model: str, **fields: Any) -> TokenPriceObservation:
    return TokenPriceObservation(
        source="prop",
        contributor=contributor,
        provider=provider,
        model=f"{provider}/{model}",
        day=fields.get("day", DAY),
        input=fields.get("input", 1_000_000),
        output=fields.get("output", 4_000_000),
        cached_input=fields.get("cached_input"),
        level=fields.get("level", DataLevel.LIST_PRICE),
    )


@st.composite
def observations(draw: st.DrawFn) -> list[TokenPriceObservation]:
    """Any mix: valid and invalid prices, levels, stale and future days, duplicates."""
    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=30))):
        provider = draw(st.sampled_from(PROVIDERS))
        rows.append(
            row(
                draw(st.sampled_from((provider, provider, "broker-x", "broker-y"))),
                provider,
                draw(st.sampled_from((*MODELS, "unknown"))),
                day=DAY - timedelta(days=draw(st.integers(min_value=-1, max_value=9))),
                input=draw(st.one_of(PRICES, st.integers(min_value=-5, max_value=0))),
                output=draw(PRICES),
                cached_input=draw(st.one_of(st.none(), PRICES)),
                level=draw(LEVELS),
            )
        )
    return rows + draw(st.lists(st.sampled_from(rows), max_size=3)) if rows else rows


@settings(max_examples=60, deadline=None)
@given(observations(), st.randoms(use_true_random=False))
def test_fixings_do_not_depend_on_input_order(rows, shuffler):
    shuffled = list(rows)
    shuffler.shuffle(shuffled)
    first = compute_token_fixings(DAY, rows, CONSTITUENTS, METHODOLOGY)
    assert compute_token_fixings(DAY, shuffled, CONSTITUENTS, METHODOLOGY) == first


@settings(max_examples=60, deadline=None)
@given(observations(), st.integers(min_value=2, max_value=1000))
def test_scaling_every_price_scales_every_index(rows, k):
    scaled = [
        replace(
            r,
            input=r.input * k,
            output=r.output * k,
            cached_input=None if r.cached_input is None else r.cached_input * k,
        )
        for r in rows
    ]
    base = compute_token_fixings(DAY, rows, CONSTITUENTS, METHODOLOGY)
    after = compute_token_fixings(DAY, scaled, CONSTITUENTS, METHODOLOGY)
    for code, fixing in base.items():
        other = after[code]
        assert (other.quality, other.coverage_bp) == (fixing.quality, fixing.coverage_bp)
        assert [e.reason for e in other.excluded] == [e.reason for e in fixing.excluded]
        if fixing.value is None:
            assert other.value is None
            continue
        assert other.value is not None
        roundings = 3 if code == "TKN" else 2
        assert 2 * abs(other.value - k * fixing.value) <= (k + 1) * roundings


def _blend(input_price: int, output_price: int) -> int:
    return input_price * 7500 + output_price * 2500  # scale 10,000


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.lists(PRICES, min_size=3, max_size=3), min_size=3, max_size=3),
    st.lists(st.one_of(st.just(0), st.integers(-10, 10**10)), min_size=3, max_size=3),
    LEVELS,
    st.sampled_from(("m", "broker-x")),
)
@example([[10**6] * 3] * 3, [0, 10**8, 10**10], DataLevel.LIST_PRICE, "m")  # 0, 100x, huge
@example([[10**6, 2 * 10**6, 3 * 10**6]] * 3, [10**10] * 3, DataLevel.TRADE, "broker-x")
def test_one_contributor_moves_a_grade_by_a_bounded_amount(honest, quotes, level, contributor):
    rows = [
        row(p, p, model, input=price, output=4 * price)
        for model, prices in zip(OPEN, honest, strict=True)
        for p, price in zip(("b", "c", "d"), prices, strict=True)
    ]
    baseline = [
        row("m", "m", model, input=p[0], output=4 * p[0])
        for model, p in zip(OPEN, honest, strict=True)
    ]
    attack = [
        row(contributor, "m", model, input=q, output=max(q, 0) * 100, level=level)
        for model, q in zip(OPEN, quotes, strict=True)
    ]
    before = compute_token_fixings(DAY, rows + baseline, CONSTITUENTS, METHODOLOGY)["TKN-OPEN"]
    after = compute_token_fixings(DAY, rows + attack, CONSTITUENTS, METHODOLOGY)["TKN-OPEN"]
    assert before.value is not None
    assert after.value is not None
    spread = 0
    for prices in honest:
        blends = [_blend(p, 4 * p) for p in prices]
        spread += -(-max(blends) // 10_000) - min(blends) // 10_000
    assert 3 * abs(after.value - before.value) <= spread + 3


@settings(max_examples=40, deadline=None)
@given(st.sets(st.sampled_from(OPEN)))
def test_below_the_coverage_floor_nothing_is_published(priced):
    rows = [row(p, p, model) for model in sorted(priced) for p in ("b", "c")]
    grade = compute_token_fixings(DAY, rows, CONSTITUENTS, METHODOLOGY)["TKN-OPEN"]
    coverage = len(priced) * 10_000 // len(OPEN)
    assert grade.coverage_bp == coverage
    if coverage < METHODOLOGY.coverage_floor_bp:
        assert (grade.value, grade.quality) == (None, Quality.NOT_PUBLISHED)
    else:
        assert grade.value is not None
        assert grade.quality is (Quality.OK if len(priced) == 3 else Quality.LOW_COVERAGE)


@settings(max_examples=60, deadline=None)
@given(st.lists(PRICES, min_size=2, max_size=2), st.lists(PRICES, min_size=3, max_size=3))
def test_a_contributed_trade_outranks_a_list_price(trades, lists):
    rows = [
        row(p, p, "open-1", input=x, output=x) for p, x in zip(("b", "c", "d"), lists, strict=True)
    ]
    rows += [
        row(broker, provider, "open-1", input=x, output=x, level=DataLevel.TRADE)
        for broker, provider, x in zip(("broker-x", "broker-y"), ("b", "c"), trades, strict=True)
    ]
    rows += [row(p, p, model) for model in OPEN[1:] for p in ("b", "c")]
    grade = compute_token_fixings(DAY, rows, CONSTITUENTS, METHODOLOGY)["TKN-OPEN"]
    constituent = grade.constituents[0]
    assert constituent.name == "open-1"
    assert constituent.level is DataLevel.TRADE
    assert constituent.price == round_half_even(sum(trades), 2)
    assert {e.reason for e in grade.excluded} == {
        "lower data level than another input: trade inputs used"
    }


@settings(max_examples=40, deadline=None)
@given(st.lists(PRICES, min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_settlement_is_the_average_of_the_window(values, shuffler: random.Random):
    fixings = []
    for offset, value in enumerate(values):
        day = DAY + timedelta(days=offset)
        quotes = [
            GpuPriceObservation("prop", p, p, "H100", "SXM", 8, day, value, DataLevel.LIST_PRICE)
            for p in ("a", "b", "c")
        ]
        fixings.append(compute_gpu_fixings(day, quotes, METHODOLOGY)["GPU-H100"])
    window = [fixing.day for fixing in fixings]
    shuffler.shuffle(fixings)
    price = final_settlement_price(fixings, window)
    assert price == round_half_even(sum(values), len(values))
    assert min(values) <= price <= max(values)
