"""Margin-call deadline, forced liquidation and the default procedure.

At the deadline each account called at the last end of day is looked at again: a call is met
when the account's equity (losses counted at once, gains once paid) covers the initial
margin of its positions — the same measure the call was made on, so paying the called amount
meets it. An unmet call is liquidated:

1. the account becomes ``liquidating`` (it may not trade) and its working orders are
   cancelled;
2. each position is closed by IOC orders from the account itself, at the day's limit price on
   the closing side, sent through the same matching core as every other order;
3. the account's P&L is settled in cash at once, at the marks;
4. if nothing is left open and the cash is not negative, the account returns to the state it
   had (active, or cancel-only if the exchange had halted it);
   otherwise it is in **default**: what could not be closed is transferred to the clearing
   house's own account at the mark, and the deficit (negative cash) is covered by the
   waterfall (``waterfall.py``), each step an event; an uncovered rest is reported.

Every transfer is a ledger posting inside the exchange, so money stays conserved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenfutures.domain.clearing.accounts import Account, AccountStatus
from tokenfutures.domain.clearing.commands import MarginCallDeadline
from tokenfutures.domain.clearing.events import (
    DefaultDeclared,
    DefaultLossAllocated,
    DefaultLossUnallocated,
    DefaultMarginTransferred,
    LiquidationCompleted,
    LiquidationStarted,
    MarginCallMet,
    PositionTransferred,
)
from tokenfutures.domain.clearing.ledger import (
    HOUSE_CAPITAL,
    AccountKind,
    LedgerAccount,
    PostingReason,
    assessment_account,
    cash_account,
    guaranty_fund_account,
)
from tokenfutures.domain.clearing.risk import positions_margin
from tokenfutures.domain.clearing.waterfall import allocate
from tokenfutures.domain.commands import NewOrder
from tokenfutures.domain.rejects import CancelReason
from tokenfutures.domain.values import BASIS_POINTS, OrderType, Phase, Side, TimeInForce

if TYPE_CHECKING:
    from tokenfutures.domain.clearing.house import ClearingHouse

MAX_LIQUIDATION_ROUNDS = 100  # IOC rounds per position; each round fills or stops


def margin_call_deadline(house: ClearingHouse, cmd: MarginCallDeadline, out: list[Any]) -> None:
    calls, house.margin_calls = house.margin_calls, {}
    basis = house.margin_basis()
    for account in sorted(calls):
        known = house.accounts.get(account)
        if known is not None and known.status not in (
            AccountStatus.ACTIVE,
            AccountStatus.CANCEL_ONLY,
        ):
            continue  # already being liquidated or in default
        equity = house.risk_equity(account)
        held = {p.symbol: p.quantity for p in house.positions.positions_of(account)}
        needed = positions_margin(held, basis).initial
        if equity >= needed:
            out.append(MarginCallMet(cmd.ts, account, equity, needed))
        else:
            liquidate(house, account, cmd.ts, "margin_call_not_met", out)


def liquidate(house: ClearingHouse, account: str, ts: int, reason: str, out: list[Any]) -> None:
    from tokenfutures.domain.clearing.house import cancel_orders

    collateral = house.ledger.cash(account)
    known = house.accounts.get(account)
    status_before = AccountStatus.ACTIVE if known is None else known.status
    if known is not None:
        house.set_status(account, AccountStatus.LIQUIDATING, reason, ts, out)
    out.append(LiquidationStarted(ts, account, reason))
    cancel_orders(house, house.exchange.registry.orders_of(account), ts, CancelReason.LIQUIDATION,
                  out)  # fmt: skip
    for position in house.positions.positions_of(account):
        _close_position(house, account, position.symbol, ts, out)
    for position in house.positions.held_by(account):
        symbol = position.symbol
        amount = house.positions.settle_account(
            account, symbol, house.mark(symbol), house.terms[symbol].tick_value
        )
        house.ledger.settle_cash(account, amount, PostingReason.VARIATION_MARGIN, "liquidation")
    still_open = house.positions.positions_of(account)
    cash = house.ledger.cash(account)
    out.append(LiquidationCompleted(ts, account, len(still_open), cash))
    if not still_open and cash >= 0:
        if known is not None:
            house.set_status(account, status_before, "liquidated", ts, out)
        return
    _default(house, account, collateral, ts, out)


def _close_position(
    house: ClearingHouse, account: str, symbol: str, ts: int, out: list[Any]
) -> None:
    inst = house.exchange.instruments[symbol]
    house.advance(symbol, ts, out)  # a circuit-breaker pause that has run out reopens first
    for _ in range(MAX_LIQUIDATION_ROUNDS):
        quantity = house.positions.position(account, symbol).quantity
        if quantity == 0 or inst.phase is not Phase.CONTINUOUS:
            return
        selling = quantity > 0
        order = NewOrder(
            ts=ts,
            account=account,
            client_order_id=f"liquidation-{house.exchange.registry.next_order_id}",
            symbol=symbol,
            side=Side.SELL if selling else Side.BUY,
            order_type=OrderType.LIMIT,
            quantity=min(abs(quantity), inst.rules.max_order_quantity),
            price=inst.lower_limit if selling else inst.upper_limit,
            time_in_force=TimeInForce.IOC,
        )
        house.absorb(house.exchange.handle(order), out, ts)
        if house.positions.position(account, symbol).quantity == quantity:
            return  # nothing filled: the book has no more to give


def _default(house: ClearingHouse, account: str, collateral: int, ts: int, out: list[Any]) -> None:
    known = house.accounts.get(account)
    member = known.member if known is not None else account
    if known is not None:
        house.set_status(account, AccountStatus.DEFAULTED, "default", ts, out)
    cash = house.ledger.cash(account)
    deficit = max(0, -cash)
    loss = max(0, collateral - cash)
    out.append(DefaultDeclared(ts, account, member, loss, deficit))
    _transfer_positions(house, account, ts, out)
    covered_by_margin = min(max(0, collateral), loss)
    if covered_by_margin:
        out.append(DefaultLossAllocated(ts, account, "defaulter_margin", account,
                                        covered_by_margin, deficit))  # fmt: skip
    if deficit == 0:
        return
    ledger = house.ledger
    funds = {
        entry.owner: balance
        for entry, balance in ledger.balances().items()
        if entry.kind is AccountKind.GUARANTY_FUND
    }
    cap_bp = house.parameters.assessment_cap_bp
    assessable = {
        name: contribution * cap_bp // BASIS_POINTS + ledger.balance(assessment_account(name))
        for name, contribution in house.contributions.items()
    }  # the cap less what earlier defaults assessed (an assessment account is negative)
    steps, unallocated = allocate(deficit, member, funds, ledger.balance(HOUSE_CAPITAL), assessable)
    remaining = deficit
    for step in steps:
        source = _source_account(step.step, step.source)
        ledger.transfer(source, cash_account(account), step.amount,
                        PostingReason.DEFAULT_TRANSFER, f"default {account}")  # fmt: skip
        remaining -= step.amount
        out.append(DefaultLossAllocated(ts, account, step.step, step.source, step.amount,
                                        remaining))  # fmt: skip
    if unallocated:
        out.append(DefaultLossUnallocated(ts, account, unallocated))


def _source_account(step: str, source: str) -> LedgerAccount:
    if step == "house_capital":
        return HOUSE_CAPITAL
    if step == "assessments":
        return assessment_account(source)
    return guaranty_fund_account(source)


def _transfer_positions(house: ClearingHouse, account: str, ts: int, out: list[Any]) -> None:
    """Move what could not be closed to the clearing house's own account, at the mark, with
    the defaulter's cash up to the initial margin of what moved (margin follows positions)."""
    house_account = house.parameters.house_account
    open_positions = house.positions.positions_of(account)
    if not open_positions:
        return
    if house_account not in house.accounts.accounts:
        house.accounts.open(Account(house_account, house_account, house_account, True))
    moved: dict[str, int] = {}
    for position in open_positions:
        symbol = position.symbol
        price = house.mark(symbol)
        moved[symbol] = house.positions.transfer(
            symbol, account, house_account, price, house.terms[symbol].tick_value
        )
        out.append(PositionTransferred(ts, symbol, account, house_account, moved[symbol], price))
    margin = positions_margin(moved, house.margin_basis()).initial
    amount = min(max(0, house.ledger.cash(account)), margin)
    if amount:
        house.ledger.transfer(
            cash_account(account), cash_account(house_account), amount,
            PostingReason.DEFAULT_TRANSFER, f"default {account}",
        )  # fmt: skip
        out.append(DefaultMarginTransferred(ts, account, house_account, amount))
