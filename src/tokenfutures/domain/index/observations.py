"""Price observations: what the index methodology reads, whatever source they came from.

Money here is integer **micro-dollars**: a token price of 2.5 USD per million tokens is
``2_500_000``; a GPU price of 2.49 USD per GPU-hour is ``2_490_000``. Adapters convert the
sources' decimals exactly (rounding half-even to the micro-dollar, documented in
docs/index-methodology.md); the methodology never sees a float or a Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

MICRO_USD = 1_000_000  # micro-dollars per dollar


class DataLevel(StrEnum):
    """IOSCO hierarchy of data inputs, best first: transactions, firm quotes, other data."""

    TRADE = "trade"
    FIRM_QUOTE = "firm_quote"
    LIST_PRICE = "list_price"

    @property
    def rank(self) -> int:
        """0 for the best level (trades), larger for weaker inputs."""
        return _RANKS[self]


_RANKS = {DataLevel.TRADE: 0, DataLevel.FIRM_QUOTE: 1, DataLevel.LIST_PRICE: 2}


@dataclass(frozen=True, slots=True)
class TokenPriceObservation:
    """One seller's price of one model on one day, per million tokens."""

    source: str  # e.g. "genai-prices 0.2.3", "openrouter:models.json", "csv:quotes.csv"
    contributor: str  # who reported it (for list prices: the provider itself)
    provider: str  # who sells the tokens, e.g. "deepseek", "together"
    model: str  # the provider's model id, e.g. "deepseek-chat"
    day: date  # the day the price applies to
    input: int  # micro-USD per million input tokens
    output: int  # micro-USD per million output tokens
    cached_input: int | None  # micro-USD per million cache-read tokens, None if not sold
    level: DataLevel


@dataclass(frozen=True, slots=True)
class GpuPriceObservation:
    """One seller's on-demand price of one accelerator, per GPU-hour."""

    source: str
    contributor: str
    provider: str
    accelerator: str  # normalised base accelerator: "H100", "H200", "B200", "A100", ...
    variant: str  # e.g. "SXM", "PCIe", "80GB PCIe", "" when unknown
    gpus_per_instance: int
    day: date
    price: int  # micro-USD per GPU-hour (the instance price divided by its GPU count)
    level: DataLevel
