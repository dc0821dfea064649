"""The page's WebSocket and its sign-in, in headless Chromium against ``tokenfutures serve
--demo``: moving between contracts swaps channels on one socket (each ladder showing its own
contract's book), a dropped socket subscribes again to what is in view, and a wrong key or
secret is refused at sign-in with the exchange's error.

This module runs before ``test_web_page.py``, whose last test settles the demo's day.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from tokenfutures.client import Client

from .conftest import Tab
from .demo_server import DemoServer, ticks_away

expect = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency").expect
pytestmark = pytest.mark.browser
REFUSED = "Failed to load resource: the server responded with a status of 401"
QUOTED_TIMEOUT_S = 30.0


@dataclass
class Sockets:
    """The WebSockets a tab opened, and the JSON messages sent and received on them."""

    opened: list[Any] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)

    def watch(self, socket: Any) -> None:
        self.opened.append(socket)
        socket.on("framesent", lambda payload: self.sent.append(json.loads(payload)))
        socket.on("framereceived", lambda payload: self.received.append(json.loads(payload)))

    def requests(self, op: str, channel: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m.get("op") == op and channel in m.get("channels", [])]


def _two_contracts(demo: DemoServer) -> tuple[str, str]:
    """The busiest TKN and GPU contracts, once the bots quote both (within a bounded wait)."""
    deadline = time.monotonic() + QUOTED_TIMEOUT_S
    while True:
        quoted = {t["product"] for t in demo.tickers().values() if t["best_bid"] and t["best_ask"]}
        if {"TKN", "GPU"} <= quoted:
            return demo.busiest("TKN"), demo.busiest("GPU")
        assert time.monotonic() < deadline, f"no two-sided GPU market in {QUOTED_TIMEOUT_S} s"
        time.sleep(0.25)


def _ladder_prices(tab: Tab, symbol: str) -> list[Decimal]:
    """The prices of the ladder of ``symbol`` once it shows levels on both sides."""
    ladder = tab.page.locator(f'#ladder[data-symbol="{symbol}"]')
    expect(ladder.locator("tr.level.bid").first).to_be_visible()
    expect(ladder.locator("tr.level.ask").first).to_be_visible()
    prices = ladder.locator("tr.level").evaluate_all("rows => rows.map(r => r.dataset.price)")
    return [Decimal(p) for p in prices]


def _a_new_bid_shows(tab: Tab, demo: DemoServer, symbol: str, lots: int) -> None:
    """A bid of ``lots`` five ticks under the best bid (below the bots' levels) shows in the
    ladder of ``symbol`` as its own level, and goes when it is cancelled: deltas arrive."""
    made = demo.sandbox_account()
    tick = demo.instrument(symbol)["tick_size"]
    price = ticks_away(demo.tickers()[symbol]["best_bid"], tick, -5)
    ladder = tab.page.locator(f'#ladder[data-symbol="{symbol}"]')
    level = ladder.locator(f'tr[data-side="bid"][data-price="{price}"]')
    expect(level).to_have_count(0)
    with Client(demo.url, made["key"], made["secret"]) as trader:
        trader.place_order(symbol, "buy", lots, price)
        expect(level.locator("td.size.bid")).to_have_text(str(lots))
        trader.cancel_all()
    expect(level).to_have_count(0)


def _within_limits(prices: list[Decimal], ticker: dict[str, Any]) -> bool:
    low, high = Decimal(ticker["lower_limit"]), Decimal(ticker["upper_limit"])
    return all(low <= p <= high for p in prices)


def test_moving_between_contracts_keeps_one_websocket(tab: Tab, demo: DemoServer) -> None:
    first, second = _two_contracts(demo)
    tickers = demo.tickers()
    # their daily limits do not overlap: a ladder's prices tell whose book it shows
    assert Decimal(tickers[second]["upper_limit"]) < Decimal(tickers[first]["lower_limit"])
    sockets = Sockets()
    page = tab.page
    page.on("websocket", sockets.watch)
    tab.open(f"#/contract/{first}")
    expect(page.locator("#feed-status")).to_have_text("feed: live")
    assert _within_limits(_ladder_prices(tab, first), tickers[first])

    page.select_option("#contract-select", second)  # the picker moves to the other contract
    expect(page.locator("#view h1")).to_contain_text(second)
    assert _within_limits(_ladder_prices(tab, second), tickers[second])
    _a_new_bid_shows(tab, demo, second, 11)  # the second book's deltas arrive
    assert _within_limits(_ladder_prices(tab, second), tickers[second])

    page.select_option("#contract-select", first)  # and back
    expect(page.locator("#view h1")).to_contain_text(first)
    assert _within_limits(_ladder_prices(tab, first), tickers[first])
    expect(page.locator("#feed-status")).to_have_text("feed: live")

    assert len(sockets.opened) == 1, "one socket for every contract viewed"
    assert not sockets.opened[0].is_closed()
    for channel in (f"book:{first}", f"trades:{first}", f"book:{second}", f"trades:{second}"):
        assert len(sockets.requests("unsubscribe", channel)) == 1, channel
    assert len(sockets.requests("subscribe", f"book:{first}")) == 2  # no resync after a swap
    assert len(sockets.requests("subscribe", f"book:{second}")) == 1
    answered = [m for m in sockets.received if m.get("op") == "unsubscribed"]
    assert [sorted(m["channels"]) for m in answered] == [
        sorted([f"book:{first}", f"trades:{first}"]),
        sorted([f"book:{second}", f"trades:{second}"]),
    ]
    assert tab.unexpected_errors() == []


def test_a_dropped_socket_subscribes_again_to_the_contract_in_view(
    tab: Tab, demo: DemoServer
) -> None:
    first, second = _two_contracts(demo)
    page = tab.page
    connections: list[Any] = []
    sent: list[tuple[int, dict[str, Any]]] = []  # (connection number, message from the page)

    def through(route: Any) -> None:  # the page's sockets, passed on to the exchange
        server = route.connect_to_server()
        connections.append(route)
        number = len(connections)

        def forward(message: str | bytes) -> None:
            sent.append((number, json.loads(message)))
            server.send(message)

        route.on_message(forward)

    page.route_web_socket("**/v1/ws", through)
    tab.open(f"#/contract/{first}")
    _ladder_prices(tab, first)
    page.select_option("#contract-select", second)
    _ladder_prices(tab, second)
    connections[0].close(code=1012, reason="restarting")  # the exchange drops the socket
    expect(page.locator("#feed-status")).to_have_text("feed: reconnecting")
    expect(page.locator("#feed-status")).to_have_text("feed: live")
    assert len(connections) == 2
    again = [m for n, m in sent if n == 2 and m["op"] != "ping"]
    assert again == [{"op": "subscribe", "channels": [f"book:{second}", f"trades:{second}"]}]

    _a_new_bid_shows(tab, demo, second, 9)  # the new subscription is live
    assert tab.unexpected_errors() == []


@pytest.mark.parametrize(
    ("wrong", "reason", "field"),
    [("secret", "bad_signature", "secret"), ("key", "unknown_key", "key")],
    ids=["wrong-secret", "unknown-key"],
)
def test_a_wrong_key_or_secret_is_refused_at_sign_in(
    tab: Tab, demo: DemoServer, wrong: str, reason: str, field: str
) -> None:
    made = demo.sandbox_account()
    key = made["key"] + ("x" if wrong == "key" else "")
    secret = made["secret"][::-1] if wrong == "secret" else made["secret"]
    tab.open("#/trade")
    page = tab.page
    page.fill("#signin-key", key)
    page.fill("#signin-secret", secret)
    page.click("#signin button[type=submit]")
    error = page.locator("#signin-error")
    expect(error).to_contain_text(f"({reason})")
    expect(page.locator(f"#signin-{field}")).to_have_class("invalid")
    expect(page.locator("#session-status")).to_have_text("not signed in")
    expect(page.locator("#account-name")).to_have_count(0)

    page.fill("#signin-key", made["key"])  # the right pair signs in, its scopes known at once
    page.fill("#signin-secret", made["secret"])
    page.click("#signin button[type=submit]")
    expect(page.locator("#account-name")).to_have_text(made["account"])
    expect(page.locator("#session-status")).to_have_text(f"{made['account']} · read, trade")
    page.reload()  # the tab resumes its session, the key checked again
    expect(page.locator("#account-name")).to_have_text(made["account"])
    expect(page.locator("#session-status")).to_have_text(f"{made['account']} · read, trade")
    expect(page.locator("#ticket")).to_be_visible()
    assert tab.unexpected_errors(REFUSED) == []
