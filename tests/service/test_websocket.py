"""The WebSocket against a real server: book snapshot and deltas with sequence numbers,
trades, the index channel, the private stream (auth, snapshot, resume from a sequence,
positions), order entry over the socket and cancel-on-disconnect."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tokenfutures.service.auth import sign

from .harness import Contract, Exchange, Trader

MakeTrader = Callable[[], Trader]
WAIT = 10.0


@contextmanager
def _socket(exchange: Exchange) -> Iterator[ClientConnection]:
    with connect(exchange.url.replace("http://", "ws://") + "/v1/ws") as socket:
        yield socket


def _send(socket: ClientConnection, message: dict[str, Any]) -> None:
    socket.send(json.dumps(message))


def _next(socket: ClientConnection, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The next message that ``match`` accepts (others are skipped), within ``WAIT`` seconds."""
    deadline = time.monotonic() + WAIT
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "no matching message in time"
        message: dict[str, Any] = json.loads(socket.recv(timeout=left))
        if match(message):
            return message


def _auth(socket: ClientConnection, trader: Trader) -> None:
    now = int(time.time() * 1000)
    signature = sign(trader.secret, now, "GET", "/v1/ws", b"")
    _send(socket, {"op": "auth", "key": trader.key, "timestamp": now, "signature": signature})
    reply = _next(socket, lambda m: m.get("op") in ("authenticated", "error"))
    assert reply["op"] == "authenticated", reply
    assert reply["account"] == trader.account


def _channel(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("channel") == name


def test_book_snapshot_then_deltas_chained_by_sequence(
    shared_exchange: Exchange, make_trader: MakeTrader, contract: Contract
) -> None:
    trader = make_trader()
    symbol = contract.symbol
    with _socket(shared_exchange) as socket:
        _send(socket, {"op": "subscribe", "channels": [f"book:{symbol}", f"trades:{symbol}"]})
        snapshot = _next(socket, _channel("book"))
        assert snapshot["type"] == "snapshot"
        assert snapshot["bids"] == snapshot["asks"] == []
        resting = trader.client.place_order(symbol, "buy", 3, contract.price(-1))
        added = _next(socket, _channel("book"))
        assert added["type"] == "delta"
        assert added["prev_seq"] == snapshot["seq"]
        assert added["bids"] == [[contract.price(-1), 3]]
        trader.client.place_order(symbol, "buy", 2, contract.price(-1))
        grown = _next(socket, _channel("book"))
        assert grown["prev_seq"] == added["seq"]
        assert grown["bids"] == [[contract.price(-1), 5]]  # absolute, not a change
        make_trader().client.place_order(symbol, "sell", 1, contract.price(-1))
        trade = _next(socket, _channel("trades"))
        assert (trade["price"], trade["quantity"], trade["aggressor"]) == (
            contract.price(-1),
            1,
            "sell",
        )
        after = _next(socket, _channel("book"))
        assert after["bids"] == [[contract.price(-1), 4]]
        trader.client.cancel_all(symbol)
        gone = _next(socket, _channel("book"))
        assert gone["prev_seq"] == after["seq"]
        assert gone["bids"] == [[contract.price(-1), 0]]  # 0 deletes the level
        assert resting["order_id"]


def test_private_stream_needs_auth_and_resumes_from_a_sequence(
    shared_exchange: Exchange, make_trader: MakeTrader, contract: Contract
) -> None:
    trader, other = make_trader(), make_trader()
    symbol = contract.symbol
    with _socket(shared_exchange) as socket:
        _send(socket, {"op": "subscribe", "channels": ["orders"], "id": 1})
        refused = _next(socket, lambda m: m.get("op") == "error")
        assert refused["error"]["reason"] == "unauthenticated"
        _auth(socket, trader)
        _send(socket, {"op": "subscribe", "channels": ["orders"]})
        snapshot = _next(socket, _channel("orders"))
        assert snapshot["type"] == "snapshot"
        assert snapshot["orders"] == []
        placed = trader.client.place_order(symbol, "sell", 2, contract.price(1))
        update = _next(socket, _channel("orders"))
        assert update["order"]["order_id"] == placed["order_id"]
        assert update["account_seq"] == snapshot["account_seq"] + 1
        other.client.place_order(symbol, "buy", 2, contract.price(1))
        fill = _next(socket, _channel("fills"))
        assert fill["fill"]["quantity"] == 2
        position = _next(socket, _channel("positions"))
        assert (position["symbol"], position["quantity"]) == (symbol, -2)
        last = position["account_seq"]
    with _socket(shared_exchange) as socket:  # resume: only what came after ``since``
        _auth(socket, trader)
        _send(socket, {"op": "subscribe", "channels": ["orders"], "since": update["account_seq"]})
        replayed = _next(socket, lambda m: "account_seq" in m)
        assert replayed["account_seq"] == update["account_seq"] + 1
        seen = [replayed]
        while seen[-1]["account_seq"] < last:
            seen.append(_next(socket, lambda m: "account_seq" in m))
        assert [m["account_seq"] for m in seen] == list(range(update["account_seq"] + 1, last + 1))


def test_order_entry_over_the_socket_and_cancel_on_disconnect(
    shared_exchange: Exchange, make_trader: MakeTrader, contract: Contract
) -> None:
    trader = make_trader()
    symbol = contract.symbol
    with _socket(shared_exchange) as socket:
        _auth(socket, trader)
        order = {"symbol": symbol, "side": "buy", "quantity": 2, "price": contract.price(-3)}
        _send(socket, {"op": "place_order", "id": 7, **order, "client_order_id": "ws-1"})
        result = _next(socket, lambda m: m.get("id") == 7)
        assert result["op"] == "result", result
        assert result["order"]["status"] == "new"
        _send(socket, {"op": "place_order", "id": 8, **order, "quantity": 0})
        refused = _next(socket, lambda m: m.get("id") == 8)
        assert refused["op"] == "error"
        assert refused["error"]["field"] == "quantity"
        assert [o["client_order_id"] for o in trader.client.orders()] == ["ws-1"]
    deadline = time.monotonic() + WAIT
    while trader.client.orders() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert trader.client.orders() == []  # cancelled when the socket closed
    ended = trader.client.get_order(client_order_id="ws-1")
    assert ended["status"] == "cancelled"


def test_cancel_on_disconnect_can_be_turned_off(
    shared_exchange: Exchange, make_trader: MakeTrader, contract: Contract
) -> None:
    trader = make_trader()
    with _socket(shared_exchange) as socket:
        _auth(socket, trader)
        _send(socket, {"op": "set", "id": 1, "cancel_on_disconnect": False})
        assert _next(socket, lambda m: m.get("id") == 1)["cancel_on_disconnect"] is False
        order = {"symbol": contract.symbol, "side": "sell", "quantity": 1}
        _send(socket, {"op": "place_order", "id": 2, **order, "price": contract.price(4)})
        assert _next(socket, lambda m: m.get("id") == 2)["op"] == "result"
    time.sleep(0.5)
    assert len(trader.client.orders()) == 1


def test_index_channel_starts_with_the_latest_fixings(shared_exchange: Exchange) -> None:
    with _socket(shared_exchange) as socket:
        _send(socket, {"op": "subscribe", "channels": ["index"]})
        snapshot = _next(socket, _channel("index"))
    assert snapshot["type"] == "snapshot"
    codes = {f["index"] for f in snapshot["fixings"]}
    assert {"TKN", "GPU-H100"} <= codes
    assert all(set(f) >= {"date", "value", "quality"} for f in snapshot["fixings"])


def test_unknown_channels_and_ops_are_refused_by_name(shared_exchange: Exchange) -> None:
    with _socket(shared_exchange) as socket:
        _send(socket, {"op": "subscribe", "channels": ["book:NOPE"], "id": 1})
        assert _next(socket, lambda m: m.get("id") == 1)["error"]["field"] == "channels"
        _send(socket, {"op": "fly", "id": 2})
        assert _next(socket, lambda m: m.get("id") == 2)["error"]["reason"] == "unknown_command"
        socket.send("not json")
        assert _next(socket, lambda m: m.get("op") == "error")["error"]["reason"] == (
            "malformed_command"
        )
        _send(socket, {"op": "place_order", "id": 3})
        assert _next(socket, lambda m: m.get("id") == 3)["error"]["reason"] == (
            "insufficient_scope"
        )


def test_orders_sent_back_to_back_are_sequenced_in_the_order_sent(
    shared_exchange: Exchange, make_trader: MakeTrader, contract: Contract
) -> None:
    trader = make_trader()
    with _socket(shared_exchange) as socket:
        _auth(socket, trader)
        for n in range(30):  # not waiting for answers: the socket pipelines them
            order = {"symbol": contract.symbol, "side": "buy", "quantity": 1,
                     "price": contract.price(-5 - n % 3), "client_order_id": f"p-{n}"}  # fmt: skip
            _send(socket, {"op": "place_order", "id": n, **order})
        _send(socket, {"op": "cancel_order", "id": 100, "client_order_id": "p-29"})
        answers = {}
        while len(answers) < 31:
            message = _next(socket, lambda m: m.get("op") in ("result", "error"))
            answers[message["id"]] = message
        assert all(m["op"] == "result" for m in answers.values()), answers
        order_ids = [answers[n]["order"]["order_id"] for n in range(30)]
        assert order_ids == sorted(order_ids)  # sequenced in the order sent
        assert answers[100]["order"]["client_order_id"] == "p-29"  # the cancel saw the order
        _send(socket, {"op": "set", "id": 101, "cancel_on_disconnect": False})
        _next(socket, lambda m: m.get("id") == 101)
    assert len(trader.client.orders()) == 29


def test_unsubscribe_stops_a_channel(
    shared_exchange: Exchange, make_trader: MakeTrader, contract: Contract
) -> None:
    trader = make_trader()
    symbol = contract.symbol
    with _socket(shared_exchange) as socket:
        _send(socket, {"op": "subscribe", "channels": [f"book:{symbol}", f"trades:{symbol}"]})
        _next(socket, _channel("book"))
        _send(socket, {"op": "unsubscribe", "id": 5, "channels": [f"book:{symbol}"]})
        assert _next(socket, lambda m: m.get("id") == 5)["op"] == "unsubscribed"
        trader.client.place_order(symbol, "buy", 1, contract.price(-1))
        make_trader().client.place_order(symbol, "sell", 1, contract.price(-1))
        trade = _next(socket, lambda m: m.get("channel") in ("book", "trades"))
        assert trade["channel"] == "trades"  # no book message came before it
        _send(socket, {"op": "ping", "id": 6})
        assert _next(socket, lambda m: m.get("channel") == "book" or m.get("id") == 6)["id"] == 6


def test_a_book_changed_while_nobody_listened_is_current_in_the_snapshot(
    shared_exchange: Exchange, make_trader: MakeTrader, contract: Contract
) -> None:
    trader = make_trader()
    symbol = contract.symbol
    trader.client.place_order(symbol, "sell", 4, contract.price(3))
    with _socket(shared_exchange) as socket:
        _send(socket, {"op": "subscribe", "channels": [f"book:{symbol}"]})
        first = _next(socket, _channel("book"))
        assert first["asks"] == [[contract.price(3), 4]]
        _send(socket, {"op": "unsubscribe", "channels": [f"book:{symbol}"]})
        trader.client.place_order(symbol, "sell", 1, contract.price(3))
        trader.client.place_order(symbol, "buy", 2, contract.price(-3))
        _send(socket, {"op": "subscribe", "channels": [f"book:{symbol}"]})
        again = _next(socket, lambda m: m.get("channel") == "book" and m["type"] == "snapshot")
    assert again["asks"] == [[contract.price(3), 5]]
    assert again["bids"] == [[contract.price(-3), 2]]
    assert again["seq"] > first["seq"]


def test_cancel_all_over_the_socket_acts_only_on_the_key_s_own_account(
    shared_exchange: Exchange, make_trader: MakeTrader, contract: Contract
) -> None:
    attacker, victim = make_trader(), make_trader()
    victim.client.place_order(contract.symbol, "buy", 1, contract.price(-4))
    cash = attacker.client.balances()["cash"]
    with _socket(shared_exchange) as socket:
        _auth(socket, attacker)
        forged = [
            {"account": victim.account},
            {"type": "deposit", "account": attacker.account, "amount": "5000000.00"},
            {"symbol": 7},
        ]
        for n, fields in enumerate(forged):
            _send(socket, {"op": "cancel_all", "id": n, **fields})
            refused = _next(socket, lambda m, n=n: m.get("id") == n)
            assert refused["op"] == "error", refused
            assert refused["error"]["reason"] == "invalid_field"
        _send(socket, {"op": "cancel_all", "id": 9, "symbol": contract.symbol})
        assert _next(socket, lambda m: m.get("id") == 9)["op"] == "result"
    assert len(victim.client.orders()) == 1
    assert attacker.client.balances()["cash"] == cash
