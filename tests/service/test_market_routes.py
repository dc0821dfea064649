"""Public statistics and the benchmark over HTTP against a real server: the indices with
their latest fixing, an index's history, one fixing's audit trail, candles and tickers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from .harness import Contract, Exchange, Trader, contracts, error_of

MakeTrader = Callable[[], Trader]


def _get(exchange: Exchange, path: str) -> httpx.Response:
    return httpx.get(exchange.url + path, timeout=30)


def test_indices_list_every_index_with_its_latest_fixing(shared_exchange: Exchange) -> None:
    answer = _get(shared_exchange, "/v1/indices").json()
    codes = {row["index"]: row for row in answer}
    assert {"TKN", "TKN-OPEN", "GPU-H100"} <= set(codes)
    assert codes["TKN"]["kind"] == "token"
    assert codes["GPU-H100"]["kind"] == "gpu"
    latest = codes["TKN-OPEN"]["latest"]
    assert Decimal(latest["value"]) > 0
    assert latest["quality"] in {"ok", "low_coverage", "stale", "not_published"}
    today = datetime.now(UTC).date()
    assert (today - datetime.fromisoformat(latest["date"]).date()).days in (0, 1)


def test_a_fixings_audit_trail_names_constituents_and_exclusions(
    shared_exchange: Exchange,
) -> None:
    document = _get(shared_exchange, "/v1/indices/TKN-OPEN/fixings/2026-11-20").json()
    assert document["index"] == "TKN-OPEN"
    assert document["date"] == "2026-11-20"
    assert document["value"] == "0.687039"  # the golden value of the methodology
    assert document["constituents"], "constituents listed"
    weights = sum(Decimal(c["weight"]) for c in document["constituents"])
    assert abs(weights - 100) < Decimal("0.1")
    assert all(e["reason"] for e in document["excluded"])
    assert len(document["inputs_sha256"]) == 64
    assert document["sources"][0]["sha256"]


def test_history_is_daily_and_oldest_first(shared_exchange: Exchange) -> None:
    answer = _get(shared_exchange, "/v1/indices/GPU-H100/history?days=10").json()
    assert answer["index"] == "GPU-H100"
    dates = [p["date"] for p in answer["points"]]
    assert dates == sorted(dates)
    assert len(dates) <= 10


def test_bad_index_requests_name_the_field(shared_exchange: Exchange) -> None:
    cases = {
        "/v1/indices/NOPE/history": (404, "index"),
        "/v1/indices/TKN/fixings/2026-02-30": (422, "day"),
        "/v1/indices/TKN/fixings/2999-01-01": (422, "day"),
        "/v1/indices/TKN/history?days=0": (422, "query.days"),
    }
    for path, (status, field) in cases.items():
        response = _get(shared_exchange, path)
        assert response.status_code == status, path
        assert error_of(response)["field"] == field, path


def test_candles_and_tickers_follow_the_trades(
    shared_exchange: Exchange, make_trader: MakeTrader, contract: Contract
) -> None:
    buyer, seller = make_trader().client, make_trader().client
    symbol = contract.symbol
    buyer.place_order(symbol, "buy", 3, contract.price(1))
    seller.place_order(symbol, "sell", 2, contract.price(1))
    seller.place_order(symbol, "sell", 1, contract.price(1))
    buyer.place_order(symbol, "buy", 1, contract.price(-2))
    seller.place_order(symbol, "sell", 1, contract.price(2))

    response = _get(shared_exchange, f"/v1/candles/{symbol}?interval=60")
    assert response.status_code == 200, response.text
    candles = response.json()
    assert len(candles) == 1
    (candle,) = candles
    assert candle["open"] == candle["close"] == contract.price(1)
    assert candle["volume"] == 3
    hourly = _get(shared_exchange, f"/v1/candles/{symbol}?interval=3600").json()
    assert [c["volume"] for c in hourly] == [3]

    tickers = {t["symbol"]: t for t in _get(shared_exchange, "/v1/tickers").json()}
    ticker = tickers[symbol]
    assert ticker["last_price"] == contract.price(1)
    assert ticker["volume"] == 3
    assert ticker["trades"] == 2
    assert ticker["open_interest"] == 3
    assert ticker["best_bid"] == contract.price(-2)
    assert ticker["best_ask"] == contract.price(2)
    assert ticker["lower_limit"] == str(contract.lower)


def test_candles_of_an_unknown_contract_or_interval_are_refused(
    shared_exchange: Exchange, contract: Contract
) -> None:
    unknown = _get(shared_exchange, "/v1/candles/NOPE")
    assert unknown.status_code == 404
    assert error_of(unknown)["field"] == "symbol"
    odd = _get(shared_exchange, f"/v1/candles/{contract.symbol}?interval=61")
    assert odd.status_code == 422
    assert error_of(odd)["field"] == "query.interval"


def test_candles_and_the_day_s_figures_survive_a_restart(exchange: Exchange) -> None:
    buyer, seller = exchange.account().client, exchange.account().client
    listed = contracts(exchange.url)[0]
    buyer.place_order(listed.symbol, "buy", 2, listed.price(1))
    seller.place_order(listed.symbol, "sell", 2, listed.price(1))
    before = _get(exchange, f"/v1/candles/{listed.symbol}").json()
    ticker = {t["symbol"]: t for t in _get(exchange, "/v1/tickers").json()}[listed.symbol]
    exchange.stop()
    exchange.start()
    assert _get(exchange, f"/v1/candles/{listed.symbol}").json() == before
    again = {t["symbol"]: t for t in _get(exchange, "/v1/tickers").json()}[listed.symbol]
    assert again == ticker
    assert again["volume"] == 2
