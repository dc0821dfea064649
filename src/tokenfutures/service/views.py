"""Read models kept by the sequencer from the events: orders, fills, recent trades.

They answer queries without touching the engine: an order by exchange id or by client order
id (also after it has ended, for the rest of the trading day: retries with the same client
order id get the original outcome), an account's fills, a contract's recent trades.
Prices are ticks and money minor units here; the API formats them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tokenfutures.domain.clearing.events import EndOfDayCompleted, TradeCleared
from tokenfutures.domain.events import (
    CommandRejected,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    TradeExecuted,
)
from tokenfutures.engine.snapshot_values import (
    integer,
    optional_integer,
    optional_text,
    rejection,
    rejection_row,
    trade,
    trade_row,
)

RECENT_TRADES = 1_000  # per contract


@dataclass(slots=True)
class OrderRecord:
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    price: int | None
    stop_price: int | None
    quantity: int
    time_in_force: str
    post_only: bool
    created_ts: int
    updated_ts: int
    filled: int = 0
    leaves: int = 0
    notional: int = 0  # sum of fill price x quantity, ticks x lots
    status: str = "new"  # new, partially_filled, filled, cancelled, expired
    reason: str | None = None

    @property
    def average_price_ticks(self) -> tuple[int, int] | None:
        """(numerator, denominator) of the average fill price in ticks, None if unfilled."""
        return None if self.filled == 0 else (self.notional, self.filled)


@dataclass(frozen=True, slots=True)
class Fill:
    ts: int
    trade_id: int
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    price: int
    quantity: int
    liquidity: str  # maker or taker ("auction" for an uncross)
    fee: int = 0


@dataclass(slots=True)
class Views:
    orders: dict[int, OrderRecord] = field(default_factory=dict)
    by_client: dict[tuple[str, str], int] = field(default_factory=dict)
    rejections: dict[tuple[str, str], CommandRejected] = field(default_factory=dict)
    fills: dict[str, list[Fill]] = field(default_factory=dict)
    trades: dict[str, deque[TradeExecuted]] = field(default_factory=dict)

    def apply(self, events: list[Any]) -> None:
        for event in events:
            handler = _HANDLERS.get(type(event))
            if handler is not None:
                handler(self, event)

    def order_of(self, account: str, client_order_id: str) -> OrderRecord | None:
        order_id = self.by_client.get((account, client_order_id))
        return None if order_id is None else self.orders.get(order_id)

    def open_orders(self, account: str) -> list[OrderRecord]:
        return [
            o
            for o in self.orders.values()
            if o.account == account and o.status in ("new", "partially_filled")
        ]

    # --- snapshots -------------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """Every read model as JSON-ready values (a copy), for a snapshot."""
        return {
            "orders": [_order_row(order) for order in self.orders.values()],
            "by_client": [[a, c, order_id] for (a, c), order_id in self.by_client.items()],
            "rejections": [[a, c, rejection_row(e)] for (a, c), e in self.rejections.items()],
            "fills": {a: [_fill_row(f) for f in fills] for a, fills in self.fills.items()},
            "trades": {s: [trade_row(t) for t in recent] for s, recent in self.trades.items()},
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Replace every read model by ``data`` (what :meth:`export` returned)."""
        orders = (_order(row) for row in data["orders"])
        self.orders = {order.order_id: order for order in orders}
        self.by_client = {
            (str(a), str(c)): integer(order_id, "order_id") for a, c, order_id in data["by_client"]
        }
        self.rejections = {(str(a), str(c)): rejection(row) for a, c, row in data["rejections"]}
        self.fills = {str(a): [_fill(row) for row in rows] for a, rows in data["fills"].items()}
        self.trades = {
            str(s): deque((trade(row) for row in rows), maxlen=RECENT_TRADES)
            for s, rows in data["trades"].items()
        }

    # --- event handlers --------------------------------------------------------------------

    def _accepted(self, e: OrderAccepted) -> None:
        self.orders[e.order_id] = OrderRecord(
            e.order_id, e.account, e.client_order_id, e.symbol, e.side.value,
            e.order_type.value, e.price, e.stop_price, e.quantity, e.time_in_force.value,
            e.post_only, e.ts, e.ts, leaves=e.quantity,
        )  # fmt: skip
        self.by_client[(e.account, e.client_order_id)] = e.order_id
        self.rejections.pop((e.account, e.client_order_id), None)

    def _rejected(self, e: CommandRejected) -> None:
        if e.command == "new_order" and e.account and e.client_order_id:
            key = (e.account, e.client_order_id)
            if key not in self.by_client:
                self.rejections[key] = e

    def _trade(self, e: TradeExecuted) -> None:
        maker = "auction" if e.aggressor is None else None
        for order_id, side in ((e.buy_order_id, "buy"), (e.sell_order_id, "sell")):
            order = self.orders.get(order_id)
            if order is None:
                continue
            order.filled += e.quantity
            order.leaves -= e.quantity
            order.notional += e.price * e.quantity
            order.updated_ts = e.ts
            order.status = "filled" if order.leaves == 0 else "partially_filled"
            liquidity = maker or ("taker" if e.aggressor is not None and e.aggressor.value == side
                                  else "maker")  # fmt: skip
            fill = Fill(e.ts, e.trade_id, order_id, order.client_order_id, e.symbol, side,
                        e.price, e.quantity, liquidity)  # fmt: skip
            self.fills.setdefault(order.account, []).append(fill)
        recent = self.trades.get(e.symbol)
        if recent is None:
            recent = self.trades[e.symbol] = deque(maxlen=RECENT_TRADES)
        recent.append(e)

    def _cleared(self, e: TradeCleared) -> None:
        for account, fee in ((e.buy_account, e.buy_fee), (e.sell_account, e.sell_fee)):
            fills = self.fills.get(account)
            if fills and fills[-1].trade_id == e.trade_id:
                last = fills[-1]
                fills[-1] = Fill(last.ts, last.trade_id, last.order_id, last.client_order_id,
                                 last.symbol, last.side, last.price, last.quantity,
                                 last.liquidity, fee)  # fmt: skip

    def _ended(self, e: OrderCancelled | OrderExpired) -> None:
        order = self.orders.get(e.order_id)
        if order is None:
            return
        order.status = "cancelled" if type(e) is OrderCancelled else "expired"
        order.reason = e.reason.value if type(e) is OrderCancelled else "end_of_day"
        order.leaves = 0
        order.updated_ts = e.ts

    def _amended(self, e: OrderAmended) -> None:
        order = self.orders.get(e.order_id)
        if order is None:
            return
        order.price, order.quantity, order.leaves = e.price, e.quantity, e.leaves_quantity
        order.updated_ts = e.ts

    def _day_ended(self, e: EndOfDayCompleted) -> None:
        """Client order ids are unique per trading day: ended orders leave the id index."""
        live = {"new", "partially_filled"}
        self.by_client = {k: v for k, v in self.by_client.items() if self.orders[v].status in live}
        self.rejections.clear()


def _order_row(o: OrderRecord) -> list[Any]:
    return [o.order_id, o.account, o.client_order_id, o.symbol, o.side, o.order_type, o.price,
            o.stop_price, o.quantity, o.time_in_force, o.post_only, o.created_ts, o.updated_ts,
            o.filled, o.leaves, o.notional, o.status, o.reason]  # fmt: skip


def _order(row: list[Any]) -> OrderRecord:
    (order_id, account, client_order_id, symbol, side, order_type, price, stop_price, quantity,
     time_in_force, post_only, created_ts, updated_ts, filled, leaves, notional, status,
     reason) = row  # fmt: skip
    return OrderRecord(
        integer(order_id, "order_id"), str(account), str(client_order_id), str(symbol),
        str(side), str(order_type), optional_integer(price, "price"),
        optional_integer(stop_price, "stop_price"), integer(quantity, "quantity"),
        str(time_in_force), bool(post_only), integer(created_ts, "created_ts"),
        integer(updated_ts, "updated_ts"), integer(filled, "filled"), integer(leaves, "leaves"),
        integer(notional, "notional"), str(status), optional_text(reason, "reason"),
    )  # fmt: skip


def _fill_row(f: Fill) -> list[Any]:
    return [f.ts, f.trade_id, f.order_id, f.client_order_id, f.symbol, f.side, f.price,
            f.quantity, f.liquidity, f.fee]  # fmt: skip


def _fill(row: list[Any]) -> Fill:
    ts, trade_id, order_id, client_order_id, symbol, side, price, quantity, liquidity, fee = row
    return Fill(
        integer(ts, "ts"), integer(trade_id, "trade_id"), integer(order_id, "order_id"),
        str(client_order_id), str(symbol), str(side), integer(price, "price"),
        integer(quantity, "quantity"), str(liquidity), integer(fee, "fee"),
    )  # fmt: skip


_HANDLERS: dict[type, Any] = {
    OrderAccepted: Views._accepted,
    CommandRejected: Views._rejected,
    TradeExecuted: Views._trade,
    TradeCleared: Views._cleared,
    OrderCancelled: Views._ended,
    OrderExpired: Views._ended,
    OrderAmended: Views._amended,
    EndOfDayCompleted: Views._day_ended,
}
