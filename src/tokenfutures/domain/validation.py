"""Order checks before anything changes: each returns a ``Problem`` or None.

The order of the checks is the rulebook's: phase, quantity, price fields, price limits;
the exchange then checks the client order id, and execution checks (post-only, stops).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from tokenfutures.domain.commands import AmendOrder, NewOrder
from tokenfutures.domain.rejects import RejectReason
from tokenfutures.domain.values import OrderType, Phase, Side, TimeInForce

if TYPE_CHECKING:
    from tokenfutures.domain.book.order import Order
    from tokenfutures.domain.instrument import Instrument


class Problem(NamedTuple):
    reason: RejectReason
    field: str | None
    detail: str


_NEEDS_PRICE = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_NEEDS_STOP = (OrderType.STOP, OrderType.STOP_LIMIT)


def closed_problem(inst: Instrument) -> Problem | None:
    """Closed and halted instruments take no new orders and no amends."""
    if inst.phase is Phase.CLOSED:
        return Problem(RejectReason.MARKET_CLOSED, None, f"{inst.symbol} is closed")
    if inst.phase is Phase.HALTED:
        return Problem(RejectReason.INSTRUMENT_HALTED, None, f"{inst.symbol} is halted")
    return None


def phase_problem(inst: Instrument, cmd: NewOrder) -> Problem | None:
    if inst.phase is Phase.CONTINUOUS:
        return None
    problem = closed_problem(inst)
    if problem is not None:
        return problem
    if cmd.order_type is OrderType.MARKET:
        return Problem(RejectReason.NOT_ALLOWED_IN_AUCTION, "order_type", "no market orders")
    if cmd.time_in_force is TimeInForce.IOC or cmd.time_in_force is TimeInForce.FOK:
        return Problem(
            RejectReason.NOT_ALLOWED_IN_AUCTION, "time_in_force", "only GFD/GTC in the auction"
        )
    if cmd.post_only:
        return Problem(RejectReason.NOT_ALLOWED_IN_AUCTION, "post_only", "no post-only orders")
    return None


def quantity_problem(inst: Instrument, quantity: int) -> Problem | None:
    if quantity < 1:
        return Problem(RejectReason.INVALID_QUANTITY, "quantity", "must be at least 1 lot")
    if quantity > inst.rules.max_order_quantity:
        return Problem(
            RejectReason.QUANTITY_ABOVE_MAXIMUM,
            "quantity",
            f"must be at most {inst.rules.max_order_quantity} lots",
        )
    return None


def price_fields_problem(cmd: NewOrder) -> Problem | None:
    order_type = cmd.order_type
    if order_type in _NEEDS_PRICE:
        if cmd.price is None:
            return Problem(RejectReason.PRICE_REQUIRED, "price", f"required for {order_type}")
        if cmd.price < 1:
            return Problem(RejectReason.INVALID_PRICE, "price", "must be positive")
    elif cmd.price is not None:
        return Problem(RejectReason.PRICE_NOT_ALLOWED, "price", f"not allowed for {order_type}")
    if order_type in _NEEDS_STOP:
        if cmd.stop_price is None:
            return Problem(
                RejectReason.STOP_PRICE_REQUIRED, "stop_price", f"required for {order_type}"
            )
        if cmd.stop_price < 1:
            return Problem(RejectReason.INVALID_PRICE, "stop_price", "must be positive")
    elif cmd.stop_price is not None:
        return Problem(
            RejectReason.STOP_PRICE_NOT_ALLOWED, "stop_price", f"not allowed for {order_type}"
        )
    if cmd.post_only and (
        order_type is not OrderType.LIMIT
        or cmd.time_in_force is TimeInForce.IOC
        or cmd.time_in_force is TimeInForce.FOK
    ):
        return Problem(
            RejectReason.POST_ONLY_NOT_ALLOWED, "post_only", "only for GFD/GTC limit orders"
        )
    return None


def limit_problem(inst: Instrument, price: int | None, field: str) -> Problem | None:
    if price is None or inst.lower_limit <= price <= inst.upper_limit:
        return None
    reason = RejectReason.PRICE_OUTSIDE_LIMIT
    if field == "stop_price":
        reason = RejectReason.STOP_PRICE_OUTSIDE_LIMIT
    return Problem(reason, field, "must be within the daily price limits")


def check_new_order(inst: Instrument, cmd: NewOrder) -> Problem | None:
    """Phase, quantity, price fields and price limits of a new order."""
    return (
        phase_problem(inst, cmd)
        or quantity_problem(inst, cmd.quantity)
        or price_fields_problem(cmd)
        or limit_problem(inst, cmd.price, "price")
        or limit_problem(inst, cmd.stop_price, "stop_price")
    )


def execution_problem(inst: Instrument, cmd: NewOrder) -> Problem | None:
    """Post-only orders that would trade; stops whose condition already holds."""
    is_buy = cmd.side is Side.BUY
    if cmd.post_only and cmd.price is not None and inst.would_cross(is_buy, cmd.price):
        return Problem(RejectReason.POST_ONLY_WOULD_TRADE, "price", "would trade on entry")
    stop = cmd.stop_price
    last = inst.last_price
    if stop is None or last is None:
        return None
    if (is_buy and last >= stop) or (not is_buy and last <= stop):
        return Problem(
            RejectReason.STOP_ALREADY_TRIGGERED,
            "stop_price",
            f"last trade {last} has already reached the stop price",
        )
    return None


def amend_problem(inst: Instrument, order: Order, cmd: AmendOrder) -> Problem | None:
    """Checks of an amend against the live order it targets."""
    problem = closed_problem(inst)
    if problem is None and cmd.quantity is not None:
        problem = quantity_problem(inst, cmd.quantity)
    if problem is not None:
        return problem
    price = cmd.price
    if price is not None:
        if order.order_type is OrderType.STOP:
            return Problem(RejectReason.PRICE_NOT_ALLOWED, "price", "a stop order has no price")
        if price < 1:
            return Problem(RejectReason.INVALID_PRICE, "price", "must be positive")
        problem = limit_problem(inst, price, "price")
        if problem is not None:
            return problem
    new_price = order.price if price is None else price
    new_quantity = order.quantity if cmd.quantity is None else cmd.quantity
    if new_price == order.price and new_quantity == order.quantity:
        return Problem(RejectReason.NOTHING_TO_AMEND, None, "price and quantity unchanged")
    if (
        order.post_only
        and new_price != order.price
        and new_quantity > order.filled
        and inst.would_cross(order.is_buy, new_price)
    ):
        return Problem(RejectReason.POST_ONLY_WOULD_TRADE, "price", "would trade on amend")
    return None
