"""Private routes: order entry and the account's own orders, fills, positions, money.

Each route needs a signed request (``service/auth.py``): reads need the ``read`` scope,
order entry ``trade``. Every id is looked up within the key's own account only.

Idempotency: a new order's ``client_order_id`` (generated when omitted) is unique per
account per trading day. Sending the same order again — e.g. after a timeout — returns the
original order (or the original refusal); it never places a second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from tokenfutures.engine.statement_report import statement_json
from tokenfutures.service.context import ApiError, Service, service_of
from tokenfutures.service.formats import fill_json, order_json
from tokenfutures.service.keys import ApiKey
from tokenfutures.service.sequencer import Outcome, SequencerStopped
from tokenfutures.service.submit import refused, submit
from tokenfutures.service.views import OrderRecord

router = APIRouter(prefix="/v1", tags=["trading"])

Decimal = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?$", max_length=32)]
# client order ids travel in URL paths: letters, digits and . _ : ~ - only
ClientId = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:~-]{1,64}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NewOrderBody(_Strict):
    symbol: str
    side: Literal["buy", "sell"]
    quantity: int = Field(ge=1)
    price: Decimal | None = None
    order_type: Literal["limit", "market", "stop", "stop_limit"] = "limit"
    time_in_force: Literal["GFD", "GTC", "IOC", "FOK"] = "GTC"
    stop_price: Decimal | None = None
    client_order_id: ClientId | None = None
    post_only: bool = False
    reduce_only: bool = False


class AmendBody(_Strict):
    price: Decimal | None = None
    quantity: int | None = Field(default=None, ge=1)


class CancelAllBody(_Strict):
    symbol: str | None = None


class CancelAllAfterBody(_Strict):
    timeout_ms: int = Field(ge=0, le=600_000)  # 0 switches it off


def _order(service: Service, key: ApiKey, order_id: int) -> OrderRecord:
    order = service.sequencer.views.orders.get(order_id)
    if order is None or order.account != key.account:
        raise ApiError(404, "unknown_order", f"no order {order_id} of this account", "order_id")
    return order


def _by_client(service: Service, key: ApiKey, client_order_id: str) -> OrderRecord:
    order = service.sequencer.views.order_of(key.account, client_order_id)
    if order is None:
        raise ApiError(
            404, "unknown_order", f"no order {client_order_id!r} today", "client_order_id"
        )
    return order


def _answer(service: Service, order: OrderRecord, events: list[dict[str, Any]]) -> dict[str, Any]:
    return {"order": order_json(order, service.sequencer.codec), "events": events}


# --- order entry ---------------------------------------------------------------------------


def new_order_command(key: ApiKey, body: NewOrderBody) -> tuple[str, dict[str, Any]]:
    """The client order id (generated when omitted) and the ``new_order`` command."""
    client_order_id = body.client_order_id or f"tf-{uuid.uuid4().hex[:24]}"
    command: dict[str, Any] = {
        "type": "new_order",
        "account": key.account,
        "client_order_id": client_order_id,
        **body.model_dump(exclude={"client_order_id"}, exclude_none=True),
    }
    return client_order_id, command


def order_answer(
    service: Service, key: ApiKey, client_order_id: str, outcome: Outcome
) -> dict[str, Any]:
    """The placed order (or, on a retry, the original one) with the command's events."""
    views = service.sequencer.views
    if outcome.duplicate_of is not None:
        return _answer(service, views.orders[outcome.duplicate_of], []) | {"duplicate": True}
    order = views.order_of(key.account, client_order_id)
    if order is None:
        refusal = outcome.rejected
        if refusal is not None:
            raise refused(refusal)
        raise ApiError(500, "internal", "the order left no record")
    return _answer(service, order, outcome.events) | {"duplicate": False}


@router.post("/orders", status_code=201)
async def place_order(request: Request, body: NewOrderBody) -> dict[str, Any]:
    """Place an order; the answer comes once it is durable. Retrying is safe (see above)."""
    service = service_of(request)
    key = await service.caller(request, "trade", "orders")
    client_order_id, command = new_order_command(key, body)
    outcome = await submit(service, command)
    return order_answer(service, key, client_order_id, outcome)


async def _amend(service: Service, key: ApiKey, order: OrderRecord, body: AmendBody) -> Any:
    if body.price is None and body.quantity is None:
        raise ApiError(400, "missing_field", "an amend needs a price or a quantity", "price")
    command = {
        "type": "amend_order",
        "account": key.account,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        **body.model_dump(exclude_none=True),
    }
    outcome = await submit(service, command)
    return _answer(service, order, outcome.events)


@router.patch("/orders/{order_id}")
async def amend_order(request: Request, order_id: int, body: AmendBody) -> dict[str, Any]:
    """FIX amend: ``quantity`` is the new total including what has filled."""
    service = service_of(request)
    key = await service.caller(request, "trade", "orders")
    result: dict[str, Any] = await _amend(service, key, _order(service, key, order_id), body)
    return result


@router.patch("/orders/by-client-id/{client_order_id}")
async def amend_by_client_id(
    request: Request, client_order_id: Annotated[str, Path(max_length=64)], body: AmendBody
) -> dict[str, Any]:
    service = service_of(request)
    key = await service.caller(request, "trade", "orders")
    order = _by_client(service, key, client_order_id)
    result: dict[str, Any] = await _amend(service, key, order, body)
    return result


async def _cancel(service: Service, key: ApiKey, order: OrderRecord) -> dict[str, Any]:
    command = {
        "type": "cancel_order",
        "account": key.account,
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
    }
    outcome = await submit(service, command)
    return _answer(service, order, outcome.events)


@router.delete("/orders/{order_id}")
async def cancel_order(request: Request, order_id: int) -> dict[str, Any]:
    service = service_of(request)
    key = await service.caller(request, "trade", "orders")
    return await _cancel(service, key, _order(service, key, order_id))


@router.delete("/orders/by-client-id/{client_order_id}")
async def cancel_by_client_id(
    request: Request, client_order_id: Annotated[str, Path(max_length=64)]
) -> dict[str, Any]:
    service = service_of(request)
    key = await service.caller(request, "trade", "orders")
    return await _cancel(service, key, _by_client(service, key, client_order_id))


@router.post("/orders/cancel-all")
async def cancel_all(request: Request, body: CancelAllBody) -> dict[str, Any]:
    """Cancel the account's live orders, in one contract or all."""
    service = service_of(request)
    key = await service.caller(request, "trade", "orders")
    command: dict[str, Any] = {"type": "cancel_all", "account": key.account}
    if body.symbol is not None:
        command["symbol"] = body.symbol
    outcome = await submit(service, command)
    cancelled = [e["order_id"] for e in outcome.events if e["type"] == "order_cancelled"]
    return {"cancelled": cancelled, "events": outcome.events}


@router.post("/cancel-all-after")
async def cancel_all_after(request: Request, body: CancelAllAfterBody) -> dict[str, Any]:
    """Dead-man switch: cancel all the account's orders unless called again within the
    timeout; ``timeout_ms`` 0 switches it off."""
    service = service_of(request)
    key = await service.caller(request, "trade", "orders")
    timers: dict[str, asyncio.TimerHandle] = request.app.state.__dict__.setdefault("deadman", {})
    previous = timers.pop(key.account, None)
    if previous is not None:
        previous.cancel()
    if body.timeout_ms == 0:
        return {"armed": False}
    loop = asyncio.get_running_loop()
    firing: set[asyncio.Task[None]] = request.app.state.__dict__.setdefault("deadman_tasks", set())

    async def cancel_everything() -> None:
        with contextlib.suppress(SequencerStopped):  # stopped: nothing more is acknowledged
            await service.sequencer.submit({"type": "cancel_all", "account": key.account})

    def fire() -> None:
        timers.pop(key.account, None)
        task = loop.create_task(cancel_everything())
        firing.add(task)
        task.add_done_callback(firing.discard)

    timers[key.account] = loop.call_later(body.timeout_ms / 1000, fire)
    return {"armed": True, "timeout_ms": body.timeout_ms}


# --- the account's own data ----------------------------------------------------------------


@router.get("/whoami")
async def whoami(request: Request) -> dict[str, Any]:
    """The signing key's account and scopes (what a page shows after signing in)."""
    key = await service_of(request).caller(request, "read")
    return {"account": key.account, "key": key.key, "scopes": sorted(key.scopes)}


@router.get("/orders")
async def orders(request: Request, status: Literal["open", "all"] = "open") -> list[dict[str, Any]]:
    service = service_of(request)
    key = await service.caller(request, "read")
    views, codec = service.sequencer.views, service.sequencer.codec
    found = (
        views.open_orders(key.account)
        if status == "open"
        else [o for o in views.orders.values() if o.account == key.account]
    )
    return [order_json(o, codec) for o in found]


@router.get("/orders/by-client-id/{client_order_id}")
async def order_by_client_id(
    request: Request, client_order_id: Annotated[str, Path(max_length=64)]
) -> dict[str, Any]:
    service = service_of(request)
    key = await service.caller(request, "read")
    return order_json(_by_client(service, key, client_order_id), service.sequencer.codec)


@router.get("/orders/{order_id}")
async def order(request: Request, order_id: int) -> dict[str, Any]:
    service = service_of(request)
    key = await service.caller(request, "read")
    return order_json(_order(service, key, order_id), service.sequencer.codec)


@router.get("/fills")
async def fills(
    request: Request, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    service = service_of(request)
    key = await service.caller(request, "read")
    own = service.sequencer.views.fills.get(key.account, [])[-limit:]
    return [fill_json(f, service.sequencer.codec) for f in reversed(own)]


@router.get("/positions")
async def positions(request: Request) -> list[dict[str, Any]]:
    service = service_of(request)
    key = await service.caller(request, "read")
    house, codec = service.sequencer.house, service.sequencer.codec
    found = []
    for position in house.positions.positions_of(key.account):
        symbol = position.symbol
        mark = house.mark(symbol)
        average = position.average_entry_price
        tick_value = house.terms[symbol].tick_value
        found.append(
            {
                "symbol": symbol,
                "quantity": position.quantity,
                "average_entry_price": None
                if average is None
                else codec.price_text(symbol, average),
                "mark_price": codec.price_text(symbol, mark),
                "settlement_price": codec.price_text(symbol, house.settlement_prices[symbol]),
                "unrealised_pnl": codec.money_text(position.unrealised_pnl(mark, tick_value)),
                "realised_pnl": codec.money_text(position.trade_realised_pnl),
            }
        )
    return found


@router.get("/balances")
async def balances(request: Request) -> dict[str, Any]:
    """Cash, equity and margin: what the pre-trade checks see."""
    service = service_of(request)
    key = await service.caller(request, "read")
    house, money = service.sequencer.house, service.sequencer.codec.money_text
    required = house.requirement(key.account)
    return {
        "account": key.account,
        "cash": money(house.ledger.cash(key.account)),
        "equity": money(house.equity(key.account)),
        "initial_margin": money(required.initial),
        "maintenance_margin": money(required.maintenance),
        "free_collateral": money(house.free_collateral(key.account)),
        "margin_call": None
        if key.account not in house.margin_calls
        else money(house.margin_calls[key.account].amount),
    }


@router.get("/statements/{day}")
async def statement(request: Request, day: date) -> dict[str, Any]:
    """The account's daily statement of the end of day ``day``."""
    service = service_of(request)
    key = await service.caller(request, "read")
    found = service.sequencer.house.statements.get((key.account, day))
    if found is None:
        raise ApiError(404, "no_statement", f"no statement on {day.isoformat()}", "day")
    return statement_json(found, service.sequencer.codec)
