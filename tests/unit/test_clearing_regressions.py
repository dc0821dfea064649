"""Clearing bugs found in review, one test each: the scenario and what the rulebook says."""

from __future__ import annotations

import json
from datetime import timedelta

from support.clearing import (
    DAY1,
    GPU,
    HOUR,
    T0,
    TKN,
    TKN_NEXT,
    Clearing,
    only,
    rejected,
    usd,
)
from tokenfutures.domain.clearing.accounts import AccountStatus
from tokenfutures.domain.clearing.commands import EndOfDay
from tokenfutures.domain.clearing.events import (
    AccountStatusChanged,
    DefaultDeclared,
    DefaultLossAllocated,
    DefaultLossUnallocated,
    LiquidationStarted,
    MarginCallIssued,
    MarginCallMet,
    SettlementPriceSet,
    TradeCleared,
)
from tokenfutures.domain.clearing.ledger import assessment_account
from tokenfutures.domain.commands import AmendOrder, NewOrder
from tokenfutures.domain.events import AuctionUncrossed, CircuitBreakerTripped
from tokenfutures.domain.rejects import RejectReason as R
from tokenfutures.domain.values import OrderType, Phase, Side, TimeInForce
from tokenfutures.engine.runner import first_command_date, run_file_lines


def day(n: int) -> object:
    return DAY1 + timedelta(days=n - 1)


def settled(events: list[object], symbol: str = TKN) -> SettlementPriceSet:
    (found,) = [e for e in only(events, SettlementPriceSet) if e.symbol == symbol]
    return found


def _waterfall_default(c: Clearing) -> None:
    """DF (member M1) loses far more than its cash: a deficit the waterfall cannot cover."""
    c.member("M1", usd("5,000"))
    c.member("M2", usd("8,000"))
    c.account("DF", "M1", cash=usd("250,000"))
    c.account("SELLER", "M2", cash=usd("300,000"))
    c.account("P", "M2", cash=usd("10,000"))
    c.account("Q", "M2", cash=usd("10,000"))
    c.account("BIDDER", "M2", cash=usd("300,000"))
    c.trade("DF", "SELLER", 100, "2.500")
    c.end_of_day(day(1))
    c.open_day(2)
    c.trade("P", "Q", 1, "2.300")
    c.end_of_day(day(2))
    c.open_day(3)
    c.buy("BIDDER", 100, "2.116")
    assert only(c.deadline(), DefaultLossUnallocated)


def test_a_defaulted_account_is_not_called_or_defaulted_again() -> None:
    c = Clearing()
    _waterfall_default(c)
    assert not [e for e in only(c.end_of_day(day(3)), MarginCallIssued) if e.account == "DF"]
    c.open_day(4)
    c.member("M3", usd("40,000"))  # joins after the default: bears none of it
    assert not only(c.deadline(), DefaultDeclared)
    assert c.house.accounts.accounts["DF"].status is AccountStatus.DEFAULTED


def test_a_defaulted_account_cannot_withdraw() -> None:
    c = Clearing()
    c.account("L", cash=usd("51,000"))
    for name in ("S", "P", "Q", "B"):
        c.account(name, cash=usd("300,000"))
    c.trade("L", "S", 10, "2.500")
    c.trade("L", "S", 10, "2.500", symbol=GPU)
    c.end_of_day(day(1))
    c.open_day(2)
    c.trade("P", "Q", 1, "2.440")
    c.trade("P", "Q", 1, "2.440", symbol=GPU)
    # L: 51,000 - 2 x 12.50 fees - 2 x 6,000 = 38,975 < maintenance 0.8 x 48,800 = 39,040
    assert [e.account for e in only(c.end_of_day(day(2)), MarginCallIssued)] == ["L"]
    c.open_day(3)
    c.phase(GPU, Phase.CLOSED)  # GPU cannot be sold: it goes to the house with 24,400
    c.buy("B", 10, "2.430")  # TKN can
    c.deadline()
    # 38,975 - 1,000 lost - 12.15 fee - 24,400 margin that followed the GPU lots
    assert c.house.accounts.accounts["L"].status is AccountStatus.DEFAULTED
    assert c.cash("L") == usd("13,562.85")
    assert rejected(c.withdraw("L", usd("1"))).reason is R.ACCOUNT_CANCEL_ONLY


def test_liquidation_keeps_an_account_the_exchange_halted_cancel_only() -> None:
    c = Clearing()
    c.account("L", cash=usd("25,000"))
    c.account("S", cash=usd("30,000"))
    c.account("X", cash=usd("50,000"))
    c.account("Y", cash=usd("60,000"))
    c.account("B", cash=usd("100,000"))
    c.trade("L", "S", 10, "2.500")
    c.trade("X", "Y", 15, "2.400")  # settles at the VWAP 2.440: L is called
    assert [e.account for e in only(c.end_of_day(), MarginCallIssued)] == ["L"]
    c.open_day(2)
    c.buy("B", 10, "2.430")
    c.status("L", AccountStatus.CANCEL_ONLY)
    statuses = [e.status for e in only(c.deadline(), AccountStatusChanged) if e.account == "L"]
    assert statuses == ["liquidating", "cancel_only"]
    assert rejected(c.buy("L", 1, "2.400")).reason is R.ACCOUNT_CANCEL_ONLY


def test_paying_the_called_amount_meets_the_call_even_with_a_working_order() -> None:
    c = Clearing()
    c.account("L", cash=usd("27,600"))
    c.account("S", cash=usd("30,000"))
    c.account("X", cash=usd("50,000"))
    c.account("Y", cash=usd("60,000"))
    c.trade("L", "S", 10, "2.500")
    c.buy("L", 1, "2.300")  # a working GTC bid
    c.trade("X", "Y", 15, "2.350")
    (call,) = only(c.end_of_day(), MarginCallIssued)
    c.open_day(2)
    c.deposit("L", call.amount)
    events = c.deadline()
    assert [e.account for e in only(events, MarginCallMet)] == ["L"]
    assert not only(events, LiquidationStarted)


def test_the_index_fallback_compares_with_the_last_end_of_day_only() -> None:
    c = Clearing()
    for name in "ABXY":
        c.account(name, cash=usd("100,000"))
    c.trade("A", "B", 1, "2.500")
    c.end_of_day(day(1), {"TKN": 2_500_000})
    c.open_day(2)
    c.trade("X", "Y", 1, "2.600")
    c.end_of_day(day(2))  # no fixing sent on day 2
    c.open_day(3)
    found = settled(c.end_of_day(day(3), {"TKN": 2_600_000}))
    assert (found.method, found.price) == ("previous", 2600)  # not day 1 -> day 3: 2.704


def test_assessment_caps_are_cumulative_over_defaults() -> None:
    c = Clearing()
    c.member("M1")
    c.member("M2", usd("8,000"))  # cap: 275 % = 22,000 in all
    c.account("D1", "M1", cash=usd("25,000"))
    c.account("D2", "M1", cash=usd("25,000"))
    c.account("S", "M2", cash=usd("300,000"))
    c.account("P", "M2", cash=usd("10,000"))
    c.account("Q", "M2", cash=usd("10,000"))
    c.account("BID", "M2", cash=usd("300,000"))
    c.trade("D1", "S", 10, "2.500")
    c.trade("D2", "S", 10, "2.500")
    c.end_of_day(day(1))
    c.open_day(2)
    c.trade("P", "Q", 1, "2.300")
    c.end_of_day(day(2))
    c.open_day(3)
    c.buy("BID", 20, "2.116")
    events = c.deadline()
    assessed = sum(e.amount for e in only(events, DefaultLossAllocated) if e.step == "assessments")
    unallocated = sum(e.amount for e in only(events, DefaultLossUnallocated))
    # the two defaults together may assess M2 up to 22,000, and nothing is left unallocated
    # while any of that cap is unused
    assert assessed == -c.house.ledger.balance(assessment_account("M2"))
    assert assessed == usd("22,000") or unallocated == 0


def test_the_end_of_day_runs_a_reopening_auction_that_is_due_first() -> None:
    c = Clearing(circuit_breaker_bp=300)
    for name in "ABCD":
        c.account(name, cash=usd("100,000"))
    c.sell("B", 1, "2.600")
    assert only(c.buy("A", 1, "2.600"), CircuitBreakerTripped)
    reopen_at = c.exchange.instruments[TKN].reopen_at
    assert reopen_at is not None
    c.buy("C", 5, "2.560", tif=TimeInForce.GFD)  # crossed orders wait in the pause
    c.sell("D", 5, "2.560", tif=TimeInForce.GFD)
    c.at(reopen_at + 60_000_000)
    events = c.end_of_day()
    assert only(events, AuctionUncrossed)[0].price == 2560
    assert settled(events).method == "vwap_day"
    assert c.position("C") > 0


def test_an_ioc_after_the_pause_ended_is_not_refused_as_an_auction_order() -> None:
    c = Clearing(circuit_breaker_bp=300)
    for name in "AB":
        c.account(name, cash=usd("100,000"))
    c.sell("B", 1, "2.600")
    only(c.buy("A", 1, "2.600"), CircuitBreakerTripped)
    reopen_at = c.exchange.instruments[TKN].reopen_at
    assert reopen_at is not None
    c.at(reopen_at + 1)
    events = c.buy("A", 1, "2.500", tif=TimeInForce.IOC)
    assert not [e for e in events if type(e).__name__ == "CommandRejected"]


def test_the_state_hash_covers_the_days_trades() -> None:
    def stream(trade_at: int) -> Clearing:
        c = Clearing()
        for name in "XYZ":
            c.account(name, cash=usd("100,000"))
        c.at(trade_at)
        c.trade("X", "Y", 1, "2.600", symbol=GPU)
        c.at(T0 + 5 * HOUR + 10 * 60_000_000)
        c.deposit("X", 100)
        return c

    early, late = stream(T0), stream(T0 + 5 * HOUR + 5 * 60_000_000)
    # the GPU last-hour VWAP sees only the late trade: the states differ, so must the hashes
    assert early.house.state_hash() != late.house.state_hash()


def test_an_operators_reference_price_moves_the_margin_basis() -> None:
    c = Clearing()
    c.account("A", cash=usd("100,000"))
    c.account("B", cash=usd("100,000"))
    c.trade("A", "B", 1, "2.500")
    from tokenfutures.domain.commands import SetReferencePrice

    c.send(SetReferencePrice(c.now + 1, TKN, 3000))
    assert c.house.settlement_prices[TKN] == 3000
    assert c.house.requirement("A").initial == 300 * 1000  # 10 % of 3.000 = 300 ticks x USD 10


def test_amends_meet_the_cores_checks_first() -> None:
    c = Clearing()
    c.account("A", cash=usd("55,000"))
    c.buy("A", 10, "2.400", coid="o1")
    too_big = rejected(c.send(AmendOrder(c.now + 1, "A", "o1", TKN, quantity=1001)))
    assert (too_big.reason, too_big.field) == (R.QUANTITY_ABOVE_MAXIMUM, "quantity")
    c.buy("A", 1, "2.400", coid="o2", symbol=TKN_NEXT)
    duplicate = NewOrder(c.now + 1, "A", "o2", TKN_NEXT, Side.BUY, OrderType.LIMIT, 500, 2400)
    assert rejected(c.send(duplicate)).reason is R.DUPLICATE_CLIENT_ORDER_ID


def test_the_clearing_houses_own_account_pays_no_fee() -> None:
    c = Clearing()
    c.account("A", cash=usd("100,000"))
    c.sell("A", 1, "2.500")
    cleared = only(c.buy("clearing_house", 1, "2.500", tif=TimeInForce.IOC), TradeCleared)
    assert (cleared[0].buy_fee, cleared[0].sell_fee) == (0, 125)


def test_unreadable_lines_never_crash_the_runner() -> None:
    lines = ["[" * 3000, '{"ts": ' + "9" * 5000 + "}", json.dumps({"type": "end_of_day"})]
    assert first_command_date(lines) is None
    summary = run_file_lines(lines, DAY1, lambda event: None)
    assert (summary.commands, summary.rejected) == (3, 3)


def test_end_of_day_dates_must_advance() -> None:
    c = Clearing()
    c.end_of_day(day(2))
    event = rejected(c.send(EndOfDay(c.now + 1, day(1))))  # type: ignore[arg-type]
    assert (event.reason, event.field) == (R.DATE_NOT_AFTER_PREVIOUS, "date")
