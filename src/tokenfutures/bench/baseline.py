"""A minimal plain-Python price-time order book: the yardstick of the matching benchmark.

It implements only what the benchmark workload sends, with the engine's semantics for it:

- limit orders, ``GTC`` (the remainder rests) or ``IOC`` (the remainder is cancelled);
- price-time priority; a trade prints at the resting order's price;
- self-trade prevention ``cancel_incoming``: meeting an order of its own account cancels the
  incoming order's remainder, the resting order stays;
- cancel by ``(account, client_order_id)``;
- amend of the price only: the order loses priority, matches at once as an aggressor if it
  crosses, and what remains goes to the back of its new level;
- cancel or amend of an unknown, filled or cancelled order is ignored.

There is no validation, no phase, no event objects and no order ids: ``handle`` returns the
trades of one command as ``(price, quantity, buy_client_order_id, sell_client_order_id)``.

Layout: ``levels[side][key]`` is the FIFO list of the orders resting at one price (levels
hold a few orders, so a plain list beats a deque in both time and memory), and ``keys[side]``
the sorted list of the level keys with the best level last (key = price for bids, -price for
asks): the best level is ``keys[side][-1]`` and removing it is an O(1) ``pop()``.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from typing import Any

from tokenfutures.domain.commands import AmendOrder, CancelOrder, NewOrder
from tokenfutures.domain.values import Side, TimeInForce

Trade = tuple[int, int, str, str]
"""(price_ticks, quantity, buy_client_order_id, sell_client_order_id)"""

BUY = 0
SELL = 1


class _Order:
    __slots__ = ("account", "client_order_id", "side", "price", "leaves")

    def __init__(self, account: str, client_order_id: str, side: int, price: int, leaves: int):
        self.account = account
        self.client_order_id = client_order_id
        self.side = side
        self.price = price
        self.leaves = leaves


class BaselineBook:
    """One instrument's book; see the module docstring for what it does and does not do."""

    __slots__ = ("levels", "keys", "orders")

    def __init__(self) -> None:
        self.levels: tuple[dict[int, list[_Order]], dict[int, list[_Order]]] = ({}, {})
        self.keys: tuple[list[int], list[int]] = ([], [])
        self.orders: dict[tuple[str, str], _Order] = {}

    def handle(self, command: Any) -> list[Trade]:
        kind = type(command)
        if kind is AmendOrder:
            return self.amend(command.account, command.client_order_id, command.price)
        if kind is NewOrder:
            return self.submit(
                command.account,
                command.client_order_id,
                BUY if command.side is Side.BUY else SELL,
                command.price,
                command.quantity,
                command.time_in_force is TimeInForce.IOC,
            )
        if kind is CancelOrder:
            self.cancel(command.account, command.client_order_id)
            return []
        raise TypeError(f"the baseline book does not handle {kind.__name__}")

    def submit(
        self, account: str, client_order_id: str, side: int, price: int, quantity: int, ioc: bool
    ) -> list[Trade]:
        order = _Order(account, client_order_id, side, price, quantity)
        trades: list[Trade] = []
        if self._match(order, trades) and not ioc:
            self._rest(order)
        return trades

    def cancel(self, account: str, client_order_id: str) -> None:
        order = self.orders.pop((account, client_order_id), None)
        if order is not None:
            self._unlink(order)

    def amend(self, account: str, client_order_id: str, price: int) -> list[Trade]:
        key = (account, client_order_id)
        order = self.orders.get(key)
        trades: list[Trade] = []
        if order is None or order.price == price:
            return trades
        self._unlink(order)
        order.price = price
        if self._match(order, trades):
            self._rest(order)
        else:
            del self.orders[key]
        return trades

    def depth(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """(bids, asks) as (price, total quantity) per level, best first."""
        bids = [(key, sum(o.leaves for o in self.levels[BUY][key])) for key in self.keys[BUY]]
        asks = [(-key, sum(o.leaves for o in self.levels[SELL][key])) for key in self.keys[SELL]]
        bids.reverse()
        asks.reverse()
        return bids, asks

    def _match(self, order: _Order, trades: list[Trade]) -> bool:
        """Match ``order`` as the aggressor; True when a remainder is left that may rest."""
        other = SELL if order.side == BUY else BUY
        keys = self.keys[other]
        levels = self.levels[other]
        orders = self.orders
        limit = order.price if order.side == BUY else -order.price
        # Best opposite key is -best_ask for a buy, best_bid for a sell: crossing is -key <= limit.
        while order.leaves and keys and -keys[-1] <= limit:
            key = keys[-1]
            level = levels[key]
            resting = level[0]
            if resting.account == order.account:
                return False
            quantity = min(order.leaves, resting.leaves)
            price = resting.price
            if order.side == BUY:
                trades.append((price, quantity, order.client_order_id, resting.client_order_id))
            else:
                trades.append((price, quantity, resting.client_order_id, order.client_order_id))
            order.leaves -= quantity
            resting.leaves -= quantity
            if not resting.leaves:
                del level[0]
                del orders[(resting.account, resting.client_order_id)]
                if not level:
                    del levels[key]
                    keys.pop()
        return order.leaves > 0

    def _rest(self, order: _Order) -> None:
        key = order.price if order.side == BUY else -order.price
        levels = self.levels[order.side]
        level = levels.get(key)
        if level is None:
            level = levels[key] = []
            insort(self.keys[order.side], key)
        level.append(order)
        self.orders[(order.account, order.client_order_id)] = order

    def _unlink(self, order: _Order) -> None:
        """Take a resting order out of its level (it stays in ``orders``)."""
        key = order.price if order.side == BUY else -order.price
        levels = self.levels[order.side]
        level = levels[key]
        level.remove(order)
        if not level:
            del levels[key]
            keys = self.keys[order.side]
            del keys[bisect_left(keys, key)]
