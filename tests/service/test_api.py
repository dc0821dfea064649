"""The HTTP API through ``tokenfutures.client.Client`` against a real server: the order
lifecycle, idempotent retries by client order id, refusals (4xx JSON naming the field, and
nothing changed), public market data without a key."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tokenfutures.client import ApiError

from .harness import Contract, Exchange, Trader, error_of, raw_request

MakeTrader = Callable[[], Trader]


def _refusal(call: Callable[[], Any]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call()
    return caught.value


def _snapshot(trader: Trader, contract: Contract) -> dict[str, Any]:
    client = trader.client
    book = client.book(contract.symbol)
    return {
        "bids": book["bids"],
        "asks": book["asks"],
        "balances": client.balances(),
        "orders": client.orders("all"),
        "positions": client.positions(),
        "trades": client.trades(contract.symbol),
    }


# --- public market data ------------------------------------------------------------------


def test_public_endpoints_need_no_key(shared_exchange: Exchange, contract: Contract) -> None:
    public = shared_exchange.client()  # no key, no secret: nothing is signed
    instruments = public.instruments()
    listed = {i["symbol"]: i for i in instruments}
    assert contract.symbol in listed
    spec = listed[contract.symbol]
    for name in ("tick_size", "lot_size", "contract_size", "last_trading_day", "underlying"):
        assert spec[name] not in (None, ""), name
    book = public.book(contract.symbol)
    assert set(book) == {"symbol", "seq", "bids", "asks"}
    assert book["symbol"] == contract.symbol
    assert public.trades(contract.symbol) == []
    for path in ("/v1/settlements", "/openapi.json"):
        assert httpx.get(shared_exchange.url + path).status_code == 200, path


def test_unknown_symbol_in_market_data_is_404(shared_exchange: Exchange) -> None:
    for path in ("/v1/book/NOPE9999", "/v1/trades/NOPE9999"):
        response = httpx.get(shared_exchange.url + path)
        assert response.status_code == 404, path
        assert error_of(response)["reason"] == "unknown_symbol"
        assert error_of(response)["field"] == "symbol"


# --- the order lifecycle -----------------------------------------------------------------


def test_order_lifecycle(make_trader: MakeTrader, contract: Contract) -> None:
    alice, bob = make_trader(), make_trader()
    a, b, symbol = alice.client, bob.client, contract.symbol

    placed = a.place_order(symbol, "buy", 5, contract.price(-2), client_order_id="life-1")
    assert placed["duplicate"] is False
    assert placed["status"] == "new"
    assert placed["ccxt_status"] == "open"
    assert (placed["quantity"], placed["filled_quantity"], placed["leaves_quantity"]) == (5, 0, 5)
    assert placed["price"] == contract.price(-2)
    assert placed["account"] == alice.account
    order_id = placed["order_id"]

    by_id = a.get_order(order_id=order_id)
    assert by_id == a.get_order(client_order_id="life-1")
    assert by_id["order_id"] == order_id
    assert by_id["client_order_id"] == "life-1"
    assert [o["order_id"] for o in a.orders("open")] == [order_id]
    assert a.book(symbol)["bids"] == [[contract.price(-2), 5]]

    # FIX amend: lower the quantity, then move the price
    amended = a.amend_order(order_id=order_id, quantity=3)
    assert (amended["quantity"], amended["leaves_quantity"]) == (3, 3)
    amended = a.amend_order(client_order_id="life-1", price=contract.price(-1))
    assert amended["price"] == contract.price(-1)
    assert a.book(symbol)["bids"] == [[contract.price(-1), 3]]

    # bob sells 2 into alice's bid
    sold = b.place_order(symbol, "sell", 2, contract.price(-1), client_order_id="life-2")
    assert sold["status"] == "filled"
    assert sold["filled_quantity"] == 2
    assert Decimal(sold["average_price"]) == Decimal(contract.price(-1))
    mine = a.get_order(order_id=order_id)
    assert mine["status"] == "partially_filled"
    assert (mine["filled_quantity"], mine["leaves_quantity"]) == (2, 1)
    assert a.book(symbol)["bids"] == [[contract.price(-1), 1]]

    (fill,) = a.fills()
    assert (fill["order_id"], fill["side"], fill["quantity"]) == (order_id, "buy", 2)
    assert (fill["price"], fill["liquidity"]) == (contract.price(-1), "maker")
    (their_fill,) = b.fills()
    assert (their_fill["side"], their_fill["liquidity"]) == ("sell", "taker")
    assert their_fill["trade_id"] == fill["trade_id"]
    (trade,) = a.trades(symbol)
    assert (trade["trade_id"], trade["quantity"], trade["aggressor"]) == (
        fill["trade_id"],
        2,
        "sell",
    )

    assert [(p["symbol"], p["quantity"]) for p in a.positions()] == [(symbol, 2)]
    assert [(p["symbol"], p["quantity"]) for p in b.positions()] == [(symbol, -2)]
    balances = a.balances()
    assert balances["account"] == alice.account
    assert Decimal(balances["initial_margin"]) > 0
    assert Decimal(balances["cash"]) == Decimal("1000000.00") - Decimal(fill["fee"])

    cancelled = a.cancel_order(client_order_id="life-1")
    assert cancelled["status"] == "cancelled"
    assert cancelled["leaves_quantity"] == 0
    assert cancelled["filled_quantity"] == 2
    assert a.book(symbol)["bids"] == []
    assert a.orders("open") == []
    assert [o["status"] for o in a.orders("all")] == ["cancelled"]


def test_cancel_all_by_contract_then_everything(
    make_trader: MakeTrader, contract_pool: list[Contract], contract: Contract
) -> None:
    other = contract_pool.pop(0)
    trader = make_trader()
    client = trader.client
    here = [client.place_order(contract.symbol, "buy", 1, contract.price(-3 - i)) for i in range(2)]
    there = client.place_order(other.symbol, "sell", 1, other.price(3))

    cancelled = client.cancel_all(contract.symbol)
    assert sorted(cancelled) == sorted(o["order_id"] for o in here)
    assert [o["order_id"] for o in client.orders("open")] == [there["order_id"]]
    assert client.book(contract.symbol)["bids"] == []

    assert client.cancel_all() == [there["order_id"]]
    assert client.orders("open") == []
    assert client.cancel_all() == []


def test_cancel_all_after_cancels_unless_switched_off(
    make_trader: MakeTrader, contract: Contract
) -> None:
    client = make_trader().client
    kept = client.place_order(contract.symbol, "buy", 1, contract.price(-2))
    assert client.cancel_all_after(1000) == {"armed": True, "timeout_ms": 1000}
    assert client.cancel_all_after(0) == {"armed": False}
    time.sleep(1.3)
    assert client.get_order(order_id=kept["order_id"])["status"] == "new"

    assert client.cancel_all_after(200)["armed"] is True
    deadline = time.monotonic() + 5.0
    while client.orders("open") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.orders("open") == []
    assert client.get_order(order_id=kept["order_id"])["reason"] == "cancel_all"


# --- idempotency -------------------------------------------------------------------------


def test_retry_with_the_same_client_order_id_is_one_order(
    make_trader: MakeTrader, contract: Contract
) -> None:
    client = make_trader().client
    first = client.place_order(contract.symbol, "buy", 4, contract.price(-1), client_order_id="r1")
    again = client.place_order(contract.symbol, "buy", 4, contract.price(-1), client_order_id="r1")
    assert first["duplicate"] is False
    assert again["duplicate"] is True
    assert {k: v for k, v in again.items() if k != "duplicate"} == {
        k: v for k, v in first.items() if k != "duplicate"
    }
    # a retry that differs gets the original order too, never a second one
    changed = client.place_order(
        contract.symbol, "buy", 9, contract.price(-2), client_order_id="r1"
    )
    assert changed["duplicate"] is True
    assert changed["order_id"] == first["order_id"]
    assert changed["quantity"] == 4
    assert changed["price"] == contract.price(-1)

    assert [o["client_order_id"] for o in client.orders("all")] == ["r1"]
    assert client.book(contract.symbol)["bids"] == [[contract.price(-1), 4]]


def test_retry_of_a_refused_order_gets_the_same_refusal(
    make_trader: MakeTrader, contract: Contract
) -> None:
    client = make_trader().client
    symbol = contract.symbol
    # refused by the engine (daily price limits): journaled, so a retry gets the original
    # refusal, even with the price corrected (the client order id is spent for the day)
    outside = _refusal(
        lambda: client.place_order(symbol, "buy", 1, contract.above_limit(), client_order_id="x1")
    )
    assert (outside.status, outside.reason, outside.field) == (400, "price_outside_limit", "price")
    for price in (contract.above_limit(), contract.price(0)):
        retry = _refusal(
            lambda p=price: client.place_order(symbol, "buy", 1, p, client_order_id="x1")
        )
        assert (retry.status, retry.reason, retry.field, retry.detail) == (
            outside.status,
            outside.reason,
            outside.field,
            outside.detail,
        )
    # refused on reading (price off the tick): the same answer again
    off = _refusal(
        lambda: client.place_order(symbol, "buy", 1, contract.off_tick(), client_order_id="x2")
    )
    again = _refusal(
        lambda: client.place_order(symbol, "buy", 1, contract.off_tick(), client_order_id="x2")
    )
    assert (off.status, off.reason, off.field) == (400, "price_not_on_tick", "price")
    assert (again.status, again.reason, again.field) == (off.status, off.reason, off.field)

    assert client.orders("all") == []
    missing = _refusal(lambda: client.get_order(client_order_id="x1"))
    assert missing.status == 404
    assert client.book(symbol)["bids"] == []


# --- refusals ----------------------------------------------------------------------------

ORDER = {"side": "buy", "quantity": 1}


def _case_body(contract: Contract, case: str) -> dict[str, Any] | bytes:
    base = {"symbol": contract.symbol, **ORDER, "price": contract.price(-1)}
    return {
        "off_tick": base | {"price": contract.off_tick()},
        "unknown_symbol": base | {"symbol": "NOPE9999"},
        "above_max_quantity": base | {"quantity": contract.max_quantity + 1},
        "extra_field": base | {"leverage": 100},
        "quantity_as_text": base | {"quantity": "1"},
        "price_as_number": base | {"price": 2.5},
        "bad_side": base | {"side": "hold"},
        "zero_quantity": base | {"quantity": 0},
        "bad_json": b'{"symbol": "' + contract.symbol.encode() + b'", "side": ',
    }[case]


REFUSALS = {
    # case: (status, reason, field, journaled)
    "off_tick": (400, "price_not_on_tick", "price", False),
    "unknown_symbol": (404, "unknown_symbol", "symbol", False),
    "above_max_quantity": (400, "quantity_above_maximum", "quantity", True),
    "extra_field": (422, "invalid_field", "leverage", False),
    "quantity_as_text": (422, "invalid_field", "quantity", False),
    "price_as_number": (422, "invalid_field", "price", False),
    "bad_side": (422, "invalid_field", "side", False),
    "zero_quantity": (422, "invalid_field", "quantity", False),
    "bad_json": (422, "invalid_field", None, False),  # no field: a character offset is not one
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusal_is_4xx_json_naming_the_field_and_changes_nothing(
    shared_exchange: Exchange, make_trader: MakeTrader, shared_contract: Contract, case: str
) -> None:
    contract = shared_contract  # each case has its own account and snapshot
    trader = make_trader()
    resting = trader.client.place_order(contract.symbol, "sell", 2, contract.price(5))
    before = _snapshot(trader, contract)
    seq_before = shared_exchange.journal_last_seq()

    body = _case_body(contract, case)
    response = raw_request(
        shared_exchange.url,
        "POST",
        "/v1/orders",
        body=None if isinstance(body, bytes) else body,
        content=body if isinstance(body, bytes) else None,
        key=trader.key,
        secret=trader.secret,
    )

    status, reason, field, journaled = REFUSALS[case]
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["reason"] == reason, error
    if field is not None:
        assert error["field"] == field, error
    assert error["detail"], error
    if not journaled:  # refused on reading: never written to the journal
        assert shared_exchange.journal_last_seq() == seq_before
    after = _snapshot(trader, contract)
    assert after == before
    assert trader.client.get_order(order_id=resting["order_id"])["status"] == "new"


def test_refused_amend_changes_nothing(make_trader: MakeTrader, contract: Contract) -> None:
    client = make_trader().client
    placed = client.place_order(contract.symbol, "buy", 3, contract.price(-2), client_order_id="a")
    cases = [
        ({"price": contract.off_tick()}, 400, "price_not_on_tick", "price"),
        ({"price": contract.above_limit()}, 400, "price_outside_limit", "price"),
    ]
    for change, status, reason, field in cases:
        error = _refusal(lambda c=change: client.amend_order(order_id=placed["order_id"], **c))
        assert (error.status, error.reason, error.field) == (status, reason, field), change
    for body, field in (({"quantity": 0}, "quantity"), ({"quantity": 2, "side": "sell"}, "side")):
        error = _refusal(
            lambda b=body: client.request("PATCH", f"/v1/orders/{placed['order_id']}", b)
        )
        assert (error.status, error.field) == (422, field), body
    unchanged = client.get_order(order_id=placed["order_id"])
    assert unchanged == {k: v for k, v in placed.items() if k != "duplicate"}
    assert client.book(contract.symbol)["bids"] == [[contract.price(-2), 3]]


def test_unknown_order_ids_are_404(make_trader: MakeTrader) -> None:
    client = make_trader().client
    calls: list[Callable[[], Any]] = [
        lambda: client.get_order(order_id=987_654_321),
        lambda: client.get_order(client_order_id="never-sent"),
        lambda: client.amend_order(order_id=987_654_321, quantity=1),
        lambda: client.amend_order(client_order_id="never-sent", quantity=1),
        lambda: client.cancel_order(order_id=987_654_321),
        lambda: client.cancel_order(client_order_id="never-sent"),
    ]
    for call in calls:
        error = _refusal(call)
        assert (error.status, error.reason) == (404, "unknown_order")


# --- found in review, fixed: each test pins the fix ------------------------------------------

URL_UNSAFE_IDS = ["x?y", "a#b", "%41", "a/b"]


@pytest.mark.parametrize("client_order_id", URL_UNSAFE_IDS)
def test_client_order_ids_that_cannot_travel_in_a_path_are_refused(
    make_trader: MakeTrader, shared_contract: Contract, client_order_id: str
) -> None:
    contract = shared_contract
    client = make_trader().client
    with pytest.raises(ApiError) as refused:
        client.place_order(
            contract.symbol, "buy", 1, contract.price(-4), client_order_id=client_order_id
        )
    assert (refused.value.status, refused.value.field) == (422, "client_order_id")
    assert client.orders() == []


def test_every_accepted_client_order_id_is_reachable_by_it(
    make_trader: MakeTrader, shared_contract: Contract
) -> None:
    contract = shared_contract
    client = make_trader().client
    client_order_id = "A.b_c:d~e-1"
    placed = client.place_order(
        contract.symbol, "buy", 1, contract.price(-4), client_order_id=client_order_id
    )
    assert client.get_order(client_order_id=client_order_id)["order_id"] == placed["order_id"]
    assert client.cancel_order(client_order_id=client_order_id)["status"] == "cancelled"


def test_malformed_json_names_no_bogus_field(
    shared_exchange: Exchange, make_trader: MakeTrader, shared_contract: Contract
) -> None:
    trader = make_trader()
    content = _case_body(shared_contract, "bad_json")
    assert isinstance(content, bytes)
    response = raw_request(
        shared_exchange.url,
        "POST",
        "/v1/orders",
        content=content,
        key=trader.key,
        secret=trader.secret,
    )
    assert response.status_code == 422
    assert error_of(response)["field"] in (None, "body")


def test_concurrent_sandbox_sign_ups_all_succeed(exchange: Exchange) -> None:
    async def sign_up(count: int) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=exchange.url, timeout=10) as http:
            calls = [http.post("/v1/sandbox/accounts", json={}) for _ in range(count)]
            return list(await asyncio.gather(*calls))

    responses = asyncio.run(asyncio.wait_for(sign_up(6), timeout=30))
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]


def test_concurrent_sign_ups_for_one_name_get_one_account_and_409s(
    shared_exchange: Exchange,
) -> None:
    name = f"same-{uuid.uuid4().hex[:8]}"

    async def sign_up(count: int) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=shared_exchange.url, timeout=10) as http:
            calls = [
                http.post("/v1/sandbox/accounts", json={"account": name}) for _ in range(count)
            ]
            return list(await asyncio.gather(*calls))

    responses = asyncio.run(asyncio.wait_for(sign_up(8), timeout=30))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7, [
        r.text for r in responses
    ]


def test_whoami_names_the_key_s_account_and_scopes(make_trader: MakeTrader) -> None:
    trader = make_trader()
    assert trader.client.whoami() == {
        "account": trader.account,
        "key": trader.key,
        "scopes": ["read", "trade"],
    }
