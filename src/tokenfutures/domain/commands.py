"""Commands: what a participant or operator asks the exchange to do.

Each command is immutable and carries its own time (``ts``, microseconds UTC):
the core never reads a clock. Prices are integer ticks of the command's
instrument, quantities integer lots, amounts integer minor units.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenfutures.domain.values import (
    Micros,
    MinorUnits,
    OrderType,
    Phase,
    SelfTradePrevention,
    Side,
    Ticks,
    TimeInForce,
)


@dataclass(frozen=True, slots=True)
class NewOrder:
    ts: Micros
    account: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    price: Ticks | None = None
    stop_price: Ticks | None = None
    time_in_force: TimeInForce = TimeInForce.GFD
    post_only: bool = False
    self_trade_prevention: SelfTradePrevention | None = None
    reduce_only: bool = False  # checked by the clearing house: may only shrink the position


@dataclass(frozen=True, slots=True)
class CancelOrder:
    ts: Micros
    account: str
    client_order_id: str
    symbol: str


@dataclass(frozen=True, slots=True)
class AmendOrder:
    """FIX semantics: ``quantity`` is the new total quantity, filled part included."""

    ts: Micros
    account: str
    client_order_id: str
    symbol: str
    price: Ticks | None = None
    quantity: int | None = None


@dataclass(frozen=True, slots=True)
class CancelAll:
    ts: Micros
    account: str
    symbol: str | None = None


@dataclass(frozen=True, slots=True)
class SetPhase:
    ts: Micros
    symbol: str
    phase: Phase


@dataclass(frozen=True, slots=True)
class SetReferencePrice:
    """The prior settlement price: anchors daily price limits and circuit-breaker bands."""

    ts: Micros
    symbol: str
    price: Ticks


@dataclass(frozen=True, slots=True)
class Deposit:
    ts: Micros
    account: str
    amount: MinorUnits


Command = NewOrder | CancelOrder | AmendOrder | CancelAll | SetPhase | SetReferencePrice | Deposit
