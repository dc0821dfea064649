"""Events: facts the exchange publishes, in the order they happened.

Every outcome of a command is one or more events; a rejected command yields
exactly one ``CommandRejected`` and changes nothing else.

Events are immutable: every attribute is ``Final`` (mypy rejects any assignment, and the
compiled build makes the attributes read-only at run time). They are plain classes
rather than frozen dataclasses because the matching loop creates one per fill, and a
frozen dataclass costs several times more to construct than the fill itself.
``FIELDS`` lists the attributes in wire order; equality and ``repr`` use it.
"""

from __future__ import annotations

from typing import ClassVar, Final

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


class Event:
    """Base of every event: value equality and a readable ``repr`` over ``FIELDS``."""

    __slots__ = ()
    FIELDS: ClassVar[tuple[str, ...]] = ()

    def values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.FIELDS)

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, Event)
            and (self.values() == other.values())
        )

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.FIELDS)
        return f"{type(self).__name__}({inner})"


class OrderAccepted(Event):
    FIELDS: ClassVar[tuple[str, ...]] = (
        "ts",
        "order_id",
        "account",
        "client_order_id",
        "symbol",
        "side",
        "order_type",
        "price",
        "stop_price",
        "quantity",
        "time_in_force",
        "post_only",
    )
    __slots__ = FIELDS

    def __init__(
        self,
        ts: Micros,
        order_id: int,
        account: str,
        client_order_id: str,
        symbol: str,
        side: Side,
        order_type: OrderType,
        price: Ticks | None,
        stop_price: Ticks | None,
        quantity: int,
        time_in_force: TimeInForce,
        post_only: bool,
    ) -> None:
        self.ts: Final[Micros] = ts
        self.order_id: Final[int] = order_id
        self.account: Final[str] = account
        self.client_order_id: Final[str] = client_order_id
        self.symbol: Final[str] = symbol
        self.side: Final[Side] = side
        self.order_type: Final[OrderType] = order_type
        self.price: Final[Ticks | None] = price
        self.stop_price: Final[Ticks | None] = stop_price
        self.quantity: Final[int] = quantity
        self.time_in_force: Final[TimeInForce] = time_in_force
        self.post_only: Final[bool] = post_only


class CommandRejected(Event):
    FIELDS: ClassVar[tuple[str, ...]] = (
        "ts",
        "command",
        "reason",
        "detail",
        "account",
        "client_order_id",
        "symbol",
        "field",
    )
    __slots__ = FIELDS

    def __init__(
        self,
        ts: Micros,
        command: str,
        reason: RejectReason,
        detail: str,
        account: str | None = None,
        client_order_id: str | None = None,
        symbol: str | None = None,
        field: str | None = None,
    ) -> None:
        self.ts: Final[Micros] = ts
        self.command: Final[str] = command
        self.reason: Final[RejectReason] = reason
        self.detail: Final[str] = detail
        self.account: Final[str | None] = account
        self.client_order_id: Final[str | None] = client_order_id
        self.symbol: Final[str | None] = symbol
        self.field: Final[str | None] = field


class TradeExecuted(Event):
    FIELDS: ClassVar[tuple[str, ...]] = (
        "ts",
        "trade_id",
        "symbol",
        "price",
        "quantity",
        "buy_order_id",
        "sell_order_id",
        "buy_account",
        "sell_account",
        "buy_client_order_id",
        "sell_client_order_id",
        "aggressor",
    )
    __slots__ = FIELDS

    def __init__(
        self,
        ts: Micros,
        trade_id: int,
        symbol: str,
        price: Ticks,
        quantity: int,
        buy_order_id: int,
        sell_order_id: int,
        buy_account: str,
        sell_account: str,
        buy_client_order_id: str,
        sell_client_order_id: str,
        aggressor: Side | None,
    ) -> None:
        self.ts: Final[Micros] = ts
        self.trade_id: Final[int] = trade_id
        self.symbol: Final[str] = symbol
        self.price: Final[Ticks] = price
        self.quantity: Final[int] = quantity
        self.buy_order_id: Final[int] = buy_order_id
        self.sell_order_id: Final[int] = sell_order_id
        self.buy_account: Final[str] = buy_account
        self.sell_account: Final[str] = sell_account
        self.buy_client_order_id: Final[str] = buy_client_order_id
        self.sell_client_order_id: Final[str] = sell_client_order_id
        self.aggressor: Final[Side | None] = aggressor  # None for trades of an auction uncross


class OrderCancelled(Event):
    FIELDS: ClassVar[tuple[str, ...]] = (
        "ts",
        "order_id",
        "account",
        "client_order_id",
        "symbol",
        "reason",
        "cancelled_quantity",
        "filled_quantity",
    )
    __slots__ = FIELDS

    def __init__(
        self,
        ts: Micros,
        order_id: int,
        account: str,
        client_order_id: str,
        symbol: str,
        reason: CancelReason,
        cancelled_quantity: int,
        filled_quantity: int,
    ) -> None:
        self.ts: Final[Micros] = ts
        self.order_id: Final[int] = order_id
        self.account: Final[str] = account
        self.client_order_id: Final[str] = client_order_id
        self.symbol: Final[str] = symbol
        self.reason: Final[CancelReason] = reason
        self.cancelled_quantity: Final[int] = cancelled_quantity
        self.filled_quantity: Final[int] = filled_quantity


class OrderAmended(Event):
    FIELDS: ClassVar[tuple[str, ...]] = (
        "ts",
        "order_id",
        "account",
        "client_order_id",
        "symbol",
        "price",
        "quantity",
        "leaves_quantity",
        "priority_kept",
    )
    __slots__ = FIELDS

    def __init__(
        self,
        ts: Micros,
        order_id: int,
        account: str,
        client_order_id: str,
        symbol: str,
        price: Ticks | None,
        quantity: int,
        leaves_quantity: int,
        priority_kept: bool,
    ) -> None:
        self.ts: Final[Micros] = ts
        self.order_id: Final[int] = order_id
        self.account: Final[str] = account
        self.client_order_id: Final[str] = client_order_id
        self.symbol: Final[str] = symbol
        self.price: Final[Ticks | None] = price
        self.quantity: Final[int] = quantity
        self.leaves_quantity: Final[int] = leaves_quantity
        self.priority_kept: Final[bool] = priority_kept


class OrderExpired(Event):
    FIELDS: ClassVar[tuple[str, ...]] = (
        "ts",
        "order_id",
        "account",
        "client_order_id",
        "symbol",
        "expired_quantity",
        "filled_quantity",
    )
    __slots__ = FIELDS

    def __init__(
        self,
        ts: Micros,
        order_id: int,
        account: str,
        client_order_id: str,
        symbol: str,
        expired_quantity: int,
        filled_quantity: int,
    ) -> None:
        self.ts: Final[Micros] = ts
        self.order_id: Final[int] = order_id
        self.account: Final[str] = account
        self.client_order_id: Final[str] = client_order_id
        self.symbol: Final[str] = symbol
        self.expired_quantity: Final[int] = expired_quantity
        self.filled_quantity: Final[int] = filled_quantity


class StopTriggered(Event):
    FIELDS: ClassVar[tuple[str, ...]] = (
        "ts",
        "order_id",
        "account",
        "client_order_id",
        "symbol",
        "stop_price",
        "trigger_price",
    )
    __slots__ = FIELDS

    def __init__(
        self,
        ts: Micros,
        order_id: int,
        account: str,
        client_order_id: str,
        symbol: str,
        stop_price: Ticks,
        trigger_price: Ticks,
    ) -> None:
        self.ts: Final[Micros] = ts
        self.order_id: Final[int] = order_id
        self.account: Final[str] = account
        self.client_order_id: Final[str] = client_order_id
        self.symbol: Final[str] = symbol
        self.stop_price: Final[Ticks] = stop_price
        self.trigger_price: Final[Ticks] = trigger_price  # the print that reached the stop


class PhaseChanged(Event):
    FIELDS: ClassVar[tuple[str, ...]] = (
        "ts",
        "symbol",
        "phase",
        "previous",
        "reason",
        "reopen_at",
    )
    __slots__ = FIELDS

    def __init__(
        self,
        ts: Micros,
        symbol: str,
        phase: Phase,
        previous: Phase,
        reason: str,
        reopen_at: Micros | None = None,
    ) -> None:
        self.ts: Final[Micros] = ts
        self.symbol: Final[str] = symbol
        self.phase: Final[Phase] = phase
        self.previous: Final[Phase] = previous
        self.reason: Final[str] = reason
        self.reopen_at: Final[Micros | None] = reopen_at


class AuctionUncrossed(Event):
    FIELDS: ClassVar[tuple[str, ...]] = (
        "ts",
        "symbol",
        "price",
        "volume",
        "imbalance",
    )
    __slots__ = FIELDS

    def __init__(
        self,
        ts: Micros,
        symbol: str,
        price: Ticks | None,
        volume: int,
        imbalance: int,
    ) -> None:
        self.ts: Final[Micros] = ts
        self.symbol: Final[str] = symbol
        self.price: Final[Ticks | None] = price
        self.volume: Final[int] = volume
        self.imbalance: Final[int] = imbalance


class CircuitBreakerTripped(Event):
    FIELDS: ClassVar[tuple[str, ...]] = (
        "ts",
        "symbol",
        "price",
        "band_low",
        "band_high",
        "reopen_at",
    )
    __slots__ = FIELDS

    def __init__(
        self,
        ts: Micros,
        symbol: str,
        price: Ticks,
        band_low: Ticks,
        band_high: Ticks,
        reopen_at: Micros,
    ) -> None:
        self.ts: Final[Micros] = ts
        self.symbol: Final[str] = symbol
        self.price: Final[Ticks] = price
        self.band_low: Final[Ticks] = band_low
        self.band_high: Final[Ticks] = band_high
        self.reopen_at: Final[Micros] = reopen_at


class ReferencePriceSet(Event):
    FIELDS: ClassVar[tuple[str, ...]] = (
        "ts",
        "symbol",
        "price",
        "lower_limit",
        "upper_limit",
    )
    __slots__ = FIELDS

    def __init__(
        self,
        ts: Micros,
        symbol: str,
        price: Ticks,
        lower_limit: Ticks,
        upper_limit: Ticks,
    ) -> None:
        self.ts: Final[Micros] = ts
        self.symbol: Final[str] = symbol
        self.price: Final[Ticks] = price
        self.lower_limit: Final[Ticks] = lower_limit
        self.upper_limit: Final[Ticks] = upper_limit


class FundsDeposited(Event):
    FIELDS: ClassVar[tuple[str, ...]] = (
        "ts",
        "account",
        "amount",
        "balance",
    )
    __slots__ = FIELDS

    def __init__(
        self,
        ts: Micros,
        account: str,
        amount: MinorUnits,
        balance: MinorUnits,
    ) -> None:
        self.ts: Final[Micros] = ts
        self.account: Final[str] = account
        self.amount: Final[MinorUnits] = amount
        self.balance: Final[MinorUnits] = balance
