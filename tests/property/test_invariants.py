"""Invariants of the engine over random command streams.

``EventAudit`` rebuilds every order from the published events alone and checks, after each
command: the engine's own ``check_invariants``; a sorted, uncrossed book without empty levels;
the book the events describe equals the engine's depth; filled never exceeds quantity; every
trade prints at the resting order's price; no two live orders of an account share a client
order id; IOC, FOK and market orders never rest; a FOK fills fully or not at all. Replaying a
stream gives the same events and state hash. A hypothesis state machine drives the engine and
the reference book side by side.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tokenfutures.domain.commands import Command, NewOrder
from tokenfutures.domain.events import (
    Event,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    StopTriggered,
    TradeExecuted,
)
from tokenfutures.domain.exchange import Exchange
from tokenfutures.domain.rejects import CancelReason
from tokenfutures.domain.values import OrderType, SelfTradePrevention, Side, TimeInForce

from .reference_book import ReferenceBook
from .streams import KINDS, RULES, SYMBOLS, IntChooser, StreamGenerator, command_streams
from .test_engine_vs_reference import outcome_of

STP = SelfTradePrevention
IMMEDIATE = (TimeInForce.IOC, TimeInForce.FOK)


@dataclass
class AuditedOrder:
    accepted: OrderAccepted
    price: int | None
    quantity: int
    filled: int = 0
    pending_stop: bool = False
    cancel_reason: CancelReason | None = None

    @property
    def leaves(self) -> int:
        return self.quantity - self.filled


class EventAudit:
    def __init__(self, engine: Exchange) -> None:
        self.engine = engine
        self.orders: dict[int, AuditedOrder] = {}
        self.live: set[int] = set()

    def run(self, command: Command) -> list[Event]:
        """Hand the command to the engine and audit the events it publishes."""
        before = {symbol: self.engine.depth(symbol) for symbol in SYMBOLS}
        events = self.engine.handle(command)
        entered = [oid for event in events if (oid := self.apply(event)) is not None]
        self.engine.check_invariants()
        for symbol in SYMBOLS:
            assert_well_formed(self.engine.depth(symbol))
            assert self.engine.depth(symbol) == self.book_from_events(symbol), (
                f"{symbol}: the engine's depth differs from the book its events describe"
            )
        owners = Counter(
            (self.orders[o].accepted.account, self.orders[o].accepted.client_order_id)
            for o in self.live
        )
        assert all(count == 1 for count in owners.values()), "duplicate live client order id"
        for order_id in entered:
            self.check_entered(self.orders[order_id])
        if isinstance(command, NewOrder) and command.time_in_force is TimeInForce.FOK:
            self.check_fok_entry(events, before)
        return events

    def apply(self, event: Event) -> int | None:
        """Update the audited orders; return the id of an order that just met the book."""
        if isinstance(event, OrderAccepted):
            stop = event.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
            self.orders[event.order_id] = AuditedOrder(
                event, event.price, event.quantity, pending_stop=stop
            )
            self.live.add(event.order_id)
            return None if stop else event.order_id
        if isinstance(event, StopTriggered):
            assert self.orders[event.order_id].pending_stop
            self.orders[event.order_id].pending_stop = False
            return event.order_id
        if isinstance(event, TradeExecuted):
            self.apply_trade(event)
        elif isinstance(event, OrderAmended):
            order = self.orders[event.order_id]
            order.price, order.quantity = event.price, event.quantity
            assert event.leaves_quantity == order.leaves > 0
        elif isinstance(event, OrderCancelled):
            order = self.orders[event.order_id]
            assert (event.cancelled_quantity, event.filled_quantity) == (order.leaves, order.filled)
            order.cancel_reason = event.reason
            self.live.remove(event.order_id)
        elif isinstance(event, OrderExpired):
            self.live.remove(event.order_id)
        return None

    def apply_trade(self, trade: TradeExecuted) -> None:
        buy, sell = self.orders[trade.buy_order_id], self.orders[trade.sell_order_id]
        assert trade.aggressor is not None, "continuous trading always has an aggressor"
        resting, incoming = (sell, buy) if trade.aggressor is Side.BUY else (buy, sell)
        assert not resting.pending_stop
        assert not incoming.pending_stop
        assert trade.price == resting.price, "a trade prints at the resting order's price"
        if incoming.price is not None and incoming is buy:
            assert trade.price <= incoming.price, "a buy paid more than its limit"
        elif incoming.price is not None:
            assert trade.price >= incoming.price, "a sell received less than its limit"
        assert trade.buy_account != trade.sell_account, "self-trade"
        for order in (buy, sell):
            order.filled += trade.quantity
            assert 0 < order.filled <= order.quantity
            if order.leaves == 0:
                self.live.remove(order.accepted.order_id)

    def book_from_events(self, symbol: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        levels: dict[Side, Counter[int]] = {Side.BUY: Counter(), Side.SELL: Counter()}
        for order_id in self.live:
            order = self.orders[order_id]
            if order.accepted.symbol == symbol and not order.pending_stop:
                assert order.price is not None
                levels[order.accepted.side][order.price] += order.leaves
        bids = sorted(levels[Side.BUY].items(), reverse=True)
        return bids, sorted(levels[Side.SELL].items())

    def check_entered(self, order: AuditedOrder) -> None:
        """An order that met the book in this command (new, or a triggered stop)."""
        accepted = order.accepted
        immediate = accepted.time_in_force in IMMEDIATE or accepted.price is None
        if immediate:
            assert accepted.order_id not in self.live, f"{accepted.time_in_force} order rests"
        if accepted.time_in_force is TimeInForce.FOK:
            fully = order.filled == order.quantity
            killed = order.filled == 0 and order.cancel_reason is CancelReason.FOK_NOT_FILLABLE
            assert fully or killed, f"FOK filled {order.filled} of {order.quantity}"

    def check_fok_entry(self, events: Sequence[Event], before: Mapping[str, object]) -> None:
        """A FOK that cannot fill completely is killed and changes nothing else."""
        if not events or not isinstance(events[0], OrderAccepted):
            return
        order = self.orders[events[0].order_id]
        if not order.pending_stop and order.cancel_reason is CancelReason.FOK_NOT_FILLABLE:
            assert [type(e) for e in events] == [OrderAccepted, OrderCancelled]
            assert {symbol: self.engine.depth(symbol) for symbol in SYMBOLS} == before


def assert_well_formed(depth: tuple[list[tuple[int, int]], list[tuple[int, int]]]) -> None:
    bids, asks = depth
    assert [p for p, _ in bids] == sorted({p for p, _ in bids}, reverse=True)
    assert [p for p, _ in asks] == sorted({p for p, _ in asks})
    assert all(quantity > 0 for _, quantity in bids + asks), "empty price level"
    assert not bids or not asks or bids[0][0] < asks[0][0], "book crossed in continuous trading"


def audit_stream(stream: Sequence[Command], stp: SelfTradePrevention) -> Exchange:
    engine = Exchange(RULES, self_trade_prevention=stp)
    audit = EventAudit(engine)
    for command in stream:
        audit.run(command)
    return engine


@pytest.mark.parametrize(("seed", "stp"), [(seed, stp) for seed in (7, 8) for stp in STP])
def test_invariants_hold_on_seeded_streams(seed: int, stp: SelfTradePrevention) -> None:
    generator = StreamGenerator(random.Random(seed), self_trade_prevention=stp)
    audit_stream([generator.next_command() for _ in range(3_000)], stp)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=command_streams(), stp=st.sampled_from(list(STP)))
def test_invariants_hold_on_hypothesis_streams(
    stream: list[Command], stp: SelfTradePrevention
) -> None:
    audit_stream(stream, stp)


@pytest.mark.parametrize("stp", list(STP))
def test_replay_gives_the_same_events_and_state_hash(stp: SelfTradePrevention) -> None:
    generator = StreamGenerator(random.Random(99), self_trade_prevention=stp)
    stream = [generator.next_command() for _ in range(5_000)]
    first, second = (
        Exchange(RULES, self_trade_prevention=stp),
        Exchange(RULES, self_trade_prevention=stp),
    )
    hashes = set()
    for index, command in enumerate(stream):
        assert first.handle(command) == second.handle(command)
        if index % 250 == 0:
            assert first.state_hash() == second.state_hash()
            hashes.add(first.state_hash())
    assert first.state_hash() == second.state_hash()
    assert len(hashes) > 1, "the state hash must change as the book changes"


@pytest.mark.slow
def test_invariants_hold_on_a_long_stream() -> None:
    generator = StreamGenerator(random.Random(4242))
    audit_stream([generator.next_command() for _ in range(100_000)], STP.CANCEL_INCOMING)


class EngineVersusReference(RuleBasedStateMachine):
    """Hypothesis picks the kind of each command; the generator fills in a realistic one."""

    def __init__(self) -> None:
        super().__init__()
        self.chooser = IntChooser()
        self.generator = StreamGenerator(self.chooser)
        self.engine = Exchange(RULES)
        self.reference = ReferenceBook(RULES)
        self.audit = EventAudit(self.engine)

    @rule(kind=st.sampled_from(list(KINDS)), values=st.lists(st.integers(0, 255), min_size=16))
    def command(self, kind: str, values: list[int]) -> None:
        self.chooser.feed(values)
        command = self.generator.next_command(kind)
        events = self.audit.run(command)
        assert outcome_of(events) == self.reference.handle(command)

    @invariant()
    def same_depth(self) -> None:
        for symbol in SYMBOLS:
            assert self.engine.depth(symbol) == self.reference.depth(symbol)


TestEngineVersusReference = EngineVersusReference.TestCase
TestEngineVersusReference.settings = settings(
    max_examples=60, stateful_step_count=60, deadline=None
)
