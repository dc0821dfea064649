"""Events -> JSON objects: ticks become decimal prices, minor units decimal amounts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from enum import Enum
from typing import Any

from tokenfutures.domain.clearing import events as clearing
from tokenfutures.domain.events import (
    AuctionUncrossed,
    CircuitBreakerTripped,
    CommandRejected,
    Event,
    FundsDeposited,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    PhaseChanged,
    ReferencePriceSet,
    StopTriggered,
    TradeExecuted,
)
from tokenfutures.engine.codec import Codec, CommandError
from tokenfutures.engine.timestamps import format_ts

EVENT_TYPES: dict[type, str] = {
    OrderAccepted: "order_accepted",
    CommandRejected: "rejected",
    TradeExecuted: "trade",
    OrderCancelled: "order_cancelled",
    OrderAmended: "order_amended",
    OrderExpired: "order_expired",
    StopTriggered: "stop_triggered",
    PhaseChanged: "phase_changed",
    AuctionUncrossed: "auction_uncrossed",
    CircuitBreakerTripped: "circuit_breaker_tripped",
    ReferencePriceSet: "reference_price_set",
    FundsDeposited: "funds_deposited",
    clearing.MemberAdded: "member_added",
    clearing.AccountOpened: "account_opened",
    clearing.AccountStatusChanged: "account_status_changed",
    clearing.FundsWithdrawn: "funds_withdrawn",
    clearing.HouseCapitalFunded: "house_capital_funded",
    clearing.TradeCleared: "trade_cleared",
    clearing.SettlementPriceSet: "settlement_price",
    clearing.LimitLocked: "limit_locked",
    clearing.VariationMarginPosted: "variation_margin",
    clearing.MarginCallIssued: "margin_call",
    clearing.MarginCallMet: "margin_call_met",
    clearing.EndOfDayCompleted: "end_of_day_completed",
    clearing.LiquidationStarted: "liquidation_started",
    clearing.LiquidationCompleted: "liquidation_completed",
    clearing.DefaultDeclared: "default_declared",
    clearing.PositionTransferred: "position_transferred",
    clearing.DefaultMarginTransferred: "default_margin_transferred",
    clearing.DefaultLossAllocated: "default_loss_allocated",
    clearing.DefaultLossUnallocated: "default_loss_unallocated",
    clearing.FinalSettlementPaid: "final_settlement_paid",
    clearing.ContractSettled: "contract_settled",
    clearing.ContractListed: "contract_listed",
}

PRICE_FIELDS = frozenset(
    {"price", "stop_price", "lower_limit", "upper_limit", "band_low", "band_high", "trigger_price"}
)
MONEY_FIELDS = frozenset(
    {
        "amount",
        "balance",
        "guaranty_fund",
        "buy_fee",
        "sell_fee",
        "cash",
        "equity",
        "initial_margin",
        "maintenance_margin",
        "loss",
        "deficit",
        "remaining",
    }
)
TIME_FIELDS = frozenset({"ts", "reopen_at"})


def refusal_json(data: Mapping[str, Any], error: CommandError) -> dict[str, Any]:
    """The ``rejected`` event of a command that could not be read: what it names, and why."""

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    return {
        "type": "rejected",
        "ts": text("ts"),
        "command": text("type"),
        "reason": error.reason.value,
        "detail": error.detail,
        "account": text("account"),
        "client_order_id": text("client_order_id"),
        "symbol": text("symbol"),
        "field": error.field,
    }


def encode_event(event: Event | clearing.ClearingEvent, codec: Codec) -> dict[str, Any]:
    """The JSON object of an event: ``type`` first, then its fields in declaration order."""
    out: dict[str, Any] = {"type": EVENT_TYPES[type(event)]}
    symbol = getattr(event, "symbol", None)
    for name in event.FIELDS:
        value = getattr(event, name)
        if value is None:
            out[name] = None
        elif name in TIME_FIELDS:
            out[name] = format_ts(value)
        elif name in PRICE_FIELDS and symbol is not None:
            out[name] = codec.price_text(symbol, value)
        elif name in MONEY_FIELDS:
            out[name] = codec.money_text(value)
        elif isinstance(value, date):
            out[name] = value.isoformat()
        elif isinstance(value, Enum):
            out[name] = value.value
        else:
            out[name] = value
    return out
