"""Per-instrument trading rules in core units, derived from a contract specification."""

from __future__ import annotations

from dataclasses import dataclass

from tokenfutures.domain.values import BASIS_POINTS, MICROS_PER_SECOND, Micros, Ticks


@dataclass(frozen=True, slots=True)
class InstrumentRules:
    symbol: str
    reference_price: Ticks
    price_limit_bp: int
    max_order_quantity: int
    circuit_breaker_bp: int = 0
    circuit_breaker_window: Micros = 3600 * MICROS_PER_SECOND
    circuit_breaker_pause: Micros = 120 * MICROS_PER_SECOND

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("symbol: must not be empty")
        if self.reference_price < 1:
            raise ValueError("reference_price: must be at least one tick")
        if not 0 < self.price_limit_bp < BASIS_POINTS:
            raise ValueError("price_limit_bp: must be between 1 and 9999 basis points")
        if self.max_order_quantity < 1:
            raise ValueError("max_order_quantity: must be at least one lot")
        if not 0 <= self.circuit_breaker_bp < BASIS_POINTS:
            raise ValueError("circuit_breaker_bp: must be between 0 (off) and 9999")
        if self.circuit_breaker_window < 1 or self.circuit_breaker_pause < 1:
            raise ValueError("circuit_breaker_window/pause: must be positive")


def price_limits(reference: Ticks, limit_bp: int) -> tuple[Ticks, Ticks]:
    """Daily limits around the prior settlement, rounded inwards to whole ticks."""
    width = reference * limit_bp // BASIS_POINTS
    return max(1, reference - width), reference + width


def band_width(reference: Ticks, band_bp: int) -> Ticks:
    """Circuit-breaker band in ticks: at least one tick when the breaker is on."""
    return max(1, reference * band_bp // BASIS_POINTS)
