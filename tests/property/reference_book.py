"""A naive reference order book for continuous trading, written from docs/matching-rules.md.

Deliberately simple and slow: the resting orders and the pending stops are two plain lists,
filtered and sorted on every use; priority is an arrival counter. It shares no code with the
engine except the command types, the reason enums and ``price_limits``. Property tests replay
random command streams into it and into the engine and compare what happens.

Scope: continuous trading only, circuit breaker off, no reference price changes.

Readings chosen where the rulebook is silent:
- the order fields are checked one after the other, each completely: ``price`` (required or
  forbidden by the order type, then at least one tick, else ``invalid_price``), then
  ``stop_price`` the same way, then the post-only combination;
- before the first trade of an instrument no stop is triggered on entry;
- a market ``FOK`` on an empty book is ``fok_not_fillable``; any other market order (or
  triggered stop) that found nothing to trade with (no opposite order, or only its own ones
  removed by ``cancel_resting``) is cancelled ``no_liquidity``, a partly filled one
  ``ioc_remainder``;
- a triggered stop enters the book with a fresh arrival time (behind the orders already
  resting at its price); "the earlier arrival goes first" between a buy and a sell stop
  compares the next stop of each side;
- amend checks: unknown symbol, unknown order (as FIX: an order that does not exist is the
  first thing to report), quantity, price (not allowed on a stop order, at least one tick,
  inside the limits), nothing to amend, new quantity <= filled (ends the order), post-only
  crossing (only when the price moves); an amend quantity below one lot is
  ``invalid_quantity``; a pending stop amended to a new price or a larger quantity goes to
  the back of the stops' queue, like a resting order to the back of its level;
- cancel_all with no live order is accepted and cancels nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenfutures.domain.commands import AmendOrder, CancelAll, CancelOrder, Command, NewOrder
from tokenfutures.domain.rejects import CancelReason, RejectReason
from tokenfutures.domain.rules import InstrumentRules, price_limits
from tokenfutures.domain.values import OrderType, SelfTradePrevention, Side, TimeInForce

STP = SelfTradePrevention
PRICED_TYPES = (OrderType.LIMIT, OrderType.STOP_LIMIT)
STOP_TYPES = (OrderType.STOP, OrderType.STOP_LIMIT)


@dataclass(frozen=True, slots=True)
class RefTrade:
    symbol: str
    price: int
    quantity: int
    buy_account: str
    sell_account: str
    buy_client_order_id: str
    sell_client_order_id: str
    aggressor: Side | None  # always a side here; None (an auction trade) never matches


@dataclass(frozen=True, slots=True)
class RefCancel:
    account: str
    client_order_id: str
    symbol: str
    reason: CancelReason


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one command did: trades in order, the reject reason, cancellations (sorted)."""

    trades: tuple[RefTrade, ...] = ()
    rejected: RejectReason | None = None
    cancels: tuple[RefCancel, ...] = ()


@dataclass(slots=True, eq=False)  # identity, not field equality: `in` and `remove` below
class RefOrder:
    seq: int
    account: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: int
    price: int | None
    stop_price: int | None
    time_in_force: TimeInForce
    post_only: bool
    stp: SelfTradePrevention
    filled: int = 0

    @property
    def open(self) -> int:
        return self.quantity - self.filled


def _stop_holds(side: Side, stop_price: int, last: int | None) -> bool:
    if last is None:
        return False
    return last >= stop_price if side is Side.BUY else last <= stop_price


class ReferenceBook:
    def __init__(
        self,
        rules: list[InstrumentRules] | tuple[InstrumentRules, ...],
        *,
        self_trade_prevention: SelfTradePrevention = STP.CANCEL_INCOMING,
    ) -> None:
        self._rules = {r.symbol: r for r in rules}
        self._default_stp = self_trade_prevention
        self.resting: list[RefOrder] = []
        self.stops: list[RefOrder] = []
        self.last_price: dict[str, int] = {}
        self._seq = 0
        self._trades: list[RefTrade] = []
        self._cancels: list[RefCancel] = []

    # ---- queries -------------------------------------------------------------------------

    @property
    def symbols(self) -> list[str]:
        return list(self._rules)

    def limits(self, symbol: str) -> tuple[int, int]:
        rules = self._rules[symbol]
        return price_limits(rules.reference_price, rules.price_limit_bp)

    def max_quantity(self, symbol: str) -> int:
        return self._rules[symbol].max_order_quantity

    def live_orders(self) -> list[RefOrder]:
        return self.resting + self.stops

    def side_of_book(self, symbol: str, side: Side) -> list[RefOrder]:
        """Resting orders of one side, best first (price, then arrival)."""
        orders = [o for o in self.resting if o.symbol == symbol and o.side is side]
        sign = -1 if side is Side.BUY else 1
        return sorted(orders, key=lambda o: (sign * (o.price or 0), o.seq))

    def best(self, symbol: str, side: Side) -> int | None:
        orders = self.side_of_book(symbol, side)
        return orders[0].price if orders else None

    def depth(self, symbol: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return self._levels(symbol, Side.BUY), self._levels(symbol, Side.SELL)

    def _levels(self, symbol: str, side: Side) -> list[tuple[int, int]]:
        levels: dict[int, int] = {}
        for order in self.side_of_book(symbol, side):
            assert order.price is not None
            levels[order.price] = levels.get(order.price, 0) + order.open
        return list(levels.items())

    # ---- commands ------------------------------------------------------------------------

    def handle(self, command: Command) -> Outcome:
        self._trades, self._cancels = [], []
        if isinstance(command, NewOrder):
            rejected = self._new_order(command)
        elif isinstance(command, CancelOrder):
            rejected = self._cancel_order(command)
        elif isinstance(command, AmendOrder):
            rejected = self._amend_order(command)
        elif isinstance(command, CancelAll):
            rejected = self._cancel_all(command)
        else:
            raise TypeError(f"the reference book does not handle {type(command).__name__}")
        cancels = sorted(self._cancels, key=lambda c: (c.account, c.client_order_id, c.reason))
        return Outcome(tuple(self._trades), rejected, tuple(cancels))

    def _new_order(self, c: NewOrder) -> RejectReason | None:
        if c.symbol not in self._rules:
            return RejectReason.UNKNOWN_SYMBOL
        rejected = (
            self._check_quantity(c.quantity, c.symbol)
            or _check_price_fields(c)
            or self._check_new_limits(c)
            or self._check_duplicate(c.account, c.client_order_id)
            or self._check_entry(c)
        )
        if rejected:
            return rejected
        order = RefOrder(
            seq=self._next_seq(),
            account=c.account,
            client_order_id=c.client_order_id,
            symbol=c.symbol,
            side=c.side,
            order_type=c.order_type,
            quantity=c.quantity,
            price=c.price,
            stop_price=c.stop_price,
            time_in_force=c.time_in_force,
            post_only=c.post_only,
            stp=c.self_trade_prevention or self._default_stp,
        )
        if order.order_type in STOP_TYPES:
            self.stops.append(order)
        else:
            self._enter_and_trigger(order)
        return None

    def _cancel_order(self, c: CancelOrder) -> RejectReason | None:
        if c.symbol not in self._rules:
            return RejectReason.UNKNOWN_SYMBOL
        order = self._find_live(c.account, c.client_order_id, c.symbol)
        if order is None:
            return RejectReason.UNKNOWN_ORDER
        self._remove(order, CancelReason.REQUESTED)
        return None

    def _cancel_all(self, c: CancelAll) -> RejectReason | None:
        if c.symbol is not None and c.symbol not in self._rules:
            return RejectReason.UNKNOWN_SYMBOL
        for order in self.live_orders():
            if order.account == c.account and c.symbol in (None, order.symbol):
                self._remove(order, CancelReason.CANCEL_ALL)
        return None

    def _amend_order(self, c: AmendOrder) -> RejectReason | None:
        if c.symbol not in self._rules:
            return RejectReason.UNKNOWN_SYMBOL
        order = self._find_live(c.account, c.client_order_id, c.symbol)
        if order is None:
            return RejectReason.UNKNOWN_ORDER
        new_price = order.price if c.price is None else c.price
        new_quantity = order.quantity if c.quantity is None else c.quantity
        if rejected := self._check_amend(c, order):
            return rejected
        if new_price == order.price and new_quantity == order.quantity:
            return RejectReason.NOTHING_TO_AMEND
        if new_quantity <= order.filled:
            self._remove(order, CancelReason.AMENDED_TO_FILLED)
            return None
        price_moves = new_price != order.price
        if order.post_only and price_moves and self._crosses(order.side, order.symbol, new_price):
            return RejectReason.POST_ONLY_WOULD_TRADE
        keeps_priority = not price_moves and new_quantity < order.quantity
        order.price, order.quantity = new_price, new_quantity
        if keeps_priority:
            return None
        order.seq = self._next_seq()  # to the back: of its level, or of the stops' queue
        if order in self.resting:
            self.resting.remove(order)
            self._enter_and_trigger(order)
        return None

    def _check_amend(self, c: AmendOrder, order: RefOrder) -> RejectReason | None:
        if c.quantity is not None and (rejected := self._check_quantity(c.quantity, c.symbol)):
            return rejected
        if c.price is not None and order.order_type is OrderType.STOP:
            return RejectReason.PRICE_NOT_ALLOWED
        return None if c.price is None else self._check_price(c.price, c.symbol)

    # ---- validation ----------------------------------------------------------------------

    def _check_quantity(self, quantity: int, symbol: str) -> RejectReason | None:
        if quantity < 1:
            return RejectReason.INVALID_QUANTITY
        if quantity > self._rules[symbol].max_order_quantity:
            return RejectReason.QUANTITY_ABOVE_MAXIMUM
        return None

    def _check_price(self, price: int, symbol: str) -> RejectReason | None:
        if price < 1:
            return RejectReason.INVALID_PRICE
        low, high = self.limits(symbol)
        return None if low <= price <= high else RejectReason.PRICE_OUTSIDE_LIMIT

    def _check_new_limits(self, c: NewOrder) -> RejectReason | None:
        low, high = self.limits(c.symbol)
        if c.price is not None and not low <= c.price <= high:
            return RejectReason.PRICE_OUTSIDE_LIMIT
        if c.stop_price is not None and not low <= c.stop_price <= high:
            return RejectReason.STOP_PRICE_OUTSIDE_LIMIT
        return None

    def _check_duplicate(self, account: str, client_order_id: str) -> RejectReason | None:
        for order in self.live_orders():
            if order.account == account and order.client_order_id == client_order_id:
                return RejectReason.DUPLICATE_CLIENT_ORDER_ID
        return None

    def _check_entry(self, c: NewOrder) -> RejectReason | None:
        if c.post_only and self._crosses(c.side, c.symbol, c.price):
            return RejectReason.POST_ONLY_WOULD_TRADE
        if c.stop_price is not None and _stop_holds(
            c.side, c.stop_price, self.last_price.get(c.symbol)
        ):
            return RejectReason.STOP_ALREADY_TRIGGERED
        return None

    def _crosses(self, side: Side, symbol: str, price: int | None) -> bool:
        opposite = self.best(symbol, _other(side))
        if opposite is None or price is None:
            return False
        return price >= opposite if side is Side.BUY else price <= opposite

    # ---- matching ------------------------------------------------------------------------

    def _enter(self, order: RefOrder) -> None:
        """An incoming order (new, amended with loss of priority, or triggered) meets the book."""
        limit = self._limit_price(order)
        is_market = order.order_type is OrderType.MARKET
        if order.time_in_force is TimeInForce.FOK and self._fillable(order, limit) < order.open:
            self._cancel(order, CancelReason.FOK_NOT_FILLABLE)
            return
        if self._match(order, limit) or order.open == 0:
            return
        if is_market and order.filled == 0:
            self._cancel(order, CancelReason.NO_LIQUIDITY)
        elif is_market or order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            self._cancel(order, CancelReason.IOC_REMAINDER)
        else:
            self.resting.append(order)

    def _limit_price(self, order: RefOrder) -> int:
        if order.order_type is OrderType.MARKET:
            low, high = self.limits(order.symbol)
            return high if order.side is Side.BUY else low
        assert order.price is not None
        return order.price

    def _crossing(self, order: RefOrder, limit: int) -> list[RefOrder]:
        """Opposite resting orders the incoming order's limit reaches, in priority order."""
        opposite = self.side_of_book(order.symbol, _other(order.side))
        if order.side is Side.BUY:
            return [o for o in opposite if o.price is not None and o.price <= limit]
        return [o for o in opposite if o.price is not None and o.price >= limit]

    def _fillable(self, order: RefOrder, limit: int) -> int:
        total = 0
        for resting in self._crossing(order, limit):
            if resting.account == order.account:
                if order.stp is STP.CANCEL_RESTING:
                    continue
                break
            total += resting.open
        return total

    def _match(self, order: RefOrder, limit: int) -> bool:
        """Trade until filled or out of crossing orders; True if self-trade prevention
        cancelled the incoming order."""
        while order.open > 0:
            crossing = self._crossing(order, limit)
            if not crossing:
                return False
            resting = crossing[0]
            if resting.account != order.account:
                self._trade(order, resting)
                continue
            if order.stp in (STP.CANCEL_RESTING, STP.CANCEL_BOTH):
                self._remove(resting, CancelReason.SELF_TRADE_PREVENTED)
            if order.stp in (STP.CANCEL_INCOMING, STP.CANCEL_BOTH):
                self._cancel(order, CancelReason.SELF_TRADE_PREVENTED)
                return True
        return False

    def _trade(self, incoming: RefOrder, resting: RefOrder) -> None:
        quantity = min(incoming.open, resting.open)
        assert resting.price is not None
        buy, sell = (incoming, resting) if incoming.side is Side.BUY else (resting, incoming)
        self._trades.append(
            RefTrade(
                symbol=incoming.symbol,
                price=resting.price,
                quantity=quantity,
                buy_account=buy.account,
                sell_account=sell.account,
                buy_client_order_id=buy.client_order_id,
                sell_client_order_id=sell.client_order_id,
                aggressor=incoming.side,
            )
        )
        incoming.filled += quantity
        resting.filled += quantity
        if resting.open == 0:
            self.resting.remove(resting)
        self.last_price[incoming.symbol] = resting.price

    def _enter_and_trigger(self, order: RefOrder) -> None:
        """The incoming order meets the book; then every stop reached by any of its prints
        enters, in batches: the prints of one batch trigger the next."""
        batch = [order]
        while batch:
            prints: list[int] = []
            for incoming in batch:
                first = len(self._trades)
                self._enter(incoming)
                prints += [trade.price for trade in self._trades[first:]]
            batch = self._take_triggered(order.symbol, prints)

    def _take_triggered(self, symbol: str, prints: list[int]) -> list[RefOrder]:
        """Remove the stops the prints reached; return them in order of entry, each turned into
        its market or limit order with a fresh arrival time."""
        hit = [
            s
            for s in self.stops
            if s.symbol == symbol and any(_stop_holds(s.side, s.stop_price or 0, p) for p in prints)
        ]
        for stop in hit:
            self.stops.remove(stop)
        buys = sorted((s for s in hit if s.side is Side.BUY), key=lambda s: (s.stop_price, s.seq))
        sells = sorted(
            (s for s in hit if s.side is Side.SELL), key=lambda s: (-(s.stop_price or 0), s.seq)
        )
        batch = []
        while buys or sells:  # across the sides: the head that arrived first
            side = buys if not sells or (buys and buys[0].seq < sells[0].seq) else sells
            batch.append(side.pop(0))
        for order in batch:
            order.seq = self._next_seq()
            is_stop = order.order_type is OrderType.STOP
            order.order_type = OrderType.MARKET if is_stop else OrderType.LIMIT
        return batch

    # ---- bookkeeping ---------------------------------------------------------------------

    def _find_live(self, account: str, client_order_id: str, symbol: str) -> RefOrder | None:
        key = (account, client_order_id, symbol)
        for order in self.live_orders():
            if (order.account, order.client_order_id, order.symbol) == key:
                return order
        return None

    def _remove(self, order: RefOrder, reason: CancelReason) -> None:
        if order in self.resting:
            self.resting.remove(order)
        else:
            self.stops.remove(order)
        self._cancel(order, reason)

    def _cancel(self, order: RefOrder, reason: CancelReason) -> None:
        self._cancels.append(RefCancel(order.account, order.client_order_id, order.symbol, reason))

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq


def _other(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


def _check_price_fields(c: NewOrder) -> RejectReason | None:
    """``price`` then ``stop_price``: required or forbidden by the order type, at least one
    tick; then whether post-only is allowed at all."""
    reasons = RejectReason
    for value, wanted, missing, forbidden in (
        (c.price, c.order_type in PRICED_TYPES, reasons.PRICE_REQUIRED, reasons.PRICE_NOT_ALLOWED),
        (
            c.stop_price,
            c.order_type in STOP_TYPES,
            reasons.STOP_PRICE_REQUIRED,
            reasons.STOP_PRICE_NOT_ALLOWED,
        ),
    ):
        if value is None and wanted:
            return missing
        if value is not None and not wanted:
            return forbidden
        if value is not None and value < 1:
            return reasons.INVALID_PRICE
    if c.post_only and (
        c.order_type is not OrderType.LIMIT
        or c.time_in_force not in (TimeInForce.GFD, TimeInForce.GTC)
    ):
        return reasons.POST_ONLY_NOT_ALLOWED
    return None
