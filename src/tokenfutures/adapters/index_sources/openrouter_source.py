"""List prices from OpenRouter's models list (``GET /api/v1/models``), from a file or a URL.

The JSON is ``{"data": [{"id": "deepseek/deepseek-chat", "pricing": {"prompt": "0.00000027",
"completion": "0.0000011", "input_cache_read": "0.00000007", ...}, ...}]}`` with prices in USD
**per token**, as decimal strings. Each is converted exactly: USD per token × 10^12 = micro-USD
per million tokens (``"0.00000027"`` → 270,000), rounded half-even.

Provider is ``"openrouter"`` (OpenRouter is the seller the buyer pays), model is the OpenRouter
id. An entry is skipped, with its reason, when it has no id or no prompt/completion price, when
a price is not a number, when a price is negative (OpenRouter uses ``"-1"`` for "variable",
e.g. its auto-router), when both prices are zero (free offers are not a price), or when its id
repeats an earlier entry. A negative or unreadable cache-read price only drops the cache price.

A path is read offline. A URL (``http://`` or ``https://``) is fetched with ``urllib`` and a
timeout, only when one is given; the snapshot's ``sha256`` is over the bytes read either way.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from tokenfutures.adapters.index_sources.snapshot import (
    SkippedInput,
    SourceSnapshot,
    bytes_sha256,
    parse_usd,
    usd_to_micro,
)
from tokenfutures.domain.index.observations import DataLevel, TokenPriceObservation

PROVIDER = "openrouter"
MODELS_URL = "https://openrouter.ai/api/v1/models"
_TOKENS_PER_MILLION = 1_000_000


class OpenRouterDataError(ValueError):
    """The models list cannot be read or is not the expected JSON; the message names it."""


def _read(path_or_url: str, timeout: float) -> bytes:
    if path_or_url.startswith(("http://", "https://")):
        request = urllib.request.Request(path_or_url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                body: bytes = response.read()
                return body
        except OSError as error:
            raise OpenRouterDataError(f"{path_or_url}: cannot be fetched: {error}") from None
    try:
        return Path(path_or_url).read_bytes()
    except OSError as error:
        raise OpenRouterDataError(f"{path_or_url}: cannot be read: {error}") from None


def _per_mtok(value: object) -> Decimal:
    """A per-token price string as USD per million tokens; ValueError if unreadable."""
    if isinstance(value, Decimal):
        value = str(value)
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError(f"not a price: {value!r}")
    return parse_usd(str(value)) * _TOKENS_PER_MILLION


def _entry_prices(entry: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal | None] | str:
    """(input, output, cache-read) in USD per Mtok, or the reason the entry is skipped."""
    pricing = entry.get("pricing")
    if not isinstance(pricing, dict):
        return "no pricing"
    prices: list[Decimal] = []
    for field in ("prompt", "completion"):
        if pricing.get(field) in (None, ""):
            return f"no {field} price"
        try:
            price = _per_mtok(pricing[field])
        except ValueError as error:
            return f"{field} price {error}"
        if price < 0:
            return f"{field} price {pricing[field]} is negative (variable price)"
        prices.append(price)
    if usd_to_micro(prices[0]) == 0 and usd_to_micro(prices[1]) == 0:
        return "zero prompt and completion price (free offer)"
    cached: Decimal | None = None
    if pricing.get("input_cache_read") not in (None, ""):
        try:
            cached = _per_mtok(pricing["input_cache_read"])
        except ValueError:
            cached = None
        if cached is not None and cached < 0:
            cached = None
    return prices[0], prices[1], cached


def _entries(raw: bytes, name: str) -> list[Any]:
    try:
        document = json.loads(raw, parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise OpenRouterDataError(f"{name}: not valid JSON: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise OpenRouterDataError(f'{name}: expected an object with a "data" list of models')
    entries: list[Any] = document["data"]
    return entries


def openrouter_observations(
    path_or_url: str, day: date, timeout: float = 20.0
) -> SourceSnapshot[TokenPriceObservation]:
    """One list-price observation per priced OpenRouter model, dated ``day``."""
    raw = _read(path_or_url, timeout)
    source = f"openrouter:{path_or_url}"
    observations: list[TokenPriceObservation] = []
    skipped: list[SkippedInput] = []
    seen: set[str] = set()
    for position, entry in enumerate(_entries(raw, path_or_url)):
        model = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(model, str) or not model:
            skipped.append(SkippedInput(f"data[{position}]", "no model id"))
            continue
        if model in seen:
            skipped.append(SkippedInput(model, f"data[{position}] repeats an earlier id"))
            continue
        seen.add(model)
        prices = _entry_prices(entry)
        if isinstance(prices, str):
            skipped.append(SkippedInput(model, prices))
            continue
        input_price, output_price, cached = prices
        observations.append(
            TokenPriceObservation(
                source=source,
                contributor=PROVIDER,
                provider=PROVIDER,
                model=model,
                day=day,
                input=usd_to_micro(input_price),
                output=usd_to_micro(output_price),
                cached_input=None if cached is None else usd_to_micro(cached),
                level=DataLevel.LIST_PRICE,
            )
        )
    return SourceSnapshot(
        name=source,
        observations=tuple(observations),
        sha256=bytes_sha256(raw),
        description=(
            f"OpenRouter models list {path_or_url} as of {day.isoformat()}: "
            f"{len(observations)} priced, {len(skipped)} skipped"
        ),
        skipped=tuple(skipped),
    )
