"""List prices from the ``genai-prices`` package (the index's default, offline source).

The package is read only through its public data structures: ``get_snapshot().providers`` →
``Provider.models`` → ``ModelInfo.get_prices(timestamp)``. For one fixing day and one
(provider, model id) pair:

* **Dated changes** (``StartDateConstraint``) apply from their UTC date on, exactly as
  ``get_prices`` resolves them. Before a model's first recorded change the package returns its
  earliest listed price, so a history is "as known to genai-prices", back-filled.
* **Time-of-day prices** (``TimeOfDateConstraint``, e.g. DeepSeek off-peak) are averaged over
  the UTC fixing day by exact time weighting: the day is cut at every window boundary, each
  piece is priced once with ``get_prices`` at its start, and the prices are weighted by the
  piece's length in seconds. The arithmetic is exact (fractions), rounded half-even to the
  micro-dollar at the end.
* **Tiered prices** (``TieredPrices``): the base tier, i.e. the price of a request below the
  first threshold (e.g. below 200k input tokens).
* Request-specific ``price_variants`` (batch, priority, regions) are not applied: the standard
  price is the list price.

A pair is skipped, with its reason, when its provider or model id is not in the package (model
ids are matched exactly against ``ModelInfo.id``, never through aliases or fallback providers),
when it has no input or no output price, or when both prices are zero (free offers are not a
price). The cache-read price is ``None`` when any piece of the day has none.
"""

from __future__ import annotations

import importlib.metadata
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import cache

from genai_prices import types as gp
from genai_prices.data_snapshot import DataSnapshot, get_snapshot

from tokenfutures.adapters.index_sources.snapshot import (
    SkippedInput,
    SourceSnapshot,
    observations_sha256,
)
from tokenfutures.domain.index.observations import MICRO_USD, DataLevel, TokenPriceObservation

ModelKey = tuple[str, str]  # (provider id, model id)

_DAY_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class _DayPrice:
    input: int
    output: int
    cached_input: int | None


@dataclass(frozen=True, slots=True)
class _ModelPlan:
    """What is needed to price one model on any day, computed once per model."""

    model: gp.ModelInfo
    change_dates: tuple[date, ...]  # sorted distinct StartDateConstraint dates
    windows: tuple[gp.TimeOfDateConstraint, ...]


def _base(price: Decimal | gp.TieredPrices | None) -> Decimal | None:
    return price.base if isinstance(price, gp.TieredPrices) else price


def _seconds_of_day(day: date, moment: time) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    utc = datetime.combine(day, aware).astimezone(UTC)
    return utc.hour * 3600 + utc.minute * 60 + utc.second


def _plan(model: gp.ModelInfo) -> _ModelPlan:
    conditions = model.prices if isinstance(model.prices, list) else []
    dates = {
        c.constraint.start_date
        for c in conditions
        if isinstance(c.constraint, gp.StartDateConstraint)
    }
    windows = tuple(
        c.constraint for c in conditions if isinstance(c.constraint, gp.TimeOfDateConstraint)
    )
    return _ModelPlan(model, tuple(sorted(dates)), windows)


def _micro(value: Fraction) -> int:
    return round(value * MICRO_USD)  # round() on a Fraction is half-even


def _price_day(plan: _ModelPlan, day: date, cuts: tuple[int, ...]) -> _DayPrice | str:
    """The time-weighted average price over the UTC day, or the reason there is none."""
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    bounds = (*cuts, _DAY_SECONDS)
    totals: dict[str, Fraction] = {
        "input": Fraction(0),
        "output": Fraction(0),
        "cached": Fraction(0),
    }
    cached_everywhere = True
    for start, end in zip(bounds, bounds[1:], strict=False):
        prices = plan.model.get_prices(midnight + timedelta(seconds=start))
        weight = end - start
        input_price, output_price = _base(prices.input_mtok), _base(prices.output_mtok)
        if input_price is None:
            return "no input price"
        if output_price is None:
            return "no output price"
        cached = _base(prices.cache_read_mtok)
        totals["input"] += Fraction(input_price) * weight
        totals["output"] += Fraction(output_price) * weight
        if cached is None:
            cached_everywhere = False
        else:
            totals["cached"] += Fraction(cached) * weight
    price = _DayPrice(
        input=_micro(totals["input"] / _DAY_SECONDS),
        output=_micro(totals["output"] / _DAY_SECONDS),
        cached_input=_micro(totals["cached"] / _DAY_SECONDS) if cached_everywhere else None,
    )
    if price.input == 0 and price.output == 0:
        return "zero input and output price (free offer)"
    return price


class GenaiPricesSource:
    """Prices of a genai-prices data snapshot, cached per model and per price period."""

    def __init__(self, data: DataSnapshot | None = None, version: str | None = None) -> None:
        self._data = data if data is not None else get_snapshot()
        self.version = version or importlib.metadata.version("genai-prices")
        self.name = f"genai-prices {self.version}"
        if self._data.from_auto_update:
            self.name += f" (auto-updated {self._data.timestamp.isoformat()})"
        self._models: dict[ModelKey, gp.ModelInfo] = {}
        self._providers: set[str] = set()
        for provider in self._data.providers:
            self._providers.add(provider.id)
            for model in provider.models:
                self._models.setdefault((provider.id, model.id), model)
        self._plans: dict[ModelKey, _ModelPlan] = {}
        self._prices: dict[tuple[ModelKey, int, tuple[int, ...]], _DayPrice | str] = {}

    def model_keys(self) -> frozenset[ModelKey]:
        """Every (provider id, model id) pair in the data."""
        return frozenset(self._models)

    def change_dates(self, key: ModelKey) -> tuple[date, ...]:
        """The dates on which this model's list price changes (empty when it never does)."""
        return self._model_plan(key).change_dates

    def _model_plan(self, key: ModelKey) -> _ModelPlan:
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _plan(self._models[key])
        return plan

    def _day_price(self, key: ModelKey, day: date) -> _DayPrice | str:
        if key not in self._models:
            known = key[0] in self._providers
            return "model id not in genai-prices" if known else "provider not in genai-prices"
        plan = self._model_plan(key)
        cuts = {0}
        for window in plan.windows:
            cuts.add(_seconds_of_day(day, window.start_time))
            cuts.add(_seconds_of_day(day, window.end_time))
        cache_key = (key, bisect_right(plan.change_dates, day), tuple(sorted(cuts)))
        price = self._prices.get(cache_key)
        if price is None:
            price = self._prices[cache_key] = _price_day(plan, day, cache_key[2])
        return price

    def token_observations(
        self, day: date, models: Iterable[ModelKey] | None = None
    ) -> SourceSnapshot[TokenPriceObservation]:
        """One list-price observation per (provider, model) priced on ``day``."""
        keys = sorted(self._models if models is None else set(models))
        observations: list[TokenPriceObservation] = []
        skipped: list[SkippedInput] = []
        for provider, model in keys:
            price = self._day_price((provider, model), day)
            if isinstance(price, str):
                skipped.append(SkippedInput(f"{provider}/{model}", price))
                continue
            observations.append(
                TokenPriceObservation(
                    source=self.name,
                    contributor=provider,
                    provider=provider,
                    model=model,
                    day=day,
                    input=price.input,
                    output=price.output,
                    cached_input=price.cached_input,
                    level=DataLevel.LIST_PRICE,
                )
            )
        return SourceSnapshot(
            name=self.name,
            observations=tuple(observations),
            sha256=_snapshot_sha256(self.name, day, observations, skipped),
            description=(
                f"{self.name} list prices for {day.isoformat()}: {len(observations)} priced, "
                f"{len(skipped)} skipped; time-of-day prices averaged over the UTC day, "
                "tiered prices at their base tier"
            ),
            skipped=tuple(skipped),
        )

    def token_history(
        self, start: date, end: date, models: Iterable[ModelKey] | None = None
    ) -> dict[date, SourceSnapshot[TokenPriceObservation]]:
        """``token_observations`` for every day from ``start`` to ``end`` inclusive."""
        if end < start:
            raise ValueError(f"history end {end} is before its start {start}")
        keys = frozenset(self._models if models is None else models)
        days = (start + timedelta(days=offset) for offset in range((end - start).days + 1))
        return {day: self.token_observations(day, keys) for day in days}


def _snapshot_sha256(
    name: str,
    day: date,
    observations: list[TokenPriceObservation],
    skipped: list[SkippedInput],
) -> str:
    header = "\n".join(
        [name, day.isoformat(), *(f"skipped {item.item}: {item.reason}" for item in skipped)]
    )
    return observations_sha256(header, observations)


@cache
def default_source() -> GenaiPricesSource:
    """The source over the installed package's snapshot, built once per process."""
    return GenaiPricesSource()


def token_observations(
    day: date, models: Iterable[ModelKey] | None = None
) -> SourceSnapshot[TokenPriceObservation]:
    """List prices from the installed genai-prices on ``day`` (all models when ``None``)."""
    return default_source().token_observations(day, models)


def token_history(
    start: date, end: date, models: Iterable[ModelKey] | None = None
) -> dict[date, SourceSnapshot[TokenPriceObservation]]:
    """Daily snapshots from ``start`` to ``end`` inclusive, reusing per-model price periods."""
    return default_source().token_history(start, end, models)
