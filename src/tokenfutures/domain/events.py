"""Events: facts the exchange publishes, in the order they happened.

Every outcome of a command is one or more events; a rejected command yields
exactly one ``CommandRejected`` and changes nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenfutures.domain.rejects import CancelReason, RejectReason
from tokenfutures.domain.values import (
    Micros,
    MinorUnits,
    OrderType,
    Phase,
    Side,
    Ticks,
    TimeInForce,
)


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    ts: Micros
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    price: Ticks | None
    stop_price: Ticks | None
    quantity: int
    time_in_force: TimeInForce
    post_only: bool


@dataclass(frozen=True, slots=True)
class CommandRejected:
    ts: Micros
    command: str
    reason: RejectReason
    detail: str
    account: str | None = None
    client_order_id: str | None = None
    symbol: str | None = None
    field: str | None = None


@dataclass(frozen=True, slots=True)
class TradeExecuted:
    ts: Micros
    trade_id: int
    symbol: str
    price: Ticks
    quantity: int
    buy_order_id: int
    sell_order_id: int
    buy_account: str
    sell_account: str
    buy_client_order_id: str
    sell_client_order_id: str
    aggressor: Side | None  # None for trades of an auction uncross


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    ts: Micros
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    reason: CancelReason
    cancelled_quantity: int
    filled_quantity: int


@dataclass(frozen=True, slots=True)
class OrderAmended:
    ts: Micros
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    price: Ticks | None
    quantity: int
    leaves_quantity: int
    priority_kept: bool


@dataclass(frozen=True, slots=True)
class OrderExpired:
    ts: Micros
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    expired_quantity: int
    filled_quantity: int


@dataclass(frozen=True, slots=True)
class StopTriggered:
    ts: Micros
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    stop_price: Ticks
    last_price: Ticks


@dataclass(frozen=True, slots=True)
class PhaseChanged:
    ts: Micros
    symbol: str
    phase: Phase
    previous: Phase
    reason: str
    reopen_at: Micros | None = None


@dataclass(frozen=True, slots=True)
class AuctionUncrossed:
    ts: Micros
    symbol: str
    price: Ticks | None
    volume: int
    imbalance: int


@dataclass(frozen=True, slots=True)
class CircuitBreakerTripped:
    ts: Micros
    symbol: str
    price: Ticks
    band_low: Ticks
    band_high: Ticks
    reopen_at: Micros


@dataclass(frozen=True, slots=True)
class ReferencePriceSet:
    ts: Micros
    symbol: str
    price: Ticks
    lower_limit: Ticks
    upper_limit: Ticks


@dataclass(frozen=True, slots=True)
class FundsDeposited:
    ts: Micros
    account: str
    amount: MinorUnits
    balance: MinorUnits


Event = (
    OrderAccepted
    | CommandRejected
    | TradeExecuted
    | OrderCancelled
    | OrderAmended
    | OrderExpired
    | StopTriggered
    | PhaseChanged
    | AuctionUncrossed
    | CircuitBreakerTripped
    | ReferencePriceSet
    | FundsDeposited
)
