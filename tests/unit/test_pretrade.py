"""Pre-trade risk (docs/clearing.md, "Pre-trade risk"): margin on equity, the worst case of
working orders, position limits per account and group, the intraday opening cap,
reduce-only orders, cancel-only accounts, --no-risk and withdrawals of free collateral.

Numbers, worked out by hand from the helper's terms: a lot moves USD 10 a tick; the scan
range is 10 % of the settlement price, so one lot at 2.500 needs 250 ticks x USD 10 =
USD 2,500 initial margin (``LOT``) whichever way it faces (the 35 % extreme of 2 x 250 ticks
is smaller). The fee of one side of one lot at 2.500 is 0.005 % of USD 25,000 = 125 cents.
Intraday, margin stays on the last settlement price (2.500) while equity and the fill loss
of an order use the mark (the day's last trade).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from support.clearing import (
    GPU,
    TERMS,
    TKN,
    TKN_NEXT,
    Clearing,
    only,
    px,
    rejected,
    usd,
)
from tokenfutures.domain.clearing.accounts import AccountStatus
from tokenfutures.domain.clearing.events import FundsWithdrawn, TradeCleared
from tokenfutures.domain.clearing.house import AnyCommand
from tokenfutures.domain.commands import AmendOrder, CancelAll, NewOrder
from tokenfutures.domain.events import (
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    TradeExecuted,
)
from tokenfutures.domain.rejects import CancelReason
from tokenfutures.domain.rejects import RejectReason as R
from tokenfutures.domain.values import OrderType, Side, TimeInForce

LOT = usd("2,500")  # initial margin of one lot at 2.500
FEE = 125  # one side of one lot at 2.500
RICH = usd("1,000,000")
BUY, SELL = Side.BUY, Side.SELL


def _clearing(*, position_limit: int = 5000, intraday_open_cap: int = 1000) -> Clearing:
    terms = (
        replace(t, position_limit=position_limit, intraday_open_cap=intraday_open_cap)
        for t in TERMS
    )
    return Clearing(terms=terms)


def _accepted(events: list[Any]) -> bool:
    return bool(only(events, OrderAccepted))


def _reason(events: list[Any]) -> R | None:
    """None when the order was accepted, else the reason it was refused."""
    if _accepted(events):
        return None
    return rejected(events).reason


def _with_rich(clearing: Clearing, *names: str) -> Clearing:
    for name in names:
        clearing.account(name, cash=RICH, exempt=True)
    return clearing


# --- margin: equity counts losses at once, gains only once paid -----------------------------

# A holds 1 lot bought at 2.500 and asks to buy a second (resting at 2.400, no fill loss):
# the two lots need 2 x LOT = USD 5,000. Then C sells D one lot at ``mark``, moving the mark.
EQUITY: dict[str, tuple[int, str, R | None]] = {
    # cash after the fee is exactly 2 x LOT; no move: equity 5,000.00 covers it
    "no-move": (2 * LOT + FEE, "2.500", None),
    # 50 ticks down: equity 5,000.00 - 500.00 = 4,500.00 < 5,000.00
    "loss-counts-at-once": (2 * LOT + FEE, "2.450", R.INSUFFICIENT_MARGIN),
    "loss-covered": (2 * LOT + FEE + usd("500"), "2.450", None),
    # one cent short; the unpaid 500.00 gain would cover it, but does not count
    "unpaid-gain-does-not-count": (2 * LOT + FEE - 1, "2.550", R.INSUFFICIENT_MARGIN),
}  # fmt: skip


@pytest.mark.parametrize(("deposit", "mark", "reason"), EQUITY.values(), ids=EQUITY)
def test_margin_check_uses_equity(deposit: int, mark: str, reason: R | None) -> None:
    clearing = _with_rich(Clearing(), "B", "C", "D")
    clearing.account("A", cash=deposit)
    clearing.trade("A", "B", 1, "2.500")
    clearing.trade("D", "C", 1, mark)
    assert _reason(clearing.buy("A", 1, "2.400")) is reason


def test_gains_count_once_paid_at_the_end_of_day() -> None:
    clearing = _with_rich(Clearing(), "B", "C", "D")
    clearing.account("A", cash=2 * LOT + FEE - 1)  # 4,999.99 after the fee
    clearing.trade("A", "B", 1, "2.500")
    clearing.trade("D", "C", 1, "2.550")
    assert rejected(clearing.buy("A", 1, "2.400")).reason is R.INSUFFICIENT_MARGIN
    clearing.end_of_day()
    clearing.open_day(2)
    # settlement = VWAP (2.500 + 2.550) / 2 = 2.525: A is paid 25 ticks = 250.00, cash
    # 5,249.99; two lots at 2.525 need 2 x ceil(252.5) = 2 x 253 ticks x 10 = 5,060.00
    assert clearing.cash("A") == 2 * LOT - 1 + usd("250")
    assert _accepted(clearing.buy("A", 1, "2.400"))


# A holds 1 lot with cash of exactly one LOT, then the mark falls 50 ticks: equity 2,000.00
# is below the 2,500.00 it needs. Orders that do not raise the requirement still pass.
UNDER_MARGINED: dict[str, tuple[Side, int, str, R | None]] = {
    "sell-closes": (SELL, 1, "2.600", None),
    "sell-flips-to-the-same-size": (SELL, 2, "2.600", None),  # short 1 needs what long 1 did
    "sell-opens-more": (SELL, 3, "2.600", R.INSUFFICIENT_MARGIN),
    "buy-adds": (BUY, 1, "2.400", R.INSUFFICIENT_MARGIN),
}  # fmt: skip


@pytest.mark.parametrize(
    ("side", "quantity", "price", "reason"), UNDER_MARGINED.values(), ids=UNDER_MARGINED
)
def test_an_order_that_does_not_raise_margin_is_accepted_even_under_margined(
    side: Side, quantity: int, price: str, reason: R | None
) -> None:
    clearing = _with_rich(Clearing(), "B", "C", "D")
    clearing.account("A", cash=LOT + FEE)
    clearing.trade("A", "B", 1, "2.500")
    clearing.trade("D", "C", 1, "2.450")
    assert clearing.house.risk_equity("A") < LOT  # under-margined
    assert _reason(clearing.order("A", side, quantity, price)) is reason


# A is long 3 at 2.500 with a working buy ``w`` of 2 at 2.350 and cash of exactly 5 lots
# (12,500.00); the mark falls 100 ticks, so equity is 12,500.00 - 3,000.00 = 9,500.00.
# Amends are checked like orders: one that does not raise the requirement always passes.
AMENDS: dict[str, tuple[str | None, int | None, R | None]] = {
    "smaller": (None, 1, None),  # 4 lots: 10,000.00, down from 12,500.00
    "new-price-only": ("2.340", None, None),  # still 12,500.00
    "larger": (None, 3, R.INSUFFICIENT_MARGIN),  # 6 lots: 15,000.00
}  # fmt: skip


@pytest.mark.parametrize(("price", "quantity", "reason"), AMENDS.values(), ids=AMENDS)
def test_an_amend_that_does_not_raise_margin_is_accepted_even_under_margined(
    price: str | None, quantity: int | None, reason: R | None
) -> None:
    clearing = _with_rich(Clearing(), "B", "C", "D")
    clearing.account("A", cash=5 * LOT + 3 * FEE)
    clearing.trade("A", "B", 3, "2.500")
    assert _accepted(clearing.buy("A", 2, "2.350", coid="w"))
    clearing.trade("D", "C", 1, "2.400")
    assert clearing.house.risk_equity("A") == 5 * LOT - usd("3,000")
    amend = AmendOrder(clearing.now + 1, "A", "w", TKN, None if price is None else px(price),
                       quantity)  # fmt: skip
    events = clearing.send(amend)
    if reason is None:
        assert only(events, OrderAmended), events
    else:
        assert rejected(events).reason is reason


def test_cancelling_an_order_releases_its_margin() -> None:
    clearing = Clearing()
    clearing.account("A", cash=LOT)
    assert _accepted(clearing.buy("A", 1, "2.400", coid="first"))
    assert rejected(clearing.buy("A", 1, "2.400", coid="second")).reason is R.INSUFFICIENT_MARGIN
    clearing.cancel("A", "first")
    assert _accepted(clearing.buy("A", 1, "2.400", coid="second"))


def test_margin_of_a_day_order_is_released_when_it_expires() -> None:
    clearing = Clearing()
    clearing.account("A", cash=LOT)
    clearing.buy("A", 1, "2.400", tif=TimeInForce.GFD)
    assert rejected(clearing.buy("A", 1, "2.400")).reason is R.INSUFFICIENT_MARGIN
    clearing.end_of_day()  # no trade, one-sided book: the settlement stays 2.500
    clearing.open_day(2)
    assert _accepted(clearing.buy("A", 1, "2.400"))


def test_working_orders_count_the_worse_side_not_both() -> None:
    clearing = Clearing()
    clearing.account("A", cash=LOT)
    assert _accepted(clearing.buy("A", 1, "2.400"))
    # buys filled: long 1; sells filled: short 1; both need one LOT
    assert _accepted(clearing.sell("A", 1, "2.600"))
    # a second sell makes the sell side short 2: 2 x LOT
    assert rejected(clearing.sell("A", 1, "2.610")).reason is R.INSUFFICIENT_MARGIN


def test_working_orders_in_two_months_are_margined_by_side() -> None:
    clearing = Clearing()
    clearing.account("A", cash=LOT)
    # a buy in one month and a sell in the other: each side alone is one lot outright
    assert _accepted(clearing.buy("A", 1, "2.400"))
    assert _accepted(clearing.sell("A", 1, "2.600", symbol=TKN_NEXT))
    assert rejected(clearing.buy("A", 1, "2.400", symbol=TKN_NEXT)).reason is (
        R.INSUFFICIENT_MARGIN
    )


# (the day's last trade or None, side, order type, price, cash, reason): the fill loss is
# what the order's price is worse than the mark, lots x ticks x USD 10.
FILL_LOSS: dict[str, tuple[str | None, Side, OrderType, str | None, int, R | None]] = {
    "buy-at-the-mark": (None, BUY, OrderType.LIMIT, "2.500", LOT, None),
    "buy-below-the-mark": (None, BUY, OrderType.LIMIT, "2.490", LOT, None),
    # 10 ticks above 2.500: 100.00 more
    "buy-above-short-a-cent": (None, BUY, OrderType.LIMIT, "2.510", LOT + usd("100") - 1,
                               R.INSUFFICIENT_MARGIN),
    "buy-above-covered": (None, BUY, OrderType.LIMIT, "2.510", LOT + usd("100"), None),
    "sell-above-the-mark": (None, SELL, OrderType.LIMIT, "2.510", LOT, None),
    "sell-below-short-a-cent": (None, SELL, OrderType.LIMIT, "2.490", LOT + usd("100") - 1,
                                R.INSUFFICIENT_MARGIN),
    "sell-below-covered": (None, SELL, OrderType.LIMIT, "2.490", LOT + usd("100"), None),
    # the mark is the day's last trade (2.450), not the settlement (2.500): 10 ticks above
    "mark-is-the-last-trade": ("2.450", BUY, OrderType.LIMIT, "2.460", LOT + usd("100") - 1,
                               R.INSUFFICIENT_MARGIN),
    "at-the-last-trade": ("2.450", BUY, OrderType.LIMIT, "2.450", LOT, None),
    # a market buy is valued at the upper limit 2.700: 200 ticks = 2,000.00
    "market-buy-short-a-cent": (None, BUY, OrderType.MARKET, None, LOT + usd("2,000") - 1,
                                R.INSUFFICIENT_MARGIN),
    "market-buy-covered": (None, BUY, OrderType.MARKET, None, LOT + usd("2,000"), None),
    "market-sell-covered": (None, SELL, OrderType.MARKET, None, LOT + usd("2,000"), None),
}  # fmt: skip


@pytest.mark.parametrize(
    ("last", "side", "order_type", "price", "cash", "reason"), FILL_LOSS.values(), ids=FILL_LOSS
)
def test_an_order_worse_than_the_mark_adds_its_fill_loss(
    last: str | None, side: Side, order_type: OrderType, price: str | None, cash: int,
    reason: R | None,
) -> None:  # fmt: skip
    clearing = _with_rich(Clearing(), "C", "D")
    if last is not None:
        clearing.trade("D", "C", 1, last)
    clearing.account("A", cash=cash)
    tif = TimeInForce.GFD if order_type is OrderType.MARKET else TimeInForce.GTC
    events = clearing.order("A", side, 1, price, order_type=order_type, tif=tif)
    assert _reason(events) is reason


# --- position limits ----------------------------------------------------------------------

# limit 10, no opening cap. A is long 4 with a working buy of 5 and a working sell of 3:
# buying can reach 4 + 5 + q, selling 3 - 4 + q short.
POSITION_LIMIT: dict[str, tuple[Side, int, R | None]] = {
    "buy-to-the-limit": (BUY, 1, None),
    "buy-past-the-limit": (BUY, 2, R.POSITION_LIMIT),
    "sell-to-the-limit": (SELL, 11, None),
    "sell-past-the-limit": (SELL, 12, R.POSITION_LIMIT),
}


@pytest.mark.parametrize(("side", "quantity", "reason"), POSITION_LIMIT.values(),
                         ids=POSITION_LIMIT)  # fmt: skip
def test_position_limit_counts_working_orders_on_the_same_side(
    side: Side, quantity: int, reason: R | None
) -> None:
    clearing = _with_rich(_clearing(position_limit=10, intraday_open_cap=0), "A", "B")
    clearing.trade("A", "B", 4, "2.500")
    clearing.buy("A", 5, "2.400")
    clearing.sell("A", 3, "2.600")
    assert _reason(clearing.order("A", side, quantity, "2.400" if side is BUY else "2.600")) is (
        reason
    )


def test_position_limit_is_per_contract() -> None:
    clearing = _with_rich(_clearing(position_limit=10, intraday_open_cap=0), "A")
    clearing.buy("A", 10, "2.400")
    assert rejected(clearing.buy("A", 1, "2.400")).reason is R.POSITION_LIMIT
    assert _accepted(clearing.buy("A", 10, "2.400", symbol=TKN_NEXT))


def _group() -> Clearing:
    """Limit 10, no cap; G1 and G2 in group G, G1 long 6; H another group."""
    clearing = _clearing(position_limit=10, intraday_open_cap=0)
    for name in ("G1", "G2"):
        clearing.account(name, group="G", cash=RICH)
    _with_rich(clearing, "B", "H")
    clearing.trade("G1", "B", 6, "2.500")
    return clearing


# (G1's extra working buy, who buys, how many): G1's 6 count for G2 and the reverse
GROUP_LIMIT: dict[str, tuple[int, str, int, R | None]] = {
    "within-the-group-limit": (0, "G2", 4, None),
    "past-the-group-limit": (0, "G2", 5, R.GROUP_POSITION_LIMIT),
    "the-other-account's-working-orders-count": (2, "G2", 3, R.GROUP_POSITION_LIMIT),
    "another-group-is-not-counted": (0, "H", 10, None),
}  # fmt: skip


@pytest.mark.parametrize(("working", "account", "quantity", "reason"), GROUP_LIMIT.values(),
                         ids=GROUP_LIMIT)  # fmt: skip
def test_group_position_limit_counts_every_account_of_the_group(
    working: int, account: str, quantity: int, reason: R | None
) -> None:
    clearing = _group()
    if working:
        clearing.buy("G1", working, "2.400")
    assert _reason(clearing.buy(account, quantity, "2.400")) is reason


# --- the intraday opening cap (6 lots per contract and group, limit 100) ---------------------


def _capped() -> Clearing:
    """A and its group-mates G1, G2 trade against the exempt B and C."""
    clearing = _with_rich(_clearing(position_limit=100, intraday_open_cap=6), "B", "C", "E")
    clearing.account("A", cash=RICH)
    for name in ("G1", "G2"):
        clearing.account(name, group="G", cash=RICH)
    return clearing


def test_closing_trades_do_not_count_towards_the_cap() -> None:
    clearing = _capped()
    clearing.trade("A", "B", 4, "2.500")  # opens 4
    clearing.trade("C", "A", 4, "2.500")  # closes 4: still 4 opened today
    assert _accepted(clearing.buy("A", 2, "2.400"))  # 4 + 2 = 6
    assert rejected(clearing.buy("A", 1, "2.390")).reason is R.INTRADAY_OPEN_CAP


def test_closing_is_allowed_once_the_cap_is_reached() -> None:
    clearing = _capped()
    clearing.trade("A", "B", 6, "2.500")  # the cap is used up
    assert rejected(clearing.buy("A", 1, "2.400")).reason is R.INTRADAY_OPEN_CAP
    assert _accepted(clearing.sell("A", 6, "2.600"))  # closes only


def test_a_flip_counts_only_the_lots_beyond_the_position() -> None:
    clearing = _capped()
    clearing.trade("A", "B", 4, "2.500")  # opens 4
    assert _accepted(clearing.sell("A", 6, "2.600"))  # closes 4, could open 2: 6
    assert rejected(clearing.sell("A", 1, "2.610")).reason is R.INTRADAY_OPEN_CAP


def test_working_orders_count_towards_the_cap() -> None:
    clearing = _capped()
    clearing.buy("A", 5, "2.400")
    assert rejected(clearing.buy("A", 2, "2.400")).reason is R.INTRADAY_OPEN_CAP
    assert _accepted(clearing.buy("A", 1, "2.400"))


def test_the_group_shares_the_cap() -> None:
    clearing = _capped()
    clearing.trade("G1", "B", 4, "2.500")
    assert rejected(clearing.buy("G2", 3, "2.400")).reason is R.INTRADAY_OPEN_CAP
    assert _accepted(clearing.buy("G2", 2, "2.400"))


def test_amends_are_held_to_the_group_cap_only_when_they_add_lots() -> None:
    clearing = _capped()
    clearing.buy("G1", 4, "2.400", coid="g")  # G1 could open 4
    clearing.trade("G2", "B", 2, "2.500")  # 2 opened + G1's 4 working = the cap of 6
    smaller = AmendOrder(clearing.now + 1, "G1", "g", TKN, px("2.390"), 3)
    assert only(clearing.send(smaller), OrderAmended)  # fewer lots, another price: fine
    larger = AmendOrder(clearing.now + 1, "G1", "g", TKN, None, 5)
    assert rejected(clearing.send(larger)).reason is R.INTRADAY_OPEN_CAP  # 2 + 5 > 6


def test_the_group_cap_counts_the_other_accounts_working_orders() -> None:
    clearing = _capped()
    clearing.buy("G1", 4, "2.400")
    assert rejected(clearing.buy("G2", 3, "2.400")).reason is R.INTRADAY_OPEN_CAP  # 4 + 3 > 6
    assert _accepted(clearing.buy("G2", 2, "2.400"))


def test_exempt_accounts_skip_the_cap() -> None:
    clearing = _capped()
    clearing.trade("E", "B", 6, "2.500")
    assert _accepted(clearing.buy("E", 7, "2.400"))


def test_the_cap_is_per_contract() -> None:
    clearing = _capped()
    clearing.trade("A", "B", 6, "2.500")
    assert _accepted(clearing.buy("A", 6, "2.400", symbol=TKN_NEXT))


def test_the_opened_count_restarts_after_the_end_of_day() -> None:
    clearing = _capped()
    clearing.trade("A", "B", 6, "2.500")
    assert rejected(clearing.buy("A", 1, "2.400")).reason is R.INTRADAY_OPEN_CAP
    clearing.end_of_day()
    clearing.open_day(2)
    assert _accepted(clearing.buy("A", 6, "2.400"))


# --- reduce-only ----------------------------------------------------------------------------

# A holds ``held`` lots (long > 0); the reduce-only order may not exceed what it closes.
REDUCE_ONLY: dict[str, tuple[int, Side, int, R | None]] = {
    "sell-part-of-a-long": (3, SELL, 2, None),
    "sell-all-of-a-long": (3, SELL, 3, None),
    "sell-more-than-the-long": (3, SELL, 4, R.REDUCE_ONLY_WOULD_OPEN),
    "buy-while-long": (3, BUY, 1, R.REDUCE_ONLY_WOULD_OPEN),
    "buy-all-of-a-short": (-3, BUY, 3, None),
    "buy-more-than-the-short": (-3, BUY, 4, R.REDUCE_ONLY_WOULD_OPEN),
    "sell-while-flat": (0, SELL, 1, R.REDUCE_ONLY_WOULD_OPEN),
}  # fmt: skip


def _holding(held: int) -> Clearing:
    clearing = _with_rich(Clearing(), "A", "B", "C")
    if held > 0:
        clearing.trade("A", "B", held, "2.500")
    elif held < 0:
        clearing.trade("B", "A", -held, "2.500")
    return clearing


@pytest.mark.parametrize(("held", "side", "quantity", "reason"), REDUCE_ONLY.values(),
                         ids=REDUCE_ONLY)  # fmt: skip
def test_reduce_only_may_not_open(held: int, side: Side, quantity: int, reason: R | None) -> None:
    clearing = _holding(held)
    price = "2.400" if side is BUY else "2.600"
    assert _reason(clearing.order("A", side, quantity, price, reduce_only=True)) is reason


def test_working_reduce_only_orders_count() -> None:
    clearing = _holding(3)
    clearing.sell("A", 2, "2.600", reduce_only=True)
    assert rejected(clearing.sell("A", 2, "2.610", reduce_only=True)).reason is (
        R.REDUCE_ONLY_WOULD_OPEN
    )
    assert _accepted(clearing.sell("A", 1, "2.610", reduce_only=True))


def test_an_amend_of_a_reduce_only_order_is_checked_the_same_way() -> None:
    clearing = _holding(3)
    clearing.sell("A", 2, "2.600", coid="ro", reduce_only=True)
    too_large = AmendOrder(clearing.now + 1, "A", "ro", TKN, None, 4)
    assert rejected(clearing.send(too_large)).reason is R.REDUCE_ONLY_WOULD_OPEN
    assert only(clearing.send(AmendOrder(clearing.now + 1, "A", "ro", TKN, None, 3)), OrderAmended)


def test_plain_working_orders_do_not_count_against_reduce_only() -> None:
    clearing = _holding(3)
    clearing.sell("A", 5, "2.600")
    assert _accepted(clearing.sell("A", 3, "2.610", reduce_only=True))


def test_a_fill_cancels_reduce_only_orders_left_too_large_newest_first() -> None:
    clearing = _holding(3)
    clearing.sell("A", 1, "2.600", coid="older", reduce_only=True)
    clearing.sell("A", 2, "2.610", coid="newer", reduce_only=True)
    events = clearing.trade("C", "A", 2, "2.500")  # A sells 2 plainly: long 1 left
    assert clearing.position("A") == 1
    cancelled = only(events, OrderCancelled)
    assert [(e.client_order_id, e.reason, e.cancelled_quantity) for e in cancelled] == [
        ("newer", CancelReason.REDUCE_ONLY, 2)
    ]
    live = {o.client_order_id for o in clearing.exchange.registry.orders_of("A")}
    assert live == {"older"}


def test_a_fill_that_grows_the_position_cancels_nothing() -> None:
    clearing = _holding(3)
    clearing.sell("A", 3, "2.600", coid="ro", reduce_only=True)
    events = clearing.trade("A", "B", 1, "2.500")
    assert only(events, OrderCancelled) == []
    assert [o.client_order_id for o in clearing.exchange.registry.orders_of("A")] == ["ro"]


def test_reduce_only_is_enforced_with_risk_off() -> None:
    clearing = Clearing(risk=False)
    assert rejected(clearing.sell("Ghost", 1, "2.600", reduce_only=True)).reason is (
        R.REDUCE_ONLY_WOULD_OPEN
    )


# --- cancel-only accounts -------------------------------------------------------------------


def test_a_cancel_only_account_may_cancel_but_not_place() -> None:
    clearing = Clearing()
    clearing.account("A", cash=RICH)
    clearing.buy("A", 1, "2.400", coid="a1")
    clearing.buy("A", 1, "2.400", coid="a2")
    clearing.status("A", AccountStatus.CANCEL_ONLY)
    assert rejected(clearing.buy("A", 1, "2.400")).reason is R.ACCOUNT_CANCEL_ONLY
    amend = AmendOrder(clearing.now + 1, "A", "a1", TKN, px("2.390"))
    assert rejected(clearing.send(amend)).reason is R.ACCOUNT_CANCEL_ONLY
    cancelled = only(clearing.cancel("A", "a1"), OrderCancelled)
    assert [(e.client_order_id, e.reason) for e in cancelled] == [("a1", CancelReason.REQUESTED)]
    everything = only(clearing.send(CancelAll(clearing.now + 1, "A", None)), OrderCancelled)
    assert [e.client_order_id for e in everything] == ["a2"]
    clearing.status("A", AccountStatus.ACTIVE)
    assert _accepted(clearing.buy("A", 1, "2.400"))


# --- order of the checks: the first failing rule is the reason -------------------------------

Make = Callable[[Clearing], AnyCommand]


def _ordered() -> Clearing:
    """Limit 10, cap 6. G1 (group G) long 6, so G has opened its 6; Poor has USD 100;
    Halted is cancel-only."""
    clearing = _clearing(position_limit=10, intraday_open_cap=6)
    for name in ("G1", "G2"):
        clearing.account(name, group="G", cash=RICH)
    _with_rich(clearing, "B")
    clearing.account("Poor", cash=usd("100"))
    clearing.account("Halted", cash=RICH)
    clearing.status("Halted", AccountStatus.CANCEL_ONLY)
    clearing.trade("G1", "B", 6, "2.500")
    return clearing


def _new(account: str, side: Side, quantity: int, *, symbol: str = TKN,
         reduce_only: bool = False) -> Make:  # fmt: skip
    price = px("2.400") if side is BUY else px("2.600")

    def make(clearing: Clearing) -> AnyCommand:
        return NewOrder(
            clearing.now + 1, account, "new", symbol, side, OrderType.LIMIT, quantity, price,
            time_in_force=TimeInForce.GTC, reduce_only=reduce_only,
        )  # fmt: skip

    return make


def _delisted(make: Make) -> Make:
    def build(clearing: Clearing) -> AnyCommand:
        clearing.end_of_day(date(2026, 12, 15))
        clearing.final_settlement(GPU, "2.500")
        return make(clearing)

    return build


FIRST_FAILURE: dict[str, tuple[Make, R]] = {
    "delisted>reduce-only": (
        _delisted(_new("Poor", SELL, 1, symbol=GPU, reduce_only=True)), R.CONTRACT_DELISTED
    ),
    "static>account": (_new("Nobody", BUY, 0), R.INVALID_QUANTITY),
    "reduce-only>account": (_new("Nobody", SELL, 1, reduce_only=True), R.REDUCE_ONLY_WOULD_OPEN),
    "account>position-limit": (_new("Halted", BUY, 11), R.ACCOUNT_CANCEL_ONLY),
    "position-limit>group-limit": (_new("G2", BUY, 11), R.POSITION_LIMIT),
    "group-limit>cap": (_new("G2", BUY, 5), R.GROUP_POSITION_LIMIT),
    "cap>margin": (_new("Poor", BUY, 7), R.INTRADAY_OPEN_CAP),
}  # fmt: skip


@pytest.mark.parametrize(("make", "reason"), FIRST_FAILURE.values(), ids=FIRST_FAILURE)
def test_check_order(make: Make, reason: R) -> None:
    clearing = _ordered()
    assert rejected(clearing.send(make(clearing))).reason is reason


# --- --no-risk ------------------------------------------------------------------------------


def test_without_risk_unknown_accounts_trade_and_are_cleared() -> None:
    clearing = Clearing(risk=False)
    events = clearing.trade("Ghost", "Shade", 2, "2.500")
    assert len(only(events, TradeExecuted)) == 1
    # fee of 2 lots at 2.500: 0.005 % of USD 50,000 = 2.50
    assert [(e.buy_account, e.buy_fee, e.sell_account, e.sell_fee)
            for e in only(events, TradeCleared)] == [("Ghost", 250, "Shade", 250)]  # fmt: skip
    assert (clearing.position("Ghost"), clearing.position("Shade")) == (2, -2)
    assert (clearing.cash("Ghost"), clearing.cash("Shade")) == (-250, -250)


# --- withdrawals: free collateral only --------------------------------------------------------

Scenario = Callable[[Clearing], object]


def _long_one(clearing: Clearing) -> None:
    clearing.trade("A", "B", 1, "2.500")  # A pays the 1.25 fee


def _then_mark(price: str) -> Scenario:
    def act(clearing: Clearing) -> None:
        _long_one(clearing)
        clearing.trade("D", "C", 1, price)

    return act


# A deposits USD 3,000.00 (plus the fee when it trades); the free collateral after ``act``
WITHDRAWALS: dict[str, tuple[Scenario, int, int]] = {
    "cash-only": (lambda c: None, usd("3,000"), usd("3,000")),
    # a working buy holds one LOT
    "working-order": (lambda c: c.buy("A", 1, "2.400"), usd("3,000"), usd("500")),
    "position": (_long_one, usd("3,000") + FEE, usd("500")),
    # 10 ticks down: 100.00 lost at once
    "position-at-a-loss": (_then_mark("2.490"), usd("3,000") + FEE, usd("400")),
    # 10 ticks up: the 100.00 gain is not paid yet
    "position-at-a-gain": (_then_mark("2.510"), usd("3,000") + FEE, usd("500")),
}  # fmt: skip


@pytest.mark.parametrize(("act", "deposit", "free"), WITHDRAWALS.values(), ids=WITHDRAWALS)
def test_withdrawals_pay_out_free_collateral_only(act: Scenario, deposit: int, free: int) -> None:
    clearing = _with_rich(Clearing(), "B", "C", "D")
    clearing.account("A", cash=deposit)
    act(clearing)
    assert rejected(clearing.withdraw("A", free + 1)).reason is R.EXCEEDS_FREE_COLLATERAL
    [paid] = only(clearing.withdraw("A", free), FundsWithdrawn)
    assert paid.amount == free


def test_gains_are_withdrawable_once_paid() -> None:
    clearing = _with_rich(Clearing(), "B", "C", "D")
    clearing.account("A", cash=LOT + FEE)
    _then_mark("2.550")(clearing)  # A gains 500.00, unpaid: nothing is free
    assert rejected(clearing.withdraw("A", 1)).reason is R.EXCEEDS_FREE_COLLATERAL
    clearing.end_of_day()
    # settlement 2.525 (VWAP of 2.500 and 2.550): A is paid 250.00; one lot at 2.525 needs
    # 253 ticks x 10 = 2,530.00 of the 2,750.00 cash: 220.00 free
    assert clearing.cash("A") == LOT + usd("250")
    assert rejected(clearing.withdraw("A", usd("220") + 1)).reason is R.EXCEEDS_FREE_COLLATERAL
    assert only(clearing.withdraw("A", usd("220")), FundsWithdrawn)
