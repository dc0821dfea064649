"""What every route shares: the service (sequencer, keys, limits, clock) and API errors."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from fastapi import Request
from pydantic import BaseModel

from tokenfutures.service.auth import KEY_HEADER, AuthError, authenticate
from tokenfutures.service.keys import ApiKey, ApiKeyStore
from tokenfutures.service.ratelimit import RateLimiter
from tokenfutures.service.sequencer import Sequencer

IP_BUDGETS = {
    "public": (100.0, 200),  # requests without a key, per address
    "signups": (2.0, 50),  # sandbox accounts opened, per address
}


class ApiError(Exception):
    """A refusal to answer with ``status`` and the JSON error body."""

    def __init__(self, status: int, reason: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail, self.field = status, reason, detail, field
        self.headers: dict[str, str] = {}


class ErrorDetail(BaseModel):
    reason: str
    field: str | None
    detail: str


class ErrorBody(BaseModel):
    """The body of every refusal, as published in the OpenAPI schema."""

    error: ErrorDetail


class Service:
    """What the routes share: the sequencer, the key store, limits and the clock."""

    def __init__(
        self,
        sequencer: Sequencer,
        keys: ApiKeyStore,
        *,
        sandbox: bool = False,
        limiter: RateLimiter | None = None,
        ip_limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sequencer = sequencer
        self.keys = keys
        self.sandbox = sandbox
        self.limiter = limiter if limiter is not None else RateLimiter()
        self.ip_limiter = ip_limiter if ip_limiter is not None else RateLimiter(IP_BUDGETS)
        self.clock = clock

    async def caller(self, request: Request, scope: str, budget: str = "queries") -> ApiKey:
        """The authenticated key of a private request, within its rate limit."""
        body = await request.body()
        path = request.scope["raw_path"].decode("latin-1")  # as sent: what was signed
        if request.scope["query_string"]:
            path += "?" + request.scope["query_string"].decode("latin-1")
        now = self.clock()
        try:
            key = authenticate(
                self.keys, request.headers, request.method, path, body, int(now * 1000), scope
            )
        except AuthError as error:  # a refused key spends its address's budget instead
            self.charge_address(request)
            raise ApiError(error.status, error.code, error.detail) from None
        wait = self.limiter.check(key.key, budget, now)
        if wait > 0:
            raise too_many(f"{budget} requests for this key", wait)
        limiter = self.limiter
        request.state.allowance = (limiter.remaining(key.key, budget, now), limiter.limit(budget))
        return key

    def charge_address(self, request: Request, budget: str = "public") -> None:
        """Spend one of the request's address's ``budget``; 429 when it is spent."""
        wait = self.ip_limiter.check(address_of(request), budget, self.clock())
        if wait > 0:
            raise too_many("requests without a valid key from this address", wait)


async def keyed_public(request: Request) -> None:
    """A public route called with a key header: the key is not checked there, so the
    request spends its address's budget like one without a key."""
    if KEY_HEADER in request.headers:
        service_of(request).charge_address(request)


def too_many(what: str, wait: float) -> ApiError:
    """The 429 answer: ``Retry-After`` in whole seconds, at least one."""
    refused = ApiError(429, "rate_limited", f"too many {what}")
    refused.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return refused


def address_of(request: Request) -> str:
    return "ip:" + (request.client.host if request.client is not None else "unknown")


def service_of(request: Request) -> Service:
    found: Service = request.app.state.service
    return found
