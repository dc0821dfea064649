"""Events of the clearing house: money moved, prices settled, calls, liquidations, defaults.

They follow the trading events' interface (``FIELDS`` in wire order, value equality) so one
codec writes both; they are frozen dataclasses because none is on the matching hot path.
Amounts are minor units (positive = paid to the account), prices ticks.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

from tokenfutures.domain.values import Micros, MinorUnits, Ticks


@dataclass(frozen=True, slots=True)
class ClearingEvent:
    @property
    def FIELDS(self) -> tuple[str, ...]:  # noqa: N802 - the trading events' attribute name
        return tuple(f.name for f in fields(self))


@dataclass(frozen=True, slots=True)
class MemberAdded(ClearingEvent):
    ts: Micros
    member: str
    guaranty_fund: MinorUnits


@dataclass(frozen=True, slots=True)
class AccountOpened(ClearingEvent):
    ts: Micros
    account: str
    member: str
    group: str
    opening_cap_exempt: bool


@dataclass(frozen=True, slots=True)
class AccountStatusChanged(ClearingEvent):
    ts: Micros
    account: str
    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class FundsWithdrawn(ClearingEvent):
    ts: Micros
    account: str
    amount: MinorUnits
    balance: MinorUnits


@dataclass(frozen=True, slots=True)
class HouseCapitalFunded(ClearingEvent):
    ts: Micros
    amount: MinorUnits
    balance: MinorUnits


@dataclass(frozen=True, slots=True)
class TradeCleared(ClearingEvent):
    """Both sides of a trade booked: positions updated, fees charged."""

    ts: Micros
    trade_id: int
    symbol: str
    buy_account: str
    buy_fee: MinorUnits
    sell_account: str
    sell_fee: MinorUnits


@dataclass(frozen=True, slots=True)
class SettlementPriceSet(ClearingEvent):
    """The day's settlement price and the next day's limits that follow from it."""

    ts: Micros
    date: date
    symbol: str
    price: Ticks
    method: str
    volume: int
    open_interest: int
    lower_limit: Ticks
    upper_limit: Ticks


@dataclass(frozen=True, slots=True)
class LimitLocked(ClearingEvent):
    """A close locked at the limit: the next day's limit widens and margin rises."""

    ts: Micros
    symbol: str
    direction: str
    step: int
    price_limit_bp: int
    margin_bp: int
    measures_required: bool


@dataclass(frozen=True, slots=True)
class VariationMarginPosted(ClearingEvent):
    ts: Micros
    account: str
    amount: MinorUnits
    cash: MinorUnits


@dataclass(frozen=True, slots=True)
class MarginCallIssued(ClearingEvent):
    ts: Micros
    account: str
    equity: MinorUnits
    initial_margin: MinorUnits
    maintenance_margin: MinorUnits
    amount: MinorUnits


@dataclass(frozen=True, slots=True)
class MarginCallMet(ClearingEvent):
    ts: Micros
    account: str
    equity: MinorUnits
    initial_margin: MinorUnits


@dataclass(frozen=True, slots=True)
class EndOfDayCompleted(ClearingEvent):
    ts: Micros
    date: date
    contracts: int
    accounts: int
    margin_calls: int


@dataclass(frozen=True, slots=True)
class LiquidationStarted(ClearingEvent):
    ts: Micros
    account: str
    reason: str


@dataclass(frozen=True, slots=True)
class LiquidationCompleted(ClearingEvent):
    ts: Micros
    account: str
    open_positions: int
    cash: MinorUnits


@dataclass(frozen=True, slots=True)
class DefaultDeclared(ClearingEvent):
    """``loss``: what closing out cost; ``deficit``: the part the account's cash cannot pay."""

    ts: Micros
    account: str
    member: str
    loss: MinorUnits
    deficit: MinorUnits


@dataclass(frozen=True, slots=True)
class PositionTransferred(ClearingEvent):
    ts: Micros
    symbol: str
    from_account: str
    to_account: str
    quantity: int
    price: Ticks


@dataclass(frozen=True, slots=True)
class DefaultMarginTransferred(ClearingEvent):
    """The defaulter's cash that follows the positions the clearing house took over, up to
    their initial margin."""

    ts: Micros
    account: str
    to_account: str
    amount: MinorUnits


@dataclass(frozen=True, slots=True)
class DefaultLossAllocated(ClearingEvent):
    """One step of the waterfall: ``amount`` of the loss borne by ``source``."""

    ts: Micros
    account: str
    step: str
    source: str
    amount: MinorUnits
    remaining: MinorUnits


@dataclass(frozen=True, slots=True)
class DefaultLossUnallocated(ClearingEvent):
    ts: Micros
    account: str
    amount: MinorUnits


@dataclass(frozen=True, slots=True)
class FinalSettlementPaid(ClearingEvent):
    ts: Micros
    account: str
    symbol: str
    quantity: int
    price: Ticks
    amount: MinorUnits


@dataclass(frozen=True, slots=True)
class ContractSettled(ClearingEvent):
    """The contract's final settlement is done; it is delisted."""

    ts: Micros
    symbol: str
    price: Ticks
    open_interest: int


@dataclass(frozen=True, slots=True)
class ContractListed(ClearingEvent):
    """A contract month listed: its dates, the phase it starts in, its reference price
    (``price``, the product's until a fixing or an end of day sets another) and limits."""

    ts: Micros
    symbol: str
    product: str
    first_trading_day: date
    last_trading_day: date
    phase: str
    price: Ticks
    lower_limit: Ticks
    upper_limit: Ticks
