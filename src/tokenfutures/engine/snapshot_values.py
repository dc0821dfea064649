"""Reading values back from a snapshot, and the events a snapshot holds as state.

A snapshot is JSON: integers stay integers, enums are written as their stable values, dates
as ISO strings and events as lists of their fields in wire order (``FIELDS``). Reading
checks the types that matter, so that a damaged snapshot is refused with
:class:`SnapshotError` instead of being restored as something else.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tokenfutures.domain.clearing.events import MarginCallIssued
from tokenfutures.domain.events import CommandRejected, TradeExecuted
from tokenfutures.domain.rejects import RejectReason
from tokenfutures.domain.values import Side


class SnapshotError(ValueError):
    """A snapshot that cannot be restored: unreadable, of another format or market, or
    whose restored state is not the state it recorded."""


def integer(value: Any, name: str) -> int:
    if type(value) is not int:
        raise SnapshotError(f"{name}: expected an integer, found {value!r}")
    return value


def optional_integer(value: Any, name: str) -> int | None:
    return None if value is None else integer(value, name)


def optional_text(value: Any, name: str) -> str | None:
    if value is not None and type(value) is not str:
        raise SnapshotError(f"{name}: expected a string, found {value!r}")
    return value


def optional_date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def integers(mapping: dict[str, Any], name: str) -> dict[str, int]:
    """A JSON object of integers, in its order."""
    return {str(key): integer(value, name) for key, value in mapping.items()}


# --- events kept as state ---------------------------------------------------------------------


def rejection_row(event: CommandRejected) -> list[Any]:
    return [event.ts, event.command, event.reason.value, event.detail, event.account,
            event.client_order_id, event.symbol, event.field]  # fmt: skip


def rejection(row: list[Any]) -> CommandRejected:
    ts, command, reason, detail, account, client_order_id, symbol, field = row
    return CommandRejected(
        integer(ts, "ts"), str(command), RejectReason(reason), str(detail),
        optional_text(account, "account"), optional_text(client_order_id, "client_order_id"),
        optional_text(symbol, "symbol"), optional_text(field, "field"),
    )  # fmt: skip


def trade_row(event: TradeExecuted) -> list[Any]:
    aggressor = None if event.aggressor is None else event.aggressor.value
    return [event.ts, event.trade_id, event.symbol, event.price, event.quantity,
            event.buy_order_id, event.sell_order_id, event.buy_account, event.sell_account,
            event.buy_client_order_id, event.sell_client_order_id, aggressor]  # fmt: skip


def trade(row: list[Any]) -> TradeExecuted:
    (ts, trade_id, symbol, price, quantity, buy_order_id, sell_order_id, buy_account,
     sell_account, buy_client_order_id, sell_client_order_id, aggressor) = row  # fmt: skip
    return TradeExecuted(
        integer(ts, "ts"), integer(trade_id, "trade_id"), str(symbol), integer(price, "price"),
        integer(quantity, "quantity"), integer(buy_order_id, "buy_order_id"),
        integer(sell_order_id, "sell_order_id"), str(buy_account), str(sell_account),
        str(buy_client_order_id), str(sell_client_order_id),
        None if aggressor is None else Side(aggressor),
    )  # fmt: skip


def margin_call_row(event: MarginCallIssued) -> list[Any]:
    return [event.ts, event.account, event.equity, event.initial_margin,
            event.maintenance_margin, event.amount]  # fmt: skip


def margin_call(row: list[Any]) -> MarginCallIssued:
    ts, account, equity, initial, maintenance, amount = row
    return MarginCallIssued(
        integer(ts, "ts"), str(account), integer(equity, "equity"),
        integer(initial, "initial_margin"), integer(maintenance, "maintenance_margin"),
        integer(amount, "amount"),
    )  # fmt: skip
