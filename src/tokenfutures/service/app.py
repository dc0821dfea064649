"""The HTTP API (FastAPI): public market data, private order entry and account queries.

Every write goes through the sequencer and is answered only once it is durable. Private
routes need an API key with an HMAC-SHA256 signature (``service/auth.py``); each reads or
changes only the key's own account (another account's order id is simply not found).
Errors are JSON ``{"error": {"reason", "field", "detail"}}`` with a 4xx status; a refused
command changes nothing. OpenAPI is published at ``/docs`` and ``/openapi.json``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from tokenfutures.service import (
    routes_admin,
    routes_market,
    routes_private,
    routes_public,
    routes_web,
    routes_ws,
)
from tokenfutures.service.context import ApiError, Service
from tokenfutures.service.daily_cycle import DailyCycle
from tokenfutures.service.index_board import IndexBoard
from tokenfutures.service.market_data import MarketData
from tokenfutures.service.market_stats import MarketStats


def create_app(
    service: Service, cycle: DailyCycle | None = None, index_board: IndexBoard | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.sequencer.start()
        if cycle is not None:
            cycle.start()  # after the sequencer: it submits through it
        try:
            yield
        finally:
            if cycle is not None:
                await cycle.stop()  # before the sequencer stops
            await service.sequencer.stop()

    app = FastAPI(
        title="tokenfutures",
        description="Exchange for futures on AI tokens and GPU compute.",
        version="1",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.market_data = market_data = MarketData(service.sequencer)
    app.state.daily_cycle = cycle
    app.state.index_board = board = index_board if index_board is not None else IndexBoard()
    board.on_publish(market_data.on_fixings)
    stats = MarketStats()
    service.sequencer.listeners.append(lambda _seq, events: stats.apply(events))
    app.state.market_stats = stats

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        body = {"error": {"reason": error.reason, "field": error.field, "detail": error.detail}}
        return JSONResponse(body, status_code=error.status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        first: dict[str, Any] = error.errors()[0] if error.errors() else {}
        location = [str(part) for part in first.get("loc", ()) if part != "body"]
        if first.get("type") == "json_invalid":
            location = []  # the location is a character offset, not a field
        body = {
            "error": {
                "reason": "invalid_field",
                "field": ".".join(location) or None,
                "detail": str(first.get("msg", "invalid request")),
            }
        }
        return JSONResponse(body, status_code=422)

    @app.middleware("http")
    async def allowance(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        spent = getattr(request.state, "allowance", None)
        if spent is not None:
            remaining, limit = spent
            response.headers["X-RateLimit-Remaining"] = str(remaining)
            response.headers["X-RateLimit-Limit"] = str(limit)
        return response

    app.include_router(routes_public.router)
    app.include_router(routes_market.router)
    app.include_router(routes_private.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_ws.router)
    app.include_router(routes_web.router)
    return app
