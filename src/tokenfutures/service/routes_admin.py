"""Admin routes (the ``admin`` scope) and the sandbox's self-service accounts.

Admin: any command of the JSON Lines format (members, accounts, deposits, phases, reference
prices, end of day, deadlines, final settlement), shortcuts for the end of day and halting a
contract, the kill switch (every order cancelled, every contract halted), the accounts with
their margin. Sandbox (``serve --sandbox``): anyone may open a test account with a free
balance and get a read/trade key for it, as exchanges' testnets do.
"""

from __future__ import annotations

import uuid
from datetime import date
from fractions import Fraction
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from tokenfutures.service.context import ApiError, address_of, service_of, too_many
from tokenfutures.service.daily_cycle import CycleError, DailyCycle
from tokenfutures.service.sequencer import SequencerStopped
from tokenfutures.service.submit import submit

router = APIRouter(prefix="/v1", tags=["admin"])

SANDBOX_MEMBER = "SANDBOX"
SANDBOX_BALANCE = "1000000.00"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class EndOfDayBody(_Strict):
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    index: dict[str, str] | None = None


class SymbolBody(_Strict):
    symbol: str


class SandboxBody(_Strict):
    account: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,32}$")


@router.post("/admin/commands")
async def admin_command(request: Request, command: dict[str, Any]) -> dict[str, Any]:
    """Sequence any command of the JSON Lines format (docs/commands-and-events.md)."""
    service = service_of(request)
    await service.caller(request, "admin", "orders")
    outcome = await submit(service, command)
    return {"seq": outcome.seq, "events": outcome.events}


@router.post("/admin/end-of-day")
async def end_of_day(request: Request, body: EndOfDayBody) -> dict[str, Any]:
    service = service_of(request)
    await service.caller(request, "admin", "orders")
    command: dict[str, Any] = {"type": "end_of_day", "date": body.date}
    if body.index:
        command["index"] = body.index
    outcome = await submit(service, command)
    return {"seq": outcome.seq, "events": outcome.events}


@router.post("/admin/halt")
async def halt(request: Request, body: SymbolBody) -> dict[str, Any]:
    service = service_of(request)
    await service.caller(request, "admin", "orders")
    outcome = await submit(service, {"type": "set_phase", "symbol": body.symbol, "phase": "halted"})
    return {"seq": outcome.seq, "events": outcome.events}


@router.post("/admin/kill-switch")
async def kill_switch(request: Request) -> dict[str, Any]:
    """Halt every contract and cancel every live order of every account."""
    service = service_of(request)
    await service.caller(request, "admin", "orders")
    house = service.sequencer.house
    events: list[dict[str, Any]] = []
    for symbol, inst in sorted(house.exchange.instruments.items()):
        if symbol not in house.delisted and inst.phase.value != "halted":
            phase = {"type": "set_phase", "symbol": symbol, "phase": "halted"}
            outcome = await service.sequencer.submit(phase)
            events += outcome.events
    for account in sorted(house.exchange.registry.live):
        outcome = await service.sequencer.submit({"type": "cancel_all", "account": account})
        events += outcome.events
    return {"events": events}


class CycleBody(_Strict):
    step: str
    date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    symbol: str | None = None


@router.post("/admin/cycle")
async def cycle_step(request: Request, body: CycleBody) -> dict[str, Any]:
    """Run (or run again) one step of the daily cycle now: ``cycle``, ``pre_open``, ``open``,
    ``close``, ``fixings``, ``end_of_day`` (``date``), ``final_settlement`` (``symbol``)."""
    service = service_of(request)
    await service.caller(request, "admin", "orders")
    cycle: DailyCycle | None = request.app.state.daily_cycle
    if cycle is None:
        raise ApiError(404, "not_found", "the daily cycle is off (serve --daily-cycle)")
    try:
        day = None if body.date is None else date.fromisoformat(body.date)
        outcomes = await cycle.trigger(body.step, day=day, symbol=body.symbol)
    except (CycleError, ValueError) as error:
        raise ApiError(400, "invalid_field", str(error), "step") from None
    except SequencerStopped as error:
        raise ApiError(503, "unavailable", str(error)) from None
    return {"outcomes": [{"seq": o.seq, "events": o.events} for o in outcomes]}


@router.post("/admin/snapshot")
async def snapshot_now(request: Request) -> dict[str, Any]:
    """Take a snapshot of the whole state now; recovery starts from the latest one."""
    service = service_of(request)
    await service.caller(request, "admin", "orders")
    try:
        seq, state_hash = await service.sequencer.take_snapshot()
    except SequencerStopped as error:
        raise ApiError(503, "unavailable", str(error)) from None
    except ValueError as error:  # nothing journaled yet
        raise ApiError(409, "nothing_to_snapshot", str(error)) from None
    return {"seq": seq, "state_hash": state_hash}


@router.get("/admin/accounts")
async def accounts(request: Request) -> list[dict[str, Any]]:
    """Every account with cash, equity, margin and open margin call, most at risk first:
    margin calls, then the smallest headroom over maintenance margin relative to it."""
    service = service_of(request)
    await service.caller(request, "admin")
    house, money = service.sequencer.house, service.sequencer.codec.money_text
    rows = []
    for name in house.cash_owners():
        required = house.requirement(name)
        equity = house.equity(name)
        known = house.accounts.get(name)
        headroom = equity - required.maintenance
        rows.append(
            (
                # margin calls first, then the least headroom per unit of margin; accounts
                # with no margin requirement last
                (
                    name not in house.margin_calls,
                    required.maintenance == 0,
                    Fraction(headroom, required.maintenance or 1),
                    name,
                ),
                {
                    "account": name,
                    "member": None if known is None else known.member,
                    "status": None if known is None else known.status.value,
                    "cash": money(house.ledger.cash(name)),
                    "equity": money(equity),
                    "initial_margin": money(required.initial),
                    "maintenance_margin": money(required.maintenance),
                    "positions": {p.symbol: p.quantity for p in house.positions.positions_of(name)},
                    "margin_call": None
                    if name not in house.margin_calls
                    else money(house.margin_calls[name].amount),
                },
            )
        )
    return [row for _, row in sorted(rows, key=lambda r: r[0])]


@router.post("/sandbox/accounts", status_code=201)
async def sandbox_account(request: Request, body: SandboxBody) -> dict[str, Any]:
    """Sandbox only: open a test account with USD 1,000,000 and return a read/trade key."""
    service = service_of(request)
    if not service.sandbox:
        raise ApiError(404, "not_found", "the sandbox is off on this exchange")
    wait = service.ip_limiter.check(address_of(request), "signups", service.clock())
    if wait > 0:
        raise too_many("sandbox accounts from this address", wait)
    account = body.account or f"sbx-{uuid.uuid4().hex[:12]}"
    house = service.sequencer.house
    if SANDBOX_MEMBER not in house.accounts.members:
        try:  # two first sign-ups at once both try: the second finds it there, which is fine
            await submit(service, {"type": "add_member", "member": SANDBOX_MEMBER})
        except ApiError as error:
            if error.reason != "already_exists":
                raise
    if account in house.accounts.accounts:
        raise ApiError(409, "already_exists", f"account {account!r} exists", "account")
    await submit(service, {"type": "open_account", "account": account, "member": SANDBOX_MEMBER})
    await submit(service, {"type": "deposit", "account": account, "amount": SANDBOX_BALANCE})
    key = service.keys.create(account, ("read", "trade"))
    return {"account": account, "key": key.key, "secret": key.secret, "balance": SANDBOX_BALANCE}
