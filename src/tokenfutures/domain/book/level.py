"""A price level: a FIFO of orders at one price, as an intrusive doubly linked list.

Removal of any order is O(1); ``quantity`` is the sum of the orders' ``leaves`` and
``count`` their number. A level with ``count == 0`` must not stay in its book side.
"""

from __future__ import annotations

from tokenfutures.domain.book.order import Order


class PriceLevel:
    __slots__ = ("price", "head", "tail", "quantity", "count")

    def __init__(self, price: int) -> None:
        self.price = price
        self.head: Order | None = None
        self.tail: Order | None = None
        self.quantity = 0
        self.count = 0

    def append(self, order: Order) -> None:
        tail = self.tail
        order.prev = tail
        order.next = None
        if tail is None:
            self.head = order
        else:
            tail.next = order
        self.tail = order
        self.quantity += order.leaves
        self.count += 1

    def unlink(self, order: Order) -> None:
        """Take ``order`` out of the FIFO; the caller has already adjusted ``quantity``."""
        prev = order.prev
        nxt = order.next
        if prev is None:
            self.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            self.tail = prev
        else:
            nxt.prev = prev
        order.prev = None
        order.next = None
        self.count -= 1

    def orders(self) -> list[Order]:
        out: list[Order] = []
        order = self.head
        while order is not None:
            out.append(order)
            order = order.next
        return out
