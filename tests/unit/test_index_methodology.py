"""The methodology and constituents documents: validation, listing, blend and screening rules."""

from __future__ import annotations

import copy
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

import tokenfutures
from tokenfutures.domain.index.methodology import (
    MethodologyError,
    parse_constituents,
    parse_methodology,
)
from tokenfutures.domain.index.observations import DataLevel, TokenPriceObservation
from tokenfutures.domain.index.token_index import (
    blended,
    invalid_reason,
    listing_reason,
    rebalance_date,
)

PACKAGED = Path(tokenfutures.__file__).parent / "data" / "index_methodology.toml"


@pytest.fixture
def document() -> dict[str, Any]:
    return tomllib.loads(PACKAGED.read_text(encoding="utf-8"))


def constituents_doc(**changes: Any) -> dict[str, Any]:
    row = {
        "name": "deepseek-v3",
        "grades": ["open", "chinese"],
        "listed": "2025-01-01",
        "maker": "deepseek",
        "providers": {"deepseek": ["deepseek-chat"], "together": ["deepseek-ai/DeepSeek-V3"]},
    }
    row.update(changes)
    return {"constituent": [row]}


def test_packaged_methodology_is_version_1_with_the_3_to_1_blend(document):
    methodology = parse_methodology(document)
    assert methodology.version == "1.0.0"
    blend = methodology.blend
    assert (blend.input_bp, blend.cached_input_bp, blend.output_bp) == (7500, 0, 2500)
    assert [grade.name for grade in methodology.grades] == [
        "frontier",
        "efficient",
        "open",
        "chinese",
    ]
    assert sum(grade.weight_bp for grade in methodology.grades) == 10_000
    assert methodology.staleness_days == 7
    assert methodology.coverage_floor_bp == 5000
    assert (methodology.outliers.k, methodology.outliers.mad_scale_e4) == (3, 14826)
    assert methodology.gpu.accelerators == ("H100", "H200", "B200", "A100")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("version",), "1.0", "version: must be MAJOR.MINOR.PATCH"),
        (("blend", "output_bp"), 2000, "blend: input_bp + cached_input_bp + output_bp"),
        (("blend", "input_bp"), 7500.0, "blend.input_bp: must be an integer"),
        (("blend", "input_bp"), True, "blend.input_bp: must be an integer"),
        (("grades", "open", "weight_bp"), 1000, "grades: the weight_bp of the grades must sum"),
        (("grades", "open", "index"), "OPEN", "grades.open.index: must be an index code"),
        (("sufficiency", "staleness_days"), 8, "sufficiency.staleness_days: must be between"),
        (("sufficiency", "coverage_floor_bp"), 0, "sufficiency.coverage_floor_bp: must be"),
        (("outliers", "method"), "trim", "outliers.method: must be 'median-mad'"),
        (("outliers", "min_inputs"), 2, "outliers.min_inputs: must be between 3"),
        (("gpu", "aggregators"), ["a", "a"], "gpu.aggregators: must not repeat a name"),
        (("rebalance",), "weekly", "rebalance: must be 'monthly-first-business-day'"),
    ],
)
def test_methodology_errors_name_the_field_and_rule(document, path, value, message):
    broken = copy.deepcopy(document)
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(MethodologyError, match=re.escape(message)):
        parse_methodology(broken)


def test_missing_field_is_reported(document):
    del document["sufficiency"]["min_providers"]
    with pytest.raises(MethodologyError, match="sufficiency.min_providers: is required"):
        parse_methodology(document)


def test_constituents_parse_with_sorted_grades_and_providers(document):
    methodology = parse_methodology(document)
    parsed = parse_constituents(constituents_doc(), methodology)
    (item,) = parsed.items
    assert item.grades == ("chinese", "open")
    assert item.listed == date(2025, 1, 1)
    assert item.delisted is None
    assert item.providers[0] == ("deepseek", ("deepseek-chat",))
    assert parsed.lookup()[("together", "deepseek-ai/DeepSeek-V3")] is item


def test_toml_dates_are_accepted(document):
    methodology = parse_methodology(document)
    doc = constituents_doc(listed=date(2025, 2, 3), delisted=date(2026, 1, 1))
    (item,) = parse_constituents(doc, methodology).items
    assert (item.listed, item.delisted) == (date(2025, 2, 3), date(2026, 1, 1))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grades": ["mystery"]}, r"constituent\[0\].grades: 'mystery' is not a methodology"),
        ({"grades": "open"}, r"constituent\[0\].grades: must be a list"),
        ({"grades": []}, r"constituent\[0\].grades: must list at least one grade"),
        ({"listed": "01/02/2025"}, r"constituent\[0\].listed: must be a date"),
        ({"delisted": "2024-12-01"}, r"constituent\[0\].delisted: must be after listed"),
        ({"providers": {}}, r"constituent\[0\].providers: must map at least one provider"),
        ({"providers": {"x": []}}, r"constituent\[0\].providers.x: must list model ids"),
        ({"name": " "}, r"constituent\[0\].name: must not be empty"),
    ],
)
def test_constituent_errors_name_the_field_and_rule(document, changes, message):
    methodology = parse_methodology(document)
    with pytest.raises(MethodologyError, match=message):
        parse_constituents(constituents_doc(**changes), methodology)


def test_a_model_id_mapped_to_two_constituents_is_refused(document):
    methodology = parse_methodology(document)
    doc = constituents_doc()
    doc["constituent"].append({**doc["constituent"][0], "name": "other"})
    with pytest.raises(MethodologyError, match="already mapped to 'deepseek-v3'"):
        parse_constituents(doc, methodology)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 3, 3), date(2025, 3, 3)),  # Monday the 3rd: 1st and 2nd are a weekend
        (date(2025, 3, 2), date(2025, 2, 3)),  # before it: February's rebalance still rules
        (date(2025, 3, 31), date(2025, 3, 3)),
        (date(2025, 1, 1), date(2025, 1, 1)),  # a Wednesday
    ],
)
def test_rebalance_is_the_first_business_day_of_the_month(day, expected):
    assert rebalance_date(day) == expected


def test_listing_takes_effect_at_the_next_rebalance_and_delisting_on_its_day(document):
    methodology = parse_methodology(document)
    doc = constituents_doc(listed="2025-03-10", delisted="2025-06-15")
    (item,) = parse_constituents(doc, methodology).items
    assert listing_reason(item, date(2025, 3, 20)) == (
        "not listed yet: enters the basket at the rebalance of 2025-04-01"
    )
    assert listing_reason(item, date(2025, 4, 1)) is None
    assert listing_reason(item, date(2025, 6, 14)) is None
    assert listing_reason(item, date(2025, 6, 15)) == "delisted on 2025-06-15"


def observation(**changes: Any) -> TokenPriceObservation:
    fields: dict[str, Any] = {
        "source": "test",
        "contributor": "p",
        "provider": "p",
        "model": "m",
        "day": date(2025, 1, 2),
        "input": 1_000_000,
        "output": 3_000_000,
        "cached_input": None,
        "level": DataLevel.LIST_PRICE,
    }
    fields.update(changes)
    return TokenPriceObservation(**fields)


def test_blend_gives_the_cached_weight_to_input_when_no_cache_price(document):
    methodology = parse_methodology(document)
    doc = copy.deepcopy(document)
    doc["blend"] = {"input_bp": 5000, "cached_input_bp": 2500, "output_bp": 2500}
    with_cache = parse_methodology(doc).blend
    assert blended(observation(), methodology.blend) == 1_500_000 * 10_000
    assert blended(observation(), with_cache) == 1_500_000 * 10_000
    assert blended(observation(cached_input=200_000), with_cache) == 1_300_000 * 10_000


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"input": 0}, "invalid: input price missing, zero or negative"),
        ({"input": -5}, "invalid: input price missing, zero or negative"),
        ({"output": 0}, "invalid: output price missing, zero or negative"),
        ({"cached_input": -1}, "invalid: cached input price negative"),
        ({"model": ""}, "invalid: provider, model and contributor must not be empty"),
    ],
)
def test_bad_prices_have_a_reason(document, changes, reason):
    blend = parse_methodology(document).blend
    assert invalid_reason(observation(**changes), blend) == reason


def test_zero_cache_price_is_only_refused_when_the_blend_weighs_it(document):
    blend = parse_methodology(document).blend
    assert invalid_reason(observation(cached_input=0), blend) is None
    doc = copy.deepcopy(document)
    doc["blend"] = {"input_bp": 5000, "cached_input_bp": 2500, "output_bp": 2500}
    weighted = parse_methodology(doc).blend
    assert invalid_reason(observation(cached_input=0), weighted) == (
        "invalid: cached input price zero while the blend weighs it"
    )
