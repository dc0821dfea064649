"""Product specifications and their validation.

A *product* (``ProductSpec``, e.g. TKN) is the standing rulebook entry: underlying index,
contract size, tick, limits, margin, sessions, expiry rule. A *contract* (``ListedContract``,
e.g. ``TKN2612``) is one delivery month of a product with its dates worked out on a
``TradingCalendar``. Listing rule: ``listed_months`` consecutive months trade at once; the
nearest is the first month whose last trading day is on or after the given date; a month
starts trading the business day after the contract ``listed_months`` earlier expired.

Decimals only: specifications are exact decimal numbers, never floats. ``parse_products``
turns a loaded document (e.g. ``data/products.toml``) into validated specs and raises
``ProductSpecError`` naming the product, the field and the broken rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from datetime import time
from decimal import Decimal
from typing import Any

from tokenfutures.domain.calendar import check_last_trading_day_rule

EXCHANGE_TIMEZONE = "Asia/Shanghai"
FINAL_SETTLEMENT_METHODS = ("average_of_index_fixings",)
DAILY_SETTLEMENT_METHODS = ("vwap_day", "vwap_last_hour")
HUNDRED = Decimal(100)
_CODE = re.compile(r"[A-Z]{1,8}")
_INDEX_CODE = re.compile(r"[A-Z0-9][A-Z0-9-]{0,31}")
_CURRENCY = re.compile(r"[A-Z]{3}")


class ProductSpecError(ValueError):
    """A product specification breaks a rule: ``product CODE: field: rule``."""


@dataclass(frozen=True, slots=True)
class Session:
    """A trading session in exchange local time; a night session may cross midnight."""

    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True, slots=True)
class ProductSpec:
    code: str
    name: str
    underlying: str
    underlying_description: str
    currency: str
    currency_minor_units: int
    contract_size: Decimal
    contract_unit: str
    quotation_unit: str
    tick_size: Decimal
    price_limit_pct: Decimal
    margin_pct: Decimal
    circuit_breaker_pct: Decimal
    listed_months: int
    last_trading_day_rule: str
    final_settlement_method: str
    final_settlement_days: int
    sessions: tuple[Session, ...]
    position_limit: int
    max_order_quantity: int
    fee_per_lot: Decimal
    fee_rate: Decimal
    reference_price: Decimal
    night_session: Session | None = None
    # clearing terms (docs/clearing.md); the defaults follow SHFE practice
    maintenance_pct: Decimal = Decimal(80)
    spread_charge: Decimal = Decimal(0)
    intraday_open_cap: int = 0
    daily_settlement_method: str = "vwap_day"
    daily_settlement_min_lots: int = 1
    limit_lock_step_pct: Decimal = Decimal(3)
    limit_lock_margin_extra_pct: Decimal = Decimal(2)

    def __post_init__(self) -> None:
        for check in _CHECKS:
            check(self)

    @property
    def minor_unit(self) -> Decimal:
        return Decimal(1).scaleb(-self.currency_minor_units)

    @property
    def tick_value(self) -> Decimal:
        """Money per lot for a one-tick move, in currency, to the minor unit."""
        return (self.tick_size * self.contract_size).quantize(self.minor_unit)

    @property
    def tick_value_minor_units(self) -> int:
        return int(self.tick_value / self.minor_unit)


# --- validation of a ProductSpec -------------------------------------------------------------


def _fail(spec: ProductSpec, field: str, rule: str) -> ProductSpecError:
    return ProductSpecError(f"product {spec.code}: {field}: {rule}")


def is_whole(value: Decimal) -> bool:
    return value.is_finite() and value == value.to_integral_value()


def _check_names(spec: ProductSpec) -> None:
    if not _CODE.fullmatch(spec.code):
        raise _fail(spec, "code", "must be 1 to 8 uppercase letters A-Z")
    if not _INDEX_CODE.fullmatch(spec.underlying):
        raise _fail(spec, "underlying", "must be an index code of A-Z, 0-9 and '-'")
    if not _CURRENCY.fullmatch(spec.currency):
        raise _fail(spec, "currency", "must be a three-letter ISO 4217 code")
    if not 0 <= spec.currency_minor_units <= 6:
        raise _fail(spec, "currency_minor_units", "must be between 0 and 6")
    for field in ("name", "underlying_description", "contract_unit", "quotation_unit"):
        if not str(getattr(spec, field)).strip():
            raise _fail(spec, field, "must not be empty")


def _check_sizes(spec: ProductSpec) -> None:
    for field in ("contract_size", "tick_size", "reference_price"):
        value: Decimal = getattr(spec, field)
        if not value.is_finite() or value <= 0:
            raise _fail(spec, field, "must be positive")
    if not is_whole(spec.tick_size * spec.contract_size / spec.minor_unit):
        raise _fail(spec, "tick_size", "tick_size x contract_size must be whole minor units")
    if not is_whole(spec.reference_price / spec.tick_size):
        raise _fail(spec, "reference_price", f"must be on the tick grid of {spec.tick_size}")


def _check_percentages(spec: ProductSpec) -> None:
    for field in ("price_limit_pct", "margin_pct", "circuit_breaker_pct"):
        value: Decimal = getattr(spec, field)
        if not (value.is_finite() and 0 < value < HUNDRED):
            raise _fail(spec, field, "must be a percentage between 0 and 100 (exclusive)")
        if not is_whole(value * HUNDRED):
            raise _fail(spec, field, "must be a whole number of basis points (0.01 %)")
    if spec.circuit_breaker_pct >= spec.price_limit_pct:
        raise _fail(spec, "circuit_breaker_pct", "must be smaller than price_limit_pct")
    if spec.margin_pct < spec.price_limit_pct:
        raise _fail(spec, "margin_pct", "must be at least price_limit_pct")


def _check_listing(spec: ProductSpec) -> None:
    if not 1 <= spec.listed_months <= 24:
        raise _fail(spec, "listed_months", "must be between 1 and 24")
    try:
        check_last_trading_day_rule(spec.last_trading_day_rule)
    except ValueError as error:
        raise _fail(spec, "last_trading_day_rule", str(error)) from None
    if spec.final_settlement_method not in FINAL_SETTLEMENT_METHODS:
        known = ", ".join(FINAL_SETTLEMENT_METHODS)
        raise _fail(spec, "final_settlement_method", f"must be one of: {known}")
    if spec.final_settlement_days < 1:
        raise _fail(spec, "final_settlement_days", "must be at least 1")


def _check_sessions(spec: ProductSpec) -> None:
    if not spec.sessions:
        raise _fail(spec, "sessions", "must list at least one day session")
    previous_end: time | None = None
    for position, session in enumerate(spec.sessions):
        if session.start >= session.end:
            raise _fail(spec, f"sessions[{position}]", "start must be before end")
        if previous_end is not None and session.start < previous_end:
            raise _fail(spec, f"sessions[{position}]", "must start after the previous one ends")
        previous_end = session.end
    night = spec.night_session
    if night is None:
        return
    first_start, last_end = spec.sessions[0].start, spec.sessions[-1].end
    if night.start == night.end:
        raise _fail(spec, "night_session", "start and end must differ")
    if night.start < last_end or (night.crosses_midnight and night.end > first_start):
        raise _fail(spec, "night_session", "must not overlap the day sessions")


def _check_trading(spec: ProductSpec) -> None:
    if spec.position_limit < 1:
        raise _fail(spec, "position_limit", "must be at least 1 lot")
    if not 1 <= spec.max_order_quantity <= spec.position_limit:
        raise _fail(spec, "max_order_quantity", "must be between 1 and position_limit")
    if not spec.fee_per_lot.is_finite() or spec.fee_per_lot < 0:
        raise _fail(spec, "fee_per_lot", "must not be negative")
    if not is_whole(spec.fee_per_lot / spec.minor_unit):
        raise _fail(spec, "fee_per_lot", "must be whole minor units of the currency")
    if not (spec.fee_rate.is_finite() and 0 <= spec.fee_rate < 1):
        raise _fail(spec, "fee_rate", "must be a fraction of turnover, at least 0 and below 1")


def _check_clearing(spec: ProductSpec) -> None:
    if not (spec.maintenance_pct.is_finite() and 0 < spec.maintenance_pct <= HUNDRED):
        raise _fail(spec, "maintenance_pct", "must be a percentage of initial margin, 0 to 100")
    if not is_whole(spec.maintenance_pct * HUNDRED):
        raise _fail(spec, "maintenance_pct", "must be a whole number of basis points (0.01 %)")
    if spec.spread_charge < 0 or not is_whole(spec.spread_charge / spec.minor_unit):
        raise _fail(spec, "spread_charge", "must be whole minor units, not negative")
    if spec.intraday_open_cap < 0:
        raise _fail(spec, "intraday_open_cap", "must be 0 (no cap) or a number of lots")
    if spec.daily_settlement_method not in DAILY_SETTLEMENT_METHODS:
        known = ", ".join(DAILY_SETTLEMENT_METHODS)
        raise _fail(spec, "daily_settlement_method", f"must be one of: {known}")
    if spec.daily_settlement_min_lots < 1:
        raise _fail(spec, "daily_settlement_min_lots", "must be at least 1 lot")
    for field in ("limit_lock_step_pct", "limit_lock_margin_extra_pct"):
        value: Decimal = getattr(spec, field)
        if not (value.is_finite() and 0 <= value < HUNDRED and is_whole(value * HUNDRED)):
            raise _fail(spec, field, "must be a whole number of basis points below 100 %")


_CHECKS = (
    _check_names,
    _check_sizes,
    _check_percentages,
    _check_listing,
    _check_sessions,
    _check_trading,
    _check_clearing,
)


# --- parsing a products document ---------------------------------------------------------------

_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def parse_products(data: Mapping[str, Any]) -> dict[str, ProductSpec]:
    """Validated specs by code from a document of ``[[products]]`` tables.

    Decimal fields take ``Decimal``, ``int`` or decimal strings, never floats (read TOML with
    ``parse_float=Decimal``); times are ``"HH:MM"`` strings in exchange local time.
    """
    unknown = sorted(set(data) - {"products"})
    if unknown:
        raise ProductSpecError(f"{unknown[0]}: unknown top-level key; expected [[products]]")
    entries = data.get("products")
    if not isinstance(entries, list) or not entries:
        raise ProductSpecError("products: must be a non-empty list of [[products]] tables")
    products: dict[str, ProductSpec] = {}
    for position, entry in enumerate(entries):
        spec = _parse_product(entry, position)
        if spec.code in products:
            raise _fail(spec, "code", "is defined more than once")
        products[spec.code] = spec
    return products


def _parse_product(entry: Any, position: int) -> ProductSpec:
    if not isinstance(entry, Mapping):
        raise ProductSpecError(f"products[{position}]: must be a table")
    code = entry.get("code")
    label = f"product {code}" if isinstance(code, str) and code else f"products[{position}]"
    unknown = sorted(set(entry) - {field.name for field in fields(ProductSpec)})
    if unknown:
        raise ProductSpecError(f"{label}: {unknown[0]}: unknown field")
    values: dict[str, Any] = {}
    for field in fields(ProductSpec):
        if field.name not in entry:
            if field.default is MISSING:
                raise ProductSpecError(f"{label}: {field.name}: is required")
        elif field.type in _SCALAR_PARSERS:
            values[field.name] = _SCALAR_PARSERS[field.type](label, field.name, entry[field.name])
    sessions = entry["sessions"]
    if not isinstance(sessions, list):
        raise ProductSpecError(f"{label}: sessions: must be a list of {{start, end}} tables")
    values["sessions"] = tuple(
        _session(label, f"sessions[{index}]", raw) for index, raw in enumerate(sessions)
    )
    if "night_session" in entry:
        values["night_session"] = _session(label, "night_session", entry["night_session"])
    return ProductSpec(**values)


def _text(label: str, field: str, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ProductSpecError(f"{label}: {field}: must be a string")
    return raw


def _integer(label: str, field: str, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ProductSpecError(f"{label}: {field}: must be an integer")
    return raw


def _decimal(label: str, field: str, raw: Any) -> Decimal:
    if isinstance(raw, float):
        raise ProductSpecError(f"{label}: {field}: must be an exact decimal, not a float")
    if isinstance(raw, bool) or not isinstance(raw, Decimal | int | str):
        raise ProductSpecError(f"{label}: {field}: must be a decimal number")
    try:
        value = Decimal(raw)
    except ArithmeticError:
        raise ProductSpecError(f"{label}: {field}: {raw!r} is not a decimal number") from None
    if not value.is_finite():
        raise ProductSpecError(f"{label}: {field}: must be a finite number")
    return value


def _session(label: str, field: str, raw: Any) -> Session:
    if not isinstance(raw, Mapping) or set(raw) != {"start", "end"}:
        raise ProductSpecError(f"{label}: {field}: must be a table with start and end only")
    return Session(
        _clock(label, f"{field}.start", raw["start"]), _clock(label, f"{field}.end", raw["end"])
    )


def _clock(label: str, field: str, raw: Any) -> time:
    match = _CLOCK.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise ProductSpecError(f"{label}: {field}: must be a time as HH:MM (00:00 to 23:59)")
    return time(int(match.group(1)), int(match.group(2)))


_SCALAR_PARSERS: dict[object, Callable[[str, str, Any], object]] = {
    "str": _text,
    "int": _integer,
    "Decimal": _decimal,
}
