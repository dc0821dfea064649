"""Small text tables for clearing tests: money, prices and events as a clearing officer reads them.

A table is rows of cells separated by ``|``, the first row a header. ``table(text)`` reads one
written in a test (indentation and column alignment do not matter) and ``render(rows)`` draws
rows computed from the clearing house the same way, so the two compare equal exactly when
every cell does, and a failing comparison prints two aligned tables::

    account | cash     | initial   | maintenance | call
    D       | 9,943.50 | 12,700.00 | 10,160.00   | 2,756.50

Money is shown in dollars with thousands separators (``money(123450) == "1,234.50"``), prices
as decimals of the 0.001 tick (``price(2539) == "2.539"``).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from tokenfutures.domain.clearing import events as clearing
from tokenfutures.domain.events import OrderAccepted, OrderCancelled, TradeExecuted
from tokenfutures.engine.event_codec import EVENT_TYPES

TICK = Decimal("0.001")
_NUMBER = re.compile(r"[-+]?[\d,]+(\.\d+)?%?")


def money(cents: int) -> str:
    """Minor units as dollars: ``money(-305000) == "-3,050.00"``."""
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    return f"{sign}{dollars:,}.{rest:02d}"


def price(ticks: int | None) -> str:
    """Ticks of 0.001 as a decimal price; ``-`` for none."""
    return "-" if ticks is None else str(ticks * TICK)


def render(rows: Iterable[Sequence[Any]]) -> str:
    """Rows of cells as an aligned table: numbers right-aligned, the rest left-aligned."""
    cells = [[str(cell).strip() for cell in row] for row in rows]
    if not cells:
        return ""
    columns = max(len(row) for row in cells)
    for row in cells:
        row.extend([""] * (columns - len(row)))
    widths = [max(len(row[i]) for row in cells) for i in range(columns)]
    lines = []
    for row in cells:
        parts = [
            cell.rjust(width) if _NUMBER.fullmatch(cell) else cell.ljust(width)
            for cell, width in zip(row, widths, strict=True)
        ]
        lines.append(" | ".join(parts).rstrip())
    return "\n".join(lines)


def table(text: str) -> str:
    """A table written in a test, normalised to compare with ``render``."""
    lines = [line for line in textwrap.dedent(text).strip().splitlines() if line.strip()]
    return render([part.strip() for part in line.split("|")] for line in lines)


# --- events as one line each ------------------------------------------------------------------


def event_name(event: Any) -> str:
    return EVENT_TYPES[type(event)]


def _order_accepted(e: OrderAccepted) -> str:
    return (
        f"{e.account} {e.side.value}s {e.quantity} {e.symbol} @ {price(e.price)}"
        f" {e.time_in_force.value}"
    )


def _trade(e: TradeExecuted) -> str:
    return f"{e.buy_account} buys {e.quantity} {e.symbol} @ {price(e.price)} from {e.sell_account}"


def _order_cancelled(e: OrderCancelled) -> str:
    return f"{e.account} {e.client_order_id}: {e.cancelled_quantity} lots, {e.reason.value}"


def _margin_call_met(e: clearing.MarginCallMet) -> str:
    return f"{e.account}: equity {money(e.equity)}, initial {money(e.initial_margin)}"


def _default_declared(e: clearing.DefaultDeclared) -> str:
    return f"{e.account} of {e.member}: loss {money(e.loss)}, deficit {money(e.deficit)}"


def _position_transferred(e: clearing.PositionTransferred) -> str:
    return f"{e.quantity} {e.symbol} {e.from_account} -> {e.to_account} @ {price(e.price)}"


def _loss_allocated(e: clearing.DefaultLossAllocated) -> str:
    return f"{e.step} {e.source} {money(e.amount)}, remaining {money(e.remaining)}"


def _final_settlement_paid(e: clearing.FinalSettlementPaid) -> str:
    return f"{e.account} {e.quantity:+d} {e.symbol} @ {price(e.price)}: {money(e.amount)}"


_DESCRIBE: dict[type, Callable[[Any], str]] = {
    OrderAccepted: _order_accepted,
    TradeExecuted: _trade,
    OrderCancelled: _order_cancelled,
    clearing.AccountStatusChanged: lambda e: f"{e.account} {e.status} ({e.reason})",
    clearing.LiquidationStarted: lambda e: f"{e.account} ({e.reason})",
    clearing.LiquidationCompleted: (
        lambda e: f"{e.account}: {e.open_positions} open, cash {money(e.cash)}"
    ),
    clearing.MarginCallMet: _margin_call_met,
    clearing.DefaultDeclared: _default_declared,
    clearing.PositionTransferred: _position_transferred,
    clearing.DefaultMarginTransferred: (
        lambda e: f"{money(e.amount)} {e.account} -> {e.to_account}"
    ),
    clearing.DefaultLossAllocated: _loss_allocated,
    clearing.DefaultLossUnallocated: lambda e: f"{e.account} {money(e.amount)}",
    clearing.FinalSettlementPaid: _final_settlement_paid,
    clearing.ContractSettled: (
        lambda e: f"{e.symbol} @ {price(e.price)}, open interest {e.open_interest}"
    ),
    clearing.VariationMarginPosted: (
        lambda e: f"{e.account} {money(e.amount)}, cash {money(e.cash)}"
    ),
}


def describe(event: Any) -> str:
    """The event in a few words, the way an officer would read it out; other events list
    their fields."""
    found = _DESCRIBE.get(type(event))
    if found is not None:
        return found(event)
    return ", ".join(f"{name}={getattr(event, name)}" for name in event.FIELDS if name != "ts")


PLUMBING = frozenset({"order_accepted", "trade_cleared"})


def timeline(events: Iterable[Any], skip: frozenset[str] = PLUMBING) -> str:
    """The events as a two-column table ``event | what happened``, plumbing left out."""
    rows: list[Sequence[str]] = [("event", "what happened")]
    rows += [(event_name(e), describe(e)) for e in events if event_name(e) not in skip]
    return render(rows)
