"""Streams built from the sequencer's events: book deltas, trades, private order updates.

A listener of the sequencer: after each command it sees the command's events, in order.

- **book** (per contract): a snapshot carries ``seq``; each later message is a delta with
  ``prev_seq`` and ``seq`` (one apart), the changed price levels with their new absolute
  quantity (0 deletes the level). A gap in ``prev_seq`` tells the client to ask for a new
  snapshot. Depth is the top ``BOOK_DEPTH`` levels.
- **trades** (per contract): each trade with its id, price, quantity and aggressor.
- **index**: the benchmark's fixings (index, date, value, quality, coverage, version) as
  each day's are published: a snapshot of the latest on subscribing, then one update per
  publication.
- **orders** (per account, private): every change of one of the account's orders (the order
  as ``GET /v1/orders/{id}`` shows it), each of its fills and its net position in a contract
  after each command that traded it (``positions``), numbered by an account
  sequence; the last ``RESUME_BUFFER`` messages are kept so a client can resume from a
  sequence, otherwise it starts again from a snapshot of open orders and positions.

Subscribers are queues; a subscriber whose queue is full is dropped (a slow consumer must
not hold up the exchange) and told so when it reads.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tokenfutures.domain.clearing.events import ContractListed
from tokenfutures.domain.events import (
    AuctionUncrossed,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    TradeExecuted,
)
from tokenfutures.engine.timestamps import format_ts
from tokenfutures.service.formats import fill_json, order_json
from tokenfutures.service.sequencer import Sequencer

BOOK_DEPTH = 50
RESUME_BUFFER = 1_000
QUEUE_LIMIT = 10_000
_BOOK_EVENTS = (OrderAccepted, OrderAmended, OrderCancelled, OrderExpired, TradeExecuted,
                AuctionUncrossed)  # fmt: skip
_ORDER_EVENTS = (OrderAccepted, OrderAmended, OrderCancelled, OrderExpired)

Levels = dict[int, int]  # price ticks -> quantity


def encoded(message: dict[str, Any]) -> str:
    """A message as the socket sends it: encoded once, however many subscribers get it."""
    return json.dumps(message, separators=(",", ":"))


class Subscriber:
    def __init__(self, limit: int = QUEUE_LIMIT) -> None:
        self.queue: asyncio.Queue[dict[str, Any] | str] = asyncio.Queue(limit)
        self.dropped = False

    def push(self, message: dict[str, Any] | str) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped = True


@dataclass(slots=True)
class BookState:
    seq: int = 0
    bids: Levels = field(default_factory=dict)
    asks: Levels = field(default_factory=dict)


class MarketData:
    def __init__(self, sequencer: Sequencer) -> None:
        self.sequencer = sequencer
        self.books: dict[str, BookState] = {}
        self.book_subscribers: dict[str, set[Subscriber]] = {}
        self.trade_subscribers: dict[str, set[Subscriber]] = {}
        self.account_subscribers: dict[str, set[Subscriber]] = {}
        self.index_subscribers: dict[str, set[Subscriber]] = {}
        self.stale: set[str] = set()  # books changed while nobody subscribed
        self.account_seq: dict[str, int] = {}
        self.account_buffer: dict[str, deque[dict[str, Any]]] = {}
        for symbol in sequencer.house.exchange.instruments:
            self.books[symbol] = self._levels(symbol, 0)
        sequencer.listeners.append(self.on_events)

    # --- the sequencer's listener ----------------------------------------------------------

    def on_events(self, seq: int, events: list[Any]) -> None:
        touched: set[str] = set()
        accounts: dict[str, list[dict[str, Any]]] = {}
        moved: set[tuple[str, str]] = set()  # (account, symbol) whose position changed
        for event in events:
            kind = type(event)
            if kind in _BOOK_EVENTS:
                touched.add(event.symbol)
            elif kind is ContractListed:  # a new month: its book can be subscribed to
                self.books.setdefault(event.symbol, BookState())
            if kind is TradeExecuted:
                self._trade(event)
                self._fills(event, accounts)
                for order_id in (event.buy_order_id, event.sell_order_id):
                    self._order_update(order_id, accounts)
                moved.update(
                    ((event.buy_account, event.symbol), (event.sell_account, event.symbol))
                )
            elif kind in _ORDER_EVENTS:
                self._order_update(event.order_id, accounts)
        self._books(touched)
        for account, symbol in sorted(moved):
            quantity = self.sequencer.house.positions.position(account, symbol).quantity
            message = {"channel": "positions", "symbol": symbol, "quantity": quantity}
            accounts.setdefault(account, []).append(message)
        for account, messages in accounts.items():
            for message in messages:
                self._private(account, message)

    def _books(self, touched: set[str]) -> None:
        for symbol in sorted(touched):
            if self.book_subscribers.get(symbol):
                self._book_delta(symbol)
            else:  # nobody listens: the levels are read again when somebody subscribes
                self.stale.add(symbol)

    # --- the benchmark ---------------------------------------------------------------------

    def on_fixings(self, documents: list[dict[str, Any]]) -> None:
        """The index board published a day's fixings: tell the index channel."""
        text = encoded(index_message("update", documents))
        for subscriber in self.index_subscribers.get("index", ()):
            subscriber.push(text)

    # --- books -----------------------------------------------------------------------------

    def _levels(self, symbol: str, seq: int) -> BookState:
        bids, asks = self.sequencer.house.exchange.depth(symbol)
        return BookState(seq, dict(bids[:BOOK_DEPTH]), dict(asks[:BOOK_DEPTH]))

    def snapshot(self, symbol: str) -> dict[str, Any]:
        if symbol in self.stale:
            self.stale.discard(symbol)
            self.books[symbol] = self._levels(symbol, self.books[symbol].seq + 1)
        book = self.books[symbol]
        return {
            "channel": "book",
            "type": "snapshot",
            "symbol": symbol,
            "seq": book.seq,
            "bids": self._side(symbol, book.bids, reverse=True),
            "asks": self._side(symbol, book.asks, reverse=False),
        }

    def _side(self, symbol: str, levels: Levels, *, reverse: bool) -> list[list[Any]]:
        text = self.sequencer.codec.price_text
        return [[text(symbol, p), q] for p, q in sorted(levels.items(), reverse=reverse)]

    def _book_delta(self, symbol: str) -> None:
        old = self.books[symbol]
        new = self._levels(symbol, old.seq + 1)
        bids = _changes(old.bids, new.bids)
        asks = _changes(old.asks, new.asks)
        if not bids and not asks:
            return
        self.books[symbol] = new
        message = {
            "channel": "book",
            "type": "delta",
            "symbol": symbol,
            "prev_seq": old.seq,
            "seq": new.seq,
            "bids": self._side(symbol, bids, reverse=True),
            "asks": self._side(symbol, asks, reverse=False),
        }
        text = encoded(message)
        for subscriber in self.book_subscribers.get(symbol, ()):
            subscriber.push(text)

    # --- trades and private streams --------------------------------------------------------

    def _trade(self, trade: TradeExecuted) -> None:
        subscribers = self.trade_subscribers.get(trade.symbol)
        if not subscribers:
            return
        message = {
            "channel": "trades",
            "symbol": trade.symbol,
            "ts": format_ts(trade.ts),
            "trade_id": trade.trade_id,
            "price": self.sequencer.codec.price_text(trade.symbol, trade.price),
            "quantity": trade.quantity,
            "aggressor": None if trade.aggressor is None else trade.aggressor.value,
        }
        text = encoded(message)
        for subscriber in subscribers:
            subscriber.push(text)

    def _fills(self, trade: TradeExecuted, accounts: dict[str, list[dict[str, Any]]]) -> None:
        codec, views = self.sequencer.codec, self.sequencer.views
        for account in (trade.buy_account, trade.sell_account):
            for fill in reversed(views.fills.get(account, [])[-64:]):
                if fill.trade_id == trade.trade_id:
                    message = {"channel": "fills", "fill": fill_json(fill, codec)}
                    accounts.setdefault(account, []).append(message)
                    break

    def _order_update(self, order_id: int, accounts: dict[str, list[dict[str, Any]]]) -> None:
        order = self.sequencer.views.orders.get(order_id)
        if order is None:
            return
        message = {"channel": "orders", "order": order_json(order, self.sequencer.codec)}
        pending = accounts.setdefault(order.account, [])
        pending[:] = [m for m in pending if m.get("order", {}).get("order_id") != order_id]
        pending.append(message)

    def _private(self, account: str, message: dict[str, Any]) -> None:
        seq = self.account_seq.get(account, 0) + 1
        self.account_seq[account] = seq
        numbered = message | {"account_seq": seq}
        buffer = self.account_buffer.get(account)
        if buffer is None:
            buffer = self.account_buffer[account] = deque(maxlen=RESUME_BUFFER)
        buffer.append(numbered)
        subscribers = self.account_subscribers.get(account)
        if subscribers:
            text = encoded(numbered)
            for subscriber in subscribers:
                subscriber.push(text)

    def resume(self, account: str, since: int | None) -> list[dict[str, Any]] | None:
        """The account's messages after ``since``, or None if they are no longer kept."""
        buffer = self.account_buffer.get(account, deque())
        last = self.account_seq.get(account, 0)
        if since is None or since > last:
            return None
        if since == last:
            return []
        if not buffer or buffer[0]["account_seq"] > since + 1:
            return None
        return [m for m in buffer if m["account_seq"] > since]


def index_message(kind: str, documents: list[dict[str, Any]]) -> dict[str, Any]:
    """An index channel message: each fixing's headline figures, not its audit trail."""
    fields = ("index", "date", "value", "quality", "coverage", "version")
    return {
        "channel": "index",
        "type": kind,
        "fixings": [{k: doc.get(k) for k in fields} for doc in documents],
    }


def _changes(old: Levels, new: Levels) -> Levels:
    changed = {price: qty for price, qty in new.items() if old.get(price) != qty}
    changed.update({price: 0 for price in old if price not in new})
    return changed
