"""Aggregation rules, token and GPU fixings, settlement and the audit trail, one rule a test."""

from __future__ import annotations

import hashlib
import json
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

import tokenfutures
from tokenfutures.domain.index.aggregation import (
    Input,
    allocate,
    determine,
    median2,
    outliers,
    round_half_even,
)
from tokenfutures.domain.index.audit import (
    canonical_inputs,
    explain,
    fixing_document,
    inputs_sha256,
)
from tokenfutures.domain.index.fixing import Quality
from tokenfutures.domain.index.gpu_index import compute_gpu_fixings
from tokenfutures.domain.index.methodology import (
    Constituents,
    Methodology,
    OutlierRule,
    parse_constituents,
    parse_methodology,
)
from tokenfutures.domain.index.observations import (
    DataLevel,
    GpuPriceObservation,
    TokenPriceObservation,
)
from tokenfutures.domain.index.settlement import SettlementError, final_settlement_price
from tokenfutures.domain.index.token_index import compute_token_fixings

DAY = date(2025, 6, 10)
LIST, QUOTE, TRADE = DataLevel.LIST_PRICE, DataLevel.FIRM_QUOTE, DataLevel.TRADE
RULE = OutlierRule(k=3, mad_scale_e4=14826, min_inputs=3)
PACKAGED = Path(tokenfutures.__file__).parent / "data" / "index_methodology.toml"


@pytest.fixture(scope="module")
def methodology() -> Methodology:
    return parse_methodology(tomllib.loads(PACKAGED.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def constituents(methodology: Methodology) -> Constituents:
    """Three open models sold by a, b, c; a frontier model sold by its maker only."""
    rows: list[dict[str, Any]] = [
        {
            "name": f"open-{n}",
            "grades": ["open"],
            "listed": "2025-01-01",
            "providers": {p: [f"{p}/open-{n}"] for p in ("a", "b", "c", "openrouter")},
        }
        for n in (1, 2, 3)
    ]
    rows.append(
        {
            "name": "frontier-1",
            "grades": ["frontier"],
            "listed": "2025-01-01",
            "maker": "lab",
            "providers": {"lab": ["f1"], "b": ["b/f1"]},
        }
    )
    rows.append({**rows[0], "name": "open-late", "listed": "2025-07-01",
                 "providers": {"a": ["a/late"]}})  # fmt: skip
    return parse_constituents({"constituent": rows}, methodology)


def tok(provider: str, model: str, price: int = 1_000_000, **changes: Any) -> TokenPriceObservation:
    fields: dict[str, Any] = {
        "source": "test",
        "contributor": provider,
        "provider": provider,
        "model": model,
        "day": DAY,
        "input": price,
        "output": 3 * price,
        "cached_input": None,
        "level": LIST,
    }
    fields.update(changes)
    return TokenPriceObservation(**fields)


def open_rows(model: str, prices: dict[str, int], **changes: Any) -> list[TokenPriceObservation]:
    return [tok(p, f"{p}/{model}", price, **changes) for p, price in prices.items()]


def item(contributor: str, value: int, level: DataLevel = LIST, provider: str = "") -> Input:
    return Input(provider or contributor, "m", contributor, "test", level, value)


def reasons(fixing: Any) -> dict[tuple[str, str], str]:
    return {(e.provider, e.name): e.reason for e in fixing.excluded}


# --- arithmetic -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(5, 2, 2), (7, 2, 4), (-5, 2, -2), (10, 4, 2), (11, 4, 3), (1, 3, 0), (2, 3, 1)],
)
def test_round_half_even(numerator, denominator, expected):
    assert round_half_even(numerator, denominator) == expected


def test_median2_is_twice_the_median_exactly():
    assert median2([3, 1, 2]) == 4
    assert median2([4, 1, 2, 3]) == 5
    assert median2([7]) == 14


def test_allocate_sums_to_10000_by_largest_remainder():
    assert allocate([1, 1, 1]) == [3334, 3333, 3333]
    assert allocate([4000, 2500, 1500]) == [5000, 3125, 1875]
    assert sum(allocate([1] * 7)) == 10_000


# --- the outlier rule ---------------------------------------------------------------------


def test_mad_rule_excludes_beyond_three_scaled_mads():
    # median 101, deviations 1,0,2,1,49 -> MAD 1, limit 3 x 1.4826 = 4.45
    found = outliers([100, 101, 99, 102, 150], RULE)
    assert list(found) == [4]
    assert found[4] == "outlier: 33.0 scaled MADs from the median (limit 3)"
    assert outliers([100, 101, 99, 104], RULE) == {}  # 4 is within 4.45 MADs (MAD 1.5)


def test_mad_rule_needs_three_inputs():
    assert outliers([1, 1_000_000], RULE) == {}


def test_mad_zero_keeps_everything_equal_to_the_median():
    found = outliers([5, 5, 5, 6], RULE)
    assert list(found) == [3]
    assert "MAD 0" in found[3]
    assert outliers([5, 5, 5], RULE) == {}


# --- determine: hierarchy and caps --------------------------------------------------------


def settle(inputs: list[Input], **options: Any) -> Any:
    params: dict[str, Any] = {"required": 2, "maker": None, "aggregators": ("agg",)}
    params.update(options)
    return determine(inputs, rule=RULE, scale=1, **params)


def test_trades_outrank_list_prices_when_sufficient():
    result = settle([item("a", 10, TRADE), item("b", 12, TRADE), item("c", 50), item("d", 60)])
    assert result.level is TRADE
    assert result.price == 11  # the median of 10 and 12
    assert {e.reason for e in result.excluded} == {
        "lower data level than another input: trade inputs used"
    }


def test_a_lone_trade_cannot_decide_the_price():
    result = settle([item("a", 10, TRADE), item("c", 50), item("d", 60)])
    assert result.level is LIST
    assert [e.reason for e in result.excluded] == [
        "too few independent trade inputs: list_price inputs used"
    ]


def test_one_contributor_counts_once_whatever_it_sends():
    # broker x reports trades with three providers; alone it is one vote, not enough
    rows = [item("x", v, TRADE, provider=p) for v, p in ((10, "a"), (11, "b"), (12, "c"))]
    result = settle([*rows, item("d", 40), item("e", 44)])
    assert result.level is LIST
    assert result.price == round_half_even(4 * 42, 4)


def test_aggregators_are_not_independent_providers():
    result = settle([item("a", 10), item("agg", 10)])
    assert result.price is None
    assert result.excluded[0].reason == (
        "below min providers: 1 independent provider(s), 2 required"
    )


def test_the_makers_own_price_may_stand_alone_and_is_flagged():
    result = settle([item("lab", 100), item("agg", 90)], maker="lab")
    assert (result.price, result.maker_only) == (100, True)
    assert result.excluded[0].reason == "below min providers: the maker's own price is used alone"


# --- token fixings ------------------------------------------------------------------------


def healthy(**changes: Any) -> list[TokenPriceObservation]:
    rows = []
    for n, base in ((1, 1_000_000), (2, 2_000_000), (3, 4_000_000)):
        rows += open_rows(f"open-{n}", {"a": base, "b": base + 20_000, "c": base + 40_000})
    return [*rows, tok("lab", "f1", 10_000_000, **changes)]


def test_grade_value_is_the_equal_weighted_average_of_robust_prices(methodology, constituents):
    fixings = compute_token_fixings(DAY, healthy(), constituents, methodology)
    grade = fixings["TKN-OPEN"]
    # blended = 0.75 x p + 0.25 x 3p = 1.5 p; medians: 1.53, 3.03, 6.03 USD
    assert [(c.name, c.price, c.weight_bp) for c in grade.constituents] == [
        ("open-1", 1_530_000, 3334),
        ("open-2", 3_030_000, 3333),
        ("open-3", 6_030_000, 3333),
    ]
    assert grade.value == (1_530_000 + 3_030_000 + 6_030_000) // 3  # exactly equal weights
    assert (grade.quality, grade.coverage_bp, grade.level) == (Quality.OK, 10_000, LIST)
    assert grade.unit == "USD per million standard tokens"
    assert len(grade.inputs_sha256) == 64


def test_composite_reweights_over_published_grades(methodology, constituents):
    fixings = compute_token_fixings(DAY, healthy(), constituents, methodology)
    assert fixings["TKN-FRONTIER"].value is None  # one constituent, three required
    assert fixings["TKN-FRONTIER"].quality is Quality.NOT_PUBLISHED
    composite = fixings["TKN"]
    assert composite.value is None
    assert composite.constituents == ()
    assert composite.coverage_bp == 2000  # only the open grade's 20% weight is covered
    assert composite.quality is Quality.NOT_PUBLISHED


def test_every_bad_row_has_a_reason(methodology, constituents):
    bad = [
        tok("a", "a/open-1", 0),
        tok("b", "b/open-1", -3),
        tok("c", "c/open-1", output=0),
        tok("a", "a/unknown"),
        tok("a", "a/open-2", day=DAY - timedelta(days=8)),
        tok("a", "a/open-3", day=DAY + timedelta(days=1)),
        tok("a", "a/late"),
    ]
    fixings = compute_token_fixings(DAY, bad, constituents, methodology)
    found = {key: why for key, why in reasons(fixings["TKN"]).items() if key[0] != "basket"}
    unpriced = {key[1] for key in reasons(fixings["TKN"]) if key[0] == "basket"}
    assert unpriced >= {"open-1", "open-2", "open-3"}  # every unpriced member is named
    assert found == {
        ("a", "a/open-1"): "invalid: input price missing, zero or negative",
        ("b", "b/open-1"): "invalid: input price missing, zero or negative",
        ("c", "c/open-1"): "invalid: output price missing, zero or negative",
        ("a", "a/unknown"): "unknown model: not in the constituents list",
        ("a", "a/open-2"): "stale: dated 2025-06-02, more than 7 days old",
        ("a", "a/open-3"): "dated 2025-06-11, after the fixing day",
        ("a", "a/late"): "not listed yet: enters the basket at the rebalance of 2025-07-01",
    }
    assert fixings["TKN-OPEN"].value is None
    assert ("a", "a/late") in reasons(fixings["TKN-OPEN"])


def test_duplicates_conflicts_and_carry_forward(methodology, constituents):
    rows = [
        *open_rows("open-1", {"a": 1_000_000, "b": 1_000_000}),
        tok("a", "a/open-1"),  # exact duplicate
        tok("c", "c/open-1", 1_000_000),
        tok("c", "c/open-1", 2_000_000),  # same day, another price: conflicting
        tok("b", "b/open-1", 5_000_000, day=DAY - timedelta(days=3)),  # superseded
    ]
    result = reasons(compute_token_fixings(DAY, rows, constituents, methodology)["TKN-OPEN"])
    assert result[("a", "a/open-1")] == "duplicate row"
    assert result[("c", "c/open-1")].startswith("conflicting rows")
    assert result[("b", "b/open-1")] == "superseded by this contributor's price of 2025-06-10"


def test_partial_coverage_is_published_and_flagged(methodology, constituents):
    rows = [r for r in healthy() if not r.model.endswith("open-3")]
    grade = compute_token_fixings(DAY, rows, constituents, methodology)["TKN-OPEN"]
    assert grade.value is None  # 2 priced < min_constituents 3
    relaxed = parse_methodology(
        {
            **tomllib.loads(PACKAGED.read_text(encoding="utf-8")),
        }
        | {"grades": _relaxed_grades()}
    )
    grade = compute_token_fixings(DAY, rows, constituents, relaxed)["TKN-OPEN"]
    assert (grade.coverage_bp, grade.quality) == (6666, Quality.LOW_COVERAGE)
    assert grade.value == round_half_even(1_530_000 * 5000 + 3_030_000 * 5000, 10_000)


def _relaxed_grades() -> dict[str, Any]:
    grades = tomllib.loads(PACKAGED.read_text(encoding="utf-8"))["grades"]
    for body in grades.values():
        body["min_constituents"] = 1
    return dict(grades)


def test_maker_only_price_is_used_and_flagged(methodology, constituents):
    relaxed = parse_methodology(
        tomllib.loads(PACKAGED.read_text(encoding="utf-8")) | {"grades": _relaxed_grades()}
    )
    grade = compute_token_fixings(DAY, healthy(), constituents, relaxed)["TKN-FRONTIER"]
    assert grade.value == 15_000_000
    assert grade.quality is Quality.LOW_COVERAGE
    assert grade.constituents[0].providers == ("lab",)
    assert "single provider" in explain(grade)


# --- GPU fixings ---------------------------------------------------------------------------


def gpu(provider: str, price: int, **changes: Any) -> GpuPriceObservation:
    fields: dict[str, Any] = {
        "source": "test",
        "contributor": provider,
        "provider": provider,
        "accelerator": "H100",
        "variant": "SXM",
        "gpus_per_instance": 8,
        "day": DAY,
        "price": price,
        "level": LIST,
    }
    fields.update(changes)
    return GpuPriceObservation(**fields)


def test_gpu_shapes_collapse_to_one_input_per_provider_and_variant(methodology):
    rows = [
        gpu("a", 2_000_000, gpus_per_instance=1),
        gpu("a", 3_000_000, gpus_per_instance=2),
        gpu("a", 9_000_000, gpus_per_instance=4),  # a's SXM input: median 3.00
        gpu("b", 2_500_000),
        gpu("c", 2_700_000),
        gpu("shadeform", 2_000_000),  # aggregator: used, not independent
        gpu("x", 1_000_000, accelerator="L40S"),  # not indexed: ignored
    ]
    fixing = compute_gpu_fixings(DAY, rows, methodology)["GPU-H100"]
    assert fixing.value == 2_600_000  # median of 2.0, 2.5, 2.7, 3.0
    assert fixing.quality is Quality.OK
    assert fixing.constituents[0].providers == ("a", "b", "c", "shadeform")
    assert fixing.unit == "USD per GPU-hour"


def test_gpu_coverage_is_the_share_of_required_providers(methodology):
    two = [gpu("a", 2_000_000), gpu("b", 2_200_000), gpu("primeintellect", 2_100_000)]
    fixing = compute_gpu_fixings(DAY, two, methodology)["GPU-H100"]
    assert (fixing.value, fixing.coverage_bp, fixing.quality) == (
        2_100_000,
        6666,
        Quality.LOW_COVERAGE,
    )
    one = compute_gpu_fixings(DAY, two[:1], methodology)["GPU-H100"]
    assert (one.value, one.coverage_bp, one.quality) == (None, 3333, Quality.NOT_PUBLISHED)
    assert compute_gpu_fixings(DAY, [], methodology)["GPU-B200"].value is None


def test_gpu_bad_rows_have_reasons(methodology):
    rows = [
        gpu("a", 0),
        gpu("b", 2_000_000, gpus_per_instance=0),
        gpu("c", 1, day=date(2025, 1, 1)),
    ]
    found = {
        e.provider: e.reason
        for e in compute_gpu_fixings(DAY, rows, methodology)["GPU-H100"].excluded
    }
    assert found == {
        "a": "invalid: price per GPU-hour missing, zero or negative",
        "b": "invalid: gpus_per_instance must be at least 1",
        "c": "stale: dated 2025-01-01, more than 7 days old",
    }


# --- settlement -----------------------------------------------------------------------------


def series(methodology: Methodology, values: list[int]) -> list[Any]:
    days = [DAY + timedelta(days=n) for n in range(len(values))]
    fixings = []
    for day, value in zip(days, values, strict=True):
        rows = [gpu(p, value, day=day) for p in ("a", "b", "c")]
        fixings.append(compute_gpu_fixings(day, rows, methodology)["GPU-H100"])
    return fixings


def test_settlement_is_the_rounded_average_of_the_window(methodology):
    fixings = series(methodology, [2_000_000, 2_000_001, 2_000_002, 2_000_002])
    window = [f.day for f in fixings]
    assert final_settlement_price(fixings, window) == 2_000_001  # 8_000_005 / 4 = ...1.25
    assert final_settlement_price(reversed(fixings), window[:2]) == 2_000_000  # 0.5 -> even


def test_settlement_refuses_a_missing_or_unpublished_day(methodology):
    fixings = series(methodology, [2_000_000, 2_100_000])
    window = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    with pytest.raises(SettlementError, match="2025-06-12: no fixing"):
        final_settlement_price(fixings, window)
    unpublished = compute_gpu_fixings(DAY, [], methodology)["GPU-H100"]
    with pytest.raises(SettlementError, match="not published"):
        final_settlement_price([unpublished], [DAY])
    with pytest.raises(SettlementError, match="window: must contain"):
        final_settlement_price(fixings, [])


def test_settlement_uses_the_latest_correction(methodology):
    from dataclasses import replace

    (original,) = series(methodology, [2_000_000])
    corrected = replace(original, value=2_200_000, version=2)
    assert final_settlement_price([corrected, original], [DAY]) == 2_200_000
    with pytest.raises(SettlementError, match="two different fixings with version 1"):
        final_settlement_price([original, replace(original, value=1)], [DAY])


# --- audit ------------------------------------------------------------------------------------


def test_hash_recomputes_from_the_documented_json(methodology, constituents):
    rows = healthy()
    fixing = compute_token_fixings(DAY, rows, constituents, methodology)["TKN-OPEN"]
    observations, listed = canonical_inputs(rows, constituents)
    document = {
        "format": "tokenfutures-index-audit/1",
        "methodology_version": "1.0.0",
        "constituents": json.loads(listed),
        "observations": json.loads(observations),
        "fixing": fixing_document(fixing),
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    assert hashlib.sha256(text.encode()).hexdigest() == fixing.inputs_sha256
    assert inputs_sha256(list(reversed(rows)), constituents, fixing) == fixing.inputs_sha256
    assert inputs_sha256(rows[1:], constituents, fixing) != fixing.inputs_sha256


def test_explain_tells_the_whole_story(methodology, constituents):
    rows = [*healthy(), tok("a", "a/unknown")]
    text = explain(compute_token_fixings(DAY, rows, constituents, methodology)["TKN-OPEN"])
    assert "TKN-OPEN fixed at 3.530000 USD per million standard tokens on 2025-06-10" in text
    assert "- open-1 (open): 1.530000 at 33.34% weight" in text
    assert "quality ok" in text
    assert "No input was excluded." in text
    composite = explain(compute_token_fixings(DAY, rows, constituents, methodology)["TKN"])
    assert "No value was published for TKN" in composite
    assert "unknown model: not in the constituents list." in composite


def test_composite_is_the_grade_weighted_average(methodology, constituents):
    relaxed = parse_methodology(
        tomllib.loads(PACKAGED.read_text(encoding="utf-8")) | {"grades": _relaxed_grades()}
    )
    fixings = compute_token_fixings(DAY, healthy(), constituents, relaxed)
    composite = fixings["TKN"]
    frontier, open_ = fixings["TKN-FRONTIER"].value, fixings["TKN-OPEN"].value
    assert [(c.name, c.weight_bp) for c in composite.constituents] == [
        ("TKN-FRONTIER", 6667),
        ("TKN-OPEN", 3333),
    ]
    assert composite.value == round_half_even(frontier * 4000 + open_ * 2000, 6000)
    assert composite.coverage_bp == 6000  # frontier 40% + open 20% of the weight
    assert composite.quality is Quality.LOW_COVERAGE  # efficient and chinese not published


def test_a_third_party_cannot_price_a_maker_only_model():
    # only the maker sells it; a contributor "evil" reports a trade under the maker's name
    rogue = item("evil", 10_000, TRADE, provider="lab")
    result = settle([item("lab", 100), rogue], maker="lab")
    assert (result.price, result.maker_only) == (100, True)
    assert [e.contributor for e in result.excluded] == ["evil"]


def test_one_contributor_naming_several_providers_is_one_partial_voice():
    rows = [item("x", 99, provider=p) for p in ("p1", "p2", "p3")]
    result = settle([*rows, item("b", 6)], required=3, partial=True)
    assert result.independent <= 2
