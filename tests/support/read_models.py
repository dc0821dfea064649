"""The read models' tables against what the exchange holds in memory, for the read-store tests.

``FeedingClearing`` is the helper's ``Clearing`` that numbers each command as the journal
would and hands its events to the in-memory ``Views`` and then to the read store, in the
sequencer's order. ``expected_*`` build the rows the tables must hold from independent sources:
the views and the API's own formatting (``service/formats.py``), the events, the clearing
house's positions and statements (``engine/statement_report.py``). ``read_tables`` reads a
table of either database into dicts with the same value types (dates as ISO text, documents
parsed, booleans as bool).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from support.clearing import DAY1, GPU, TERMS, TKN, TKN_NEXT, Clearing
from tokenfutures.domain.clearing.commands import FinalSettlement
from tokenfutures.domain.clearing.events import (
    ContractSettled,
    FinalSettlementPaid,
    SettlementPriceSet,
    TradeCleared,
)
from tokenfutures.domain.clearing.house import AnyCommand, ClearingHouse
from tokenfutures.domain.clearing.positions import Position
from tokenfutures.domain.commands import AmendOrder
from tokenfutures.domain.events import TradeExecuted
from tokenfutures.domain.values import TimeInForce
from tokenfutures.engine.codec import Codec
from tokenfutures.engine.statement_report import statement_json
from tokenfutures.service.formats import fill_json, order_json
from tokenfutures.service.read_store import ReadStore, ReadStoreBackend
from tokenfutures.service.read_store_schema import TABLES
from tokenfutures.service.views import Views

Reader = Callable[[str], list[dict[str, Any]]]
KEYS = {table.name: table.key for table in TABLES}
BOOLEANS = {"post_only"}
DOCUMENTS = {"document"}
DAY2 = DAY1 + timedelta(days=1)
SHORT_TERMS = (replace(TERMS[0], last_trading_day=DAY2), *TERMS[1:])  # TKN2612 settles on DAY2


def clearing_codec() -> Codec:
    """The codec of the helper's contracts: ticks of 0.001, cents."""
    return Codec({t.symbol: Decimal("0.001") for t in TERMS}, 2)


class Feed:
    """Numbers commands 1, 2, ... and hands each one's events to the views, then the store."""

    def __init__(self, store: ReadStore | None, views: Views) -> None:
        self.store, self.views, self.seq = store, views, 0

    def __call__(self, events: list[Any]) -> None:
        self.seq += 1
        self.views.apply(events)
        if self.store is not None:
            self.store.on_events(self.seq, events)


class FeedingClearing(Clearing):
    """``Clearing`` whose every command also reaches ``feed``; keeps the positions each final
    settlement closed (as they were just before it) for ``expected_closed``."""

    def __init__(self, feed: Feed, **kw: Any) -> None:
        super().__init__(**kw)
        self.feed = feed
        self.closed: list[tuple[Position, int, int, int]] = []

    def send(self, command: AnyCommand) -> list[Any]:
        before = snapshot_positions(self.house) if type(command) is FinalSettlement else {}
        events = super().send(command)
        self.feed(events)
        note_closed(self.house, before, events, self.closed)
        return events


def snapshot_positions(house: ClearingHouse) -> dict[tuple[str, str], Position]:
    positions = house.positions
    return {
        (account, symbol): positions.position(account, symbol)
        for symbol in positions.symbols()
        for account in positions.accounts_in(symbol)
    }


def note_closed(
    house: ClearingHouse,
    before: dict[tuple[str, str], Position],
    events: Iterable[Any],
    closed: list[tuple[Position, int, int, int]],
) -> None:
    """Each position a final settlement among ``events`` closed, as it was ``before``, with
    the price, the amount paid (0 for a flat one) and the tick value."""
    paid = {(e.account, e.symbol): e.amount for e in events if type(e) is FinalSettlementPaid}
    for event in events:
        if type(event) is ContractSettled:
            tick_value = house.terms[event.symbol].tick_value
            for key, position in before.items():
                if key[1] == event.symbol:
                    closed.append((position, event.price, paid.get(key, 0), tick_value))


def scripted_session(backend: ReadStoreBackend, **kw: Any) -> tuple[FeedingClearing, ReadStore]:
    """Two trading days through a store on ``backend`` (started; ``kw`` for ``ReadStore``):
    resting, partly filled, amended, cancelled and expiring orders, trades on three
    contracts, a refused order, ends of day with statements and a margin call, and the final
    settlement of TKN2612."""
    feed = Feed(None, Views())
    c = FeedingClearing(feed, terms=SHORT_TERMS)
    store = feed.store = ReadStore(backend, c.house, clearing_codec(), **kw)
    store.start()
    c.account("MM", cash=10_000_000_00, exempt=True)
    c.account("A", cash=20_000_00)
    c.account("B", cash=6_000_00)
    c.sell("MM", 10, "2.510", coid="ask")
    c.buy("MM", 10, "2.490", coid="bid", tif=TimeInForce.GFD)  # expires at the end of day
    c.buy("A", 4, "2.510", tif=TimeInForce.IOC)  # ask: 4 filled
    c.sell("B", 2, "2.490", tif=TimeInForce.IOC)  # bid: 2 filled
    c.send(AmendOrder(c._ts(), "MM", "ask", TKN, price=None, quantity=8))  # leaves 4
    c.trade("A", "MM", 1, "2.500", symbol=GPU)
    c.buy("B", 1, "2.300", coid="low")
    c.cancel("B", "low")
    c.end_of_day(DAY1)
    c.open_day(2)
    c.trade("MM", "A", 2, "2.520", symbol=TKN_NEXT)
    c.send(AmendOrder(c._ts(), "MM", "ask", TKN, price=2700, quantity=None))
    c.buy("A", 1, "2.700", tif=TimeInForce.IOC)  # ask: 1 more; B, short 2, is called
    c.sell("B", 50, "2.690")  # refused: B's margin
    c.end_of_day(DAY2)
    c.final_settlement(TKN, "2.600")
    return c, store


# --- reading the tables ------------------------------------------------------------------------


def _normalised(column: str, value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if column in DOCUMENTS and isinstance(value, str):
        return json.loads(value)
    if column in BOOLEANS:
        return bool(value)
    return value


def _rows(cursor: Any, table: str) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [{n: _normalised(n, v) for n, v in zip(names, row, strict=True)} for row in cursor]


def sqlite_reader(path: Path) -> Reader:
    def read(table: str) -> list[dict[str, Any]]:
        db = sqlite3.connect(path)
        try:
            order = ", ".join(KEYS.get(table, ("1",)))
            return _rows(db.execute(f"SELECT * FROM {table} ORDER BY {order}"), table)
        finally:
            db.close()

    return read


def postgres_reader(url: str) -> Reader:
    import psycopg

    def read(table: str) -> list[dict[str, Any]]:
        with psycopg.connect(url) as conn:
            order = ", ".join(KEYS.get(table, ("1",)))
            return _rows(conn.execute(f"SELECT * FROM {table} ORDER BY {order}"), table)

    return read


def by_key(rows: list[dict[str, Any]], *key: str) -> dict[Any, dict[str, Any]]:
    found = {}
    for row in rows:
        value = tuple(row[k] for k in key)
        found[value[0] if len(key) == 1 else value] = row
    return found


# --- what the tables must hold -----------------------------------------------------------------


def expected_orders(views: Views, codec: Codec) -> dict[int, dict[str, Any]]:
    """Each order of the views, in the columns the API shows them with."""
    found = {}
    for order_id, record in views.orders.items():
        shown = order_json(record, codec)
        found[order_id] = {
            "order_id": order_id,
            "account": record.account,
            "client_order_id": record.client_order_id,
            "symbol": record.symbol,
            "side": record.side,
            "order_type": record.order_type,
            "time_in_force": record.time_in_force,
            "post_only": record.post_only,
            "price_ticks": record.price,
            "price": None if record.price is None else codec.price_text(record.symbol,
                                                                        record.price),
            "stop_price_ticks": record.stop_price,
            "stop_price": shown["stop_price"],
            "quantity": record.quantity,
            "filled_quantity": shown["filled_quantity"],
            "leaves_quantity": shown["leaves_quantity"],
            "filled_notional_ticks": record.notional,
            "average_price": shown["average_price"],
            "status": record.status,
            "reason": record.reason,
            "created_ts": record.created_ts,
            "updated_ts": record.updated_ts,
        }  # fmt: skip
    return found


def expected_trades(events: Iterable[Any], codec: Codec) -> dict[int, dict[str, Any]]:
    """Every trade of the events, with the fees its clearing charged."""
    found: dict[int, dict[str, Any]] = {}
    for e in events:
        if type(e) is TradeExecuted:
            found[e.trade_id] = {
                "trade_id": e.trade_id, "symbol": e.symbol, "ts": e.ts, "price_ticks": e.price,
                "price": codec.price_text(e.symbol, e.price), "quantity": e.quantity,
                "buy_order_id": e.buy_order_id, "sell_order_id": e.sell_order_id,
                "buy_account": e.buy_account, "sell_account": e.sell_account,
                "buy_client_order_id": e.buy_client_order_id,
                "sell_client_order_id": e.sell_client_order_id,
                "aggressor": None if e.aggressor is None else e.aggressor.value,
            }  # fmt: skip
        elif type(e) is TradeCleared:
            found[e.trade_id] |= {"buy_fee": e.buy_fee, "sell_fee": e.sell_fee}
    return found


def expected_fills(views: Views, codec: Codec) -> dict[tuple[int, str], dict[str, Any]]:
    found = {}
    for account, fills in views.fills.items():
        for fill in fills:
            shown = fill_json(fill, codec)
            found[(fill.trade_id, fill.side)] = {
                "trade_id": fill.trade_id, "side": fill.side, "account": account,
                "order_id": fill.order_id, "client_order_id": fill.client_order_id,
                "symbol": fill.symbol, "ts": fill.ts, "price_ticks": fill.price,
                "price": shown["price"], "quantity": fill.quantity,
                "liquidity": fill.liquidity, "fee": fill.fee,
            }  # fmt: skip
    return found


def expected_positions(house: ClearingHouse, codec: Codec) -> dict[tuple[str, str], Any]:
    """Every position record of the clearing house (flat ones too)."""
    found = {}
    for key, p in snapshot_positions(house).items():
        average = p.average_entry_price
        found[key] = {
            "account": p.account, "symbol": p.symbol, "quantity": p.quantity,
            "cost_ticks": p.cost, "average_entry_price_ticks": average,
            "average_entry_price": None if average is None else codec.price_text(p.symbol,
                                                                                  average),
            "realised_pnl": p.trade_realised_pnl, "variation_margin": p.variation_margin,
        }  # fmt: skip
    return found


def expected_closed(
    closed: Iterable[tuple[Position, int, int, int]],
) -> dict[tuple[str, str], dict[str, Any]]:
    """Positions closed by final settlements: what was open is realised at the price."""
    found = {}
    for p, price, amount, tick_value in closed:
        final_pnl = (p.quantity * price - p.cost) * tick_value
        found[(p.account, p.symbol)] = {
            "account": p.account, "symbol": p.symbol, "quantity": 0, "cost_ticks": 0,
            "average_entry_price_ticks": None, "average_entry_price": None,
            "realised_pnl": p.trade_realised_pnl + final_pnl,
            "variation_margin": p.variation_margin + amount,
        }  # fmt: skip
    return found


def expected_statements(house: ClearingHouse, codec: Codec) -> dict[tuple[str, str], Any]:
    found = {}
    for (account, day), s in house.statements.items():
        moved = s.movements
        found[(account, day.isoformat())] = {
            "account": account, "statement_date": day.isoformat(),
            "opening_balance": s.opening_balance, "deposits": moved.deposits,
            "withdrawals": moved.withdrawals, "fees": moved.fees,
            "variation_margin": moved.variation_margin,
            "final_settlement": moved.final_settlement,
            "default_transfers": moved.default_transfers, "closing_balance": s.closing_balance,
            "initial_margin": s.initial_margin, "maintenance_margin": s.maintenance_margin,
            "margin_call": s.margin_call, "trade_count": len(s.trades),
            "position_count": len(s.positions), "document": statement_json(s, codec),
        }  # fmt: skip
    return found


def expected_settlements(events: Iterable[Any], codec: Codec) -> dict[tuple[str, str], Any]:
    found = {}
    for e in events:
        if type(e) is SettlementPriceSet:
            text = codec.price_text
            found[(e.date.isoformat(), e.symbol)] = {
                "settlement_date": e.date.isoformat(), "symbol": e.symbol,
                "price_ticks": e.price, "price": text(e.symbol, e.price), "method": e.method,
                "volume": e.volume, "open_interest": e.open_interest,
                "lower_limit_ticks": e.lower_limit, "upper_limit_ticks": e.upper_limit,
                "lower_limit": text(e.symbol, e.lower_limit),
                "upper_limit": text(e.symbol, e.upper_limit),
            }  # fmt: skip
    return found


def subset(rows: dict[Any, dict[str, Any]], columns: dict[Any, dict[str, Any]]) -> dict[Any, Any]:
    """``rows`` cut down to the columns each expected row names."""
    return {
        key: {name: row[name] for name in columns[key]} if key in columns else row
        for key, row in rows.items()
    }


def assert_same(table: str, rows: dict[Any, dict[str, Any]], expected: dict[Any, Any]) -> None:
    """``rows`` (cut to the expected columns) equal ``expected``; else say where they differ."""
    actual = subset(rows, expected)
    if actual == expected:
        return
    missing = sorted(set(expected) - set(actual), key=repr)[:3]
    extra = sorted(set(actual) - set(expected), key=repr)[:3]
    differ = [
        (key, {c: (actual[key][c], v) for c, v in row.items() if actual[key][c] != v})
        for key, row in expected.items()
        if key in actual and actual[key] != row
    ][:3]
    raise AssertionError(
        f"{table}: missing {missing}, unexpected {extra}, differing (table, expected) {differ}"
    )


def assert_matches(read: Reader, views: Views, house: ClearingHouse, log: list[Any],
                   codec: Codec, closed: Iterable[tuple[Position, int, int, int]] = (),
                   ) -> None:  # fmt: skip
    """Every table equals what the views, the events and the clearing house hold."""
    assert_same("orders", by_key(read("orders"), "order_id"), expected_orders(views, codec))
    assert_same("trades", by_key(read("trades"), "trade_id"), expected_trades(log, codec))
    fills = by_key(read("fills"), "trade_id", "side")
    assert_same("fills", fills, expected_fills(views, codec))
    positions = expected_closed(closed) | expected_positions(house, codec)
    assert_same("positions", by_key(read("positions"), "account", "symbol"), positions)
    statements = by_key(read("statements"), "account", "statement_date")
    assert_same("statements", statements, expected_statements(house, codec))
    settlements = by_key(read("settlement_prices"), "settlement_date", "symbol")
    assert_same("settlement_prices", settlements, expected_settlements(log, codec))
