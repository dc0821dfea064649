"""End of day and final settlement: settle prices, pay variation margin, call margin.

``run`` settles one trading day, contract by contract in symbol order:

1. note whether the close is limit-locked (one-sided book at the limit), then close the
   contract, which expires its day (GFD) orders;
2. the settlement price by the contract's method and fallbacks (``settlement_price.py``);
3. mark every position to it (the day's realised P&L is paid with it, in one amount);
4. the next day's limits follow the new settlement; a limit-locked close widens them and
   raises margin (SHFE steps), a normal close restores both;

then posts each account's variation margin in cash, issues margin calls to accounts whose
cash is below the maintenance margin of their positions (called: back up to initial), and
writes every account's daily statement.

``final_settlement`` closes an expired contract at its final settlement price and delists it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenfutures.domain.clearing.accounts import AccountStatus
from tokenfutures.domain.clearing.commands import EndOfDay, FinalSettlement
from tokenfutures.domain.clearing.events import (
    ContractSettled,
    EndOfDayCompleted,
    FinalSettlementPaid,
    LimitLocked,
    MarginCallIssued,
    SettlementPriceSet,
    VariationMarginPosted,
)
from tokenfutures.domain.clearing.ledger import SETTLEMENT, AccountKind, PostingReason
from tokenfutures.domain.clearing.positions import Position
from tokenfutures.domain.clearing.risk import Requirement, positions_margin
from tokenfutures.domain.clearing.settlement_price import (
    SettlementInputs,
    locked_direction,
    settlement_price,
)
from tokenfutures.domain.clearing.statements import (
    CashMovements,
    Statement,
    StatementPosition,
    cash_movements,
)
from tokenfutures.domain.clearing.terms import ContractTerms
from tokenfutures.domain.index.aggregation import round_half_even
from tokenfutures.domain.invariants import InvariantViolation
from tokenfutures.domain.rejects import CancelReason, RejectReason
from tokenfutures.domain.validation import Problem
from tokenfutures.domain.values import Phase

if TYPE_CHECKING:
    from tokenfutures.domain.clearing.house import ClearingHouse


def run(house: ClearingHouse, cmd: EndOfDay, out: list[Any]) -> None:
    previous = house.last_end_of_day
    if previous is not None and cmd.date <= previous:
        problem = Problem(
            RejectReason.DATE_NOT_AFTER_PREVIOUS,
            "date",
            f"{cmd.date.isoformat()} is not after the last end of day {previous.isoformat()}",
        )
        house.reject(cmd, problem, out)
        return
    index = dict(cmd.index)
    variation: dict[str, int] = {}
    settled = 0
    for symbol in sorted(house.terms):
        if symbol not in house.delisted:
            _settle_contract(house, cmd, symbol, index, variation, out)
            settled += 1
    ledger = house.ledger
    for account in sorted(variation):
        amount = variation[account]
        ledger.settle_cash(account, amount, PostingReason.VARIATION_MARGIN, f"eod {cmd.date}")
        out.append(VariationMarginPosted(cmd.ts, account, amount, ledger.cash(account)))
    if ledger.balance(SETTLEMENT) != 0:
        raise InvariantViolation("the settlement account is not flat after marking every position")
    house.index_values = index  # the fallback compares with the last end of day only
    by_account = _positions_by_account(house)
    required = _margin_calls(house, cmd, by_account, out)
    _statements(house, cmd, by_account, required)
    live = {o.order_id for i in house.exchange.instruments.values() for o in i.live_orders()}
    house.reduce_only = {k: v for k, v in house.reduce_only.items() if k in live}
    house.day = type(house.day)()
    house.last_end_of_day = cmd.date
    out.append(
        EndOfDayCompleted(cmd.ts, cmd.date, settled, len(variation), len(house.margin_calls))
    )


def _settle_contract(
    house: ClearingHouse, cmd: EndOfDay, symbol: str, index: dict[str, int],
    variation: dict[str, int], out: list[Any],
) -> None:  # fmt: skip
    inst = house.exchange.instruments[symbol]
    terms = house.terms[symbol]
    ts = cmd.ts
    house.advance(symbol, ts, out)  # a circuit-breaker pause that has run out reopens first
    bid, ask = inst.bids.best_price(), inst.asks.best_price()
    lock = locked_direction(bid, ask, inst.lower_limit, inst.upper_limit)
    if inst.phase is not Phase.CLOSED:
        events: list[Any] = []
        inst.change_phase(Phase.CLOSED, ts, "end_of_day", events)
        house.absorb(events, out, ts)
    prints = house.day.prints.get(symbol, [])
    price, method = settlement_price(
        SettlementInputs(
            method=terms.daily_settlement_method,
            min_lots=terms.daily_settlement_min_lots,
            prints=prints,
            close_ts=house.day.closed_at.get(symbol, ts),
            previous=house.settlement_prices[symbol],
            lower_limit=inst.lower_limit,
            upper_limit=inst.upper_limit,
            best_bid=bid,
            best_ask=ask,
            index_previous=house.index_values.get(terms.underlying),
            index_now=index.get(terms.underlying),
        )
    )
    for account, amount in house.positions.mark_to_market(symbol, price, terms.tick_value).items():
        variation[account] = variation.get(account, 0) + amount
    limit_bp = _escalate(house, terms, lock, ts, out)
    house.settlement_prices[symbol] = price
    events = []
    inst.set_reference(price, ts, events, limit_bp)
    house.absorb(events, out, ts)
    out.append(
        SettlementPriceSet(
            ts,
            cmd.date,
            symbol,
            price,
            method,
            sum(p.quantity for p in prints),
            house.positions.open_interest(symbol),
            inst.lower_limit,
            inst.upper_limit,
        )  # fmt: skip
    )


def _escalate(
    house: ClearingHouse, terms: ContractTerms, lock: int, ts: int, out: list[Any]
) -> int:
    """The next day's limit (bp): widened step by step while closes stay locked one way."""
    symbol = terms.symbol
    if lock == 0:
        house.limit_locks.pop(symbol, None)
        house.scan_overrides.pop(symbol, None)
        return terms.price_limit_bp
    direction, step = house.limit_locks.get(symbol, (0, 0))
    step = step + 1 if direction == lock else 1
    limit_bp = terms.price_limit_bp + min(step, 2) * terms.limit_lock_step_bp
    margin_bp = max(terms.margin_bp, limit_bp + terms.limit_lock_margin_extra_bp)
    house.limit_locks[symbol] = (lock, step)
    house.scan_overrides[symbol] = margin_bp
    way = "up" if lock > 0 else "down"
    out.append(LimitLocked(ts, symbol, way, step, limit_bp, margin_bp, step >= 3))
    return limit_bp


def _positions_by_account(house: ClearingHouse) -> dict[str, list[Position]]:
    found: dict[str, list[Position]] = {}
    for symbol in house.positions.symbols():
        for position in house.positions.positions_in(symbol):
            found.setdefault(position.account, []).append(position)
    return found


def _margin_calls(
    house: ClearingHouse, cmd: EndOfDay, by_account: dict[str, list[Position]], out: list[Any]
) -> dict[str, Requirement]:
    """Call every account whose cash is below the maintenance margin of its positions (a
    flat account with negative cash too), back up to the initial margin; the margin of
    every account with positions, for the statements."""
    house.margin_calls = {}
    basis = house.margin_basis()
    negative = {
        entry.owner
        for entry, balance in house.ledger.balances().items()
        if entry.kind is AccountKind.CASH and balance < 0
    }
    required: dict[str, Requirement] = {}
    for account in sorted(set(by_account) | negative):
        held = by_account.get(account, [])
        needed = required[account] = positions_margin({p.symbol: p.quantity for p in held}, basis)
        known = house.accounts.get(account)
        if account == house.parameters.house_account or (
            known is not None
            and known.status in (AccountStatus.LIQUIDATING, AccountStatus.DEFAULTED)
        ):
            continue  # the house's own book, and accounts the default procedure has taken
        cash = house.ledger.cash(account)
        if cash < needed.maintenance or cash < 0:
            call = MarginCallIssued(
                cmd.ts, account, cash, needed.initial, needed.maintenance, needed.initial - cash
            )
            house.margin_calls[account] = call
            out.append(call)
    return required


def _statements(
    house: ClearingHouse,
    cmd: EndOfDay,
    by_account: dict[str, list[Position]],
    required: dict[str, Requirement],
) -> None:
    journal = house.ledger.journal
    movements = cash_movements(journal[house.statement_mark :])
    house.statement_mark = len(journal)
    nothing = Requirement(0, 0)
    owners = set(house.accounts.accounts) | set(house.closing_balances) | set(movements)
    owners.update(by_account)
    for account in sorted(owners):
        moved = movements.get(account, CashMovements())
        opening = house.closing_balances.get(account, 0)
        closing = house.ledger.cash(account)
        if opening + moved.net != closing:
            raise InvariantViolation(f"{account}: the day's statement does not reconcile")
        held = by_account.get(account, [])
        lines = tuple(
            StatementPosition(
                p.symbol,
                p.quantity,
                p.average_entry_price,
                house.settlement_prices[p.symbol],
                p.unrealised_pnl(
                    house.settlement_prices[p.symbol], house.terms[p.symbol].tick_value
                ),
            )
            for p in held
        )
        needed = required.get(account, nothing)
        call = house.margin_calls.get(account)
        house.statements[(account, cmd.date)] = Statement(
            account=account,
            date=cmd.date,
            opening_balance=opening,
            movements=moved,
            closing_balance=closing,
            trades=tuple(house.day.trades.get(account, ())),
            positions=lines,
            initial_margin=needed.initial,
            maintenance_margin=needed.maintenance,
            margin_call=0 if call is None else call.amount,
        )
        house.closing_balances[account] = closing


def _final_settlement_problem(house: ClearingHouse, cmd: FinalSettlement) -> Problem | None:
    terms = house.terms.get(cmd.symbol)
    if terms is None:
        return Problem(RejectReason.UNKNOWN_SYMBOL, "symbol", f"{cmd.symbol!r} is not listed")
    if cmd.symbol in house.delisted:
        return Problem(RejectReason.CONTRACT_DELISTED, "symbol", f"{cmd.symbol} is settled")
    if house.last_end_of_day is None or house.last_end_of_day < terms.last_trading_day:
        return Problem(
            RejectReason.FINAL_SETTLEMENT_NOT_DUE,
            "symbol",
            f"{cmd.symbol} settles after the end of day of its last trading day "
            f"{terms.last_trading_day.isoformat()}",
        )
    if (cmd.price is None) == (not cmd.fixings):
        return Problem(
            RejectReason.INVALID_FIELD, "price", "give either a price or the window's fixings"
        )
    if cmd.fixings and len(cmd.fixings) != terms.final_settlement_days:
        return Problem(
            RejectReason.INVALID_FIELD,
            "fixings",
            f"must be the {terms.final_settlement_days} daily fixings of the settlement "
            f"window, got {len(cmd.fixings)}",
        )
    return None


def final_settlement(house: ClearingHouse, cmd: FinalSettlement, out: list[Any]) -> None:
    problem = _final_settlement_problem(house, cmd)
    if problem is not None:
        house.reject(cmd, problem, out)
        return
    terms = house.terms[cmd.symbol]
    price = cmd.price
    if price is None:
        price = round_half_even(sum(cmd.fixings), len(cmd.fixings) * terms.tick_micros)
    if price < 1:
        field = "price" if cmd.price is not None else "fixings"
        house.reject(cmd, Problem(RejectReason.INVALID_PRICE, field, "must be positive"), out)
        return
    ts = cmd.ts
    inst = house.exchange.instruments[cmd.symbol]
    from tokenfutures.domain.clearing.house import cancel_orders

    cancel_orders(house, inst.live_orders(), ts, CancelReason.DELISTED, out)
    if inst.phase is not Phase.CLOSED:
        events: list[Any] = []
        inst.change_phase(Phase.CLOSED, ts, "final_settlement", events)
        house.absorb(events, out, ts)
    quantities = {p.account: p.quantity for p in house.positions.positions_in(cmd.symbol)}
    open_interest = house.positions.open_interest(cmd.symbol)
    amounts = house.positions.mark_to_market(cmd.symbol, price, terms.tick_value)
    for account in sorted(amounts):
        amount = amounts[account]
        house.ledger.settle_cash(
            account, amount, PostingReason.FINAL_SETTLEMENT, f"final {cmd.symbol}"
        )
        out.append(
            FinalSettlementPaid(ts, account, cmd.symbol, quantities.get(account, 0), price, amount)
        )
    house.positions.close_symbol(cmd.symbol)
    house.delisted.add(cmd.symbol)
    house.settlement_prices[cmd.symbol] = price
    out.append(ContractSettled(ts, cmd.symbol, price, open_interest))
