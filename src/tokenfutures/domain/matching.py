"""Continuous matching: an incoming order against the opposite side of its book.

Rules (see docs/matching-rules.md): price-time priority; every trade prints at the
resting order's price; self-trade prevention by the incoming order's mode; FOK checks
the whole quantity first and trades nothing unless it can fill; a fill that would print
outside the circuit-breaker band stops matching and pauses the instrument.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenfutures.domain.book.order import Order
from tokenfutures.domain.events import Event, OrderCancelled, TradeExecuted
from tokenfutures.domain.rejects import CancelReason
from tokenfutures.domain.values import OrderType, SelfTradePrevention, Side, TimeInForce

if TYPE_CHECKING:
    from tokenfutures.domain.instrument import Instrument

# how a matching pass ended
CROSSING_DONE = 0
SELF_TRADE = 1
BREAKER = 2

_CANCEL_INCOMING = SelfTradePrevention.CANCEL_INCOMING
_CANCEL_RESTING = SelfTradePrevention.CANCEL_RESTING
_LIMIT_TYPES = (OrderType.LIMIT, OrderType.STOP_LIMIT)


def execute(inst: Instrument, order: Order, ts: int, out: list[Event]) -> None:
    """Match an accepted (or just triggered) order; rest or cancel what remains."""
    is_market = order.order_type not in _LIMIT_TYPES
    if is_market:
        order.price = inst.upper_limit if order.is_buy else inst.lower_limit
    tif = order.time_in_force
    if tif is TimeInForce.FOK and not fillable(inst, order, ts):
        inst.end_order(order, ts, CancelReason.FOK_NOT_FILLABLE, out)
        return
    end = match(inst, order, ts, out)
    if order.leaves == 0:
        inst.registry.discard(order)
    elif end == SELF_TRADE:
        inst.end_order(order, ts, CancelReason.SELF_TRADE_PREVENTED, out)
    elif is_market or tif is TimeInForce.IOC or tif is TimeInForce.FOK:
        if end == BREAKER:
            reason = CancelReason.CIRCUIT_BREAKER
        elif is_market and order.filled == 0 and inst.opposite(order).best_price() is None:
            reason = CancelReason.NO_LIQUIDITY
        else:
            reason = CancelReason.IOC_REMAINDER
        inst.end_order(order, ts, reason, out)
    else:
        inst.rest(order)


def match(inst: Instrument, order: Order, ts: int, out: list[Event]) -> int:  # noqa: C901
    """Trade ``order`` against resting orders while its limit crosses; return how it ended.

    This is the hot loop of the engine: it is kept in one function on purpose, since a
    call per fill would cost more than the fill itself.
    """
    opposite = inst.asks if order.is_buy else inst.bids
    keys = opposite.keys
    levels = opposite.levels
    sign = opposite.sign
    limit_key = order.price * sign
    registry = inst.registry
    breaker = inst.breaker
    account = order.account
    symbol = inst.symbol
    is_buy = order.is_buy
    aggressor = Side.BUY if is_buy else Side.SELL
    while keys and keys[-1] >= limit_key:
        price = keys[-1] * sign
        level = levels[price]
        band_checked = False
        resting = level.head
        while resting is not None:
            following = resting.next
            if resting.account == account:
                mode = order.self_trade_prevention
                if mode is not _CANCEL_INCOMING:
                    level.quantity -= resting.leaves
                    level.unlink(resting)
                    registry.discard(resting)
                    out.append(_cancelled(resting, ts, CancelReason.SELF_TRADE_PREVENTED))
                if mode is not _CANCEL_RESTING:
                    if level.count == 0:
                        opposite.drop_level(level)
                    return SELF_TRADE
                resting = following
                continue
            if breaker is not None and not band_checked:
                # the band applies to real prints only: a self-cross never trips the breaker
                low, high = breaker.allowed(ts, inst.anchor_price())
                if price < low or price > high:
                    inst.trip_breaker(price, low, high, ts, out)
                    return BREAKER
                band_checked = True
            leaves = order.leaves
            quantity = resting.leaves if resting.leaves < leaves else leaves
            order.leaves = leaves - quantity
            order.filled += quantity
            resting.leaves -= quantity
            resting.filled += quantity
            level.quantity -= quantity
            trade_id = registry.next_trade_id
            registry.next_trade_id = trade_id + 1
            if is_buy:
                trade = TradeExecuted(
                    ts, trade_id, symbol, price, quantity, order.order_id, resting.order_id,
                    account, resting.account, order.client_order_id, resting.client_order_id,
                    aggressor,
                )  # fmt: skip
            else:
                trade = TradeExecuted(
                    ts, trade_id, symbol, price, quantity, resting.order_id, order.order_id,
                    resting.account, account, resting.client_order_id, order.client_order_id,
                    aggressor,
                )  # fmt: skip
            out.append(trade)
            if breaker is not None:
                breaker.record(ts, price)
            inst.record_print(price)
            if resting.leaves == 0:
                level.unlink(resting)
                registry.discard(resting)
            if order.leaves == 0:
                break
            resting = following
        if level.count == 0:
            opposite.drop_level(level)
        if order.leaves == 0:
            break
    return CROSSING_DONE


def fillable(inst: Instrument, order: Order, ts: int) -> bool:
    """Could ``order`` fill completely right now? A dry run of ``match`` that changes nothing."""
    opposite = inst.asks if order.is_buy else inst.bids
    sign = opposite.sign
    limit_key = order.price * sign
    needed = order.leaves
    account = order.account
    stops_at_own = order.self_trade_prevention is not _CANCEL_RESTING
    window = _BandWindow(inst, ts)
    available = 0
    for key in reversed(opposite.keys):
        if key < limit_key:
            return False
        price = key * sign
        resting = opposite.levels[price].head
        traded = False
        while resting is not None:
            if resting.account != account:
                if not traded and not window.allows(price):
                    return False
                available += resting.leaves
                traded = True
                if available >= needed:
                    return True
            elif stops_at_own:
                return False
            resting = resting.next
        if traded:
            window.record(price)
    return False


class _BandWindow:
    """The circuit-breaker range as ``match`` would see it, for dry runs."""

    __slots__ = ("band", "high", "low", "anchor", "active")

    def __init__(self, inst: Instrument, ts: int) -> None:
        breaker = inst.breaker
        self.active = breaker is not None
        self.band = 0
        self.high: int | None = None
        self.low: int | None = None
        self.anchor = inst.anchor_price()
        if breaker is not None:
            self.band = breaker.band
            self.high, self.low = breaker.extremes(ts)

    def allows(self, price: int) -> bool:
        if not self.active:
            return True
        high = self.high if self.high is not None else self.anchor
        low = self.low if self.low is not None else self.anchor
        return high - self.band <= price <= low + self.band

    def record(self, price: int) -> None:
        if self.high is None or price > self.high:
            self.high = price
        if self.low is None or price < self.low:
            self.low = price


def _cancelled(order: Order, ts: int, reason: CancelReason) -> OrderCancelled:
    return OrderCancelled(
        ts, order.order_id, order.account, order.client_order_id, order.symbol, reason,
        order.leaves, order.filled,
    )  # fmt: skip
