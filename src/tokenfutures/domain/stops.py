"""Stop orders waiting for their trigger, outside the book.

Buy stops trigger on a print at or above their stop price, lowest stop first; sell stops
on a print at or below, highest stop first; ties by arrival (``Order.priority``, renewed
when an amend loses priority). Both lists are sorted ascending by ``(key, priority)`` with
the next stop to trigger first.
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
        return (stop if order.is_buy else -stop, order.priority, order)

    def add(self, order: Order) -> None:
        insort(self._buys if order.is_buy else self._sells, self._entry(order))

    def remove(self, order: Order) -> None:
        entries = self._buys if order.is_buy else self._sells
        key, priority, _ = self._entry(order)
        index = bisect_left(entries, (key, priority))
        if index == len(entries) or entries[index][2] is not order:
            raise KeyError(f"stop order {order.order_id} is not in the stop book")
        del entries[index]

    def pop_elected(self, high: int, low: int) -> list[Order]:
        """Remove and return the stops elected by prints between ``low`` and ``high``.

        Buy stops at or below ``high`` (lowest first), sell stops at or above ``low``
        (highest first), the two merged by arrival when their turn ties.
        """
        buys = self._buys
        sells = self._sells
        b = 0
        while b < len(buys) and buys[b][0] <= high:
            b += 1
        s = 0
        while s < len(sells) and -sells[s][0] >= low:
            s += 1
        elected_buys = buys[:b]
        elected_sells = sells[:s]
        del buys[:b]
        del sells[:s]
        elected: list[Order] = []
        i = j = 0
        while i < len(elected_buys) or j < len(elected_sells):
            take_buy = j == len(elected_sells) or (
                i < len(elected_buys) and elected_buys[i][1] < elected_sells[j][1]
            )
            if take_buy:
                elected.append(elected_buys[i][2])
                i += 1
            else:
                elected.append(elected_sells[j][2])
                j += 1
        return elected

    def orders(self) -> list[Order]:
        """Every waiting stop order in trigger order: buys, then sells."""
        return [entry[2] for entry in self._buys] + [entry[2] for entry in self._sells]
