"""The clearing house: the sequencer's pipeline from a command to cleared events.

``ClearingHouse.handle(command)`` runs every command of the exchange: trading commands pass
the pre-trade risk checks and go to the matching core (``Exchange``), whose trades are then
cleared (positions, fees); money, member and account commands and the daily cycle
(end of day, margin-call deadline, final settlement) are handled here. Like the core it is
deterministic: time comes from the commands, refusals are ``CommandRejected`` events that
change nothing, and a broken invariant raises.

The day's work is split: ``end_of_day.py`` settles a trading day, ``defaults.py`` liquidates
and runs the default waterfall, ``pretrade.py`` holds the order checks, ``listings.py`` lists
contract months after the start (the roll onto the next month).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import date
from functools import partial
from typing import Any

from tokenfutures.domain.clearing import defaults, end_of_day, listings, membership, pretrade
from tokenfutures.domain.clearing.accounts import Accounts, AccountStatus
from tokenfutures.domain.clearing.commands import (
    AddMember,
    ClearingCommand,
    EndOfDay,
    FinalSettlement,
    FundHouseCapital,
    ListContract,
    MarginCallDeadline,
    OpenAccount,
    SetAccountStatus,
    Withdraw,
)
from tokenfutures.domain.clearing.events import (
    AccountStatusChanged,
    MarginCallIssued,
    TradeCleared,
)
from tokenfutures.domain.clearing.ledger import (
    SETTLEMENT,
    AccountKind,
    Ledger,
)
from tokenfutures.domain.clearing.margin import MarginParameters
from tokenfutures.domain.clearing.positions import Positions
from tokenfutures.domain.clearing.risk import Exposure, MarginBasis, Requirement, worst_case_margin
from tokenfutures.domain.clearing.settlement_price import Print
from tokenfutures.domain.clearing.statements import Statement, StatementTrade
from tokenfutures.domain.clearing.terms import ClearingParameters, ContractTerms
from tokenfutures.domain.commands import (
    AmendOrder,
    Command,
    Deposit,
    NewOrder,
    SetReferencePrice,
)
from tokenfutures.domain.events import (
    CommandRejected,
    OrderAccepted,
    PhaseChanged,
    TradeExecuted,
)
from tokenfutures.domain.exchange import Exchange
from tokenfutures.domain.exchange import command_name as trading_command_name
from tokenfutures.domain.invariants import InvariantViolation
from tokenfutures.domain.listing import ListedContract
from tokenfutures.domain.rejects import CancelReason, RejectReason
from tokenfutures.domain.validation import Problem
from tokenfutures.domain.values import Phase, Side

AnyCommand = Command | ClearingCommand

_COMMAND_NAMES: dict[type, str] = {
    Withdraw: "withdraw",
    AddMember: "add_member",
    OpenAccount: "open_account",
    SetAccountStatus: "set_account_status",
    FundHouseCapital: "fund_house_capital",
    EndOfDay: "end_of_day",
    MarginCallDeadline: "margin_call_deadline",
    FinalSettlement: "final_settlement",
    ListContract: "list_contract",
}


def command_name(cmd: AnyCommand) -> str:
    name = _COMMAND_NAMES.get(type(cmd))
    return name if name is not None else trading_command_name(cmd)  # type: ignore[arg-type]


class TradingDay:
    """What the clearing house collects between two ends of day."""

    def __init__(self) -> None:
        self.prints: dict[str, list[Print]] = {}
        self.last_price: dict[str, int] = {}
        self.closed_at: dict[str, int] = {}
        self.opened: dict[tuple[str, str], int] = {}  # (group, symbol) -> lots opened today
        self.trades: dict[str, list[StatementTrade]] = {}
        self.listed: list[str] = []  # contracts listed today: no end of day has settled them

    def state(self) -> tuple[object, ...]:
        """Everything of the day that changes later results (settlement, marks, caps)."""
        state: tuple[object, ...] = (
            tuple(sorted((s, tuple(p)) for s, p in self.prints.items())),
            tuple(sorted(self.last_price.items())),
            tuple(sorted(self.closed_at.items())),
            tuple(sorted(self.opened.items())),
            tuple(sorted((a, tuple(t)) for a, t in self.trades.items())),
        )
        if self.listed:  # only then: a day without listings hashes as it always has
            state += (tuple(self.listed),)
        return state


class ClearingHouse:
    def __init__(
        self,
        exchange: Exchange,
        terms: Iterable[ContractTerms],
        margin_parameters: Mapping[str, MarginParameters],
        *,
        risk: bool = True,
        parameters: ClearingParameters | None = None,
    ) -> None:
        self.exchange = exchange
        self.terms: dict[str, ContractTerms] = {t.symbol: t for t in terms}
        missing = sorted(set(exchange.instruments) ^ set(self.terms))
        if missing:
            raise ValueError(f"{missing[0]}: listed without clearing terms, or the reverse")
        self.margin_parameters = dict(margin_parameters)
        self.risk = risk
        self.parameters = parameters or ClearingParameters()
        self.ledger = Ledger()
        self.positions = Positions()
        self.accounts = Accounts()
        self.settlement_prices = {s: i.reference for s, i in exchange.instruments.items()}
        self.scan_overrides: dict[str, int] = {}
        self.limit_locks: dict[str, tuple[int, int]] = {}  # symbol -> (direction, step)
        self.index_values: dict[str, int] = {}  # underlying -> fixing at the last end of day
        self.margin_calls: dict[str, MarginCallIssued] = {}
        self.contributions: dict[str, int] = {}  # guaranty-fund contribution of each member
        self.delisted: set[str] = set()
        self.listings: dict[str, ListedContract] = {}  # listed after the start, in order
        self.reduce_only: dict[int, str] = {}  # order id -> account
        self.last_end_of_day: date | None = None
        self.statements: dict[tuple[str, date], Statement] = {}
        self.closing_balances: dict[str, int] = {}
        self.statement_mark = 0  # ledger postings already in a statement
        self.day = TradingDay()
        self._handlers: dict[type, Any] = {
            NewOrder: self._new_order,
            SetReferencePrice: self._set_reference_price,
            AmendOrder: self._amend_order,
            Deposit: partial(membership.deposit, self),
            Withdraw: partial(membership.withdraw, self),
            AddMember: partial(membership.add_member, self),
            OpenAccount: partial(membership.open_account, self),
            SetAccountStatus: partial(membership.set_account_status, self),
            FundHouseCapital: partial(membership.fund_house_capital, self),
            EndOfDay: self._end_of_day,
            MarginCallDeadline: self._margin_call_deadline,
            FinalSettlement: self._final_settlement,
            ListContract: partial(listings.list_contract, self),
        }

    # --- the pipeline ----------------------------------------------------------------------

    def handle(self, command: AnyCommand) -> list[Any]:
        out: list[Any] = []
        if command.ts < self.exchange.clock:
            problem = Problem(
                RejectReason.TS_BEFORE_PREVIOUS, "ts", "is earlier than the previous command's"
            )
            self.reject(command, problem, out)
            return out
        handler = self._handlers.get(type(command))
        if handler is None:
            self.absorb(self.exchange.handle(command), out, command.ts)  # type: ignore[arg-type]
            return out
        handler(command, out)
        if out and (len(out) != 1 or type(out[0]) is not CommandRejected):
            self.exchange.clock = command.ts
        return out

    def absorb(self, events: list[Any], out: list[Any], ts: int) -> None:
        """Pass the core's events on, clearing each trade as it comes."""
        touched: set[str] = set()
        for event in events:
            out.append(event)
            kind = type(event)
            if kind is TradeExecuted:
                self._clear_trade(event, out)
                touched.add(event.buy_account)
                touched.add(event.sell_account)
            elif kind is PhaseChanged and event.phase is Phase.CLOSED:
                self.day.closed_at[event.symbol] = event.ts
        if touched and self.reduce_only:
            pretrade.trim_reduce_only(self, touched, ts, out)

    def reject(self, cmd: AnyCommand, problem: Problem, out: list[Any]) -> None:
        out.append(
            CommandRejected(
                ts=cmd.ts,
                command=command_name(cmd),
                reason=problem.reason,
                detail=problem.detail,
                account=getattr(cmd, "account", None),
                client_order_id=getattr(cmd, "client_order_id", None),
                symbol=getattr(cmd, "symbol", None),
                field=problem.field,
            )
        )

    # --- orders ----------------------------------------------------------------------------

    def advance(self, symbol: str, ts: int, out: list[Any]) -> None:
        """Let a time-driven change due by ``ts`` happen first (a circuit-breaker pause that
        has run out reopens the book), as the core does before any command of the symbol."""
        inst = self.exchange.instruments.get(symbol)
        if inst is not None and inst.reopen_at is not None and ts >= inst.reopen_at:
            events: list[Any] = []
            inst.advance(ts, events)
            self.absorb(events, out, ts)

    def _new_order(self, cmd: NewOrder, out: list[Any]) -> None:
        self.advance(cmd.symbol, cmd.ts, out)
        problem = pretrade.new_order_problem(self, cmd)
        if problem is not None:
            self.reject(cmd, problem, out)
            return
        events = self.exchange.handle(cmd)
        accepted = next((e for e in events if type(e) is OrderAccepted), None)
        if cmd.reduce_only and isinstance(accepted, OrderAccepted):
            self.reduce_only[accepted.order_id] = cmd.account
        self.absorb(events, out, cmd.ts)

    def _amend_order(self, cmd: AmendOrder, out: list[Any]) -> None:
        self.advance(cmd.symbol, cmd.ts, out)
        problem = pretrade.amend_problem(self, cmd)
        if problem is not None:
            self.reject(cmd, problem, out)
            return
        self.absorb(self.exchange.handle(cmd), out, cmd.ts)

    def _set_reference_price(self, cmd: SetReferencePrice, out: list[Any]) -> None:
        """An operator's new prior settlement: limits, bands, and the price margin and the
        settlement fallbacks start from; a widened limit after a locked close stays."""
        inst = self.exchange.instruments.get(cmd.symbol)
        problem: Problem | None = None
        if inst is None:
            problem = Problem(
                RejectReason.UNKNOWN_SYMBOL, "symbol", f"{cmd.symbol!r} is not listed"
            )
        elif cmd.symbol in self.delisted:
            problem = Problem(
                RejectReason.CONTRACT_DELISTED, "symbol", f"{cmd.symbol} has been finally settled"
            )
        elif cmd.price < 1:
            problem = Problem(RejectReason.INVALID_PRICE, "price", "must be positive")
        if problem is not None or inst is None:
            self.reject(cmd, problem or Problem(RejectReason.UNKNOWN_SYMBOL, "symbol", ""), out)
            return
        self.advance(cmd.symbol, cmd.ts, out)
        self.settlement_prices[cmd.symbol] = cmd.price
        events: list[Any] = []
        inst.set_reference(cmd.price, cmd.ts, events, self.price_limit_bp(cmd.symbol))
        self.absorb(events, out, cmd.ts)

    def price_limit_bp(self, symbol: str) -> int:
        """The contract's daily limit now: widened while closes stay limit-locked."""
        terms = self.terms[symbol]
        _, step = self.limit_locks.get(symbol, (0, 0))
        return terms.price_limit_bp + min(step, 2) * terms.limit_lock_step_bp

    def _clear_trade(self, trade: TradeExecuted, out: list[Any]) -> None:
        symbol, price, quantity = trade.symbol, trade.price, trade.quantity
        terms = self.terms[symbol]
        for account, is_buy in ((trade.buy_account, True), (trade.sell_account, False)):
            held = self.positions.position(account, symbol).quantity
            closable = max(0, -held) if is_buy else max(0, held)
            opened = quantity - min(quantity, closable)
            if opened:
                key = (self.group_of(account), symbol)
                self.day.opened[key] = self.day.opened.get(key, 0) + opened
        self.positions.apply_trade(
            symbol, trade.buy_account, trade.sell_account, quantity, price, terms.tick_value
        )
        fee = terms.fee(price, quantity)
        reference = f"trade {trade.trade_id}"
        day = self.day
        house_account = self.parameters.house_account
        fees = []
        for account, side in ((trade.buy_account, Side.BUY), (trade.sell_account, Side.SELL)):
            charged = 0 if account == house_account else fee  # the house does not pay itself
            fees.append(charged)
            if charged:
                self.ledger.charge_fee(account, charged, reference)
            line = StatementTrade(trade.ts, trade.trade_id, symbol, side, quantity, price, charged)
            day.trades.setdefault(account, []).append(line)
        day.prints.setdefault(symbol, []).append(Print(trade.ts, price, quantity))
        day.last_price[symbol] = price
        out.append(
            TradeCleared(
                trade.ts,
                trade.trade_id,
                symbol,
                trade.buy_account,
                fees[0],
                trade.sell_account,
                fees[1],
            )  # fmt: skip
        )

    def _end_of_day(self, cmd: EndOfDay, out: list[Any]) -> None:
        end_of_day.run(self, cmd, out)

    def _margin_call_deadline(self, cmd: MarginCallDeadline, out: list[Any]) -> None:
        defaults.margin_call_deadline(self, cmd, out)

    def _final_settlement(self, cmd: FinalSettlement, out: list[Any]) -> None:
        end_of_day.final_settlement(self, cmd, out)

    # --- account states ---------------------------------------------------------------------

    def set_status(
        self, account: str, status: AccountStatus, reason: str, ts: int, out: list[Any]
    ) -> None:
        self.accounts.set_status(account, status)
        out.append(AccountStatusChanged(ts, account, status.value, reason))

    # --- valuations ------------------------------------------------------------------------

    def group_of(self, account: str) -> str:
        found = self.accounts.get(account)
        return account if found is None else found.group

    def mark(self, symbol: str) -> int:
        """The price positions are valued at intraday: the day's last trade, else settlement."""
        last = self.day.last_price.get(symbol)
        return last if last is not None else self.settlement_prices[symbol]

    def margin_basis(self) -> MarginBasis:
        return MarginBasis(
            self.terms, self.margin_parameters, self.settlement_prices, self.scan_overrides
        )

    def pending(self, account: str) -> int:
        """Variation margin the account would be paid (or pay) if marked now."""
        return sum(
            p.pending_variation_margin(self.mark(p.symbol), self.terms[p.symbol].tick_value)
            for p in self.positions.held_by(account)
        )

    def equity(self, account: str) -> int:
        """Cash plus the account's open and unpaid realised P&L at the marks."""
        return self.ledger.cash(account) + self.pending(account)

    def risk_equity(self, account: str) -> int:
        """What pre-trade checks and withdrawals count: losses at once, gains once paid."""
        return self.ledger.cash(account) + min(0, self.pending(account))

    def exposures(self, account: str, skip_order: int | None = None) -> dict[str, Exposure]:
        """Net positions and working orders (all but ``skip_order``) by symbol.

        A working order is valued at its limit price, or at the day's limit on its side
        (market and stop orders); it loses at once what that price is worse than the mark.
        """
        found: dict[str, Exposure] = {}
        for position in self.positions.positions_of(account):
            found[position.symbol] = Exposure(net=position.quantity)
        context: dict[str, tuple[int, int, int, int]] = {}  # mark, tick value, limits
        for order in self.exchange.registry.orders_of(account):
            if order.order_id == skip_order:
                continue
            symbol = order.symbol
            exposure = found.get(symbol)
            if exposure is None:
                exposure = found[symbol] = Exposure()
            known = context.get(symbol)
            if known is None:
                inst = self.exchange.instruments[symbol]
                known = context[symbol] = (
                    self.mark(symbol), self.terms[symbol].tick_value,
                    inst.lower_limit, inst.upper_limit,
                )  # fmt: skip
            mark, tick_value, lower, upper = known
            leaves = order.leaves
            if order.is_buy:
                price = order.price or upper
                exposure.buys += leaves
                if price > mark:
                    exposure.buy_fill_loss += (price - mark) * leaves * tick_value
            else:
                price = order.price or lower
                exposure.sells += leaves
                if price < mark:
                    exposure.sell_fill_loss += (mark - price) * leaves * tick_value
        return found

    def requirement(self, account: str) -> Requirement:
        """Margin of the positions plus the worst case of the working orders."""
        return worst_case_margin(self.exposures(account), self.margin_basis())

    def free_collateral(self, account: str) -> int:
        return self.risk_equity(account) - self.requirement(account).initial

    def cash_owners(self) -> list[str]:
        """Every account holding cash, a position or a statement history, sorted."""
        owners = set(self.accounts.accounts) | set(self.closing_balances)
        owners.update(a.owner for a in self.ledger.balances() if a.kind is AccountKind.CASH)
        for symbol in self.positions.symbols():
            owners.update(p.account for p in self.positions.positions_in(symbol))
        return sorted(owners)

    # --- checks ----------------------------------------------------------------------------

    def money_conserved(self) -> bool:
        return self.ledger.total() == self.ledger.deposited - self.ledger.withdrawn

    def check_invariants(self) -> None:
        self.exchange.check_invariants()
        self.ledger.check()
        self.positions.check()
        if self.pending_total() != self.ledger.balance(SETTLEMENT):
            raise InvariantViolation("unpaid variation margin and the settlement account differ")

    def pending_total(self) -> int:
        """Unpaid variation margin over every position. It equals the settlement account's
        balance: zero after a full marking; after one account is settled early (a
        liquidation), what the settlement account holds is what the others are still owed."""
        total = 0
        for symbol in self.positions.symbols():
            price, tick_value = self.mark(symbol), self.terms[symbol].tick_value
            for account in self.positions.accounts_in(symbol):
                position = self.positions.position(account, symbol)
                total += position.pending_variation_margin(price, tick_value)
        return total

    def state_hash(self) -> str:
        positions = tuple(
            (symbol, account, self.positions.position(account, symbol))
            for symbol in self.positions.symbols()
            for account in self.positions.accounts_in(symbol)
        )
        state: tuple[object, ...] = (
            self.exchange.state_hash(),
            tuple(sorted((repr(k), v) for k, v in self.ledger.balances().items())),
            positions,
            self.accounts.state(),
            tuple(sorted(self.settlement_prices.items())),
            tuple(sorted(self.scan_overrides.items())),
            tuple(sorted(self.limit_locks.items())),
            tuple(sorted(self.index_values.items())),
            tuple(sorted(self.margin_calls)),
            tuple(sorted(self.delisted)),
            tuple(sorted(self.reduce_only.items())),
            self.last_end_of_day,
            tuple(sorted(self.contributions.items())),
            self.day.state(),
            tuple(sorted(self.closing_balances.items())),
            self.statement_mark,
        )
        if self.listings:  # only then: a market without listings hashes as it always has
            state += (tuple(self.listings),)
        return hashlib.sha256(repr(state).encode()).hexdigest()


def cancel_orders(house: ClearingHouse, orders: Iterable[Any], ts: int, reason: CancelReason,
                  out: list[Any]) -> None:  # fmt: skip
    """Cancel live orders through their instruments (the exchange's own cancel path)."""
    events: list[Any] = []
    for order in orders:
        house.exchange.instruments[order.symbol].cancel(order, ts, reason, events)
        house.reduce_only.pop(order.order_id, None)
    house.absorb(events, out, ts)
