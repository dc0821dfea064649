"""A small layer over ``Exchange`` for tests that read like the rulebook.

``Venue`` wraps an exchange with one or two instruments, stamps each command with a
clock that moves one millisecond per command, checks the core's invariants after every
command and that a rejected command changed nothing (same ``state_hash``).

Books are compared as tables, best price first and FIFO within a price::

    bids              | asks
    A  5 @ 2.500 (a1) | B 3 @ 2.501 (b1)

Each cell is ``ACCOUNT OPEN_QUANTITY @ PRICE (CLIENT_ORDER_ID)``; prices are decimals of
the tick size ``TICK`` (0.001), so ``2.500`` is 2500 ticks.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from itertools import count, zip_longest
from typing import Any, TypeVar

from tokenfutures.domain.book.side import BookSide
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
from tokenfutures.domain.events import (
    CommandRejected,
    Event,
    OrderCancelled,
    TradeExecuted,
)
from tokenfutures.domain.exchange import Exchange
from tokenfutures.domain.instrument import Instrument
from tokenfutures.domain.rules import InstrumentRules
from tokenfutures.domain.values import (
    MICROS_PER_SECOND,
    OrderType,
    Phase,
    SelfTradePrevention,
    Side,
    TimeInForce,
)

TICK = Decimal("0.001")
SYMBOL = "TKN2612"
OTHER = "GPU2612"
T0 = 1_795_397_400_000_000  # 2026-11-23T01:30:00Z
STEP = 1_000  # one millisecond between commands
# a day after T0: tests that pin event times set ``venue.now = LATER + n`` (time never goes back)
LATER = T0 + 86_400_000_000
SECOND = MICROS_PER_SECOND
MINUTE = 60 * SECOND
E = TypeVar("E")

BUY, SELL = Side.BUY, Side.SELL
GFD, GTC, IOC, FOK = TimeInForce.GFD, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK


def rules(
    symbol: str = SYMBOL,
    *,
    reference: int = 2500,
    limit_bp: int = 800,
    max_quantity: int = 100,
    breaker_bp: int = 0,
    window: int = 60 * MINUTE,
    pause: int = 2 * MINUTE,
) -> InstrumentRules:
    """Rules like TKN's: reference 2.500, limits ±8 % = [2.300, 2.700], breaker off."""
    return InstrumentRules(
        symbol,
        reference_price=reference,
        price_limit_bp=limit_bp,
        max_order_quantity=max_quantity,
        circuit_breaker_bp=breaker_bp,
        circuit_breaker_window=window,
        circuit_breaker_pause=pause,
    )


# --- book tables ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    account: str
    quantity: int
    price: int
    client_order_id: str

    def __str__(self) -> str:
        return f"{self.account} {self.quantity} @ {ticks_text(self.price)} ({self.client_order_id})"


@dataclass(frozen=True, slots=True)
class Book:
    bids: tuple[Entry, ...]
    asks: tuple[Entry, ...]

    def __str__(self) -> str:
        return render_book(self)


_ENTRY = re.compile(
    r"(?P<account>\S+)\s+(?P<qty>\d+)\s*@\s*(?P<price>\d+(?:\.\d+)?)\s*\((?P<id>[^)]+)\)"
)


def ticks_text(ticks: int) -> str:
    return str(ticks * TICK)


def text_ticks(text: str) -> int:
    ticks = Decimal(text) / TICK
    if ticks != ticks.to_integral_value():
        raise ValueError(f"{text} is not on the tick grid {TICK}")
    return int(ticks)


def side_entries(side: BookSide) -> tuple[Entry, ...]:
    """The resting orders of a book side in priority order."""
    return tuple(Entry(o.account, o.leaves, o.price, o.client_order_id) for o in side.orders())


def render_book(book: Book) -> str:
    """The book as a two-column table, normalised so that equal books render equally."""
    left = [str(entry) for entry in book.bids]
    width = max([len("bids"), *(len(cell) for cell in left)])
    lines = [f"{'bids':<{width}} | asks"]
    for bid, ask in zip_longest(left, [str(entry) for entry in book.asks], fillvalue=""):
        lines.append(f"{bid:<{width}} | {ask}".rstrip())
    return "\n".join(lines)


def _parse_cell(cell: str, line: str) -> Entry | None:
    cell = cell.strip()
    if not cell:
        return None
    found = _ENTRY.fullmatch(cell)
    if found is None:
        raise ValueError(f"cannot read book entry {cell!r} in line {line!r}")
    return Entry(found["account"], int(found["qty"]), text_ticks(found["price"]), found["id"])


def parse_book(table: str) -> Book:
    """Read a table of the form shown in the module docstring."""
    lines = [line for line in textwrap.dedent(table).strip().splitlines() if line.strip()]
    header = [part.strip() for part in lines[0].split("|")]
    if header != ["bids", "asks"]:
        raise ValueError(f"the first line must be 'bids | asks', not {lines[0]!r}")
    bids: list[Entry] = []
    asks: list[Entry] = []
    for line in lines[1:]:
        if line.count("|") != 1:
            raise ValueError(f"a row needs exactly one '|': {line!r}")
        left, right = line.split("|")
        for cell, column in ((left, bids), (right, asks)):
            entry = _parse_cell(cell, line)
            if entry is not None:
                column.append(entry)
    return Book(tuple(bids), tuple(asks))


# --- events ---------------------------------------------------------------------------------------


def of_type(events: list[Event], kind: type[E]) -> list[E]:
    return [event for event in events if isinstance(event, kind)]


def kinds(events: list[Event]) -> list[str]:
    return [type(event).__name__ for event in events]


def fills(events: list[Event]) -> list[tuple[int, int, str, str]]:
    """Trades as ``(quantity, price, buy client order id, sell client order id)``."""
    return [
        (t.quantity, t.price, t.buy_client_order_id, t.sell_client_order_id)
        for t in of_type(events, TradeExecuted)
    ]


def cancels(events: list[Event]) -> list[tuple[str, str, int]]:
    """Cancellations as ``(client order id, reason, cancelled quantity)``."""
    return [
        (c.client_order_id, c.reason.value, c.cancelled_quantity)
        for c in of_type(events, OrderCancelled)
    ]


def rejected(events: list[Event]) -> CommandRejected:
    """The one event of a rejected command."""
    assert len(events) == 1, f"expected one rejection, got {kinds(events)}"
    event = events[0]
    assert isinstance(event, CommandRejected), f"expected a rejection, got {event}"
    return event


# --- the venue ------------------------------------------------------------------------------------


class Venue:
    """An exchange under test with a clock, terse commands and checks after every command."""

    def __init__(
        self,
        *listed: InstrumentRules,
        phase: Phase = Phase.CONTINUOUS,
        self_trade_prevention: SelfTradePrevention = SelfTradePrevention.CANCEL_INCOMING,
        start: int = T0,
    ) -> None:
        listed = listed or (rules(),)
        self.exchange = Exchange(listed, phase=phase, self_trade_prevention=self_trade_prevention)
        self.symbol = listed[0].symbol
        self.now = start
        self.log: list[Event] = []
        self._ids = count(1)

    # --- sending ----------------------------------------------------------------------------------

    def send(self, command: Command) -> list[Event]:
        """Apply ``command``, check the invariants and that a lone rejection changed nothing."""
        before = self.exchange.state_hash()
        events = self.exchange.handle(command)
        self.exchange.check_invariants()
        if any(isinstance(event, CommandRejected) for event in events):
            assert isinstance(events[-1], CommandRejected), "a rejection must come last"
            if len(events) == 1:
                assert self.exchange.state_hash() == before, "a rejection changed the state"
        self.log.extend(events)
        self.now = command.ts + STEP
        return events

    def new_order(
        self,
        side: Side,
        account: str,
        quantity: int,
        price: int | None = None,
        cid: str | None = None,
        *,
        stop: int | None = None,
        order_type: OrderType | None = None,
        tif: TimeInForce = GFD,
        post_only: bool = False,
        stp: SelfTradePrevention | None = None,
        symbol: str | None = None,
    ) -> NewOrder:
        """A new-order command; the order type follows from ``price`` and ``stop``."""
        if order_type is None:
            order_type = _order_type(price, stop)
        return NewOrder(
            ts=self.now,
            account=account,
            client_order_id=cid or f"{account.lower()}-{next(self._ids)}",
            symbol=symbol or self.symbol,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            stop_price=stop,
            time_in_force=tif,
            post_only=post_only,
            self_trade_prevention=stp,
        )

    def buy(
        self,
        account: str,
        quantity: int,
        price: int | None = None,
        cid: str | None = None,
        **options: Any,
    ) -> list[Event]:
        """Send a buy order: limit with ``price``, market without, stop with ``stop=``."""
        return self.send(self.new_order(BUY, account, quantity, price, cid, **options))

    def sell(
        self,
        account: str,
        quantity: int,
        price: int | None = None,
        cid: str | None = None,
        **options: Any,
    ) -> list[Event]:
        """Send a sell order: limit with ``price``, market without, stop with ``stop=``."""
        return self.send(self.new_order(SELL, account, quantity, price, cid, **options))

    def cancel(self, account: str, cid: str, symbol: str | None = None) -> list[Event]:
        return self.send(CancelOrder(self.now, account, cid, symbol or self.symbol))

    def amend(
        self,
        account: str,
        cid: str,
        *,
        price: int | None = None,
        quantity: int | None = None,
        symbol: str | None = None,
    ) -> list[Event]:
        return self.send(AmendOrder(self.now, account, cid, symbol or self.symbol, price, quantity))

    def cancel_all(self, account: str, symbol: str | None = None) -> list[Event]:
        return self.send(CancelAll(self.now, account, symbol))

    def set_phase(self, phase: Phase, symbol: str | None = None) -> list[Event]:
        return self.send(SetPhase(self.now, symbol or self.symbol, phase))

    def set_reference(self, price: int, symbol: str | None = None) -> list[Event]:
        return self.send(SetReferencePrice(self.now, symbol or self.symbol, price))

    def deposit(self, account: str, amount: int) -> list[Event]:
        return self.send(Deposit(self.now, account, amount))

    def seed(self, text: str, symbol: str | None = None) -> None:
        """Build the book of a table: each entry a GFD limit order, row by row (FIFO)."""
        book = parse_book(text)
        for side, entries in ((BUY, book.bids), (SELL, book.asks)):
            for entry in entries:
                quantity, price = entry.quantity, entry.price
                command = self.new_order(
                    side, entry.account, quantity, price, entry.client_order_id, symbol=symbol
                )
                assert kinds(self.send(command)) == ["OrderAccepted"], f"cannot seed {entry}"
        assert self.book(symbol) == book, "the seeded book differs from its table"

    @contextmanager
    def unchanged(self) -> Iterator[None]:
        """Assert that whatever runs inside changes nothing at all."""
        before = self.exchange.state_hash()
        yield
        assert self.exchange.state_hash() == before, "the state changed"

    # --- looking ----------------------------------------------------------------------------------

    def instrument(self, symbol: str | None = None) -> Instrument:
        return self.exchange.instruments[symbol or self.symbol]

    def book(self, symbol: str | None = None) -> Book:
        inst = self.instrument(symbol)
        return Book(side_entries(inst.bids), side_entries(inst.asks))

    def table(self, symbol: str | None = None) -> str:
        return render_book(self.book(symbol))

    def stops(self, symbol: str | None = None) -> list[tuple[str, int, int | None, str]]:
        """Waiting stops as ``(account, quantity, stop price, client order id)``."""
        return [
            (o.account, o.leaves, o.stop_price, o.client_order_id)
            for o in self.instrument(symbol).stops.orders()
        ]

    def phase(self, symbol: str | None = None) -> Phase:
        return self.instrument(symbol).phase

    def is_live(self, account: str, cid: str) -> bool:
        return self.exchange.registry.find(account, cid) is not None


def table(text: str) -> str:
    """``text`` read as a book table and rendered normalised, to compare with ``Venue.table()``."""
    return render_book(parse_book(text))


def _order_type(price: int | None, stop: int | None) -> OrderType:
    if stop is None:
        return OrderType.MARKET if price is None else OrderType.LIMIT
    return OrderType.STOP if price is None else OrderType.STOP_LIMIT
