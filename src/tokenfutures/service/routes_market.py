"""Public market statistics and the benchmark: indices, fixings' audit trail, candles, tickers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from tokenfutures.engine.timestamps import format_ts
from tokenfutures.service.context import ApiError, keyed_public, service_of
from tokenfutures.service.index_board import HISTORY_DAYS_MAX, IndexBoard
from tokenfutures.service.market_stats import INTERVALS, MarketStats

router = APIRouter(prefix="/v1", tags=["market data"], dependencies=[Depends(keyed_public)])
DAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def board_of(request: Request) -> IndexBoard:
    found: IndexBoard = request.app.state.index_board
    return found


def stats_of(request: Request) -> MarketStats:
    found: MarketStats = request.app.state.market_stats
    return found


def _index(board: IndexBoard, code: str) -> str:
    if code not in {c for c, _ in board.codes()}:
        raise ApiError(404, "unknown_index", f"{code!r} is not a published index", "index")
    return code


@router.get("/indices")
async def indices(request: Request) -> list[dict[str, Any]]:
    """Every index of the benchmark with its latest fixing (today's, else yesterday's)."""
    board = board_of(request)
    _, documents = await board.latest()
    answer = []
    for code, kind in board.codes():
        doc = documents.get(code)
        latest = None
        if doc is not None and doc.get("value") is not None:
            latest = {k: doc.get(k) for k in ("date", "value", "quality", "coverage")}
            latest["data_level"] = doc.get("data_level")
            latest["version"] = doc.get("version", 1)
        unit = None if doc is None else doc.get("unit")
        answer.append({"index": code, "kind": kind, "unit": unit, "latest": latest})
    return answer


@router.get("/indices/{index}/history")
async def index_history(
    request: Request,
    index: str,
    days: Annotated[int, Query(ge=1, le=HISTORY_DAYS_MAX)] = 365,
) -> dict[str, Any]:
    """The index's daily fixings over the last ``days`` days, oldest first."""
    board = board_of(request)
    code = _index(board, index)
    series = await board.history(days)
    points = series.get(code, [])
    _, documents = await board.latest()
    doc = documents.get(code)
    return {"index": code, "unit": None if doc is None else doc.get("unit"), "points": points}


@router.get("/indices/{index}/fixings/{day}")
async def index_fixing(
    request: Request, index: str, day: Annotated[str, Path(pattern=DAY_PATTERN)]
) -> dict[str, Any]:
    """One day's published fixing with its audit trail: constituents with prices and weights,
    every exclusion with its reason, coverage, data level, input hash and the sources read."""
    board = board_of(request)
    code = _index(board, index)
    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise ApiError(422, "invalid_field", f"{day!r} is not a calendar date", "day") from None
    today = board.today()
    if when > today:
        raise ApiError(422, "invalid_field", "no fixing of a day not yet seen", "day")
    if when < today - timedelta(days=HISTORY_DAYS_MAX):
        raise ApiError(422, "invalid_field", f"at most {HISTORY_DAYS_MAX} days back", "day")
    documents = await board.day(when)
    found = documents.get(code)
    if found is None:
        raise ApiError(404, "not_published", f"{code} has no fixing for {day}", "day")
    return found


@router.get("/candles/{symbol}")
async def candles(
    request: Request,
    symbol: str,
    interval: Annotated[int, Query(description="Seconds: 60, 300, 900, 3600 or 86400.")] = 60,
    limit: Annotated[int, Query(ge=1, le=1000)] = 300,
) -> list[dict[str, Any]]:
    """OHLCV candles of the contract's trades (UTC buckets), oldest first; no empty candles."""
    service = service_of(request)
    if symbol not in service.sequencer.house.exchange.instruments:
        raise ApiError(404, "unknown_symbol", f"{symbol!r} is not listed", "symbol")
    if interval not in INTERVALS:
        detail = "must be one of " + ", ".join(str(i) for i in INTERVALS) + " seconds"
        raise ApiError(422, "invalid_field", detail, "query.interval")
    price = service.sequencer.codec.price_text
    return [
        {
            "ts": format_ts(c.start),
            "open": price(symbol, c.open),
            "high": price(symbol, c.high),
            "low": price(symbol, c.low),
            "close": price(symbol, c.close),
            "volume": c.volume,
        }
        for c in stats_of(request).candles(symbol, interval, limit)
    ]


@router.get("/tickers")
async def tickers(request: Request) -> list[dict[str, Any]]:
    """Each contract's state now: last price, best bid and ask, the trading day's volume,
    open interest, last settlement and reference price, limits and phase."""
    sequencer = service_of(request).sequencer
    stats = stats_of(request)
    house, codec = sequencer.house, sequencer.codec

    def text(symbol: str, ticks: int | None) -> str | None:
        return None if ticks is None else codec.price_text(symbol, ticks)

    answer = []
    for contract in sequencer.market.contracts:
        symbol = contract.symbol
        inst = house.exchange.instruments.get(symbol)
        if inst is None:
            continue
        day = stats.today.get(symbol)
        answer.append(
            {
                "symbol": symbol,
                "product": contract.product.code,
                "last_trading_day": contract.last_trading_day.isoformat(),
                "phase": inst.phase.value,
                "delisted": symbol in house.delisted,
                "last_price": text(symbol, stats.last_price.get(symbol)),
                "best_bid": text(symbol, inst.bids.best_price()),
                "best_ask": text(symbol, inst.asks.best_price()),
                "open": text(symbol, None if day is None else day.open),
                "high": text(symbol, None if day is None else day.high),
                "low": text(symbol, None if day is None else day.low),
                "volume": 0 if day is None else day.volume,
                "trades": 0 if day is None else day.trades,
                "open_interest": house.positions.open_interest(symbol),
                "settlement_price": text(symbol, house.settlement_prices.get(symbol)),
                "reference_price": text(symbol, inst.reference),
                "lower_limit": text(symbol, inst.lower_limit),
                "upper_limit": text(symbol, inst.upper_limit),
            }
        )
    return answer
