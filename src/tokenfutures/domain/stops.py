"""Stop orders waiting for their trigger, outside the book.

Buy stops trigger when the last trade is at or above their stop price, lowest stop
first; sell stops when it is at or below, highest stop first; ties by arrival. Both
lists are sorted ascending by ``(key, order_id)`` with the next stop to trigger first.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from tokenfutures.domain.book.order import Order


class StopBook:
    __slots__ = ("_buys", "_sells")

    def __init__(self) -> None:
        self._buys: list[tuple[int, int, Order]] = []
        self._sells: list[tuple[int, int, Order]] = []

    def __len__(self) -> int:
        return len(self._buys) + len(self._sells)

    @staticmethod
    def _entry(order: Order) -> tuple[int, int, Order]:
        stop = order.stop_price
        if stop is None:
            raise ValueError(f"order {order.order_id} has no stop price")
        return (stop if order.is_buy else -stop, order.order_id, order)

    def add(self, order: Order) -> None:
        insort(self._buys if order.is_buy else self._sells, self._entry(order))

    def remove(self, order: Order) -> None:
        entries = self._buys if order.is_buy else self._sells
        key, order_id, _ = self._entry(order)
        index = bisect_left(entries, (key, order_id))
        if index == len(entries) or entries[index][2] is not order:
            raise KeyError(f"stop order {order.order_id} is not in the stop book")
        del entries[index]

    def pop_triggered(self, last_price: int) -> Order | None:
        """The next stop triggered by ``last_price``, removed from the book, or None."""
        buys = self._buys
        sells = self._sells
        buy = buys[0] if buys and buys[0][0] <= last_price else None
        sell = sells[0] if sells and -sells[0][0] >= last_price else None
        if buy is not None and (sell is None or buy[1] < sell[1]):
            del buys[0]
            return buy[2]
        if sell is not None:
            del sells[0]
            return sell[2]
        return None

    def orders(self) -> list[Order]:
        """Every waiting stop order in trigger order: buys, then sells."""
        return [entry[2] for entry in self._buys] + [entry[2] for entry in self._sells]
