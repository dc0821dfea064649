"""The clearing terms of each listed contract, in core units, derived from its product spec.

Money is integer minor units, prices integer ticks, rates integer basis points (or, for the
turnover fee, parts per 10^8). ``ClearingParameters`` holds the clearing house's own rules
that no product defines: the assessment cap of the default waterfall and the liquidation
account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tokenfutures.domain.clearing.margin import MarginParameters
from tokenfutures.domain.contracts import HUNDRED, ProductSpec, ProductSpecError, is_whole
from tokenfutures.domain.listing import ListedContract

FEE_RATE_SCALE = 100_000_000  # fee rates are held in parts per 10^8 of turnover
MICROS_PER_UNIT = 1_000_000  # index values are integer micro-units (USD x 10^-6)


@dataclass(frozen=True, slots=True)
class ContractTerms:
    """What the clearing house needs to know about one contract month."""

    symbol: str
    product: str
    underlying: str
    month_index: int  # year x 12 + month: orders the months of a product
    last_trading_day: date
    final_settlement_days: int  # fixings averaged for the final settlement price
    tick_value: int  # minor units per lot per tick
    tick_micros: int  # the tick in micro-units of the index (TKN 0.001 -> 1,000)
    fee_per_lot: int
    fee_rate_e8: int
    position_limit: int
    intraday_open_cap: int  # 0: no cap
    daily_settlement_method: str
    daily_settlement_min_lots: int
    price_limit_bp: int
    margin_bp: int
    limit_lock_step_bp: int
    limit_lock_margin_extra_bp: int

    def fee(self, price: int, quantity: int) -> int:
        """Fee of one side of a fill: per lot plus a rate of turnover, rounded half up."""
        turnover = price * self.tick_value * quantity
        rate_part = (2 * turnover * self.fee_rate_e8 + FEE_RATE_SCALE) // (2 * FEE_RATE_SCALE)
        return self.fee_per_lot * quantity + rate_part


@dataclass(frozen=True, slots=True)
class ClearingParameters:
    """Rules of the clearing house itself (docs/clearing.md)."""

    assessment_cap_bp: int = 27_500  # each member's assessment cap: 275 % of its fund share
    house_account: str = "clearing_house"  # takes over positions a default leaves open
    minor_units: int = 2  # decimals of the settlement currency, for messages

    def money(self, amount: int) -> str:
        """Minor units as a decimal amount, e.g. 1234567 -> "12345.67"."""
        if self.minor_units == 0:
            return str(amount)
        sign = "-" if amount < 0 else ""
        whole, fraction = divmod(abs(amount), 10**self.minor_units)
        return f"{sign}{whole}.{fraction:0{self.minor_units}d}"


def _bp(spec: ProductSpec, field: str) -> int:
    value: Decimal = getattr(spec, field) * HUNDRED
    if not is_whole(value):
        raise ProductSpecError(f"product {spec.code}: {field}: must be whole basis points")
    return int(value)


def _minor(spec: ProductSpec, field: str) -> int:
    value: Decimal = getattr(spec, field) / spec.minor_unit
    if not is_whole(value):
        raise ProductSpecError(f"product {spec.code}: {field}: must be whole minor units")
    return int(value)


def contract_terms(contract: ListedContract) -> ContractTerms:
    spec = contract.product
    fee_rate = spec.fee_rate * FEE_RATE_SCALE
    if not is_whole(fee_rate):
        raise ProductSpecError(f"product {spec.code}: fee_rate: must be a multiple of 1e-8")
    tick_micros = spec.tick_size * MICROS_PER_UNIT
    if not is_whole(tick_micros):
        raise ProductSpecError(f"product {spec.code}: tick_size: must be whole micro-units")
    return ContractTerms(
        symbol=contract.symbol,
        product=spec.code,
        underlying=spec.underlying,
        month_index=contract.year * 12 + contract.month,
        last_trading_day=contract.last_trading_day,
        final_settlement_days=spec.final_settlement_days,
        tick_value=spec.tick_value_minor_units,
        tick_micros=int(tick_micros),
        fee_per_lot=_minor(spec, "fee_per_lot"),
        fee_rate_e8=int(fee_rate),
        position_limit=spec.position_limit,
        intraday_open_cap=spec.intraday_open_cap,
        daily_settlement_method=spec.daily_settlement_method,
        daily_settlement_min_lots=spec.daily_settlement_min_lots,
        price_limit_bp=_bp(spec, "price_limit_pct"),
        margin_bp=_bp(spec, "margin_pct"),
        limit_lock_step_bp=_bp(spec, "limit_lock_step_pct"),
        limit_lock_margin_extra_bp=_bp(spec, "limit_lock_margin_extra_pct"),
    )


def margin_parameters(spec: ProductSpec) -> MarginParameters:
    return MarginParameters(
        product=spec.code,
        tick_value=spec.tick_value_minor_units,
        scan_range_bp=_bp(spec, "margin_pct"),
        spread_charge=_minor(spec, "spread_charge"),
        maintenance_bp=_bp(spec, "maintenance_pct"),
    )
