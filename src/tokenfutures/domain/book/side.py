"""One side of an order book: price levels keyed by price, plus their prices in order.

``keys`` is sorted ascending with the best price last, so the best level is found,
added and removed at the end of the list: bids use ``key = price``, asks
``key = -price``. Invariants: ``keys`` holds exactly the prices of ``levels`` (as keys),
without duplicates, and no level is empty.
"""

from __future__ import annotations

from bisect import bisect_left, insort

from tokenfutures.domain.book.level import PriceLevel
from tokenfutures.domain.book.order import Order


class BookSide:
    __slots__ = ("is_bid", "sign", "levels", "keys")

    def __init__(self, is_bid: bool) -> None:
        self.is_bid = is_bid
        self.sign = 1 if is_bid else -1
        self.levels: dict[int, PriceLevel] = {}
        self.keys: list[int] = []

    def best_price(self) -> int | None:
        keys = self.keys
        if not keys:
            return None
        return keys[-1] * self.sign

    def add(self, order: Order) -> None:
        price = order.price
        level = self.levels.get(price)
        if level is None:
            level = PriceLevel(price)
            self.levels[price] = level
            key = price * self.sign
            keys = self.keys
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        level.append(order)

    def remove(self, order: Order) -> None:
        """Take a live order out of the book (cancel, amend)."""
        level = self.levels[order.price]
        level.quantity -= order.leaves
        level.unlink(order)
        if level.count == 0:
            self.drop_level(level)

    def drop_level(self, level: PriceLevel) -> None:
        price = level.price
        del self.levels[price]
        key = price * self.sign
        keys = self.keys
        if keys[-1] == key:
            keys.pop()
        else:
            del keys[bisect_left(keys, key)]

    def depth(self, limit: int | None = None) -> list[tuple[int, int]]:
        """Aggregated (price, quantity) levels, best first."""
        sign = self.sign
        keys = self.keys if limit is None else self.keys[-limit:]
        levels = self.levels
        return [(k * sign, levels[k * sign].quantity) for k in reversed(keys)]

    def orders(self) -> list[Order]:
        """Every resting order in priority order (best price first, then FIFO)."""
        out: list[Order] = []
        for key in reversed(self.keys):
            out.extend(self.levels[key * self.sign].orders())
        return out
