"""The exchange core: commands in, events out, deterministic.

``Exchange.handle(command)`` applies one command and returns the events it caused, in
order. Expected refusals are ``CommandRejected`` events that change nothing; a broken
invariant raises. Time comes only from the commands' ``ts``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any

from tokenfutures.domain.book.order import Order
from tokenfutures.domain.commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Command,
    Deposit,
    NewOrder,
    SetPhase,
    SetReferencePrice,
)
from tokenfutures.domain.events import CommandRejected, Event, FundsDeposited, OrderAccepted
from tokenfutures.domain.instrument import Instrument
from tokenfutures.domain.invariants import check_instrument, check_registry
from tokenfutures.domain.registry import OrderRegistry
from tokenfutures.domain.rejects import CancelReason, RejectReason
from tokenfutures.domain.rules import InstrumentRules
from tokenfutures.domain.validation import (
    Problem,
    amend_problem,
    check_new_order,
    execution_problem,
)
from tokenfutures.domain.values import Phase, SelfTradePrevention

Handler = Callable[[Any, list[Event]], None]


class Exchange:
    def __init__(
        self,
        rules: Iterable[InstrumentRules],
        *,
        phase: Phase = Phase.CONTINUOUS,
        self_trade_prevention: SelfTradePrevention = SelfTradePrevention.CANCEL_INCOMING,
    ) -> None:
        self.registry = OrderRegistry()
        self.instruments: dict[str, Instrument] = {}
        for rule in rules:
            self.add_instrument(rule, phase)
        self.self_trade_prevention = self_trade_prevention
        self.balances: dict[str, int] = {}
        self.clock = 0  # the latest command time: time never runs backwards
        self._handlers: dict[type, Handler] = {
            NewOrder: self._new_order,
            CancelOrder: self._cancel_order,
            AmendOrder: self._amend_order,
            CancelAll: self._cancel_all,
            SetPhase: self._set_phase,
            SetReferencePrice: self._set_reference_price,
            Deposit: self._deposit,
        }

    def add_instrument(self, rules: InstrumentRules, phase: Phase) -> Instrument:
        """List one more instrument (a contract month listed later), its books empty, in
        ``phase``. Listing a symbol twice is a bug: the caller checks first."""
        if rules.symbol in self.instruments:
            raise ValueError(f"symbol {rules.symbol}: listed twice")
        inst = Instrument(rules, self.registry, phase)
        self.instruments[rules.symbol] = inst
        return inst

    def handle(self, command: Command) -> list[Event]:
        out: list[Event] = []
        if command.ts < self.clock:
            problem = Problem(
                RejectReason.TS_BEFORE_PREVIOUS, "ts", "is earlier than the previous command's"
            )
            out.append(_rejected(command, problem))
            return out
        self._handlers[type(command)](command, out)
        if out and (len(out) != 1 or type(out[0]) is not CommandRejected):
            self.clock = command.ts  # a command with no effect changes nothing, not even time
        return out

    def _instrument(self, cmd: Command, symbol: str, out: list[Event]) -> Instrument | None:
        """The command's instrument, after any time-driven change due by ``cmd.ts``."""
        inst = self.instruments.get(symbol)
        if inst is None:
            out.append(_rejected(cmd, _unknown_symbol(symbol)))
            return None
        if inst.reopen_at is not None:
            inst.advance(cmd.ts, out)
        return inst

    # --- orders ----------------------------------------------------------------------------

    def _new_order(self, cmd: NewOrder, out: list[Event]) -> None:
        inst = self._instrument(cmd, cmd.symbol, out)
        if inst is None:
            return
        problem = check_new_order(inst, cmd)
        if problem is None and self.registry.find(cmd.account, cmd.client_order_id) is not None:
            problem = Problem(
                RejectReason.DUPLICATE_CLIENT_ORDER_ID,
                "client_order_id",
                f"{cmd.client_order_id!r} is already live for account {cmd.account!r}",
            )
        if problem is None:
            problem = execution_problem(inst, cmd)
        if problem is not None:
            out.append(_rejected(cmd, problem))
            return
        registry = self.registry
        order = Order(
            registry.new_order_id(), cmd.account, cmd.client_order_id, cmd.symbol, cmd.side,
            cmd.order_type, cmd.price, cmd.stop_price, cmd.quantity, cmd.time_in_force,
            cmd.post_only, cmd.self_trade_prevention or self.self_trade_prevention,
        )  # fmt: skip
        registry.add(order)
        out.append(
            OrderAccepted(
                cmd.ts,
                order.order_id,
                cmd.account,
                cmd.client_order_id,
                cmd.symbol,
                cmd.side,
                cmd.order_type,
                cmd.price,
                cmd.stop_price,
                cmd.quantity,
                cmd.time_in_force,
                cmd.post_only,
            )  # fmt: skip
        )
        inst.submit(order, cmd.ts, out)

    def _live_order(
        self, cmd: CancelOrder | AmendOrder, out: list[Event]
    ) -> tuple[Instrument, Order] | None:
        inst = self._instrument(cmd, cmd.symbol, out)
        if inst is None:
            return None
        order = self.registry.find(cmd.account, cmd.client_order_id)
        if order is None or order.symbol != cmd.symbol:
            problem = Problem(
                RejectReason.UNKNOWN_ORDER,
                "client_order_id",
                f"no live order {cmd.client_order_id!r} of account {cmd.account!r} in {cmd.symbol}",
            )
            out.append(_rejected(cmd, problem))
            return None
        return inst, order

    def _cancel_order(self, cmd: CancelOrder, out: list[Event]) -> None:
        found = self._live_order(cmd, out)
        if found is not None:
            inst, order = found
            inst.cancel(order, cmd.ts, CancelReason.REQUESTED, out)

    def _amend_order(self, cmd: AmendOrder, out: list[Event]) -> None:
        found = self._live_order(cmd, out)
        if found is None:
            return
        inst, order = found
        problem = amend_problem(inst, order, cmd)
        if problem is not None:
            out.append(_rejected(cmd, problem))
            return
        inst.amend(order, cmd, out)

    def _cancel_all(self, cmd: CancelAll, out: list[Event]) -> None:
        if cmd.symbol is not None:
            if self._instrument(cmd, cmd.symbol, out) is None:
                return
        else:
            for inst in self.instruments.values():
                if inst.reopen_at is not None:
                    inst.advance(cmd.ts, out)
        for order in self.registry.orders_of(cmd.account):
            if cmd.symbol is None or order.symbol == cmd.symbol:
                self.instruments[order.symbol].cancel(order, cmd.ts, CancelReason.CANCEL_ALL, out)

    # --- operations ------------------------------------------------------------------------

    def _set_phase(self, cmd: SetPhase, out: list[Event]) -> None:
        inst = self._instrument(cmd, cmd.symbol, out)
        if inst is None:
            return
        if not inst.can_change_phase(cmd.phase):
            problem = Problem(
                RejectReason.INVALID_PHASE_TRANSITION,
                "phase",
                f"{cmd.symbol} cannot go from {inst.phase} to {cmd.phase}",
            )
            out.append(_rejected(cmd, problem))
            return
        inst.change_phase(cmd.phase, cmd.ts, "requested", out)

    def _set_reference_price(self, cmd: SetReferencePrice, out: list[Event]) -> None:
        inst = self._instrument(cmd, cmd.symbol, out)
        if inst is None:
            return
        if cmd.price < 1:
            problem = Problem(RejectReason.INVALID_PRICE, "price", "must be positive")
            out.append(_rejected(cmd, problem))
            return
        inst.set_reference(cmd.price, cmd.ts, out)

    def _deposit(self, cmd: Deposit, out: list[Event]) -> None:
        if cmd.amount < 1:
            problem = Problem(RejectReason.INVALID_AMOUNT, "amount", "must be positive")
            out.append(_rejected(cmd, problem))
            return
        balance = self.balances.get(cmd.account, 0) + cmd.amount
        self.balances[cmd.account] = balance
        out.append(FundsDeposited(cmd.ts, cmd.account, cmd.amount, balance))

    # --- views -----------------------------------------------------------------------------

    def depth(self, symbol: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Aggregated (price, quantity) levels of both sides, best first."""
        inst = self.instruments[symbol]
        return inst.bids.depth(), inst.asks.depth()

    def state_hash(self) -> str:
        """SHA-256 over everything that defines the exchange's state."""
        state = (
            tuple(inst.state() for _, inst in sorted(self.instruments.items())),
            self.registry.state(),
            tuple(sorted(self.balances.items())),
            self.self_trade_prevention.value,
            self.clock,
        )
        return hashlib.sha256(repr(state).encode()).hexdigest()

    def check_invariants(self) -> None:
        """Raise ``InvariantViolation`` if any book, stop book or the registry is inconsistent."""
        for inst in self.instruments.values():
            check_instrument(inst)
        check_registry(self.registry, self.instruments.values())


_COMMAND_NAMES: dict[type, str] = {
    NewOrder: "new_order",
    CancelOrder: "cancel_order",
    AmendOrder: "amend_order",
    CancelAll: "cancel_all",
    SetPhase: "set_phase",
    SetReferencePrice: "set_reference_price",
    Deposit: "deposit",
}


def command_name(cmd: Command) -> str:
    """The command's wire name, as rejections report it."""
    return _COMMAND_NAMES[type(cmd)]


def _unknown_symbol(symbol: str) -> Problem:
    return Problem(RejectReason.UNKNOWN_SYMBOL, "symbol", f"{symbol!r} is not listed")


def _rejected(cmd: Command, problem: Problem) -> CommandRejected:
    return CommandRejected(
        ts=cmd.ts,
        command=_COMMAND_NAMES[type(cmd)],
        reason=problem.reason,
        detail=problem.detail,
        account=getattr(cmd, "account", None),
        client_order_id=getattr(cmd, "client_order_id", None),
        symbol=getattr(cmd, "symbol", None),
        field=problem.field,
    )
