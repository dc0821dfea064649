"""Who may call what: every endpoint x {no key, bad signature, stale timestamp, revoked key,
read key, trade key, admin key} against a real server; object-level authorisation (another
account's order is simply not found); new keys are read-only; per-key rate limits."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tokenfutures.client import ApiError

from .harness import Contract, Exchange, Trader, contracts, error_of, raw_request

MakeTrader = Callable[[], Trader]
OK = frozenset({200, 201})


@dataclass
class Principal:
    """One account with a sandbox read/trade key (``owner``, used to set up and check) and
    keys of each kind made with ``tokenfutures keys``."""

    account: str
    owner: Trader
    keys: dict[str, tuple[str, str]]  # mode -> (key, secret)
    contract: Contract


@pytest.fixture(scope="module")
def principal(shared_exchange: Exchange, contract_pool: list[Contract]) -> Principal:
    owner = shared_exchange.account()
    account = owner.account
    keys: dict[str, tuple[str, str]] = {}
    for mode, scopes in (("read", None), ("trade", "trade"), ("admin", "admin")):
        made = shared_exchange.create_key(account, scopes)
        assert made["scopes"] == [scopes or "read"]
        keys[mode] = (made["key"], made["secret"])
    revoked = shared_exchange.create_key(account, "read,trade,admin")
    shared_exchange.revoke_key(revoked["key"])
    keys["revoked"] = (revoked["key"], revoked["secret"])
    keys["unknown"] = ("tfk_" + "x" * 24, "not-a-secret")
    trade_key, _ = keys["trade"]
    keys["bad_signature"] = (trade_key, "the-wrong-secret")
    keys["stale"] = keys["trade"]
    keys["future"] = keys["trade"]
    return Principal(account, owner, keys, contract_pool.pop(0))


# --- the matrix ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # {order_id} / {client_order_id}: a fresh live order of the principal
    scope: str | None  # None: public
    body: Callable[[Principal], Any] | None = None
    allowed: frozenset[int] = OK  # the status when the key may call it


def _new_order(p: Principal) -> dict[str, Any]:
    return {
        "symbol": p.contract.symbol,
        "side": "buy",
        "quantity": 1,
        "price": p.contract.price(-5),
        "client_order_id": f"m-{uuid.uuid4().hex[:12]}",
    }


ENDPOINTS = [
    Endpoint("GET", "/v1/instruments", None),
    Endpoint("GET", "/v1/book/{symbol}", None),
    Endpoint("GET", "/v1/trades/{symbol}", None),
    Endpoint("GET", "/v1/settlements", None),
    Endpoint("GET", "/v1/tickers", None),
    Endpoint("GET", "/v1/candles/{symbol}", None),
    Endpoint("GET", "/v1/indices", None),
    Endpoint("GET", "/v1/indices/{index}/history?days=5", None),
    Endpoint("GET", "/v1/indices/{index}/fixings/{day}", None),
    Endpoint("GET", "/v1/orders", "read"),
    Endpoint("GET", "/v1/orders?status=all", "read"),
    Endpoint("GET", "/v1/orders/{order_id}", "read"),
    Endpoint("GET", "/v1/orders/by-client-id/{client_order_id}", "read"),
    Endpoint("GET", "/v1/fills?limit=5", "read"),
    Endpoint("GET", "/v1/positions", "read"),
    Endpoint("GET", "/v1/balances", "read"),
    Endpoint("GET", "/v1/whoami", "read"),
    Endpoint("GET", "/v1/statements/{day}", "read", allowed=frozenset({404})),  # none that day
    Endpoint("POST", "/v1/orders", "trade", _new_order),
    Endpoint("PATCH", "/v1/orders/{order_id}", "trade", lambda p: {"quantity": 2}),
    Endpoint(
        "PATCH",
        "/v1/orders/by-client-id/{client_order_id}",
        "trade",
        lambda p: {"price": p.contract.price(-6)},
    ),
    Endpoint("DELETE", "/v1/orders/{order_id}", "trade"),
    Endpoint("DELETE", "/v1/orders/by-client-id/{client_order_id}", "trade"),
    Endpoint("POST", "/v1/orders/cancel-all", "trade", lambda p: {"symbol": p.contract.symbol}),
    Endpoint("POST", "/v1/cancel-all-after", "trade", lambda p: {"timeout_ms": 0}),
    Endpoint("GET", "/v1/admin/accounts", "admin"),
    Endpoint("POST", "/v1/admin/snapshot", "admin"),
    Endpoint(
        "POST",
        "/v1/admin/commands",
        "admin",
        lambda p: {"type": "add_member", "member": f"M{uuid.uuid4().hex[:10]}"},
    ),
    Endpoint(  # the daily cycle is off on this server: an admin gets 404 not_found
        "POST", "/v1/admin/cycle", "admin", lambda p: {"step": "open"}, frozenset({404})
    ),
    # destructive for the shared market when allowed: only refusals are sent (see below)
    Endpoint("POST", "/v1/admin/kill-switch", "admin"),
    Endpoint("POST", "/v1/admin/halt", "admin", lambda p: {"symbol": p.contract.symbol}),
    Endpoint("POST", "/v1/admin/end-of-day", "admin", lambda p: {"date": "2026-01-05"}),
]
DESTRUCTIVE = {"/v1/admin/kill-switch", "/v1/admin/halt", "/v1/admin/end-of-day"}
MODES = ["none", "bad_signature", "stale", "future", "unknown", "revoked", "read", "trade", "admin"]
GRANTS = {"read": {"read"}, "trade": {"read", "trade"}, "admin": {"read", "trade", "admin"}}
UNAUTHENTICATED = {  # mode -> the 401 reason
    "none": "missing_header",
    "bad_signature": "bad_signature",
    "stale": "stale_timestamp",
    "future": "stale_timestamp",
    "unknown": "unknown_key",
    "revoked": "unknown_key",
}


def _expected(endpoint: Endpoint, mode: str) -> tuple[frozenset[int], str | None]:
    """The statuses allowed for ``mode`` on ``endpoint`` and the error reason, if any."""
    if endpoint.scope is None:
        return OK, None
    if mode in UNAUTHENTICATED:
        return frozenset({401}), UNAUTHENTICATED[mode]
    if endpoint.scope in GRANTS[mode]:
        return endpoint.allowed, None
    return frozenset({403}), "insufficient_scope"


CASES = [
    pytest.param(e, m, id=f"{m}-{e.method}-{e.path}")
    for e, m in itertools.product(ENDPOINTS, MODES)
    if not (e.path in DESTRUCTIVE and m == "admin")
]


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


@pytest.mark.parametrize(("endpoint", "mode"), CASES)
def test_authorisation_matrix(
    shared_exchange: Exchange,
    principal: Principal,
    http: httpx.Client,
    endpoint: Endpoint,
    mode: str,
) -> None:
    owner = principal.owner.client
    live = None
    path = endpoint.path.replace("{symbol}", principal.contract.symbol)
    path = path.replace("{day}", "2026-01-05").replace("{index}", "TKN-OPEN")
    if "{order_id}" in path or "{client_order_id}" in path:
        live = owner.place_order(**_new_order(principal))
        path = path.replace("{order_id}", str(live["order_id"]))
        path = path.replace("{client_order_id}", live["client_order_id"])
    body = None if endpoint.body is None else endpoint.body(principal)
    if mode == "none":
        key = secret = None
    else:
        key, secret = principal.keys[mode]
    skew = {"stale": -6_000, "future": 6_000}.get(mode, 0)
    response = raw_request(
        shared_exchange.url,
        endpoint.method,
        path,
        body,
        key=key,
        secret=secret,
        skew_ms=skew,
        http=http,
    )

    statuses, reason = _expected(endpoint, mode)
    assert response.status_code in statuses, response.text
    if reason is not None:
        assert error_of(response)["reason"] == reason
    if live is not None and response.status_code not in OK:  # a refusal changed nothing
        now = owner.get_order(order_id=live["order_id"])
        assert now == {k: v for k, v in live.items() if k != "duplicate"}


def test_every_route_is_in_the_matrix(shared_exchange: Exchange) -> None:
    """A new route must be added to the matrix (and so get an authorisation decision)."""
    spec = httpx.get(shared_exchange.url + "/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    covered = {(e.method, e.path.split("?")[0]) for e in ENDPOINTS}
    covered.add(("POST", "/v1/sandbox/accounts"))  # public, sandbox only
    assert routes - covered == set()


def test_admin_halt_and_kill_switch(exchange: Exchange) -> None:
    """The destructive admin routes the matrix only refuses, on a server of their own."""
    listed = contracts(exchange.url)
    first, second = listed[0], listed[1]
    traders = [exchange.account(), exchange.account()]
    admin = exchange.trader(traders[0].account, exchange.create_key(traders[0].account, "admin"))
    live = [
        t.client.place_order(c.symbol, "buy", 1, c.price(-1)) for t in traders for c in listed[:2]
    ]

    halted = admin.client.request("POST", "/v1/admin/halt", {"symbol": first.symbol})
    assert [e["phase"] for e in halted["events"]] == ["halted"]
    with pytest.raises(ApiError) as caught:
        traders[1].client.place_order(first.symbol, "buy", 1, first.price(-1))
    assert (caught.value.status, caught.value.reason) == (400, "instrument_halted")
    assert traders[1].client.place_order(second.symbol, "buy", 1, second.price(-2))

    admin.client.request("POST", "/v1/admin/kill-switch")
    phases = {i["symbol"]: i["phase"] for i in exchange.client().instruments()}
    assert set(phases.values()) == {"halted"}
    for t in traders:
        assert t.client.orders("open") == []
    for order in live[:2]:
        assert traders[0].client.get_order(order_id=order["order_id"])["status"] == "cancelled"


# --- object-level authorisation ------------------------------------------------------------


def test_another_accounts_order_is_not_found(make_trader: MakeTrader, contract: Contract) -> None:
    alice, mallory = make_trader(), make_trader()
    hers = alice.client.place_order(
        contract.symbol, "buy", 2, contract.price(-1), client_order_id="hers"
    )
    thief = mallory.client
    attempts: list[Callable[[], Any]] = [
        lambda: thief.get_order(order_id=hers["order_id"]),
        lambda: thief.get_order(client_order_id="hers"),
        lambda: thief.amend_order(order_id=hers["order_id"], quantity=1),
        lambda: thief.amend_order(client_order_id="hers", price=contract.price(-2)),
        lambda: thief.cancel_order(order_id=hers["order_id"]),
        lambda: thief.cancel_order(client_order_id="hers"),
    ]
    for attempt in attempts:
        with pytest.raises(ApiError) as caught:
            attempt()
        assert (caught.value.status, caught.value.reason) == (404, "unknown_order")
    assert thief.cancel_all() == []
    assert thief.orders("all") == []
    assert thief.fills() == []
    assert thief.positions() == []
    mine = alice.client.get_order(order_id=hers["order_id"])
    assert mine == {k: v for k, v in hers.items() if k != "duplicate"}


def test_new_keys_are_read_only_unless_granted(
    shared_exchange: Exchange, make_trader: MakeTrader, contract: Contract
) -> None:
    account = make_trader().account
    plain = shared_exchange.create_key(account)  # `tokenfutures keys create` with no --scopes
    assert plain["scopes"] == ["read"]
    reader = shared_exchange.trader(account, plain).client
    assert reader.balances()["account"] == account
    with pytest.raises(ApiError) as caught:
        reader.place_order(contract.symbol, "buy", 1, contract.price(-1))
    assert (caught.value.status, caught.value.reason) == (403, "insufficient_scope")
    assert reader.orders("all") == []

    granted = shared_exchange.create_key(account, "read,trade")
    trader = shared_exchange.trader(account, granted).client
    placed = trader.place_order(contract.symbol, "buy", 1, contract.price(-1))
    assert reader.get_order(order_id=placed["order_id"])["status"] == "new"


def test_revoking_a_key_takes_effect_on_the_next_request(
    shared_exchange: Exchange, make_trader: MakeTrader
) -> None:
    account = make_trader().account
    made = shared_exchange.create_key(account, "read")
    client = shared_exchange.trader(account, made).client
    assert client.balances()["account"] == account
    shared_exchange.revoke_key(made["key"])  # another process, same file
    with pytest.raises(ApiError) as caught:
        client.balances()
    assert (caught.value.status, caught.value.reason) == (401, "unknown_key")


# --- rate limits ---------------------------------------------------------------------------

QUERY_BURST = 40  # service/ratelimit.py DEFAULT_BUDGETS["queries"]


def _burst_until_429(
    trader: Trader, *, limit: int = 200, seconds: float = 15.0
) -> tuple[int, ApiError]:
    deadline = time.monotonic() + seconds
    for sent in range(limit):
        if time.monotonic() > deadline:
            break
        try:
            trader.client.balances()
        except ApiError as error:
            return sent, error
    raise AssertionError(f"no 429 after {sent + 1} queries")


def test_a_query_burst_beyond_the_budget_gets_429_with_retry_after(
    make_trader: MakeTrader, contract: Contract
) -> None:
    greedy, bystander = make_trader(), make_trader()
    allowed, refused = _burst_until_429(greedy)
    assert allowed >= QUERY_BURST, "refused before the burst was spent"
    assert refused.status == 429
    assert refused.reason == "rate_limited"
    assert refused.retry_after is not None
    assert 1 <= refused.retry_after <= 5

    # orders have their own budget; other keys have their own buckets
    placed = greedy.client.place_order(contract.symbol, "buy", 1, contract.price(-1))
    assert placed["status"] == "new"
    assert bystander.client.balances()["account"] == bystander.account

    time.sleep(refused.retry_after)
    assert greedy.client.balances()["account"] == greedy.account


def test_a_429_is_json_with_a_whole_second_retry_after_header(
    shared_exchange: Exchange, make_trader: MakeTrader
) -> None:
    trader = make_trader()
    deadline = time.monotonic() + 15.0
    with httpx.Client() as http:  # one connection: requests faster than the refill
        for _ in range(200):
            assert time.monotonic() < deadline, "no 429 in time"
            response = raw_request(
                shared_exchange.url,
                "GET",
                "/v1/balances",
                key=trader.key,
                secret=trader.secret,
                http=http,
            )
            if response.status_code != 200:
                break
    assert response.status_code == 429, response.text
    assert error_of(response)["reason"] == "rate_limited"
    assert response.headers["retry-after"].isdigit()
    assert int(response.headers["retry-after"]) >= 1


def test_responses_carry_the_remaining_allowance(
    shared_exchange: Exchange, make_trader: MakeTrader
) -> None:
    trader = make_trader()
    first = raw_request(
        shared_exchange.url, "GET", "/v1/balances", key=trader.key, secret=trader.secret
    )
    second = raw_request(
        shared_exchange.url, "GET", "/v1/balances", key=trader.key, secret=trader.secret
    )
    assert first.status_code == second.status_code == 200
    names = [h for h in first.headers if "ratelimit" in h.lower() or "remaining" in h.lower()]
    assert names, dict(first.headers)
    remaining = [h for h in names if "remaining" in h.lower()]
    assert remaining
    assert int(second.headers[remaining[0]]) < int(first.headers[remaining[0]])


def test_requests_without_a_key_are_limited_per_address(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = Exchange(tmp_path_factory.mktemp("ip"), serve_args=("--ip-rate", "5"))
    server.start()
    try:
        trader = server.account()  # a sign-up: its own budget
        with httpx.Client(timeout=10) as http:
            answers = [http.get(server.url + "/v1/instruments") for _ in range(30)]
            statuses = [a.status_code for a in answers]
            assert 200 in statuses
            refused = next(a for a in answers if a.status_code == 429)
            assert error_of(refused)["reason"] == "rate_limited"
            assert int(refused.headers["retry-after"]) >= 1
            assert statuses.count(200) <= 12  # the burst (10) and what refilled meanwhile
            signed = raw_request(
                server.url, "GET", "/v1/balances", key=trader.key, secret=trader.secret, http=http
            )
            assert signed.status_code == 200  # a key spends its own budget, not the address's
            assert http.get(server.url + "/").status_code == 200  # the page is not limited
    finally:
        server.close()


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/instruments", {"TF-API-KEY": "tfk_nobody"}),  # public: the key is not checked
        ("/v1/balances", {"TF-API-KEY": "tfk_nobody", "TF-API-TIMESTAMP": "1",
                          "TF-API-SIGNATURE": "00"}),  # refused keys spend the address's budget
    ],
)  # fmt: skip
def test_a_bogus_key_does_not_escape_the_address_limit(
    tmp_path_factory: pytest.TempPathFactory, path: str, headers: dict[str, str]
) -> None:
    server = Exchange(tmp_path_factory.mktemp("ip"), serve_args=("--ip-rate", "5"))
    server.start()
    try:
        with httpx.Client(timeout=10) as http:
            statuses = [http.get(server.url + path, headers=headers).status_code for _ in range(30)]
        assert 429 in statuses
        assert len([s for s in statuses if s != 429]) <= 12
    finally:
        server.close()
