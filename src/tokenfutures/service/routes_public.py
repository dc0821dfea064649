"""Public market data: instruments, books, trades, settlement prices."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from tokenfutures.engine.timestamps import format_ts
from tokenfutures.service.context import ApiError, Service, keyed_public, service_of
from tokenfutures.service.formats import book_json, instrument_json

router = APIRouter(prefix="/v1", tags=["market data"], dependencies=[Depends(keyed_public)])


def _symbol(service: Service, symbol: str) -> str:
    if symbol not in service.sequencer.house.exchange.instruments:
        raise ApiError(404, "unknown_symbol", f"{symbol!r} is not listed", "symbol")
    return symbol


@router.get("/instruments")
async def instruments(request: Request) -> list[dict[str, Any]]:
    """Every listed contract with its specification, limits and last settlement price."""
    service = service_of(request)
    return [instrument_json(c, service.sequencer) for c in service.sequencer.market.contracts]


@router.get("/book/{symbol}")
async def book(
    request: Request, symbol: str, depth: Annotated[int, Query(ge=1, le=500)] = 20
) -> dict[str, Any]:
    """Aggregated price levels, best first, with the sequence number they reflect."""
    service = service_of(request)
    return book_json(service.sequencer, _symbol(service, symbol), depth)


@router.get("/trades/{symbol}")
async def trades(
    request: Request, symbol: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    """The contract's most recent trades, newest first."""
    service = service_of(request)
    codec = service.sequencer.codec
    recent = list(service.sequencer.views.trades.get(_symbol(service, symbol), ()))[-limit:]
    return [
        {
            "ts": format_ts(t.ts),
            "trade_id": t.trade_id,
            "price": codec.price_text(symbol, t.price),
            "quantity": t.quantity,
            "aggressor": None if t.aggressor is None else t.aggressor.value,
        }
        for t in reversed(recent)
    ]


@router.get("/settlements")
async def settlements(request: Request) -> list[dict[str, Any]]:
    """Each contract's last settlement price and open interest."""
    sequencer = service_of(request).sequencer
    house, codec = sequencer.house, sequencer.codec
    return [
        {
            "symbol": symbol,
            "settlement_price": codec.price_text(symbol, price),
            "open_interest": house.positions.open_interest(symbol),
            "last_end_of_day": None
            if house.last_end_of_day is None
            else house.last_end_of_day.isoformat(),
            "delisted": symbol in house.delisted,
        }
        for symbol, price in sorted(house.settlement_prices.items())
    ]
