"""Checks of the structural invariants of books, stop books and the order registry.

Run by tests after every command and available to operators; a violation is a bug and
raises ``InvariantViolation``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from tokenfutures.domain.book.side import BookSide
from tokenfutures.domain.registry import OrderRegistry
from tokenfutures.domain.values import Phase

if TYPE_CHECKING:
    from tokenfutures.domain.instrument import Instrument


class InvariantViolation(AssertionError):
    """A broken invariant of the core: never an expected outcome."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvariantViolation(message)


def check_side(side: BookSide, symbol: str) -> None:
    name = f"{symbol} {'bids' if side.is_bid else 'asks'}"
    keys = side.keys
    _require(keys == sorted(set(keys)), f"{name}: level keys not strictly sorted")
    _require(
        sorted(k * side.sign for k in keys) == sorted(side.levels),
        f"{name}: level keys and levels differ",
    )
    for price, level in side.levels.items():
        _require(level.price == price, f"{name} {price}: level filed under the wrong price")
        orders = level.orders()
        _require(len(orders) > 0, f"{name} {price}: empty level left in the book")
        _require(level.count == len(orders), f"{name} {price}: count {level.count} is wrong")
        _require(
            level.quantity == sum(o.leaves for o in orders),
            f"{name} {price}: level quantity differs from the orders' open quantity",
        )
        _require(level.tail is orders[-1], f"{name} {price}: tail is not the last order")
        previous = None
        for order in orders:
            _require(order.prev is previous, f"{name} {price}: broken back link")
            _require(order.price == price, f"order {order.order_id} rests at the wrong price")
            _require(order.is_buy == side.is_bid, f"order {order.order_id} on the wrong side")
            _require(order.leaves > 0, f"order {order.order_id} rests with no open quantity")
            _require(
                order.quantity == order.filled + order.leaves,
                f"order {order.order_id}: quantity != filled + leaves",
            )
            _require(order.triggered, f"stop order {order.order_id} rests in the book")
            previous = order


def check_instrument(inst: Instrument) -> None:
    check_side(inst.bids, inst.symbol)
    check_side(inst.asks, inst.symbol)
    if inst.phase is Phase.CONTINUOUS:
        bid = inst.bids.best_price()
        ask = inst.asks.best_price()
        _require(
            bid is None or ask is None or bid < ask,
            f"{inst.symbol}: book crossed in continuous trading ({bid} >= {ask})",
        )
    _require(
        inst.print_high is None and inst.print_low is None,
        f"{inst.symbol}: prints left unchecked against the stops",
    )
    for order in inst.stops.orders():
        _require(not order.triggered, f"triggered order {order.order_id} in the stop book")
        _require(order.leaves > 0, f"stop order {order.order_id} has no open quantity")


def check_registry(registry: OrderRegistry, instruments: Iterable[Instrument]) -> None:
    placed = {id(order): order for inst in instruments for order in inst.live_orders()}
    registered = {
        id(order): order for orders in registry.live.values() for order in orders.values()
    }
    _require(
        placed.keys() == registered.keys(),
        "registry and books disagree on the live orders",
    )
    for account, orders in registry.live.items():
        for client_order_id, order in orders.items():
            _require(
                order.account == account and order.client_order_id == client_order_id,
                f"order {order.order_id} registered under the wrong ids",
            )
