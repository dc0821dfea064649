"""The engine against the naive reference book, command by command.

For every command the engine's trades (all fields but ids and time), its reject reason and its
cancellations must equal the reference's, and the depth of every instrument must agree after
the command. Hand-written scenarios pin the rulebook's examples on both books; hypothesis and
long seeded streams do the rest.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import pytest
from hypothesis import HealthCheck, given, settings

from tokenfutures.domain.commands import AmendOrder, CancelAll, CancelOrder, Command, NewOrder
from tokenfutures.domain.events import CommandRejected, Event, OrderCancelled, TradeExecuted
from tokenfutures.domain.exchange import Exchange
from tokenfutures.domain.rejects import CancelReason, RejectReason
from tokenfutures.domain.rules import InstrumentRules
from tokenfutures.domain.values import OrderType, SelfTradePrevention, Side, TimeInForce

from .reference_book import Outcome, RefCancel, ReferenceBook, RefTrade
from .streams import NARROW_RULES, RULES, SYMBOLS, command_streams, generate_stream

STP = SelfTradePrevention
H, G = SYMBOLS
Depth = tuple[list[tuple[int, int]], list[tuple[int, int]]]


def outcome_of(events: Sequence[Event]) -> Outcome:
    """The engine's events reduced to what the reference reports."""
    trades = tuple(
        RefTrade(
            e.symbol,
            e.price,
            e.quantity,
            e.buy_account,
            e.sell_account,
            e.buy_client_order_id,
            e.sell_client_order_id,
            e.aggressor,
        )
        for e in events
        if isinstance(e, TradeExecuted)
    )
    rejects = [e.reason for e in events if isinstance(e, CommandRejected)]
    assert len(rejects) <= 1
    assert not rejects or len(events) == 1, "a rejected command must change nothing"
    cancels = sorted(
        (
            RefCancel(e.account, e.client_order_id, e.symbol, e.reason)
            for e in events
            if isinstance(e, OrderCancelled)
        ),
        key=lambda c: (c.account, c.client_order_id, c.reason),
    )
    return Outcome(trades, rejects[0] if rejects else None, tuple(cancels))


def assert_same_as_reference(
    stream: Sequence[Command],
    stp: SelfTradePrevention,
    *,
    rules: Sequence[InstrumentRules] = RULES,
    depth_every: int = 1,
) -> Exchange:
    engine = Exchange(rules, self_trade_prevention=stp)
    reference = ReferenceBook(tuple(rules), self_trade_prevention=stp)
    for index, command in enumerate(stream):
        actual = outcome_of(engine.handle(command))
        expected = reference.handle(command)
        assert actual == expected, f"command #{index} {command}"
        if index % depth_every == 0 or index == len(stream) - 1:
            for symbol in reference.symbols:
                assert engine.depth(symbol) == reference.depth(symbol), (
                    f"{symbol} depth after command #{index} {command}"
                )
    return engine


# ---- hand-written scenarios, run on both books ---------------------------------------------


def order(
    account: str,
    client_order_id: str,
    side: Side,
    quantity: int,
    price: int | None = None,
    *,
    kind: OrderType = OrderType.LIMIT,
    symbol: str = H,
    **fields: Any,
) -> NewOrder:
    return NewOrder(
        1, account, client_order_id, symbol, side, kind, quantity, price=price, **fields
    )


def buy(account: str, cid: str, quantity: int, price: int | None = None, **kw: Any) -> NewOrder:
    return order(account, cid, Side.BUY, quantity, price, **kw)


def sell(account: str, cid: str, quantity: int, price: int | None = None, **kw: Any) -> NewOrder:
    return order(account, cid, Side.SELL, quantity, price, **kw)


def amend(account: str, cid: str, price: int | None = None, quantity: int | None = None) -> Command:
    return AmendOrder(1, account, cid, H, price=price, quantity=quantity)


@dataclass(frozen=True)
class Expect:
    trades: list[tuple[int, int, str, str]] = field(default_factory=list)  # price, qty, cids
    rejected: RejectReason | None = None
    cancels: list[tuple[str, CancelReason]] = field(default_factory=list)
    bids: list[tuple[int, int]] = field(default_factory=list)
    asks: list[tuple[int, int]] = field(default_factory=list)


IOC, FOK, GTC = TimeInForce.IOC, TimeInForce.FOK, TimeInForce.GTC
STOP, MARKET = OrderType.STOP, OrderType.MARKET
REJ, CXL = RejectReason, CancelReason
CROSS_A = [sell("A", "a1", 2, 1000), buy("B", "b1", 2, 1000)]  # last trade 1000
# fmt: off
SCENARIOS: dict[str, tuple[list[Command], Expect]] = {
    "price-time priority, resting price": (
        [sell("A", "a1", 5, 1001), sell("B", "b1", 5, 1000), sell("C", "c1", 5, 1000),
         buy("D", "d1", 12, 1002)],
        Expect([(1000, 5, "d1", "b1"), (1000, 5, "d1", "c1"), (1001, 2, "d1", "a1")],
               asks=[(1001, 3)]),
    ),
    "ioc remainder never rests": (
        [sell("A", "a1", 2, 1000), buy("B", "b1", 5, 1001, time_in_force=IOC)],
        Expect([(1000, 2, "b1", "a1")], cancels=[("b1", CXL.IOC_REMAINDER)]),
    ),
    "fok not fillable changes nothing": (
        [sell("A", "a1", 2, 1000), sell("B", "b1", 2, 1002),
         buy("C", "c1", 3, 1001, time_in_force=FOK)],
        Expect(cancels=[("c1", CXL.FOK_NOT_FILLABLE)], asks=[(1000, 2), (1002, 2)]),
    ),
    "fok walk stops at own order": (
        [sell("A", "a1", 2, 1000), sell("B", "b1", 5, 1001),
         buy("A", "a2", 5, 1001, time_in_force=FOK)],
        Expect(cancels=[("a2", CXL.FOK_NOT_FILLABLE)], asks=[(1000, 2), (1001, 5)]),
    ),
    "fok cancel_resting skips own order": (
        [sell("A", "a1", 2, 1000), sell("B", "b1", 5, 1001),
         buy("A", "a2", 5, 1001, time_in_force=FOK, self_trade_prevention=STP.CANCEL_RESTING)],
        Expect([(1001, 5, "a2", "b1")], cancels=[("a1", CXL.SELF_TRADE_PREVENTED)]),
    ),
    "stp cancel_incoming": (
        [sell("A", "a1", 2, 1000), buy("A", "a2", 3, 1000)],
        Expect(cancels=[("a2", CXL.SELF_TRADE_PREVENTED)], asks=[(1000, 2)]),
    ),
    "stp cancel_resting": (
        [sell("A", "a1", 2, 1000),
         buy("A", "a2", 3, 1000, self_trade_prevention=STP.CANCEL_RESTING)],
        Expect(cancels=[("a1", CXL.SELF_TRADE_PREVENTED)], bids=[(1000, 3)]),
    ),
    "stp cancel_both after a trade": (
        [sell("B", "b1", 1, 999), sell("A", "a1", 2, 1000),
         buy("A", "a2", 3, 1000, self_trade_prevention=STP.CANCEL_BOTH)],
        Expect([(999, 1, "a2", "b1")],
               cancels=[("a1", CXL.SELF_TRADE_PREVENTED), ("a2", CXL.SELF_TRADE_PREVENTED)]),
    ),
    "market without liquidity": (
        [buy("A", "a1", 1, 990), buy("B", "b1", 1, kind=MARKET)],
        Expect(cancels=[("b1", CXL.NO_LIQUIDITY)], bids=[(990, 1)]),
    ),
    "market partly filled": (
        [sell("A", "a1", 2, 1030), buy("B", "b1", 5, kind=MARKET)],
        Expect([(1030, 2, "b1", "a1")], cancels=[("b1", CXL.IOC_REMAINDER)]),
    ),
    "post-only would trade": (
        [sell("A", "a1", 2, 1000), buy("B", "b1", 1, 1000, post_only=True)],
        Expect(rejected=REJ.POST_ONLY_WOULD_TRADE, asks=[(1000, 2)]),
    ),
    "post-only against own order": (
        [sell("A", "a1", 2, 1000), buy("A", "a2", 1, 1001, post_only=True, time_in_force=GTC)],
        Expect(rejected=REJ.POST_ONLY_WOULD_TRADE, asks=[(1000, 2)]),
    ),
    "duplicate client id across instruments": (
        [buy("A", "a1", 1, 990), buy("A", "a1", 1, 400, symbol=G)],
        Expect(rejected=REJ.DUPLICATE_CLIENT_ORDER_ID, bids=[(990, 1)]),
    ),
    "client id of a dead order is free again": (
        [buy("A", "a1", 1, 990, time_in_force=IOC), buy("A", "a1", 1, 991)],
        Expect(bids=[(991, 1)]),
    ),
    "quantity checked before price limits": (
        [buy("A", "a1", 0, 2000)],
        Expect(rejected=REJ.INVALID_QUANTITY),
    ),
    "price limits checked before duplicate id": (
        [buy("A", "a1", 1, 990), buy("A", "a1", 1, 1031)],
        Expect(rejected=REJ.PRICE_OUTSIDE_LIMIT, bids=[(990, 1)]),
    ),
    "stop already triggered": (
        [*CROSS_A, buy("C", "c1", 1, kind=STOP, stop_price=1000)],
        Expect(rejected=REJ.STOP_ALREADY_TRIGGERED),
    ),
    "stop cascade": (
        [*CROSS_A, sell("S", "s1", 1, 1003), sell("S", "s2", 1, 1005),
         buy("C", "c2", 1, kind=STOP, stop_price=1003),
         buy("C", "c1", 1, kind=STOP, stop_price=1001),
         sell("E", "e1", 1, 1001), buy("F", "f1", 1, 1001)],
        Expect([(1001, 1, "f1", "e1"), (1003, 1, "c1", "s1"), (1005, 1, "c2", "s2")]),
    ),
    "a later print cannot un-trigger a stop": (
        [buy("M", "m1", 1, 1010), sell("N", "n1", 1, 1010),
         sell("A", "s1", 2, kind=STOP, stop_price=1009),
         sell("B", "s2", 3, kind=STOP, stop_price=1008),
         sell("C", "c1", 1, 1006), buy("D", "d1", 10, 1009)],
        Expect([(1006, 1, "d1", "c1"), (1009, 2, "d1", "s1"), (1009, 3, "d1", "s2")],
               bids=[(1009, 4)]),
    ),
    "any print through the stop triggers it": (
        [*CROSS_A, buy("M", "m1", 1, 1002), buy("N", "n1", 1, 1000), sell("S", "s1", 1, 1005),
         buy("B", "sb", 1, kind=STOP, stop_price=1001), sell("X", "x1", 2, 1000)],
        Expect([(1002, 1, "m1", "x1"), (1000, 1, "n1", "x1"), (1005, 1, "sb", "s1")]),
    ),
    "stops of both sides triggered together enter by arrival": (
        [sell("C", "ss", 1, kind=STOP, stop_price=1010),
         buy("A", "sb", 1, kind=STOP, stop_price=1000),
         buy("M", "m1", 5, 1004), sell("N", "n1", 5, 1006),
         sell("X", "x1", 1, 1005), buy("Y", "y1", 1, 1005)],
        Expect([(1005, 1, "y1", "x1"), (1004, 1, "m1", "ss"), (1006, 1, "sb", "n1")],
               bids=[(1004, 4)], asks=[(1006, 4)]),
    ),
    "a triggered stop-limit joins the back of its level": (
        [*CROSS_A, sell("S", "s1", 1, kind=OrderType.STOP_LIMIT, stop_price=999, price=1003),
         sell("X", "x1", 1, 1003), buy("Y", "y1", 1, 998), sell("Z", "z1", 1, 998),
         buy("W", "w1", 1, 1003)],
        Expect([(1003, 1, "w1", "x1")], asks=[(1003, 1)]),
    ),
    "amend lower quantity keeps priority": (
        [sell("A", "a1", 5, 1000), sell("B", "b1", 5, 1000), amend("A", "a1", quantity=3),
         buy("C", "c1", 3, 1000)],
        Expect([(1000, 3, "c1", "a1")], asks=[(1000, 5)]),
    ),
    "amend higher quantity loses priority": (
        [sell("A", "a1", 5, 1000), sell("B", "b1", 5, 1000), amend("A", "a1", quantity=6),
         buy("C", "c1", 3, 1000)],
        Expect([(1000, 3, "c1", "b1")], asks=[(1000, 8)]),
    ),
    "amend to a crossing price trades at once": (
        [buy("A", "a1", 3, 998), sell("B", "b1", 2, 1000), amend("A", "a1", price=1001)],
        Expect([(1000, 2, "a1", "b1")], bids=[(1001, 1)]),
    ),
    "amend to filled quantity ends the order": (
        [sell("A", "a1", 5, 1000), buy("B", "b1", 2, 1000), amend("A", "a1", quantity=2)],
        Expect(cancels=[("a1", CXL.AMENDED_TO_FILLED)]),
    ),
    "post-only amend to a crossing price": (
        [buy("A", "a1", 1, 998, post_only=True), sell("B", "b1", 2, 1000),
         amend("A", "a1", price=1000)],
        Expect(rejected=REJ.POST_ONLY_WOULD_TRADE, bids=[(998, 1)], asks=[(1000, 2)]),
    ),
    "amend that changes nothing": (
        [buy("A", "a1", 2, 998), amend("A", "a1", price=998, quantity=2)],
        Expect(rejected=REJ.NOTHING_TO_AMEND, bids=[(998, 2)]),
    ),
    "late cancel never resurrects": (
        [sell("A", "a1", 2, 1000), buy("B", "b1", 2, 1000), CancelOrder(1, "A", "a1", H)],
        Expect(rejected=REJ.UNKNOWN_ORDER),
    ),
    "cancel_all of one account and symbol": (
        [buy("A", "a1", 1, 990), buy("A", "a2", 1, 400, symbol=G), buy("B", "b1", 1, 991),
         CancelAll(1, "A", H)],
        Expect(cancels=[("a1", CXL.CANCEL_ALL)], bids=[(991, 1)]),
    ),
}
# fmt: on


class Book(Protocol):
    def depth(self, symbol: str) -> Depth: ...


Runner = Callable[[list[Command]], tuple[Outcome, Book]]


def run_on_reference(commands: list[Command]) -> tuple[Outcome, Book]:
    book = ReferenceBook(RULES)
    outcomes = [book.handle(c) for c in commands]
    assert all(o.rejected is None for o in outcomes[:-1]), "the set-up must be accepted"
    return outcomes[-1], book


def run_on_engine(commands: list[Command]) -> tuple[Outcome, Book]:
    engine = Exchange(RULES)
    outcomes = [outcome_of(engine.handle(c)) for c in commands]
    assert all(o.rejected is None for o in outcomes[:-1]), "the set-up must be accepted"
    return outcomes[-1], engine


@pytest.mark.parametrize("runner", [run_on_reference, run_on_engine], ids=["reference", "engine"])
@pytest.mark.parametrize(("commands", "expect"), SCENARIOS.values(), ids=list(SCENARIOS))
def test_scenario(runner: Runner, commands: list[Command], expect: Expect) -> None:
    outcome, book = runner(commands)
    trades = [
        (t.price, t.quantity, t.buy_client_order_id, t.sell_client_order_id) for t in outcome.trades
    ]
    assert trades == expect.trades
    assert outcome.rejected == expect.rejected
    assert sorted((c.client_order_id, c.reason) for c in outcome.cancels) == sorted(expect.cancels)
    assert book.depth(H) == (expect.bids, expect.asks)


# ---- random streams ------------------------------------------------------------------------

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("stp", list(STP))
@FAST
@given(stream=command_streams())
def test_engine_matches_reference_on_hypothesis_streams(
    stp: SelfTradePrevention, stream: list[Command]
) -> None:
    assert_same_as_reference(stream, stp)


@pytest.mark.parametrize("rules", [RULES, NARROW_RULES], ids=["wide", "narrow"])
@pytest.mark.parametrize("stp", list(STP))
def test_engine_matches_reference_on_seeded_streams(
    rules: tuple[InstrumentRules, ...], stp: SelfTradePrevention
) -> None:
    stream = generate_stream(random.Random(1), 5_000, rules=rules, self_trade_prevention=stp)
    assert_same_as_reference(stream, stp, rules=rules)


@pytest.mark.slow
@pytest.mark.parametrize("rules", [RULES, NARROW_RULES], ids=["wide", "narrow"])
@pytest.mark.parametrize("stp", list(STP))
def test_engine_matches_reference_on_a_long_stream(
    rules: tuple[InstrumentRules, ...], stp: SelfTradePrevention
) -> None:
    stream = generate_stream(
        random.Random(20_260_601), 100_000, rules=rules, self_trade_prevention=stp
    )
    engine = assert_same_as_reference(stream, stp, rules=rules, depth_every=1)
    replayed = Exchange(rules, self_trade_prevention=stp)
    for command in stream:
        replayed.handle(command)
    assert replayed.state_hash() == engine.state_hash()
