"""The WebSocket: market data, the private order stream, and order entry.

Connect to ``/v1/ws`` and send JSON messages:

- ``{"op": "subscribe", "channels": ["book:TKN2612", "trades:TKN2612"]}``: a book snapshot
  first, then deltas (``prev_seq``/``seq``; on a gap, subscribe again for a new snapshot);
- ``{"op": "subscribe", "channels": ["index"]}``: the latest fixing of every index, then an
  update each time a day's fixings are published;
- ``{"op": "auth", "key": K, "timestamp": MS, "signature": S}``: S signs
  ``"{MS}\\nGET\\n/v1/ws\\n"`` (no body) like a REST request;
- after auth: ``{"op": "subscribe", "channels": ["orders"], "since": N}``: the account's
  order updates and fills from account sequence N on (or a snapshot of open orders and
  positions when N is not given or no longer kept);
- after auth with the trade scope: ``{"op": "place_order", "id": R, ...order fields}``,
  ``{"op": "cancel_order", "id": R, "order_id": I}`` (or ``client_order_id``),
  ``{"op": "cancel_all", "id": R, "symbol": S}``; each answered by ``{"op": "result",
  "id": R, ...}`` or ``{"op": "error", "id": R, "error": {...}}``. New orders are
  pipelined (up to 64 in flight per socket, sequenced in the order sent; answers may
  interleave, match them by ``id``); a cancel waits for the orders sent before it;
- ``{"op": "unsubscribe", "channels": [...]}``: no more messages of those channels
  (answered by ``{"op": "unsubscribed", ...}``; messages already queued still arrive);
- ``{"op": "set", "cancel_on_disconnect": false}`` (on by default for a session that entered
  orders: when the socket closes, the account's orders are cancelled);
- ``{"op": "ping"}`` answered by ``{"op": "pong"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from tokenfutures.service.auth import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, AuthError
from tokenfutures.service.auth import authenticate as check_signature
from tokenfutures.service.context import ApiError, Service
from tokenfutures.service.formats import order_json
from tokenfutures.service.index_board import IndexBoard
from tokenfutures.service.keys import ApiKey
from tokenfutures.service.market_data import MarketData, Subscriber, encoded, index_message
from tokenfutures.service.routes_private import NewOrderBody, new_order_command, order_answer
from tokenfutures.service.submit import submit

router = APIRouter()
log = logging.getLogger("tokenfutures.websocket")
MAX_MESSAGE = 16_384
MAX_IN_FLIGHT = 64  # orders of one session sequenced at once; more wait to be read


class Session:
    def __init__(self, service: Service, data: MarketData, socket: WebSocket) -> None:
        self.service, self.data, self.socket = service, data, socket
        self.out = Subscriber()
        self.key: ApiKey | None = None
        self.entered_orders = False
        self.cancel_on_disconnect = True
        # (the table's identity, the name) -> the table: what to leave when the socket closes
        self.subscriptions: dict[tuple[int, str], dict[str, set[Subscriber]]] = {}
        self.index_wanted = False  # the index channel, until its snapshot task joins it
        self.tasks: set[asyncio.Task[None]] = set()
        self.in_flight: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    def error(self, request_id: Any, reason: str, detail: str, field: str | None = None) -> None:
        error = {"reason": reason, "field": field, "detail": detail}
        self.out.push({"op": "error", "id": request_id, "error": error})

    def _join(self, table: dict[str, set[Subscriber]], name: str) -> None:
        table.setdefault(name, set()).add(self.out)
        self.subscriptions[(id(table), name)] = table

    def _part(self, table: dict[str, set[Subscriber]], name: str) -> None:
        members = table.get(name)
        if members is not None:
            members.discard(self.out)
            if not members:
                del table[name]
        self.subscriptions.pop((id(table), name), None)

    def unsubscribe(self, message: dict[str, Any]) -> None:
        channels = message.get("channels")
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            self.error(message.get("id"), "invalid_field", "a list of channel names", "channels")
            return
        tables = {"book": self.data.book_subscribers, "trades": self.data.trade_subscribers,
                  "index": self.data.index_subscribers}  # fmt: skip
        for channel in channels:
            kind, _, name = channel.partition(":")
            if channel == "orders" and self.key is not None:
                table, name = self.data.account_subscribers, self.key.account
            elif kind in tables:
                table, name = tables[kind], name or kind
            else:
                continue
            if table is self.data.index_subscribers:
                self.index_wanted = False
            self._part(table, name)
        self.out.push({"op": "unsubscribed", "id": message.get("id"), "channels": channels})

    def leave(self) -> None:
        for (_, name), table in list(self.subscriptions.items()):
            self._part(table, name)

    # --- operations ------------------------------------------------------------------------

    def subscribe(self, message: dict[str, Any]) -> None:
        channels = message.get("channels")
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            self.error(message.get("id"), "invalid_field", "a list of channel names", "channels")
            return
        for channel in channels:
            kind, _, symbol = channel.partition(":")
            if kind in ("book", "trades") and symbol in self.data.books:
                table = (
                    self.data.book_subscribers if kind == "book" else self.data.trade_subscribers
                )
                self._join(table, symbol)
                if kind == "book":
                    self.out.push(self.data.snapshot(symbol))
            elif channel == "index":  # joins once its snapshot is sent: updates follow it
                self.index_wanted = True
                task = asyncio.ensure_future(self._index_snapshot())
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            elif channel == "orders" and self.key is not None:
                self._orders(message.get("since"))
            elif channel == "orders":
                self.error(message.get("id"), "unauthenticated", "send auth first", "channels")
            else:
                self.error(message.get("id"), "invalid_field", f"unknown channel {channel!r}",
                           "channels")  # fmt: skip

    async def _index_snapshot(self) -> None:
        board: IndexBoard = self.socket.app.state.index_board
        try:
            _, documents = await board.latest()
        except Exception as error:  # the packaged data could not be read: say so, go on
            self.error(None, "index_unavailable", f"fixings could not be loaded: {error}")
            return
        self.out.push(index_message("snapshot", list(documents.values())))
        if self.index_wanted:  # not unsubscribed meanwhile
            self._join(self.data.index_subscribers, "index")

    def _orders(self, since: Any) -> None:
        assert self.key is not None
        account = self.key.account
        self._join(self.data.account_subscribers, account)
        resumed = self.data.resume(account, since if isinstance(since, int) else None)
        if resumed is not None:
            for message in resumed:
                self.out.push(message)
            return
        sequencer = self.service.sequencer
        self.out.push(
            {
                "channel": "orders",
                "type": "snapshot",
                "account_seq": self.data.account_seq.get(account, 0),
                "orders": [
                    order_json(o, sequencer.codec) for o in sequencer.views.open_orders(account)
                ],  # fmt: skip
                "positions": {
                    p.symbol: p.quantity for p in sequencer.house.positions.positions_of(account)
                },
            }
        )

    def authenticate(self, message: dict[str, Any]) -> None:
        headers = {
            KEY_HEADER: str(message.get("key", "")),
            TIMESTAMP_HEADER: str(message.get("timestamp", "")),
            SIGNATURE_HEADER: str(message.get("signature", "")),
        }
        now_ms = int(self.service.clock() * 1000)
        try:
            self.key = check_signature(
                self.service.keys, headers, "GET", "/v1/ws", b"", now_ms, "read"
            )
        except AuthError as error:
            self.error(message.get("id"), error.code, error.detail)
            return
        self.out.push({"op": "authenticated", "account": self.key.account,
                       "scopes": sorted(self.key.scopes)})  # fmt: skip

    async def pipeline(self, message: dict[str, Any]) -> None:
        """Start a new order without waiting for its outcome: the next message is read at once
        (up to ``MAX_IN_FLIGHT`` orders at a time), so one socket fills the sequencer's batches.
        Orders reach the sequencer in the order they were read: each task queues its command
        before it first waits."""
        await self.slots.acquire()
        task = asyncio.ensure_future(self.trade(message))
        self.in_flight.add(task)
        task.add_done_callback(self._landed)

    def _landed(self, task: asyncio.Task[None]) -> None:
        self.in_flight.discard(task)
        self.slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("an order over the WebSocket failed", exc_info=task.exception())
            self.error(None, "internal", "the order could not be handled")

    async def drain(self) -> None:
        """Wait for the orders in flight: a cancel or cancel-all read after an order acts on
        it, as it would had the order been answered first."""
        if self.in_flight:
            await asyncio.wait(list(self.in_flight))

    async def trade(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        key = self.key
        if key is None or not ({"trade", "admin"} & key.scopes):
            self.error(request_id, "insufficient_scope", "order entry needs a trade key")
            return
        wait = self.service.limiter.check(key.key, "orders", self.service.clock())
        if wait > 0:
            self.error(request_id, "rate_limited", f"too many orders: retry in {wait:.3f} s")
            return
        op = message["op"]
        fields = {k: v for k, v in message.items() if k not in ("op", "id")}
        try:
            if op == "place_order":
                result = await self._place(key, fields)
            elif op == "cancel_order":
                result = await self._cancel(key, fields)
            else:
                result = await self._cancel_all(key, fields)
        except ApiError as error:
            self.error(request_id, error.reason, error.detail, error.field)
            return
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or None
            self.error(request_id, "invalid_field", str(first.get("msg")), field)
            return
        self.out.push({"op": "result", "id": request_id, **result})

    async def _place(self, key: ApiKey, fields: dict[str, Any]) -> dict[str, Any]:
        body = NewOrderBody.model_validate(fields)
        self.entered_orders = True
        client_order_id, command = new_order_command(key, body)
        outcome = await submit(self.service, command)
        return order_answer(self.service, key, client_order_id, outcome)

    async def _cancel_all(self, key: ApiKey, fields: dict[str, Any]) -> dict[str, Any]:
        """The key's own account's orders, of one contract if ``symbol`` is given: no other
        field is read (the account and the command are the key's, never the message's)."""
        unknown = sorted(set(fields) - {"symbol"})
        if unknown:
            raise ApiError(400, "invalid_field", "cancel_all takes only a symbol", unknown[0])
        command: dict[str, Any] = {"type": "cancel_all", "account": key.account}
        if "symbol" in fields:
            if not isinstance(fields["symbol"], str):
                raise ApiError(400, "invalid_field", "a contract symbol", "symbol")
            command["symbol"] = fields["symbol"]
        outcome = await submit(self.service, command)
        return {"events": outcome.events}

    async def _cancel(self, key: ApiKey, fields: dict[str, Any]) -> dict[str, Any]:
        views = self.service.sequencer.views
        order = None
        if isinstance(fields.get("order_id"), int):
            order = views.orders.get(fields["order_id"])
        elif isinstance(fields.get("client_order_id"), str):
            order = views.order_of(key.account, fields["client_order_id"])
        if order is None or order.account != key.account:
            raise ApiError(404, "unknown_order", "no such order of this account", "order_id")
        command = {"type": "cancel_order", "account": key.account,
                   "client_order_id": order.client_order_id, "symbol": order.symbol}  # fmt: skip
        outcome = await submit(self.service, command)
        return {"order": order_json(order, self.service.sequencer.codec),
                "events": outcome.events}  # fmt: skip


async def _writer(session: Session) -> None:
    while True:
        message = await session.out.queue.get()
        await session.socket.send_text(message if isinstance(message, str) else encoded(message))


async def _reader(session: Session) -> None:
    socket = session.socket
    while True:
        text = await socket.receive_text()
        if session.out.dropped:
            await socket.close(code=1008, reason="slow consumer: the queue overflowed")
            return
        if len(text) > MAX_MESSAGE:
            session.error(None, "message_too_large", f"at most {MAX_MESSAGE} characters")
            continue
        try:
            message = json.loads(text)
        except ValueError:
            session.error(None, "malformed_command", "not a JSON object")
            continue
        if not isinstance(message, dict):
            session.error(None, "malformed_command", "not a JSON object")
            continue
        await _dispatch(session, message)


async def _dispatch(session: Session, message: dict[str, Any]) -> None:
    op = message.get("op")
    if op == "ping":
        session.out.push({"op": "pong", "id": message.get("id")})
    elif op == "subscribe":
        session.subscribe(message)
    elif op == "unsubscribe":
        session.unsubscribe(message)
    elif op == "auth":
        session.authenticate(message)
    elif op == "place_order":
        await session.pipeline(message)
    elif op in ("cancel_order", "cancel_all"):
        await session.drain()
        await session.trade(message)
    elif op == "set" and isinstance(message.get("cancel_on_disconnect"), bool):
        session.cancel_on_disconnect = message["cancel_on_disconnect"]
        session.out.push({"op": "result", "id": message.get("id"),
                          "cancel_on_disconnect": session.cancel_on_disconnect})  # fmt: skip
    else:
        session.error(message.get("id"), "unknown_command", f"unknown op {op!r}", "op")


@router.websocket("/v1/ws")
async def websocket(socket: WebSocket) -> None:
    service: Service = socket.app.state.service
    data: MarketData = socket.app.state.market_data
    await socket.accept()
    session = Session(service, data, socket)
    writer = asyncio.create_task(_writer(session))
    try:
        await _reader(session)
    except WebSocketDisconnect:
        pass
    finally:
        for task in (writer, *session.tasks):
            task.cancel()
        with contextlib.suppress(Exception):  # orders in flight first, then cancel them
            await asyncio.wait_for(session.drain(), timeout=30)
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
        session.leave()
        if session.key is not None and session.entered_orders and session.cancel_on_disconnect:
            with contextlib.suppress(Exception):
                await service.sequencer.submit(
                    {"type": "cancel_all", "account": session.key.account}
                )
