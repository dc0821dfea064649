"""The web page end to end, in headless Chromium against ``tokenfutures serve --demo``: the
market view with its charts and curve, a contract's live book, trades and candles, the order
ticket (placed, amended, cancelled, crossed, refused) and the risk desk's end of day.

Each test opens its own tab (a tab is a session: signed out at first). The screenshots in
docs/images/ are written by these tests. The end-of-day test settles the demo's day, so it
stays the last test of this module.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tokenfutures.client import Client

from .conftest import Tab
from .demo_server import DemoServer, ticks_away

expect = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency").expect
pytestmark = pytest.mark.browser
LIVE_TIMEOUT_MS = 30_000
REFUSED = "Failed to load resource: the server responded with a status of 4"


def _points(tab: Tab, chart: str) -> None:
    """Wait until the chart ``#chart`` draws at least one point on a canvas."""
    tab.page.wait_for_function(
        "id => Number(document.getElementById(id)?.dataset.points || 0) > 0",
        arg=chart, timeout=LIVE_TIMEOUT_MS,
    )  # fmt: skip
    expect(tab.page.locator(f"#{chart} canvas")).to_have_count(1)


def _sign_up(tab: Tab) -> str:
    """Create a sandbox key from the page; the new account's name."""
    tab.page.click("#create-sandbox")
    name = tab.page.locator("#account-name")
    expect(name).to_contain_text("sbx-")
    expect(tab.page.locator("#ticket")).to_be_visible()
    return str(name.inner_text())


def _order(tab: Tab, price: str, quantity: str, kind: str = "gtc") -> None:
    tab.page.select_option("#ticket select[name=kind]", kind)
    tab.page.fill("#ticket input[name=price]", price)
    tab.page.fill("#ticket input[name=quantity]", quantity)
    tab.page.click("#ticket-submit")


def _trader(demo: DemoServer) -> Client:
    made = demo.sandbox_account()
    return Client(demo.url, made["key"], made["secret"])


def _lift(demo: DemoServer, client: Client, symbol: str) -> dict[str, Any]:
    """Buy 1 lot at the best ask with an IOC: the trade (tries again if the ask moved away)."""
    for _attempt in range(3):
        body = {"symbol": symbol, "side": "buy", "quantity": 1, "time_in_force": "IOC",
                "price": demo.tickers()[symbol]["best_ask"]}  # fmt: skip
        placed = client.request("POST", "/v1/orders", body)
        trades = [e for e in placed["events"] if e["type"] == "trade"]
        if trades:
            return trades[0]
    raise AssertionError(f"no trade at the best ask of {symbol} in 3 attempts")


def _rest_offer(demo: DemoServer, client: Client, symbol: str) -> str:
    """20 lots offered at the best ask, resting; their price (tries again if they traded)."""
    for _attempt in range(3):
        price = str(demo.tickers()[symbol]["best_ask"])
        if client.place_order(symbol, "sell", 20, price)["leaves_quantity"] >= 2:
            return price
    raise AssertionError(f"could not rest an offer in {symbol} in 3 attempts")


def test_market_page_loads_with_the_demo_running(tab: Tab, demo: DemoServer) -> None:
    indices = httpx.get(demo.url + "/v1/indices", timeout=30).json()
    tab.open("#/market")
    page = tab.page
    expect(page.locator("#index-cards [data-index]")).to_have_count(len(indices))
    composite = next(i for i in indices if i["index"] == "TKN")
    expect(page.locator('[data-index="TKN"] .card-value')).to_have_text(
        composite["latest"]["value"]
    )
    for chart in ("token-chart", "gpu-chart", "curve-TKN", "curve-GPU"):
        _points(tab, chart)
    tickers = demo.tickers().values()
    for product in ("TKN", "GPU"):
        months = [t for t in tickers if t["product"] == product and not t["delisted"]]
        rows = page.locator(f"#curve-table-{product} tr[data-symbol]")
        expect(rows).to_have_count(len(months))
        quoted = rows.filter(has_text=months[0]["settlement_price"])
        expect(quoted.first).to_be_visible()
    fixing = httpx.get(
        f"{demo.url}/v1/indices/TKN/fixings/{composite['latest']['date']}", timeout=30
    ).json()
    constituents = page.locator("#fixing table").first.locator("tbody tr")
    expect(constituents).to_have_count(len(fixing["constituents"]))
    expect(page.locator("#fixing .summary")).to_contain_text(f"TKN fixed at {fixing['value']}")
    expect(page.locator("#fixing .exclusions li")).to_have_count(len(fixing["excluded"]))
    expect(page.locator("#feed-status")).to_have_text("feed: idle")  # no socket on this view
    tab.screenshot("market.png")
    assert tab.unexpected_errors() == []


def test_contract_page_updates_book_trades_and_candles_live(tab: Tab, demo: DemoServer) -> None:
    symbol = demo.busiest()
    tab.open(f"#/contract/{symbol}")
    page = tab.page
    expect(page.locator("#feed-status")).to_have_text("feed: live")
    expect(page.locator("#ladder tr.level.bid").first).to_be_visible()
    expect(page.locator("#ladder tr.level.ask").first).to_be_visible()
    _points(tab, "candles")
    expect(page.locator("#trades tr[data-trade]").first).to_be_visible()
    seq = int(page.locator("#ladder").get_attribute("data-seq") or "0")

    buyer = _trader(demo)  # lift the best ask: a trade the page must show without a reload
    trade = _lift(demo, buyer, symbol)
    expect(page.locator(f'#trades tr[data-trade="{trade["trade_id"]}"]')).to_have_count(1)
    page.wait_for_function(
        "s => Number(document.getElementById('ladder').dataset.seq) > s", arg=seq
    )
    buyer.close()
    tab.screenshot("contract.png")
    assert tab.unexpected_errors() == []


def test_an_order_from_the_ticket_shows_in_the_book_and_working_orders(
    tab: Tab, demo: DemoServer
) -> None:
    symbol = demo.busiest()
    tick = demo.instrument(symbol)["tick_size"]
    tab.open(f"#/trade/{symbol}")
    page = tab.page
    _sign_up(tab)
    price = ticks_away(demo.tickers()[symbol]["best_bid"], tick, -2)
    _order(tab, price, "7")
    expect(page.locator("#ticket-result")).to_contain_text("working")
    row = page.locator("#orders tr[data-order]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(price)
    mine = page.locator(f'#ladder tr[data-side="bid"][data-price="{price}"] td.mine').first
    expect(mine).to_have_text("7")

    row.locator("button[data-action=amend]").click()  # FIX amend: 5 lots in total
    page.fill("input[name=amend-quantity]", "5")
    page.click(".amend-row button[type=submit]")
    expect(mine).to_have_text("5")
    expect(row.locator("td").nth(5)).to_have_text("5")

    row.locator("button[data-action=cancel]").click()
    expect(page.locator("#orders tr[data-order]")).to_have_count(0)
    expect(page.locator(f'#ladder tr[data-price="{price}"] td.mine:not(:empty)')).to_have_count(0)
    assert tab.unexpected_errors() == []


def test_a_crossing_order_trades_and_shows_in_positions(tab: Tab, demo: DemoServer) -> None:
    symbol = demo.busiest()
    tick = demo.instrument(symbol)["tick_size"]
    seller = _trader(demo)  # the other side, resting at the best ask
    price = _rest_offer(demo, seller, symbol)
    tab.open(f"#/trade/{symbol}")
    page = tab.page
    _sign_up(tab)
    _order(tab, price, "2", "ioc")
    expect(page.locator("#ticket-result")).to_contain_text("2 filled at")
    position = page.locator(f'#positions tr[data-symbol="{symbol}"]')
    expect(position).to_have_attribute("data-quantity", "2")
    expect(position).to_contain_text("+2")
    expect(page.locator("#fills tr[data-trade]").first).to_contain_text(price)
    expect(page.locator("#balances dd").nth(2)).not_to_have_text("0.00")  # initial margin

    resting_bid = ticks_away(demo.tickers()[symbol]["best_bid"], tick, -3)
    _order(tab, resting_bid, "4")  # a working order for the screenshot
    expect(page.locator("#orders tr[data-order]")).to_have_count(1)
    seller.cancel_all()
    seller.close()
    tab.screenshot("trading.png")
    assert tab.unexpected_errors() == []


@pytest.mark.parametrize(
    ("field", "price_of", "quantity", "says"),
    [
        ("price", lambda t, s: str(Decimal(t["best_bid"]) + Decimal(s) / 10), "1",
         "is not a multiple of tick"),
        ("quantity", lambda t, s: t["best_bid"], "0", "greater than or equal to 1"),
        ("price", lambda t, s: ticks_away(t["upper_limit"], s, 1), "1", "price limits"),
    ],
    ids=["off-tick", "zero-lots", "above-limit"],
)  # fmt: skip
def test_a_bad_order_shows_the_exchange_error_next_to_the_field(
    tab: Tab, demo: DemoServer, field: str, price_of: Any, quantity: str, says: str
) -> None:
    symbol = demo.busiest()
    tick = demo.instrument(symbol)["tick_size"]
    tab.open(f"#/trade/{symbol}")
    _sign_up(tab)
    _order(tab, price_of(demo.tickers()[symbol], tick), quantity)
    error = tab.page.locator(f"#error-{field}")
    expect(error).to_contain_text(says)
    expect(tab.page.locator(f"#ticket [name={field}]")).to_have_class("invalid")
    expect(tab.page.locator("#orders tr[data-order]")).to_have_count(0)
    assert tab.unexpected_errors(REFUSED) == []  # the browser logs the refused request


def test_the_risk_desk_lists_accounts_settles_the_day_and_halts(tab: Tab, demo: DemoServer) -> None:
    trader = demo.sandbox_account()  # trades today, so its statement has a trade
    with Client(demo.url, trader["key"], trader["secret"]) as client:
        _lift(demo, client, demo.busiest())
    admin = demo.create_key("risk-desk", "admin")
    tab.open("#/risk")
    page = tab.page
    page.fill("#signin-key", admin["key"])
    page.fill("#signin-secret", admin["secret"])
    page.click("#signin button[type=submit]")
    expect(page.locator("#session-status")).to_contain_text("admin")
    accounts = page.locator("#risk-accounts tr[data-account]")
    expect(accounts.first).to_be_visible()
    expect(page.locator(f'#risk-accounts tr[data-account="{trader["account"]}"]')).to_have_count(1)
    contracts = [t for t in demo.tickers().values() if not t["delisted"]]
    expect(page.locator("#risk-settlements tr[data-symbol]")).to_have_count(len(contracts))

    last_gpu = max((t for t in contracts if t["product"] == "GPU"), key=lambda t: t["symbol"])
    page.select_option("select[name=halt-symbol]", last_gpu["symbol"])
    page.click("#halt")
    expect(page.locator("#halt-result")).to_contain_text("continuous → halted")
    assert demo.tickers()[last_gpu["symbol"]]["phase"] == "halted"
    page.click("#resume")
    expect(page.locator("#halt-result")).to_contain_text("halted → continuous")

    page.click("#eod-form button[type=submit]")
    expect(page.locator("#eod-result")).to_contain_text("End of day")
    expect(page.locator("#eod-result tbody tr")).to_have_count(len(contracts))
    day = page.locator("input[name=eod-date]").input_value()
    settled = page.locator("#eod-result tbody tr").first.locator("td")
    symbol, price = settled.nth(0).inner_text(), settled.nth(1).inner_text()
    row = page.locator(f'#risk-settlements tr[data-symbol="{symbol}"]')
    expect(row).to_contain_text(day)  # the desk shows the day's settlement prices
    expect(row.locator("td").nth(1)).to_have_text(price)
    tab.screenshot("risk.png")

    page.click("#sign-out")  # the trader's daily statement of the day just settled
    page.fill("#signin-key", trader["key"])
    page.fill("#signin-secret", trader["secret"])
    page.click("#signin button[type=submit]")
    tab.open("#/trade")
    page.fill("input[name=statement-day]", day)
    page.click("#statement-panel button[type=submit]")
    expect(page.locator("#statement")).to_contain_text(f"trading day {day}")
    expect(page.locator("#statement table").first.locator("tbody tr")).to_have_count(1)
    assert tab.unexpected_errors() == []
