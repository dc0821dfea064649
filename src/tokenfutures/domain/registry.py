"""Live orders by account and client order id, and the exchange-wide sequence numbers.

Invariant: an order is in the registry exactly while it is live (resting in a book,
waiting as a stop, or being matched); ``client_order_id`` is unique per account among
live orders. Ids are assigned in command order, so a replay assigns the same ids.
"""

from __future__ import annotations

from tokenfutures.domain.book.order import Order


class OrderRegistry:
    __slots__ = ("live", "next_order_id", "next_trade_id", "next_priority")

    def __init__(self) -> None:
        self.live: dict[str, dict[str, Order]] = {}
        self.next_order_id = 1
        self.next_trade_id = 1
        self.next_priority = 1

    def find(self, account: str, client_order_id: str) -> Order | None:
        orders = self.live.get(account)
        if orders is None:
            return None
        return orders.get(client_order_id)

    def add(self, order: Order) -> None:
        orders = self.live.get(order.account)
        if orders is None:
            orders = self.live[order.account] = {}
        orders[order.client_order_id] = order

    def discard(self, order: Order) -> None:
        del self.live[order.account][order.client_order_id]

    def new_order_id(self) -> int:
        order_id = self.next_order_id
        self.next_order_id = order_id + 1
        return order_id

    def new_trade_id(self) -> int:
        trade_id = self.next_trade_id
        self.next_trade_id = trade_id + 1
        return trade_id

    def new_priority(self) -> int:
        priority = self.next_priority
        self.next_priority = priority + 1
        return priority

    def orders_of(self, account: str) -> list[Order]:
        """The account's live orders in the order they were registered."""
        return list(self.live.get(account, {}).values())

    def count(self) -> int:
        """How many orders are live."""
        return sum(len(orders) for orders in self.live.values())

    def state(self) -> tuple[object, ...]:
        live = tuple(
            (account, tuple(sorted(orders)))
            for account, orders in sorted(self.live.items())
            if orders
        )
        return (self.next_order_id, self.next_trade_id, self.next_priority, live)
