"""Refusals of the clearing house (docs/clearing.md, docs/commands-and-events.md): one entry
per reason, each with the field it names, and a refusal changes nothing.

The contracts are the helper's, with a position limit of 10 lots and an opening cap of 6 so
the limits are reached with small orders. One lot at 2.500 needs USD 2,500 initial margin
(scan range 10 % = 250 ticks of USD 10).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import pytest

from support.clearing import (
    DAY1,
    GPU,
    TERMS,
    TKN,
    Clearing,
    px,
    rejected,
    usd,
)
from tokenfutures.domain.clearing.accounts import AccountStatus
from tokenfutures.domain.clearing.commands import (
    AddMember,
    EndOfDay,
    FinalSettlement,
    FundHouseCapital,
    OpenAccount,
    SetAccountStatus,
    Withdraw,
)
from tokenfutures.domain.clearing.house import AnyCommand
from tokenfutures.domain.commands import AmendOrder, Deposit, NewOrder
from tokenfutures.domain.rejects import RejectReason as R
from tokenfutures.domain.values import OrderType, Side, TimeInForce

# the clearing house's own reasons (tests/unit/test_order_types.py leaves them to this table)
CLEARING = {
    R.UNKNOWN_ACCOUNT, R.UNKNOWN_MEMBER, R.ALREADY_EXISTS, R.ACCOUNT_CANCEL_ONLY,
    R.CONTRACT_DELISTED, R.INSUFFICIENT_MARGIN, R.POSITION_LIMIT, R.GROUP_POSITION_LIMIT,
    R.INTRADAY_OPEN_CAP, R.REDUCE_ONLY_WOULD_OPEN, R.EXCEEDS_FREE_COLLATERAL,
    R.DATE_NOT_AFTER_PREVIOUS, R.FINAL_SETTLEMENT_NOT_DUE,
}  # fmt: skip
# reasons shared with the core that clearing commands can also get
SHARED = {R.TS_BEFORE_PREVIOUS, R.INVALID_AMOUNT}

LIMITED = tuple(replace(t, position_limit=10, intraday_open_cap=6) for t in TERMS)
GPU_LAST_DAY = date(2026, 12, 15)

Make = Callable[[Clearing], AnyCommand]


def _seeded() -> Clearing:
    """Members M1 and M2; A and B with USD 100,000 each, Poor with USD 100, Thin with one
    lot's margin and a working buy ``thin`` of 1 lot; G1 and G2 in group G."""
    clearing = Clearing(terms=LIMITED)
    clearing.member("M2")
    for name in ("A", "B"):
        clearing.account(name, cash=usd("100,000"))
    clearing.account("Poor", cash=usd("100"))
    clearing.account("Thin", cash=usd("2,500"))
    clearing.buy("Thin", 1, "2.400", coid="thin")
    clearing.account("G1", group="G", cash=usd("100,000"))
    clearing.account("G2", group="G", cash=usd("100,000"))
    return clearing


def _ts(clearing: Clearing) -> int:
    """The next command time (one millisecond on)."""
    return clearing.at(clearing.now + 1_000).now


Setup = Callable[[Clearing], object]


def _order(
    account: str = "A", quantity: int = 1, price: str = "2.400", *, side: Side = Side.BUY,
    symbol: str = TKN, reduce_only: bool = False, setup: Setup | None = None,
) -> Make:  # fmt: skip
    """A GTC limit order built after ``setup`` ran."""

    def make(clearing: Clearing) -> AnyCommand:
        if setup is not None:
            setup(clearing)
        return NewOrder(
            _ts(clearing), account, "new", symbol, side, OrderType.LIMIT, quantity, px(price),
            time_in_force=TimeInForce.GTC, reduce_only=reduce_only,
        )  # fmt: skip

    return make


def _after(setup: Setup, make: Make) -> Make:
    def build(clearing: Clearing) -> AnyCommand:
        setup(clearing)
        return make(clearing)

    return build


def _halt(account: str) -> Setup:
    return lambda c: c.status(account, AccountStatus.CANCEL_ONLY)


def _delist_gpu(clearing: Clearing) -> None:
    """Settle every day up to GPU2612's last trading day, then settle GPU2612 finally."""
    clearing.end_of_day(GPU_LAST_DAY)
    clearing.final_settlement(GPU, "2.500")


def _end_of_day(day: date) -> Setup:
    return lambda c: c.end_of_day(day)


def _working(account: str, quantity: int) -> Setup:
    return lambda c: c.buy(account, quantity, "2.400")


REJECTIONS: dict[str, tuple[R, str | None, Make]] = {
    "order-unknown-account": (R.UNKNOWN_ACCOUNT, "account", _order("Nobody")),
    "deposit-unknown-account": (
        R.UNKNOWN_ACCOUNT, "account", lambda c: Deposit(_ts(c), "Nobody", 100)
    ),
    "withdraw-unknown-account": (
        R.UNKNOWN_ACCOUNT, "account", lambda c: Withdraw(_ts(c), "Nobody", 100)
    ),
    "status-unknown-account": (
        R.UNKNOWN_ACCOUNT, "account",
        lambda c: SetAccountStatus(_ts(c), "Nobody", AccountStatus.CANCEL_ONLY),
    ),
    "account-under-unknown-member": (
        R.UNKNOWN_MEMBER, "member", lambda c: OpenAccount(_ts(c), "New", "M9")
    ),
    "member-exists": (R.ALREADY_EXISTS, "member", lambda c: AddMember(_ts(c), "M1")),
    "account-exists": (R.ALREADY_EXISTS, "account", lambda c: OpenAccount(_ts(c), "A", "M2")),
    "house-account-name": (
        R.ALREADY_EXISTS, "account", lambda c: OpenAccount(_ts(c), "clearing_house", "M1")
    ),
    "order-cancel-only": (R.ACCOUNT_CANCEL_ONLY, "account", _order(setup=_halt("A"))),
    "amend-cancel-only": (
        R.ACCOUNT_CANCEL_ONLY, "account",
        _after(_halt("Thin"), lambda c: AmendOrder(_ts(c), "Thin", "thin", TKN, px("2.390"))),
    ),
    "order-delisted": (R.CONTRACT_DELISTED, "symbol", _order(symbol=GPU, setup=_delist_gpu)),
    "final-settlement-twice": (
        R.CONTRACT_DELISTED, "symbol",
        _after(_delist_gpu, lambda c: FinalSettlement(_ts(c), GPU, px("2.500"))),
    ),
    "order-margin": (R.INSUFFICIENT_MARGIN, "quantity", _order("Poor")),
    "amend-margin": (
        R.INSUFFICIENT_MARGIN, "quantity",
        lambda c: AmendOrder(_ts(c), "Thin", "thin", TKN, None, 2),
    ),
    "position-limit": (R.POSITION_LIMIT, "quantity", _order(quantity=11)),
    "position-limit-with-working": (
        R.POSITION_LIMIT, "quantity", _order(quantity=5, setup=_working("A", 6))
    ),
    "group-position-limit": (
        R.GROUP_POSITION_LIMIT, "quantity", _order("G2", 5, setup=_working("G1", 6))
    ),
    "intraday-open-cap": (R.INTRADAY_OPEN_CAP, "quantity", _order(quantity=7)),
    "reduce-only-when-flat": (
        R.REDUCE_ONLY_WOULD_OPEN, "reduce_only", _order(side=Side.SELL, reduce_only=True)
    ),
    "withdraw-above-free": (
        R.EXCEEDS_FREE_COLLATERAL, "amount", lambda c: Withdraw(_ts(c), "A", usd("100,000") + 1)
    ),
    "withdraw-margin-of-working-order": (
        R.EXCEEDS_FREE_COLLATERAL, "amount", lambda c: Withdraw(_ts(c), "Thin", 1)
    ),
    "end-of-day-same-date": (
        R.DATE_NOT_AFTER_PREVIOUS, "date",
        _after(_end_of_day(DAY1), lambda c: EndOfDay(_ts(c), DAY1)),
    ),
    "end-of-day-earlier-date": (
        R.DATE_NOT_AFTER_PREVIOUS, "date",
        _after(_end_of_day(DAY1), lambda c: EndOfDay(_ts(c), DAY1 - timedelta(days=1))),
    ),
    "final-settlement-before-any-end-of-day": (
        R.FINAL_SETTLEMENT_NOT_DUE, "symbol", lambda c: FinalSettlement(_ts(c), TKN, px("2.5"))
    ),
    "final-settlement-day-before-last": (
        R.FINAL_SETTLEMENT_NOT_DUE, "symbol",
        _after(
            _end_of_day(GPU_LAST_DAY - timedelta(days=1)),
            lambda c: FinalSettlement(_ts(c), GPU, px("2.5")),
        ),
    ),
    "end-of-day-time-going-back": (
        R.TS_BEFORE_PREVIOUS, "ts", lambda c: EndOfDay(c.now - 1, DAY1)
    ),
    "withdraw-time-going-back": (
        R.TS_BEFORE_PREVIOUS, "ts", lambda c: Withdraw(c.now - 1, "A", 1)
    ),
    "open-account-time-going-back": (
        R.TS_BEFORE_PREVIOUS, "ts", lambda c: OpenAccount(c.now - 1, "New", "M1")
    ),
    "zero-deposit": (R.INVALID_AMOUNT, "amount", lambda c: Deposit(_ts(c), "A", 0)),
    "zero-withdrawal": (R.INVALID_AMOUNT, "amount", lambda c: Withdraw(_ts(c), "A", 0)),
    "negative-withdrawal": (R.INVALID_AMOUNT, "amount", lambda c: Withdraw(_ts(c), "A", -5)),
    "zero-house-capital": (R.INVALID_AMOUNT, "amount", lambda c: FundHouseCapital(_ts(c), 0)),
    "negative-house-capital": (
        R.INVALID_AMOUNT, "amount", lambda c: FundHouseCapital(_ts(c), -1)
    ),
    "negative-guaranty-fund": (
        R.INVALID_AMOUNT, "guaranty_fund", lambda c: AddMember(_ts(c), "M3", -1)
    ),
}  # fmt: skip


@pytest.mark.parametrize(("reason", "field", "make"), REJECTIONS.values(), ids=REJECTIONS)
def test_each_rule_rejects_and_changes_nothing(reason: R, field: str | None, make: Make) -> None:
    clearing = _seeded()
    command = make(clearing)
    before = clearing.house.state_hash()
    event = rejected(clearing.send(command))
    assert (event.reason, event.field) == (reason, field)
    assert event.ts == command.ts
    assert clearing.house.state_hash() == before


def test_the_table_covers_every_clearing_reason() -> None:
    covered = {reason for reason, _, _ in REJECTIONS.values()}
    assert covered == CLEARING | SHARED


# --- refusals with reasons of the core, for clearing commands -------------------------------


def _due_gpu(make: Make) -> Make:
    return _after(_end_of_day(GPU_LAST_DAY), make)


OTHER_REJECTIONS: dict[str, tuple[R, str | None, Make]] = {
    "status-liquidating": (
        R.INVALID_FIELD, "status",
        lambda c: SetAccountStatus(_ts(c), "A", AccountStatus.LIQUIDATING),
    ),
    "status-defaulted": (
        R.INVALID_FIELD, "status",
        lambda c: SetAccountStatus(_ts(c), "A", AccountStatus.DEFAULTED),
    ),
    "final-settlement-unknown-symbol": (
        R.UNKNOWN_SYMBOL, "symbol", lambda c: FinalSettlement(_ts(c), "NOPE2612", px("2.5"))
    ),
    "final-settlement-price-and-fixings": (
        R.INVALID_FIELD, "price",
        _due_gpu(lambda c: FinalSettlement(_ts(c), GPU, px("2.5"), (2_500_000,))),
    ),
    "final-settlement-neither": (
        R.INVALID_FIELD, "price", _due_gpu(lambda c: FinalSettlement(_ts(c), GPU))
    ),
    "final-settlement-zero-price": (
        R.INVALID_PRICE, "price", _due_gpu(lambda c: FinalSettlement(_ts(c), GPU, 0))
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("reason", "field", "make"), OTHER_REJECTIONS.values(), ids=OTHER_REJECTIONS
)
def test_clearing_commands_refused_with_a_reason_of_the_core(
    reason: R, field: str | None, make: Make
) -> None:
    clearing = _seeded()
    command = make(clearing)
    before = clearing.house.state_hash()
    event = rejected(clearing.send(command))
    assert (event.reason, event.field) == (reason, field)
    assert clearing.house.state_hash() == before


NAMES: dict[str, tuple[str, Make]] = {
    "withdraw": ("withdraw", lambda c: Withdraw(_ts(c), "A", 0)),
    "add_member": ("add_member", lambda c: AddMember(_ts(c), "M1")),
    "open_account": ("open_account", lambda c: OpenAccount(_ts(c), "A", "M1")),
    "set_account_status": (
        "set_account_status",
        lambda c: SetAccountStatus(_ts(c), "Nobody", AccountStatus.ACTIVE),
    ),
    "fund_house_capital": ("fund_house_capital", lambda c: FundHouseCapital(_ts(c), 0)),
    "end_of_day": ("end_of_day", lambda c: EndOfDay(c.now - 1, DAY1)),
    "final_settlement": ("final_settlement", lambda c: FinalSettlement(_ts(c), TKN, 1)),
    "new_order": ("new_order", _order("Poor")),
    "deposit": ("deposit", lambda c: Deposit(_ts(c), "Nobody", 1)),
}


@pytest.mark.parametrize(("name", "make"), NAMES.values(), ids=NAMES)
def test_rejection_names_the_command(name: str, make: Make) -> None:
    clearing = _seeded()
    assert rejected(clearing.send(make(clearing))).command == name


def test_rejected_order_names_its_account_order_and_symbol() -> None:
    clearing = _seeded()
    event = rejected(clearing.buy("Poor", 1, "2.400", coid="p1"))
    assert (event.account, event.client_order_id, event.symbol) == ("Poor", "p1", TKN)
    assert "Poor" in event.detail
