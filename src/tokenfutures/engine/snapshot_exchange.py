"""The matching core in a snapshot: instruments, books, stop orders, breakers, the registry.

The compiled core cannot be pickled, and a snapshot must outlive the program that wrote it,
so the state is written out explicitly as JSON-ready values (integers stay integers, enums
are their stable values):

- every live order once, where it waits: a book side (best price first, then time
  priority) or the stop book (trigger order), as a list in the order of
  :data:`ORDER_FIELDS`; restoring adds the orders back in that order, so every price level
  keeps its queue and every stop its turn;
- the registry as the accounts' live order ids in registration order (what
  ``cancel_all`` walks), and the next order id, trade id and priority;
- each instrument's phase, reference price, limits, last price, unconsumed print extremes,
  reopening time and circuit-breaker window (its monotonic queues as they are).

The contract rules are not written: they come from the market the snapshot is restored
into (``snapshot.py`` checks that its configuration is the one the snapshot was taken of).
"""

from __future__ import annotations

from collections import deque
from typing import Any

from tokenfutures.domain.book.order import Order
from tokenfutures.domain.book.side import BookSide
from tokenfutures.domain.breaker import CircuitBreaker
from tokenfutures.domain.exchange import Exchange
from tokenfutures.domain.instrument import Instrument
from tokenfutures.domain.registry import OrderRegistry
from tokenfutures.domain.stops import StopBook
from tokenfutures.domain.values import OrderType, Phase, SelfTradePrevention, Side, TimeInForce
from tokenfutures.engine.snapshot_values import SnapshotError, integer, optional_integer

ORDER_FIELDS = (
    "order_id",
    "account",
    "client_order_id",
    "side",
    "order_type",
    "price",
    "stop_price",
    "quantity",
    "filled",
    "leaves",
    "time_in_force",
    "post_only",
    "self_trade_prevention",
    "triggered",
    "priority",
)


# --- export ---------------------------------------------------------------------------------


def export_exchange(exchange: Exchange) -> dict[str, Any]:
    return {
        "clock": exchange.clock,
        "self_trade_prevention": exchange.self_trade_prevention.value,
        "balances": dict(exchange.balances),
        "registry": _export_registry(exchange.registry),
        "instruments": {
            symbol: _export_instrument(inst) for symbol, inst in exchange.instruments.items()
        },
    }


def _export_order(order: Order) -> list[Any]:
    return [
        order.order_id,
        order.account,
        order.client_order_id,
        order.side.value,
        order.order_type.value,
        order.price,
        order.stop_price,
        order.quantity,
        order.filled,
        order.leaves,
        order.time_in_force.value,
        order.post_only,
        order.self_trade_prevention.value,
        order.triggered,
        order.priority,
    ]


def _export_registry(registry: OrderRegistry) -> dict[str, Any]:
    return {
        "next_order_id": registry.next_order_id,
        "next_trade_id": registry.next_trade_id,
        "next_priority": registry.next_priority,
        "live": [
            [account, [order.order_id for order in orders.values()]]
            for account, orders in registry.live.items()
        ],
    }


def _export_breaker(breaker: CircuitBreaker | None) -> dict[str, Any] | None:
    if breaker is None:
        return None
    return {
        "band": breaker.band,
        "window": breaker.window,
        "pause": breaker.pause,
        "highs": [[ts, price] for ts, price in breaker._highs],
        "lows": [[ts, price] for ts, price in breaker._lows],
    }


def _export_instrument(inst: Instrument) -> dict[str, Any]:
    return {
        "phase": inst.phase.value,
        "reference": inst.reference,
        "lower_limit": inst.lower_limit,
        "upper_limit": inst.upper_limit,
        "last_price": inst.last_price,
        "print_high": inst.print_high,
        "print_low": inst.print_low,
        "reopen_at": inst.reopen_at,
        "breaker": _export_breaker(inst.breaker),
        "bids": [_export_order(order) for order in inst.bids.orders()],
        "asks": [_export_order(order) for order in inst.asks.orders()],
        "stops": [_export_order(order) for order in inst.stops.orders()],
    }


# --- restore --------------------------------------------------------------------------------


def restore_exchange(exchange: Exchange, data: dict[str, Any]) -> None:
    """Put ``data`` (from :func:`export_exchange`) into ``exchange``, whose instruments (and
    their rules) it keeps; everything else is replaced."""
    instruments = data["instruments"]
    if list(instruments) != list(exchange.instruments):
        raise SnapshotError(
            f"the snapshot lists contracts {sorted(instruments)}, "
            f"the market {sorted(exchange.instruments)}"
        )
    orders: dict[int, Order] = {}
    for symbol, inst in exchange.instruments.items():
        _restore_instrument(inst, instruments[symbol], orders)
    _restore_registry(exchange.registry, data["registry"], orders)
    exchange.clock = integer(data["clock"], "clock")
    exchange.self_trade_prevention = SelfTradePrevention(data["self_trade_prevention"])
    exchange.balances = {str(a): integer(v, "balances") for a, v in data["balances"].items()}


def _order(symbol: str, row: list[Any]) -> Order:
    if len(row) != len(ORDER_FIELDS):
        raise SnapshotError(f"{symbol}: an order has {len(row)} fields, not {len(ORDER_FIELDS)}")
    (order_id, account, client_order_id, side, order_type, price, stop_price, quantity,
     filled, leaves, time_in_force, post_only, stp, triggered, priority) = row  # fmt: skip
    order = Order(
        integer(order_id, "order_id"), str(account), str(client_order_id), symbol, Side(side),
        OrderType(order_type), integer(price, "price"),
        optional_integer(stop_price, "stop_price"), integer(quantity, "quantity"),
        TimeInForce(time_in_force), bool(post_only), SelfTradePrevention(stp),
    )  # fmt: skip
    order.filled = integer(filled, "filled")
    order.leaves = integer(leaves, "leaves")
    order.triggered = bool(triggered)
    order.priority = integer(priority, "priority")
    return order


def _restore_orders(symbol: str, rows: list[list[Any]], orders: dict[int, Order]) -> list[Order]:
    restored = []
    for row in rows:
        order = _order(symbol, row)
        if order.order_id in orders:
            raise SnapshotError(f"{symbol}: order {order.order_id} is listed twice")
        orders[order.order_id] = order
        restored.append(order)
    return restored


def _restore_side(side: BookSide, symbol: str, rows: list[list[Any]], orders: dict[int, Order]
                  ) -> None:  # fmt: skip
    for order in _restore_orders(symbol, rows, orders):
        if not order.triggered or order.is_buy != side.is_bid:
            raise SnapshotError(f"{symbol}: order {order.order_id} cannot rest on this side")
        side.add(order)


def _restore_instrument(inst: Instrument, data: dict[str, Any], orders: dict[int, Order]) -> None:
    symbol = inst.symbol
    inst.phase = Phase(data["phase"])
    inst.reference = integer(data["reference"], "reference")
    inst.lower_limit = integer(data["lower_limit"], "lower_limit")
    inst.upper_limit = integer(data["upper_limit"], "upper_limit")
    inst.last_price = optional_integer(data["last_price"], "last_price")
    inst.print_high = optional_integer(data["print_high"], "print_high")
    inst.print_low = optional_integer(data["print_low"], "print_low")
    inst.reopen_at = optional_integer(data["reopen_at"], "reopen_at")
    _restore_breaker(inst, data["breaker"])
    inst.bids = BookSide(is_bid=True)
    inst.asks = BookSide(is_bid=False)
    inst.stops = StopBook()
    _restore_side(inst.bids, symbol, data["bids"], orders)
    _restore_side(inst.asks, symbol, data["asks"], orders)
    for order in _restore_orders(symbol, data["stops"], orders):
        if order.triggered or order.stop_price is None:
            raise SnapshotError(f"{symbol}: order {order.order_id} is not a waiting stop")
        inst.stops.add(order)


def _restore_breaker(inst: Instrument, data: dict[str, Any] | None) -> None:
    breaker = inst.breaker
    if (breaker is None) != (data is None):
        raise SnapshotError(f"{inst.symbol}: the circuit breaker is on in one and off in the other")
    if breaker is None or data is None:
        return
    breaker.band = integer(data["band"], "band")
    breaker.window = integer(data["window"], "window")
    breaker.pause = integer(data["pause"], "pause")
    breaker._highs = deque((integer(ts, "ts"), integer(p, "price")) for ts, p in data["highs"])
    breaker._lows = deque((integer(ts, "ts"), integer(p, "price")) for ts, p in data["lows"])


def _restore_registry(
    registry: OrderRegistry, data: dict[str, Any], orders: dict[int, Order]
) -> None:
    registry.next_order_id = integer(data["next_order_id"], "next_order_id")
    registry.next_trade_id = integer(data["next_trade_id"], "next_trade_id")
    registry.next_priority = integer(data["next_priority"], "next_priority")
    live: dict[str, dict[str, Order]] = {}
    for account, order_ids in data["live"]:
        held = live[str(account)] = {}
        for order_id in order_ids:
            order = orders.pop(order_id, None)
            if order is None or order.account != account or order.client_order_id in held:
                raise SnapshotError(f"registry: order {order_id} of {account} is in no book")
            held[order.client_order_id] = order
    if orders:
        raise SnapshotError(f"orders {sorted(orders)[:5]} wait in a book but are not registered")
    registry.live = live
