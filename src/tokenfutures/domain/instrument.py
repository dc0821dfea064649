"""One tradable contract: its book, stop orders, phase, limits and circuit breaker.

The instrument applies an order's life after the exchange has accepted it: resting,
matching (``matching.py``), the call auction (``call_auction.py``), stops, amends,
cancels, expiry at the close and phase changes. Phase changes follow ``TRANSITIONS``.
"""

from __future__ import annotations

from tokenfutures.domain import call_auction, matching
from tokenfutures.domain.book.order import Order
from tokenfutures.domain.book.side import BookSide
from tokenfutures.domain.breaker import CircuitBreaker
from tokenfutures.domain.commands import AmendOrder
from tokenfutures.domain.events import (
    CircuitBreakerTripped,
    Event,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    PhaseChanged,
    ReferencePriceSet,
    StopTriggered,
)
from tokenfutures.domain.registry import OrderRegistry
from tokenfutures.domain.rejects import CancelReason
from tokenfutures.domain.rules import InstrumentRules, band_width, price_limits
from tokenfutures.domain.stops import StopBook
from tokenfutures.domain.values import OrderType, Phase, TimeInForce

TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.CLOSED: frozenset({Phase.PRE_OPEN, Phase.CONTINUOUS}),
    Phase.PRE_OPEN: frozenset({Phase.CONTINUOUS, Phase.HALTED, Phase.CLOSED}),
    Phase.CONTINUOUS: frozenset({Phase.PRE_OPEN, Phase.HALTED, Phase.CLOSED}),
    Phase.HALTED: frozenset({Phase.PRE_OPEN, Phase.CONTINUOUS, Phase.CLOSED}),
}


class Instrument:
    __slots__ = (
        "rules",
        "symbol",
        "registry",
        "phase",
        "bids",
        "asks",
        "stops",
        "reference",
        "lower_limit",
        "upper_limit",
        "last_price",
        "print_high",
        "print_low",
        "breaker",
        "reopen_at",
    )

    def __init__(self, rules: InstrumentRules, registry: OrderRegistry, phase: Phase) -> None:
        self.rules = rules
        self.symbol = rules.symbol
        self.registry = registry
        self.phase = phase
        self.bids = BookSide(is_bid=True)
        self.asks = BookSide(is_bid=False)
        self.stops = StopBook()
        self.reference = rules.reference_price
        limits = price_limits(rules.reference_price, rules.price_limit_bp)
        self.lower_limit, self.upper_limit = limits
        self.last_price: int | None = None
        # extremes of the prints since stops were last checked: what elects stop orders
        self.print_high: int | None = None
        self.print_low: int | None = None
        self.breaker: CircuitBreaker | None = None
        if rules.circuit_breaker_bp > 0:
            self.breaker = CircuitBreaker(
                band_width(rules.reference_price, rules.circuit_breaker_bp),
                rules.circuit_breaker_window,
                rules.circuit_breaker_pause,
            )
        self.reopen_at: int | None = None

    # --- queries -------------------------------------------------------------------------

    def opposite(self, order: Order) -> BookSide:
        return self.asks if order.is_buy else self.bids

    def would_cross(self, is_buy: bool, price: int) -> bool:
        if is_buy:
            best_ask = self.asks.best_price()
            return best_ask is not None and price >= best_ask
        best_bid = self.bids.best_price()
        return best_bid is not None and price <= best_bid

    def anchor_price(self) -> int:
        """The circuit breaker's stand-in when no trade lies in its window."""
        return self.last_price if self.last_price is not None else self.reference

    def record_print(self, price: int) -> None:
        self.last_price = price
        if self.print_high is None or price > self.print_high:
            self.print_high = price
        if self.print_low is None or price < self.print_low:
            self.print_low = price

    # --- order life ----------------------------------------------------------------------

    def rest(self, order: Order) -> None:
        order.priority = self.registry.new_priority()
        (self.bids if order.is_buy else self.asks).add(order)

    def end_order(self, order: Order, ts: int, reason: CancelReason, out: list[Event]) -> None:
        """Cancel an order that is live but not in the book (incoming or triggered)."""
        self.registry.discard(order)
        out.append(
            OrderCancelled(
                ts,
                order.order_id,
                order.account,
                order.client_order_id,
                self.symbol,
                reason,
                order.leaves,
                order.filled,
            )  # fmt: skip
        )

    def submit(self, order: Order, ts: int, out: list[Event]) -> None:
        """An accepted order enters the market."""
        if order.triggered:
            self._enter(order, ts, out)
        else:
            order.priority = self.registry.new_priority()
            self.stops.add(order)

    def _enter(self, order: Order, ts: int, out: list[Event]) -> None:
        """Match in continuous trading (then run the stops its prints reached), else rest."""
        if self.phase is Phase.CONTINUOUS:
            matching.execute(self, order, ts, out)
            self.run_stops(ts, out)
        else:
            self.rest(order)

    def take_out(self, order: Order) -> None:
        """Remove a live order from wherever it waits (book or stop book)."""
        if not order.triggered:
            self.stops.remove(order)
        else:
            (self.bids if order.is_buy else self.asks).remove(order)

    def cancel(self, order: Order, ts: int, reason: CancelReason, out: list[Event]) -> None:
        self.take_out(order)
        self.end_order(order, ts, reason, out)

    def amend(self, order: Order, cmd: AmendOrder, out: list[Event]) -> None:
        """Apply a validated amend with FIX semantics (see docs/matching-rules.md)."""
        ts = cmd.ts
        price = order.price if cmd.price is None else cmd.price
        quantity = order.quantity if cmd.quantity is None else cmd.quantity
        if quantity <= order.filled:
            self.cancel(order, ts, CancelReason.AMENDED_TO_FILLED, out)
            return
        keeps_priority = price == order.price and quantity < order.quantity
        if keeps_priority:
            if order.triggered:
                side = self.bids if order.is_buy else self.asks
                side.levels[order.price].quantity -= order.quantity - quantity
            order.quantity = quantity
            order.leaves = quantity - order.filled
            out.append(self._amended(order, ts, True))
            return
        self.take_out(order)
        order.price = price
        order.quantity = quantity
        order.leaves = quantity - order.filled
        out.append(self._amended(order, ts, False))
        if order.triggered:
            self._enter(order, ts, out)
        else:
            order.priority = self.registry.new_priority()
            self.stops.add(order)

    def _amended(self, order: Order, ts: int, priority_kept: bool) -> OrderAmended:
        price = None if order.order_type is OrderType.STOP else order.price
        return OrderAmended(
            ts, order.order_id, order.account, order.client_order_id, self.symbol, price,
            order.quantity, order.leaves, priority_kept,
        )  # fmt: skip

    def run_stops(self, ts: int, out: list[Event]) -> None:
        """Trigger the stops reached by the prints since the last check, batch after batch.

        Every stop whose price the prints reached is triggered at once (a later print cannot
        undo it); triggered stops then enter one by one in trigger order, and their own
        prints trigger the next batch. A stop triggered while trading is paused (the
        circuit breaker tripped) enters the auction book if it is a GFD/GTC stop-limit and
        is cancelled otherwise. The prints are always consumed here, so none carry over.
        """
        stops = self.stops
        while self.print_high is not None:
            high = self.print_high
            low = self.print_low if self.print_low is not None else high
            self.print_high = self.print_low = None
            if not stops:
                return
            for order in stops.pop_elected(high, low):
                order.triggered = True
                stop_price = order.stop_price if order.stop_price is not None else 0
                out.append(
                    StopTriggered(
                        ts,
                        order.order_id,
                        order.account,
                        order.client_order_id,
                        self.symbol,
                        stop_price,
                        high if order.is_buy else low,
                    )  # fmt: skip
                )
                if self.phase is Phase.CONTINUOUS:
                    matching.execute(self, order, ts, out)
                elif order.order_type is OrderType.STOP_LIMIT and order.time_in_force in (
                    TimeInForce.GFD,
                    TimeInForce.GTC,
                ):
                    self.rest(order)
                else:
                    self.end_order(order, ts, CancelReason.CIRCUIT_BREAKER, out)

    # --- phases, reference price, circuit breaker ------------------------------------------

    def can_change_phase(self, phase: Phase) -> bool:
        return phase in TRANSITIONS[self.phase]

    def change_phase(
        self, phase: Phase, ts: int, reason: str, out: list[Event], reopen_at: int | None = None
    ) -> None:
        previous = self.phase
        if phase is Phase.CONTINUOUS:
            call_auction.uncross(self, ts, out, reported=previous is Phase.PRE_OPEN)
        self.phase = phase
        self.reopen_at = reopen_at
        out.append(PhaseChanged(ts, self.symbol, phase, previous, reason, reopen_at))
        if phase is Phase.CLOSED:
            self.expire_day_orders(ts, out)
        elif phase is Phase.CONTINUOUS:
            self.run_stops(ts, out)

    def advance(self, ts: int, out: list[Event]) -> None:
        """Time-driven change: reopen after a circuit-breaker pause once ``ts`` reaches it."""
        if self.reopen_at is not None and ts >= self.reopen_at and self.phase is Phase.PRE_OPEN:
            self.change_phase(Phase.CONTINUOUS, ts, "circuit_breaker_reopen", out)

    def trip_breaker(self, price: int, low: int, high: int, ts: int, out: list[Event]) -> None:
        breaker = self.breaker
        if breaker is None:
            raise RuntimeError(f"{self.symbol}: circuit breaker tripped while switched off")
        reopen_at = ts + breaker.pause
        out.append(CircuitBreakerTripped(ts, self.symbol, price, low, high, reopen_at))
        self.change_phase(Phase.PRE_OPEN, ts, "circuit_breaker", out, reopen_at)

    def set_reference(
        self, price: int, ts: int, out: list[Event], limit_bp: int | None = None
    ) -> None:
        """A new prior settlement: new limits, a new breaker band and window.

        ``limit_bp`` widens (or restores) the daily limit, e.g. after a limit-locked close;
        by default the contract's own limit applies. Resting and stop orders priced outside
        the new limits are cancelled, so no trade can ever print outside the day's limits.
        """
        self.reference = price
        width_bp = self.rules.price_limit_bp if limit_bp is None else limit_bp
        self.lower_limit, self.upper_limit = price_limits(price, width_bp)
        if self.breaker is not None:
            self.breaker.set_band(band_width(price, self.rules.circuit_breaker_bp))
            self.breaker.restart(ts, price)
        out.append(ReferencePriceSet(ts, self.symbol, price, self.lower_limit, self.upper_limit))
        lower, upper = self.lower_limit, self.upper_limit
        for order in self.live_orders():
            outside = (order.triggered or order.order_type is OrderType.STOP_LIMIT) and not (
                lower <= order.price <= upper
            )
            stop = order.stop_price
            if outside or (stop is not None and not order.triggered and not lower <= stop <= upper):
                self.cancel(order, ts, CancelReason.OUTSIDE_PRICE_LIMITS, out)

    def expire_day_orders(self, ts: int, out: list[Event]) -> None:
        day_orders = [o for o in self.live_orders() if o.time_in_force is TimeInForce.GFD]
        for order in sorted(day_orders, key=lambda o: o.order_id):
            self.take_out(order)
            self.registry.discard(order)
            out.append(
                OrderExpired(
                    ts,
                    order.order_id,
                    order.account,
                    order.client_order_id,
                    self.symbol,
                    order.leaves,
                    order.filled,
                )  # fmt: skip
            )

    # --- views -----------------------------------------------------------------------------

    def live_orders(self) -> list[Order]:
        return self.bids.orders() + self.asks.orders() + self.stops.orders()

    def state(self) -> tuple[object, ...]:
        return (
            self.symbol,
            self.phase.value,
            self.reference,
            self.lower_limit,
            self.upper_limit,
            self.last_price,
            self.reopen_at,
            None if self.breaker is None else self.breaker.state(),
            tuple(order.state() for order in self.live_orders()),
        )
