"""Index data sources: genai-prices, OpenRouter, contributed CSVs, GPU snapshot, constituents."""

from __future__ import annotations

import hashlib
import tomllib
from datetime import date, time
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest
from genai_prices import types as gp
from genai_prices.data_snapshot import DataSnapshot

from tokenfutures.adapters.index_sources import (
    ContributedDataError,
    GenaiPricesSource,
    OpenRouterDataError,
    contributed_gpu_observations,
    contributed_token_observations,
    gpu_observations,
    openrouter_observations,
)
from tokenfutures.adapters.index_sources.genai_prices_source import default_source
from tokenfutures.domain.index.observations import DataLevel

FIXTURES = Path(__file__).parent.parent / "fixtures" / "index"
FIXING_DAY = date(2026, 11, 21)
TOKEN_HEADER = (
    "date,contributor,provider,model,input_usd_per_mtok,output_usd_per_mtok,"
    "cached_input_usd_per_mtok,kind"
)


def _one(source: GenaiPricesSource, key: tuple[str, str], day: date) -> tuple[int, int, int | None]:
    snapshot = source.token_observations(day, {key})
    assert snapshot.skipped == ()
    (observation,) = snapshot.observations
    return observation.input, observation.output, observation.cached_input


def _custom_source(prices: list[gp.ConditionalPrice]) -> GenaiPricesSource:
    model = gp.ModelInfo(id="m", match=gp.ClauseEquals(equals="m"), prices=prices)
    provider = gp.Provider(id="p", name="P", api_pattern="", models=[model])
    return GenaiPricesSource(DataSnapshot(providers=[provider], from_auto_update=False), "test")


# ---- genai-prices --------------------------------------------------------------------------


def test_deepseek_off_peak_prices_are_time_weighted_over_the_utc_day() -> None:
    # deepseek-chat: 0.27/1.10/0.07 from 00:30 to 16:30 UTC (16 h), half price the other 8 h.
    assert _one(default_source(), ("deepseek", "deepseek-chat"), FIXING_DAY) == (
        225_000,  # (0.27 * 16 + 0.135 * 8) / 24
        916_667,  # 0.91666... rounded half-even
        58_333,
    )


def test_time_window_crossing_midnight_is_weighted_exactly() -> None:
    window = gp.TimeOfDateConstraint(start_time=time(22, 0), end_time=time(2, 0))
    source = _custom_source(
        [
            gp.ConditionalPrice(
                prices=gp.ModelPrice(input_mtok=Decimal(3), output_mtok=Decimal(6))
            ),
            gp.ConditionalPrice(
                constraint=window,
                prices=gp.ModelPrice(input_mtok=Decimal("0.000003"), output_mtok=Decimal(0)),
            ),
        ]
    )
    # 20 h at 3 USD and 4 h at 0.000003 USD: (60 + 0.000012) / 24 = 2.5000005 -> 2_500_000 (even)
    assert _one(source, ("p", "m"), FIXING_DAY) == (2_500_000, 5_000_000, None)


def test_dated_price_change_applies_from_its_date() -> None:
    key = ("novita", "meta-llama/llama-3.3-70b-instruct")
    source = default_source()
    assert source.change_dates(key) == (date(2026, 10, 18),)
    assert _one(source, key, date(2026, 10, 17)) == (390_000, 390_000, None)
    assert _one(source, key, date(2026, 10, 18)) == (135_000, 400_000, None)


def test_tiered_prices_use_the_base_tier() -> None:
    assert _one(default_source(), ("openai", "gpt-5.4"), FIXING_DAY)[:2] == (2_500_000, 15_000_000)


def test_float_noise_in_package_decimals_rounds_to_the_micro_dollar() -> None:
    key = ("huggingface_together", "meta-llama/Llama-3.3-70B-Instruct")  # 1.0399999999999998
    assert _one(default_source(), key, FIXING_DAY)[:2] == (1_040_000, 1_040_000)


def test_unpriced_and_unknown_models_are_skipped_with_reasons() -> None:
    keys = {("openai", "tts-1"), ("openai", "no-such-model"), ("nobody", "x"), ("openai", "gpt-5")}
    snapshot = default_source().token_observations(FIXING_DAY, keys)
    assert [(o.provider, o.model) for o in snapshot.observations] == [("openai", "gpt-5")]
    assert {(s.item, s.reason) for s in snapshot.skipped} == {
        ("openai/tts-1", "no input price"),
        ("openai/no-such-model", "model id not in genai-prices"),
        ("nobody/x", "provider not in genai-prices"),
    }


def test_observation_fields_and_hash_are_stable_across_sources_and_orders() -> None:
    keys = [("deepseek", "deepseek-chat"), ("openai", "gpt-5"), ("anthropic", "claude-opus-4-5")]
    first = GenaiPricesSource().token_observations(FIXING_DAY, keys)
    second = GenaiPricesSource().token_observations(FIXING_DAY, reversed(keys))
    assert first == second
    assert len(first.sha256) == 64
    assert first.sha256 != GenaiPricesSource().token_observations(date(2026, 11, 20), keys).sha256
    observation = first.observations[0]
    assert observation.source == first.name == "genai-prices 0.2.3"
    assert observation.contributor == observation.provider
    assert observation.level is DataLevel.LIST_PRICE


def test_history_equals_day_by_day_snapshots() -> None:
    keys = {("novita", "meta-llama/llama-3.3-70b-instruct"), ("deepseek", "deepseek-v4-flash")}
    source = GenaiPricesSource()
    history = source.token_history(date(2026, 8, 15), date(2026, 10, 20), keys)
    assert len(history) == 67
    fresh = GenaiPricesSource()
    for day in (date(2026, 8, 16), date(2026, 8, 17), date(2026, 9, 10), date(2026, 10, 18)):
        assert history[day] == fresh.token_observations(day, keys)
    with pytest.raises(ValueError, match="before its start"):
        source.token_history(date(2026, 1, 2), date(2026, 1, 1), keys)


# ---- constituents file ---------------------------------------------------------------------


def _constituents() -> list[dict[str, object]]:
    text = resources.files("tokenfutures").joinpath("data/index_constituents.toml").read_text()
    constituents: list[dict[str, object]] = tomllib.loads(text)["constituent"]
    return constituents


def test_every_constituent_id_exists_in_genai_prices_and_is_priced_on_the_fixing_day() -> None:
    constituents = _constituents()
    keys = {
        (provider, model)
        for constituent in constituents
        for provider, models in constituent["providers"].items()  # type: ignore[attr-defined]
        for model in models
    }
    snapshot = GenaiPricesSource().token_observations(FIXING_DAY, keys)
    assert snapshot.skipped == ()
    assert len(snapshot.observations) == len(keys)


def test_constituents_are_well_formed_and_grades_are_populated() -> None:
    constituents = _constituents()
    names = [c["name"] for c in constituents]
    assert len(names) == len(set(names))
    assert 25 <= len(constituents) <= 40
    counts = dict.fromkeys(("frontier", "efficient", "open", "chinese"), 0)
    for constituent in constituents:
        assert (
            {"name", "grades", "listed", "providers"}
            <= set(constituent)
            <= {"name", "grades", "listed", "providers", "maker"}
        )
        if "maker" in constituent:  # the maker sells its own model
            assert constituent["maker"] in constituent["providers"], constituent["name"]  # type: ignore[operator]
        assert date.fromisoformat(str(constituent["listed"])) <= FIXING_DAY
        for grade in constituent["grades"]:  # type: ignore[attr-defined]
            counts[grade] += 1  # a KeyError here means an unknown grade
        if "open" in constituent["grades"]:  # type: ignore[operator]
            assert len(constituent["providers"]) >= 2, constituent["name"]  # type: ignore[arg-type]
    assert min(counts.values()) >= 8


# ---- OpenRouter ----------------------------------------------------------------------------


def test_openrouter_per_token_prices_convert_exactly_to_micro_usd_per_mtok() -> None:
    path = FIXTURES / "openrouter_models.json"
    snapshot = openrouter_observations(str(path), FIXING_DAY)
    prices = {o.model: (o.input, o.output, o.cached_input) for o in snapshot.observations}
    assert prices == {
        "deepseek/deepseek-chat": (270_000, 1_100_000, 70_000),
        "anthropic/claude-sonnet-4.5": (3_000_000, 15_000_000, None),
        "tiny/exponent-and-number": (250_000, 1_000_000, None),  # 1.0000005 -> 1.000000 (even)
        "broken/bad-cache": (1_000_000, 2_000_000, None),
    }
    assert all(o.provider == o.contributor == "openrouter" for o in snapshot.observations)
    assert snapshot.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    reasons = {s.item: s.reason for s in snapshot.skipped}
    assert "negative" in reasons["openrouter/auto"]
    assert "free" in reasons["meta-llama/llama-3.3-70b-instruct:free"]
    assert reasons["broken/no-completion"] == "no completion price"
    assert "not a number" in reasons["broken/not-a-number"]
    assert "repeats" in reasons["deepseek/deepseek-chat"]
    assert reasons["data[9]"] == "no model id"


@pytest.mark.parametrize(("content", "problem"), [("{", "not valid JSON"), ("[]", '"data" list')])
def test_openrouter_bad_documents_raise_naming_the_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "models.json"
    path.write_text(content)
    with pytest.raises(OpenRouterDataError, match=problem):
        openrouter_observations(str(path), FIXING_DAY)
    with pytest.raises(OpenRouterDataError, match="cannot be read"):
        openrouter_observations(str(tmp_path / "missing.json"), FIXING_DAY)


# ---- contributed CSV -----------------------------------------------------------------------


def test_contributed_token_quotes_keep_levels_and_exclude_exact_duplicates() -> None:
    path = FIXTURES / "token_quotes.csv"
    snapshot = contributed_token_observations(path)
    assert [
        (o.contributor, o.level, o.input, o.output, o.cached_input) for o in snapshot.observations
    ] == [
        ("broker-a", DataLevel.TRADE, 800_000, 850_000, None),
        ("broker-b", DataLevel.FIRM_QUOTE, 270_000, 1_100_000, 70_000),
        ("groq", DataLevel.LIST_PRICE, 590_000, 790_000, 0),
        ("broker-a", DataLevel.TRADE, 2, 850_000, None),  # 1.5 micro-USD rounds half-even to 2
    ]
    assert snapshot.observations[3].day == date(2026, 11, 21)
    assert [(s.item, s.reason) for s in snapshot.skipped] == [
        (f"{path} line 6", "exact duplicate of line 3")
    ]
    assert snapshot.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


GOOD_ROW = "2026-11-20,b,together,m,0.8,0.9,,trade"


@pytest.mark.parametrize(
    ("lines", "line", "column", "problem"),
    [
        (["date,contributor,provider,model,input,output,cached,kind", GOOD_ROW], 1, None, "header"),
        ([TOKEN_HEADER, "2026-11-31,b,together,m,0.8,0.9,,trade"], 2, "date", "not a date"),
        ([TOKEN_HEADER, "20261120,b,together,m,0.8,0.9,,trade"], 2, "date", "not a date"),
        (
            [TOKEN_HEADER, GOOD_ROW, "2026-11-20,b,together,m,-0.8,0.9,,trade"],
            3,
            "input",
            "negative",
        ),
        ([TOKEN_HEADER, "2026-11-20,b,together,m,0.8,,,trade"], 2, "output", "is empty"),
        ([TOKEN_HEADER, "2026-11-20,b,together,m,0,0.9,,trade"], 2, "input", "zero"),
        ([TOKEN_HEADER, "2026-11-20,b,together,m,0.8,0.0000004,,trade"], 2, "output", "zero"),
        ([TOKEN_HEADER, "2026-11-20,b,together,m,abc,0.9,,trade"], 2, "input", "not a number"),
        ([TOKEN_HEADER, "2026-11-20,b,together,m,0.8,0.9,,auction"], 2, "kind", "not one of"),
        ([TOKEN_HEADER, "2026-11-20,,together,m,0.8,0.9,,trade"], 2, "contributor", "is empty"),
        ([TOKEN_HEADER, "2026-11-20,b,together,m,0.8,0.9,trade"], 2, None, "7 fields"),
        ([TOKEN_HEADER, GOOD_ROW, "2026-11-20,b,together,m,0.8,0.95,,trade"], 3, None, "conflicts"),
    ],
)
def test_malformed_token_rows_name_file_line_and_column(
    tmp_path: Path, lines: list[str], line: int, column: str | None, problem: str
) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ContributedDataError, match=problem) as raised:
        contributed_token_observations(path)
    assert raised.value.file == str(path)
    assert raised.value.line == line
    assert (raised.value.column or "").startswith(column or "")
    assert (column is None) == (raised.value.column is None)
    assert str(path) in str(raised.value)
    assert f"line {line}" in str(raised.value)


def test_contributed_gpu_quotes() -> None:
    snapshot = contributed_gpu_observations(FIXTURES / "gpu_quotes.csv")
    assert [
        (o.provider, o.accelerator, o.variant, o.gpus_per_instance, o.price, o.level)
        for o in snapshot.observations
    ] == [
        ("lambda", "H100", "SXM", 8, 2_490_000, DataLevel.TRADE),
        ("runpod", "H100", "PCIe", 1, 1_990_000, DataLevel.LIST_PRICE),
        ("nebius", "H200", "", 8, 3_500_000, DataLevel.FIRM_QUOTE),
    ]
    assert [s.reason for s in snapshot.skipped] == ["exact duplicate of line 2"]


@pytest.mark.parametrize("count", ["0", "-8", "eight", "1.5"])
def test_contributed_gpu_count_must_be_a_positive_whole_number(tmp_path: Path, count: str) -> None:
    path = tmp_path / "gpu.csv"
    header = "date,contributor,provider,accelerator,variant,gpus_per_instance,usd_per_gpu_hour,kind"
    path.write_text(f"{header}\n2026-11-20,b,lambda,H100,SXM,{count},2.49,trade\n")
    with pytest.raises(ContributedDataError, match="positive whole number") as raised:
        contributed_gpu_observations(path)
    assert (raised.value.line, raised.value.column) == (2, "gpus_per_instance")


# ---- GPU snapshot --------------------------------------------------------------------------


def test_packaged_gpu_snapshot_uses_the_on_demand_median_dated_the_fixing_day() -> None:
    snapshot = gpu_observations(FIXING_DAY)
    assert len(snapshot.observations) + len(snapshot.skipped) == 297
    first = snapshot.observations[0]
    assert (first.provider, first.accelerator, first.variant, first.gpus_per_instance) == (
        "aws",
        "A100",
        "40GB",
        8,
    )
    assert (first.price, first.day, first.level) == (4_915_000, FIXING_DAY, DataLevel.LIST_PRICE)
    packaged = resources.files("tokenfutures").joinpath("data/gpu_rental_prices.csv").read_bytes()
    assert snapshot.sha256 == hashlib.sha256(packaged).hexdigest()
    assert gpu_observations(FIXING_DAY) == snapshot


def test_gpu_snapshot_file_skips_rows_without_a_positive_median() -> None:
    snapshot = gpu_observations(date(2026, 1, 5), FIXTURES / "gpu_snapshot_small.csv")
    assert [(o.provider, o.price) for o in snapshot.observations] == [
        ("aws", 4_123_456),  # 4.1234565 rounds half-even to 4.123456
        ("lambda", 2_990_000),
    ]
    assert [s.reason for s in snapshot.skipped] == [
        "no on-demand price",
        "on-demand price 0 is not positive",
    ]


@pytest.mark.parametrize("price", ["1e30", "1e999999999", "-0.5", "abc", "\u0661.0"])
def test_absurd_prices_in_a_contributed_file_are_named_errors(tmp_path: Path, price: str) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text(
        "date,contributor,provider,model,input_usd_per_mtok,output_usd_per_mtok,"
        "cached_input_usd_per_mtok,kind\n"
        f"2026-11-20,broker-a,together,m,{price},1.00,,trade\n",
        encoding="utf-8",
    )
    with pytest.raises(ContributedDataError) as caught:
        contributed_token_observations(path)
    assert (caught.value.line, caught.value.column) == (2, "input_usd_per_mtok")
