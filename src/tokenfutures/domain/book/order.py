"""A live order as the book holds it.

``Order`` is the one mutable record of the core: the book links it into its price
level (``prev``/``next``) and the matching code updates ``filled``/``leaves``. It is
never shared outside the core; the outside world sees events.
Invariant: ``quantity == filled + leaves`` and ``leaves > 0`` while the order is live.
"""

from __future__ import annotations

from tokenfutures.domain.values import OrderType, SelfTradePrevention, Side, TimeInForce


class Order:
    __slots__ = (
        "order_id",
        "account",
        "client_order_id",
        "symbol",
        "side",
        "is_buy",
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
        "prev",
        "next",
    )

    def __init__(
        self,
        order_id: int,
        account: str,
        client_order_id: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        price: int | None,
        stop_price: int | None,
        quantity: int,
        time_in_force: TimeInForce,
        post_only: bool,
        self_trade_prevention: SelfTradePrevention,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.client_order_id = client_order_id
        self.symbol = symbol
        self.side = side
        self.is_buy = side is Side.BUY
        self.order_type = order_type
        # the limit price while resting; market orders carry their protection price
        self.price: int = price if price is not None else 0
        self.stop_price = stop_price
        self.quantity = quantity
        self.filled = 0
        self.leaves = quantity
        self.time_in_force = time_in_force
        self.post_only = post_only
        self.self_trade_prevention = self_trade_prevention
        self.triggered = stop_price is None
        self.priority = 0
        self.prev: Order | None = None
        self.next: Order | None = None

    def state(self) -> tuple[object, ...]:
        """Everything that defines the order, for state hashing and comparisons."""
        return (
            self.order_id,
            self.account,
            self.client_order_id,
            self.symbol,
            self.side.value,
            self.order_type.value,
            self.price,
            self.stop_price,
            self.quantity,
            self.filled,
            self.leaves,
            self.time_in_force.value,
            self.post_only,
            self.self_trade_prevention.value,
            self.triggered,
            self.priority,
        )
