"""Product specs (parsing and validation), the listing calendar and the core's rules."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenfutures.adapters.calendars import load_trading_calendar, xshg_calendar
from tokenfutures.adapters.products_file import ProductsFileError, load_products
from tokenfutures.domain.calendar import TradingCalendar
from tokenfutures.domain.contracts import ProductSpec, ProductSpecError, Session, parse_products
from tokenfutures.domain.listing import (
    ContractNotListedError,
    contract_month,
    find_contract,
    listed_contracts,
    to_instrument_rules,
)

SATURDAY = date(2026, 11, 21)


def raw_product(**changes: Any) -> dict[str, Any]:
    """A valid TKN entry as a TOML loader returns it; ``None`` deletes a field."""
    raw: dict[str, Any] = {
        "code": "TKN",
        "name": "AI token futures",
        "underlying": "TKN",
        "underlying_description": "composite AI token price index",
        "currency": "USD",
        "currency_minor_units": 2,
        "contract_size": Decimal("10000"),
        "contract_unit": "million tokens",
        "quotation_unit": "USD per million tokens",
        "tick_size": Decimal("0.001"),
        "price_limit_pct": 8,
        "margin_pct": 10,
        "circuit_breaker_pct": 3,
        "listed_months": 12,
        "last_trading_day_rule": "last_business_day",
        "final_settlement_method": "average_of_index_fixings",
        "final_settlement_days": 5,
        "sessions": [
            {"start": "09:00", "end": "10:15"},
            {"start": "10:30", "end": "11:30"},
            {"start": "13:30", "end": "15:00"},
        ],
        "night_session": {"start": "21:00", "end": "01:00"},
        "position_limit": 5000,
        "max_order_quantity": 500,
        "fee_per_lot": 0,
        "fee_rate": Decimal("0.00005"),
        "reference_price": Decimal("2.500"),
    }
    raw.update(changes)
    return {key: value for key, value in raw.items() if value is not None}


def parse_one(**changes: Any) -> ProductSpec:
    return parse_products({"products": [raw_product(**changes)]})["TKN"]


@pytest.fixture(scope="module")
def products() -> dict[str, ProductSpec]:
    return load_products()


@pytest.fixture(scope="module")
def calendar() -> TradingCalendar:
    return xshg_calendar()


# --- the packaged products -------------------------------------------------------------------


def test_packaged_tkn_spec(products: dict[str, ProductSpec]) -> None:
    tkn = products["TKN"]
    assert (tkn.underlying, tkn.currency, tkn.currency_minor_units) == ("TKN", "USD", 2)
    assert tkn.contract_size == Decimal("10000")
    assert tkn.tick_size == Decimal("0.001")
    assert tkn.tick_value == Decimal("10.00")
    assert tkn.tick_value_minor_units == 1000
    assert (tkn.price_limit_pct, tkn.margin_pct, tkn.circuit_breaker_pct) == (
        Decimal(8),
        Decimal(10),
        Decimal(3),
    )
    assert tkn.reference_price == Decimal("2.500")
    assert tkn.last_trading_day_rule == "last_business_day"
    assert tkn.final_settlement_days == 5
    assert [str(session) for session in tkn.sessions] == [
        "09:00-10:15",
        "10:30-11:30",
        "13:30-15:00",
    ]
    assert tkn.night_session is not None
    assert tkn.night_session.crosses_midnight


def test_packaged_gpu_spec(products: dict[str, ProductSpec]) -> None:
    gpu = products["GPU"]
    assert gpu.underlying == "GPU-H100"
    assert gpu.contract_size == Decimal("1000")
    assert gpu.tick_size == Decimal("0.005")
    assert gpu.tick_value == Decimal("5.00")
    assert (gpu.price_limit_pct, gpu.margin_pct, gpu.circuit_breaker_pct) == (
        Decimal(6),
        Decimal(8),
        Decimal(2),
    )
    assert gpu.reference_price == Decimal("2.500")
    assert gpu.last_trading_day_rule == "business_day_before:15"
    assert gpu.fee_per_lot == Decimal("0.10")
    assert sorted(products) == ["GPU", "TKN"]


def test_spec_decimals_are_exact_never_floats(products: dict[str, ProductSpec]) -> None:
    for spec in products.values():
        for field in dataclasses.fields(spec):
            assert not isinstance(getattr(spec, field.name), float), field.name


def test_specs_are_frozen(products: dict[str, ProductSpec]) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        products["TKN"].tick_size = Decimal("0.01")  # type: ignore[misc]


def test_decimal_fields_accept_strings_and_integers() -> None:
    spec = parse_one(tick_size="0.001", contract_size=10000, margin_pct="12.5")
    assert spec.tick_size == Decimal("0.001")
    assert spec.margin_pct == Decimal("12.5")
    assert spec.night_session == Session(time(21, 0), time(1, 0))
    assert parse_one(night_session=None).night_session is None


# --- validation --------------------------------------------------------------------------------

FIELD_ERRORS = [
    ({"code": "tkn"}, "product tkn: code: must be 1 to 8 uppercase letters"),
    ({"code": "TK1"}, "product TK1: code: must be 1 to 8 uppercase letters"),
    ({"name": " "}, "product TKN: name: must not be empty"),
    ({"name": 5}, "product TKN: name: must be a string"),
    ({"underlying": "gpu h100"}, "product TKN: underlying: must be an index code"),
    ({"currency": "usd"}, "product TKN: currency: must be a three-letter ISO 4217 code"),
    ({"currency_minor_units": 9}, "product TKN: currency_minor_units: must be between 0 and 6"),
    ({"contract_size": 0}, "product TKN: contract_size: must be positive"),
    ({"tick_size": "0"}, "product TKN: tick_size: must be positive"),
    ({"tick_size": "-0.001"}, "product TKN: tick_size: must be positive"),
    ({"tick_size": 0.001}, "product TKN: tick_size: must be an exact decimal, not a float"),
    ({"tick_size": "abc"}, "product TKN: tick_size: 'abc' is not a decimal number"),
    ({"tick_size": "NaN"}, "product TKN: tick_size: must be a finite number"),
    ({"tick_size": True}, "product TKN: tick_size: must be a decimal number"),
    ({"tick_size": "0.0000001"}, "product TKN: tick_size: tick_size x contract_size must be"),
    ({"reference_price": "2.5005"}, "product TKN: reference_price: must be on the tick grid"),
    ({"reference_price": "0"}, "product TKN: reference_price: must be positive"),
    ({"price_limit_pct": 0}, "product TKN: price_limit_pct: must be a percentage between 0"),
    ({"margin_pct": 100}, "product TKN: margin_pct: must be a percentage between 0 and 100"),
    ({"circuit_breaker_pct": "-1"}, "product TKN: circuit_breaker_pct: must be a percentage"),
    ({"price_limit_pct": "8.005"}, "product TKN: price_limit_pct: must be a whole number of b"),
    ({"margin_pct": 5}, "product TKN: margin_pct: must be at least price_limit_pct"),
    ({"circuit_breaker_pct": 8}, "product TKN: circuit_breaker_pct: must be smaller than"),
    ({"listed_months": 0}, "product TKN: listed_months: must be between 1 and 24"),
    ({"listed_months": 25}, "product TKN: listed_months: must be between 1 and 24"),
    ({"listed_months": "12"}, "product TKN: listed_months: must be an integer"),
    ({"listed_months": True}, "product TKN: listed_months: must be an integer"),
    ({"last_trading_day_rule": "third_friday"}, "product TKN: last_trading_day_rule: unknown"),
    ({"last_trading_day_rule": "last_weekday:SUN"}, "last_trading_day_rule: 'last_weekday:SU"),
    ({"final_settlement_method": "vwap"}, "product TKN: final_settlement_method: must be one"),
    ({"final_settlement_days": 0}, "product TKN: final_settlement_days: must be at least 1"),
    ({"sessions": []}, "product TKN: sessions: must list at least one day session"),
    ({"sessions": {"start": "09:00"}}, "product TKN: sessions: must be a list"),
    ({"sessions": [{"start": "10:00", "end": "09:00"}]}, "sessions[0]: start must be before"),
    (
        {"sessions": [{"start": "09:00", "end": "11:00"}, {"start": "10:30", "end": "11:30"}]},
        "product TKN: sessions[1]: must start after the previous one ends",
    ),
    ({"sessions": [{"start": "9:00", "end": "10:00"}]}, "sessions[0].start: must be a time as"),
    ({"sessions": [{"start": "09:00", "end": "24:00"}]}, "sessions[0].end: must be a time as"),
    ({"sessions": [{"start": "09:00"}]}, "sessions[0]: must be a table with start and end only"),
    ({"night_session": {"start": "14:00", "end": "16:00"}}, "night_session: must not overlap"),
    ({"night_session": {"start": "21:00", "end": "09:30"}}, "night_session: must not overlap"),
    ({"night_session": {"start": "21:00", "end": "21:00"}}, "night_session: start and end must"),
    ({"position_limit": 0}, "product TKN: position_limit: must be at least 1 lot"),
    ({"max_order_quantity": 0}, "product TKN: max_order_quantity: must be between 1 and"),
    ({"max_order_quantity": 5001}, "product TKN: max_order_quantity: must be between 1 and"),
    ({"fee_per_lot": "-1"}, "product TKN: fee_per_lot: must not be negative"),
    ({"fee_per_lot": "0.005"}, "product TKN: fee_per_lot: must be whole minor units"),
    ({"fee_rate": 1}, "product TKN: fee_rate: must be a fraction of turnover"),
    ({"tick_size": None}, "product TKN: tick_size: is required"),
    ({"sessions": None}, "product TKN: sessions: is required"),
    ({"tick": "0.001"}, "product TKN: tick: unknown field"),
]


@pytest.mark.parametrize(("changes", "message"), FIELD_ERRORS)
def test_every_field_is_validated(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ProductSpecError, match=re.escape(message)):
        parse_one(**changes)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "products: must be a non-empty list of [[products]] tables"),
        ({"products": []}, "products: must be a non-empty list"),
        ({"product": [raw_product()]}, "product: unknown top-level key"),
        ({"products": ["TKN"]}, "products[0]: must be a table"),
        ({"products": [raw_product(code=None)]}, "products[0]: code: is required"),
        ({"products": [raw_product(), raw_product()]}, "product TKN: code: is defined more"),
    ],
)
def test_document_errors(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ProductSpecError, match=re.escape(message)):
        parse_products(document)


def test_spec_error_is_a_value_error() -> None:
    assert issubclass(ProductSpecError, ValueError)


def test_bad_products_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "products.toml"
    path.write_text('[[products]]\ncode = "GPU"\ntick_size = -0.005\n', encoding="utf-8")
    with pytest.raises(ProductsFileError, match=f"products file {re.escape(str(path))}: "):
        load_products(path)
    path.write_text("[[products]\n", encoding="utf-8")
    with pytest.raises(ProductsFileError, match="not valid TOML"):
        load_products(path)
    with pytest.raises(ProductsFileError, match="cannot be read"):
        load_products(tmp_path / "absent.toml")


# --- listing calendar --------------------------------------------------------------------------


def test_listing_on_a_saturday(products: dict[str, ProductSpec], calendar: TradingCalendar) -> None:
    listed = listed_contracts(products, calendar, SATURDAY)
    symbols = [contract.symbol for contract in listed]
    gpu = ["GPU2612"] + [f"GPU27{month:02d}" for month in range(1, 12)]
    tkn = ["TKN2611", "TKN2612"] + [f"TKN27{month:02d}" for month in range(1, 11)]
    assert symbols == gpu + tkn


def test_nearest_tkn_contract(products: dict[str, ProductSpec], calendar: TradingCalendar) -> None:
    tkn2611 = find_contract(products, calendar, "TKN2611", SATURDAY)
    assert (tkn2611.year, tkn2611.month) == (2026, 11)
    assert tkn2611.first_trading_day == date(2025, 12, 1)  # day after TKN2511 expired
    assert tkn2611.last_trading_day == date(2026, 11, 30)
    assert tkn2611.final_settlement_window == tuple(date(2026, 11, d) for d in (24, 25, 26, 27, 30))
    assert not tkn2611.provisional


def test_december_contract_and_new_year(
    products: dict[str, ProductSpec], calendar: TradingCalendar
) -> None:
    tkn2612 = find_contract(products, calendar, "TKN2612", SATURDAY)
    assert tkn2612.first_trading_day == date(2026, 1, 5)  # 1-2 January 2026 are holidays
    assert tkn2612.last_trading_day == date(2026, 12, 31)
    assert tkn2612.final_settlement_window == tuple(date(2026, 12, d) for d in (25, 28, 29, 30, 31))
    assert not tkn2612.provisional


@pytest.mark.parametrize(
    ("symbol", "first_trading_day"),
    [
        ("GPU2702", date(2026, 2, 24)),  # GPU2602 expired 13 Feb, then the Spring Festival
        ("TKN2704", date(2026, 5, 6)),  # TKN2604 expired 30 April, then Labour Day
        ("TKN2709", date(2026, 10, 8)),  # TKN2609 expired 30 September, then National Day
    ],
)
def test_first_trading_day_skips_holidays(
    products: dict[str, ProductSpec],
    calendar: TradingCalendar,
    symbol: str,
    first_trading_day: date,
) -> None:
    assert (
        find_contract(products, calendar, symbol, SATURDAY).first_trading_day == first_trading_day
    )


def test_gpu_expires_on_the_15th_or_before(
    products: dict[str, ProductSpec], calendar: TradingCalendar
) -> None:
    gpu2612 = find_contract(products, calendar, "GPU2612", SATURDAY)
    assert gpu2612.last_trading_day == date(2026, 12, 15)
    assert len(gpu2612.final_settlement_window) == 10
    assert gpu2612.final_settlement_window[0] == date(2026, 12, 2)
    gpu2702 = find_contract(products, calendar, "GPU2702", SATURDAY)
    assert gpu2702.last_trading_day == date(2027, 2, 15)  # weekday fallback: a Monday


def test_2027_contracts_are_provisional(
    products: dict[str, ProductSpec], calendar: TradingCalendar
) -> None:
    tkn2701 = find_contract(products, calendar, "TKN2701", SATURDAY)
    assert tkn2701.last_trading_day == date(2027, 1, 29)
    assert tkn2701.provisional
    assert tkn2701.first_trading_day == date(2026, 2, 2)  # TKN2601 expired 30 January
    listed = listed_contracts(products, calendar, SATURDAY)
    assert [c.symbol for c in listed if not c.provisional] == ["GPU2612", "TKN2611", "TKN2612"]


def test_published_2027_holidays_confirm_and_move_dates(
    products: dict[str, ProductSpec], tmp_path: Path
) -> None:
    path = tmp_path / "holidays.toml"
    path.write_text('[holidays]\n"2027" = ["2027-01-01", "2027-01-29"]\n', encoding="utf-8")
    calendar = load_trading_calendar(path)
    tkn2701 = find_contract(products, calendar, "TKN2701", SATURDAY)
    assert tkn2701.last_trading_day == date(2027, 1, 28)
    assert tkn2701.final_settlement_window[0] == date(2027, 1, 22)
    assert not any(c.provisional for c in listed_contracts(products, calendar, SATURDAY))


@pytest.mark.parametrize(
    ("rule", "first_symbol", "last_trading_day"),
    [
        ("last_business_day", "TKN2611", date(2026, 11, 30)),
        ("last_weekday:MON", "TKN2611", date(2026, 11, 30)),
        ("last_weekday:FRI", "TKN2611", date(2026, 11, 27)),
        ("business_day_before:15", "TKN2612", date(2026, 12, 15)),
        ("business_day_before:20", "TKN2612", date(2026, 12, 18)),
    ],
)
def test_nearest_month_depends_on_the_rule(
    calendar: TradingCalendar, rule: str, first_symbol: str, last_trading_day: date
) -> None:
    spec = parse_one(last_trading_day_rule=rule)
    listed = listed_contracts({"TKN": spec}, calendar, SATURDAY)
    assert (listed[0].symbol, listed[0].last_trading_day) == (first_symbol, last_trading_day)
    assert len(listed) == 12


def test_contract_listed_through_its_last_trading_day(
    products: dict[str, ProductSpec], calendar: TradingCalendar
) -> None:
    tkn = {"TKN": products["TKN"]}
    on_expiry = listed_contracts(tkn, calendar, date(2026, 11, 30))
    assert (on_expiry[0].symbol, on_expiry[-1].symbol) == ("TKN2611", "TKN2710")
    next_day = listed_contracts(tkn, calendar, date(2026, 12, 1))
    assert (next_day[0].symbol, next_day[-1].symbol) == ("TKN2612", "TKN2711")
    assert next_day[-1].first_trading_day == date(2026, 12, 1)


def test_contract_month_for_any_month(
    products: dict[str, ProductSpec], calendar: TradingCalendar
) -> None:
    contract = contract_month(products["GPU"], calendar, 2026, 10)
    assert contract.symbol == "GPU2610"
    assert contract.last_trading_day == date(2026, 10, 15)
    # 10 business days back: National Day (1-7 Oct) and Mid-Autumn (25 Sep) are skipped
    assert contract.final_settlement_window == (
        date(2026, 9, 24),
        *(date(2026, 9, day) for day in (28, 29, 30)),
        *(date(2026, 10, day) for day in (8, 9, 12, 13, 14, 15)),
    )


@pytest.mark.parametrize(
    ("symbol", "message"),
    [
        ("TKN26", "'TKN26' is not a contract symbol such as TKN2612"),
        ("TKN2613", "'TKN2613' is not a contract symbol"),
        ("OIL2612", "OIL2612: unknown product 'OIL' (products: GPU, TKN)"),
        ("TKN2610", "TKN2610 is not listed on 2026-11-21; TKN lists TKN2611 to TKN2710"),
        ("TKN2711", "TKN2711 is not listed on 2026-11-21"),
    ],
)
def test_find_contract_errors(
    products: dict[str, ProductSpec], calendar: TradingCalendar, symbol: str, message: str
) -> None:
    with pytest.raises(ContractNotListedError, match=re.escape(message)):
        find_contract(products, calendar, symbol, SATURDAY)


@given(
    on=st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 6, 30)),
    rule=st.sampled_from(
        ["last_business_day", "business_day_before:15", "business_day_before:1", "last_weekday:MON"]
    ),
    months=st.integers(min_value=1, max_value=24),
    days=st.integers(min_value=1, max_value=12),
)
def test_listing_invariants(on: date, rule: str, months: int, days: int) -> None:
    calendar = xshg_calendar()
    spec = parse_one(last_trading_day_rule=rule, listed_months=months, final_settlement_days=days)
    listed = listed_contracts({"TKN": spec}, calendar, on)
    assert len(listed) == months
    months_listed = [contract.year * 12 + contract.month for contract in listed]
    assert months_listed == list(range(months_listed[0], months_listed[0] + months))
    assert listed[0].last_trading_day >= on
    year, month_index = divmod(months_listed[0] - 2, 12)
    before = contract_month(spec, calendar, year, month_index + 1)
    assert before.last_trading_day < on  # nearest: the month before has expired
    trading_by = on if calendar.is_business_day(on) else calendar.next_business_day(on)
    for contract in listed:
        window = contract.final_settlement_window
        assert len(window) == days
        assert window[-1] == contract.last_trading_day
        assert list(window) == sorted(window)
        assert all(calendar.is_business_day(day) for day in window)
        assert contract.first_trading_day <= trading_by
        assert contract.provisional == (contract.last_trading_day > date(2026, 12, 31))


# --- the core's integer rules ------------------------------------------------------------------


def test_instrument_rules(products: dict[str, ProductSpec], calendar: TradingCalendar) -> None:
    tkn = to_instrument_rules(find_contract(products, calendar, "TKN2612", SATURDAY))
    assert (tkn.symbol, tkn.reference_price, tkn.price_limit_bp) == ("TKN2612", 2500, 800)
    assert (tkn.circuit_breaker_bp, tkn.max_order_quantity) == (300, 500)
    gpu = to_instrument_rules(find_contract(products, calendar, "GPU2701", SATURDAY))
    assert (gpu.symbol, gpu.reference_price, gpu.price_limit_bp) == ("GPU2701", 500, 600)
    assert (gpu.circuit_breaker_bp, gpu.max_order_quantity) == (200, 1000)


def test_instrument_rules_refuse_fractional_basis_points(calendar: TradingCalendar) -> None:
    contract = contract_month(parse_one(), calendar, 2026, 12)
    object.__setattr__(contract.product, "price_limit_pct", Decimal("8.005"))  # bypass checks
    with pytest.raises(ProductSpecError, match="price_limit_pct: must be a whole number of basis"):
        to_instrument_rules(contract)
