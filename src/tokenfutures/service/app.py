"""The HTTP API (FastAPI): public market data, private order entry and account queries.

Every write goes through the sequencer and is answered only once it is durable. Private
routes need an API key with an HMAC-SHA256 signature (``service/auth.py``); each reads or
changes only the key's own account (another account's order id is simply not found).
Errors are JSON ``{"error": {"reason", "field", "detail"}}`` with a 4xx status; a refused
command changes nothing. OpenAPI is published at ``/docs`` and ``/openapi.json``, every
operation with that error body as its documented ``4XX`` answer.

Every answer, even to a request no route serves or a body that is not text, has that shape:
an unknown path is ``404 not_found``, a wrong method ``405 method_not_allowed``, a body that
is not UTF-8 JSON ``422 invalid_field``; a stopped sequencer is ``503 unavailable``, and a bug
is ``500 internal`` (its traceback goes to the server's log, not to the client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tokenfutures.service import (
    routes_admin,
    routes_market,
    routes_private,
    routes_public,
    routes_web,
    routes_ws,
)
from tokenfutures.service.auth import KEY_HEADER
from tokenfutures.service.context import ApiError, ErrorBody, Service
from tokenfutures.service.daily_cycle import DailyCycle, roll_listings
from tokenfutures.service.index_board import IndexBoard
from tokenfutures.service.market_data import MarketData
from tokenfutures.service.sequencer import SequencerStopped

log = logging.getLogger("tokenfutures.service")
MAX_BODY = 65_536  # bytes: an order is a few hundred; admin commands a few thousand
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "Refused: the reason, the field and the rule"}
}


def error_response(
    status: int,
    reason: str,
    detail: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"reason": reason, "field": field, "detail": detail}}
    return JSONResponse(body, status_code=status, headers=headers)


def http_error_response(error: HTTPException) -> JSONResponse:
    """The framework's own refusals (no route, wrong method, unreadable body) as API errors."""
    if error.status_code == 400 and error.__cause__ is not None:
        # the body could not be parsed (not UTF-8, an integer of thousands of digits, absurd
        # nesting): the same answer as any other body that is not JSON
        detail = f"the body is not UTF-8 JSON: {error.__cause__}"[:300]
        return error_response(422, "invalid_field", detail)
    try:
        phrase = HTTPStatus(error.status_code).phrase
    except ValueError:  # a status without a standard name
        phrase = "HTTP error"
    reason = phrase.lower().replace(" ", "_").replace("-", "_")
    return error_response(error.status_code, reason, str(error.detail), None, error.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every refusal and failure answered as ``{"error": {"reason", "field", "detail"}}``."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return error_response(error.status, error.reason, error.detail, error.field, error.headers)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return http_error_response(error)

    @app.exception_handler(SequencerStopped)
    async def stopped(_: Request, error: SequencerStopped) -> JSONResponse:
        return error_response(503, "unavailable", f"not accepting commands: {error}")

    @app.exception_handler(Exception)
    async def internal(_: Request, error: Exception) -> JSONResponse:
        # a bug: the server logs the traceback; the client gets JSON, not a text page
        return error_response(500, "internal", f"internal error ({type(error).__name__})")

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


def install_middleware(app: FastAPI, service: Service) -> None:
    """Limits checked before a route runs (body size, requests without a key per address) and
    the key's remaining allowance in the answer's headers."""

    @app.middleware("http")
    async def body_limit(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length", "0")
        if "transfer-encoding" in request.headers and "content-length" not in request.headers:
            return error_response(411, "length_required", "send the body with a Content-Length")
        if not length.isdigit() or int(length) > MAX_BODY:
            detail = f"a request body is at most {MAX_BODY} bytes, with its Content-Length"
            return error_response(413, "body_too_large", detail)
        return await call_next(request)

    @app.middleware("http")
    async def per_address(request: Request, call_next: Any) -> Any:
        """Requests without a key are limited per address (keys have budgets of their own;
        a key that is refused, or sent to a public route, spends the address's too)."""
        if request.url.path.startswith("/v1/") and KEY_HEADER not in request.headers:
            try:
                service.charge_address(request)
            except ApiError as error:
                return error_response(429, error.reason, error.detail, None, error.headers)
        return await call_next(request)

    @app.middleware("http")
    async def allowance(request: Request, call_next: Any) -> Any:
        response = await call_next(request)
        spent = getattr(request.state, "allowance", None)
        if spent is not None:
            remaining, limit = spent
            response.headers["X-RateLimit-Remaining"] = str(remaining)
            response.headers["X-RateLimit-Limit"] = str(limit)
        return response


ROLL_CHECK_S = 600.0


async def roll_every_day(service: Service) -> None:
    """Without the daily cycle: list the months the calendar lists today, at start and then
    every ``ROLL_CHECK_S`` (a new day's months as soon as it begins), in continuous trading."""
    while True:
        try:
            for outcome in await roll_listings(service.sequencer):
                log.info("listing roll: %s", outcome.events)
        except SequencerStopped:
            return
        await asyncio.sleep(ROLL_CHECK_S)


def create_app(
    service: Service, cycle: DailyCycle | None = None, index_board: IndexBoard | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.sequencer.start()
        roller = None
        if cycle is not None:
            cycle.start()  # after the sequencer: it submits through it (and lists new months)
        else:
            roller = asyncio.create_task(roll_every_day(service), name="listing-roll")
        try:
            yield
        finally:
            for timer in app.state.__dict__.get("deadman", {}).values():
                timer.cancel()  # dead-man switches armed by cancel-all-after
            if roller is not None:
                roller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await roller
            if cycle is not None:
                await cycle.stop()  # before the sequencer stops
            await service.sequencer.stop()
            board.close()

    app = FastAPI(
        title="tokenfutures",
        description="Exchange for futures on AI tokens and GPU compute.",
        version="1",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
    )
    app.state.service = service
    app.state.market_data = market_data = MarketData(service.sequencer)
    app.state.daily_cycle = cycle
    app.state.index_board = board = index_board if index_board is not None else IndexBoard()
    board.on_fixings(market_data.on_fixings)
    app.state.market_stats = service.sequencer.stats

    install_error_handlers(app)
    install_middleware(app, service)
    app.include_router(routes_public.router)
    app.include_router(routes_market.router)
    app.include_router(routes_private.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_ws.router)
    app.include_router(routes_web.router)
    return app
