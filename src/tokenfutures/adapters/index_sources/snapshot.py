"""What one read of one price source produced: observations, exclusions and a SHA-256.

Every source adapter returns a :class:`SourceSnapshot`. ``sha256`` lets anyone check that a
fixing was computed from the same input: for a file source it is the SHA-256 of the file's
bytes exactly as read (``sha256sum FILE`` gives the same value); for the genai-prices package
it is the SHA-256 of a canonical dump of the package version and every observation produced
(see :func:`observations_sha256`).

Conversion of decimal USD amounts to integer micro-USD happens here, once, for all sources:
exact :class:`~decimal.Decimal` arithmetic, rounded half-even to the micro-dollar.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Generic, TypeVar

from tokenfutures.domain.index.observations import (
    MICRO_USD,
    GpuPriceObservation,
    TokenPriceObservation,
)

ObservationT = TypeVar("ObservationT", TokenPriceObservation, GpuPriceObservation)

_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class SkippedInput:
    """An input the adapter read but did not turn into an observation, and why."""

    item: str  # what was skipped, e.g. "deepseek/deepseek-chat" or "quotes.csv line 7"
    reason: str


@dataclass(frozen=True, slots=True)
class SourceSnapshot(Generic[ObservationT]):
    """The observations one source gave for one read, with the hash of what was read."""

    name: str  # e.g. "genai-prices 0.2.3", "openrouter:models.json", "csv:quotes.csv"
    observations: tuple[ObservationT, ...]
    sha256: str  # hex digest of what was read (see the module docstring)
    description: str
    skipped: tuple[SkippedInput, ...] = ()


# a price is at most 999,999,999 USD and at least 1e-18 USD: beyond that it is an input error
MAX_PRICE_DIGITS = 9
MAX_PRICE_EXPONENT = 18


def usd_to_micro(amount: Decimal) -> int:
    """Exact USD → integer micro-USD, rounding half-even; raises on NaN or infinity."""
    if not amount.is_finite():
        raise ValueError(f"not a finite amount: {amount}")
    return int((amount * MICRO_USD).quantize(_ONE, rounding=ROUND_HALF_EVEN))


def parse_usd(text: str) -> Decimal:
    """A plain decimal number (``"0.27"``, ``"2.7e-7"``); ValueError if it is not one."""
    if not text.isascii() or "_" in text:
        raise ValueError(f"not a plain ASCII decimal: {text!r}")
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    if value and not -MAX_PRICE_EXPONENT <= value.adjusted() < MAX_PRICE_DIGITS:
        raise ValueError(f"out of range (below 1e-18 or a billion dollars or more): {text!r}")
    return value


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _observation_row(observation: TokenPriceObservation | GpuPriceObservation) -> list[object]:
    if isinstance(observation, TokenPriceObservation):
        return [
            observation.source,
            observation.contributor,
            observation.provider,
            observation.model,
            observation.day.isoformat(),
            observation.input,
            observation.output,
            observation.cached_input,
            observation.level.value,
        ]
    return [
        observation.source,
        observation.contributor,
        observation.provider,
        observation.accelerator,
        observation.variant,
        observation.gpus_per_instance,
        observation.day.isoformat(),
        observation.price,
        observation.level.value,
    ]


def observations_sha256(
    header: str, observations: Iterable[TokenPriceObservation | GpuPriceObservation]
) -> str:
    """SHA-256 of ``header`` then one compact JSON array per observation, sorted, one a line.

    Sorting makes the hash independent of the order in which the source listed its entries.
    """
    lines = sorted(
        json.dumps(_observation_row(item), separators=(",", ":"), ensure_ascii=True)
        for item in observations
    )
    text = "\n".join([header, *lines]) + "\n"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
