"""Random but realistic command streams for the property tests.

A ``StreamGenerator`` keeps a mirror ``ReferenceBook`` to see the current best prices, the last
trade and the live orders, and draws each next command from a ``Chooser``: a seeded
``random.Random`` for long streams, or an ``IntChooser`` fed by hypothesis for shrinkable ones.
Every choice is arranged so that the value 0 picks the plainest option (a passive limit
order, no override, no error), so hypothesis shrinks towards simple streams.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

from hypothesis import strategies as st

from tokenfutures.domain.commands import AmendOrder, CancelAll, CancelOrder, Command, NewOrder
from tokenfutures.domain.rules import InstrumentRules
from tokenfutures.domain.values import OrderType, SelfTradePrevention, Side, TimeInForce

from .reference_book import ReferenceBook, RefOrder

T = TypeVar("T")

RULES = (
    InstrumentRules("H100-2606", reference_price=1000, price_limit_bp=300, max_order_quantity=50),
    InstrumentRules("GPT5-2606", reference_price=400, price_limit_bp=500, max_order_quantity=20),
)
NARROW_RULES = (  # few price levels, small maximum: collisions at every price and limit
    InstrumentRules("N100-2606", reference_price=100, price_limit_bp=300, max_order_quantity=5),
    InstrumentRules("N3-2606", reference_price=3, price_limit_bp=5000, max_order_quantity=3),
)
SYMBOLS = tuple(r.symbol for r in RULES)
ACCOUNTS = ("A1", "A2", "A3", "A4", "A5", "A6")
START_TS = 1_780_000_000_000_000
BUSY_BOOK = 60
UNKNOWN_SYMBOL = "NOPE-2606"
KINDS = {  # kind of command: weight out of 100; "passive" first so that 0 picks it
    "passive": 30,
    "crossing": 12,
    "immediate": 8,
    "market": 5,
    "post_only": 6,
    "stop": 7,
    "cancel": 12,
    "amend": 13,
    "cancel_all": 2,
    "invalid": 5,
}


def _cumulative(weights: dict[str, int]) -> list[tuple[str, int]]:
    total, bounds = 0, []
    for kind, weight in weights.items():
        total += weight
        bounds.append((kind, total))
    return bounds


class Chooser(Protocol):
    def randint(self, a: int, b: int) -> int: ...


class IntChooser:
    """Choices driven by a list of integers (drawn by hypothesis); 0 once they run out."""

    def __init__(self, values: Sequence[int] = ()) -> None:
        self.values = list(values)
        self._next = 0

    def feed(self, values: Sequence[int]) -> None:
        self.values, self._next = list(values), 0

    def randint(self, a: int, b: int) -> int:
        value = self.values[self._next] if self._next < len(self.values) else 0
        self._next += 1
        return a + value % (b - a + 1)


class StreamGenerator:
    def __init__(
        self,
        chooser: Chooser,
        *,
        rules: Sequence[InstrumentRules] = RULES,
        self_trade_prevention: SelfTradePrevention = SelfTradePrevention.CANCEL_INCOMING,
    ) -> None:
        self.chooser = chooser
        self.book = ReferenceBook(tuple(rules), self_trade_prevention=self_trade_prevention)
        self.symbols = [r.symbol for r in rules]
        self.ts = START_TS
        self.sent: list[tuple[str, str, str, bool]] = []  # account, client id, symbol, is stop
        self._counter = 0

    # ---- small helpers -------------------------------------------------------------------

    def pick(self, items: Sequence[T]) -> T:
        return items[self.chooser.randint(0, len(items) - 1)]

    def chance(self, percent: int) -> bool:
        return self.chooser.randint(0, 99) >= 100 - percent

    def mid(self, symbol: str) -> int:
        bid, ask = self.book.best(symbol, Side.BUY), self.book.best(symbol, Side.SELL)
        if bid is not None and ask is not None:
            return (bid + ask) // 2
        low, high = self.book.limits(symbol)
        last = self.book.last_price.get(symbol, (low + high) // 2)
        return bid + 1 if bid is not None else ask - 1 if ask is not None else last

    def clamp(self, symbol: str, price: int) -> int:
        low, high = self.book.limits(symbol)
        return max(low, min(high, price))

    def quantity(self, symbol: str) -> int:
        if self.chance(70):
            return self.chooser.randint(1, 5)
        return self.chooser.randint(1, self.book.max_quantity(symbol))

    def client_order_id(self, account: str) -> str:
        mine = [s for s in self.sent[-40:] if s[0] == account]
        if mine and self.chance(4):
            return self.pick(mine)[1]  # reuse: a duplicate if live, legal if dead
        self._counter += 1
        return f"c{self._counter}"

    def stp(self) -> SelfTradePrevention | None:
        if not self.chance(15):
            return None
        return self.pick(list(SelfTradePrevention))

    # ---- the stream ----------------------------------------------------------------------

    def next_command(self, kind: str | None = None) -> Command:
        """The next command, of a random kind (weights in ``KINDS``) unless one is given."""
        self.ts += self.chooser.randint(1, 500)
        symbol = self.pick(self.symbols)
        account = self.pick(ACCOUNTS)
        if kind is None:
            roll = self.chooser.randint(0, sum(KINDS.values()) - 1)
            kind = next(k for k, bound in _cumulative(KINDS) if roll < bound)
        if kind == "passive" and len(self.book.live_orders()) > BUSY_BOOK * len(self.symbols):
            kind = "cancel"
        command = self.make(kind, symbol, account)
        self.book.handle(command)
        return command

    def make(self, kind: str, symbol: str, account: str) -> Command:
        makers: dict[str, Callable[[str, str], Command]] = {
            "passive": partial(self.limit, cross=False),
            "crossing": partial(self.limit, cross=True),
            "immediate": self.immediate,
            "market": self.market,
            "post_only": self.post_only,
            "stop": self.stop,
            "cancel": self.cancel,
            "amend": self.amend,
            "cancel_all": self.cancel_all,
            "invalid": self.invalid,
        }
        return makers[kind](symbol, account)

    def new(self, symbol: str, account: str, order_type: OrderType, **fields: Any) -> NewOrder:
        defaults: dict[str, Any] = {
            "side": self.pick((Side.BUY, Side.SELL)),
            "quantity": self.quantity(symbol if symbol in self.symbols else self.symbols[0]),
            "self_trade_prevention": self.stp(),
            "client_order_id": self.client_order_id(account),
        }
        defaults.update(fields)
        order = NewOrder(
            ts=self.ts, account=account, symbol=symbol, order_type=order_type, **defaults
        )
        stop = order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if symbol in self.symbols:
            self.sent.append((account, order.client_order_id, symbol, stop))
        return order

    def limit(self, symbol: str, account: str, *, cross: bool) -> NewOrder:
        side = self.pick((Side.BUY, Side.SELL))
        price = self.limit_price(symbol, side, cross=cross)
        tif = TimeInForce.GTC if self.chance(40) else TimeInForce.GFD
        return self.new(symbol, account, OrderType.LIMIT, side=side, price=price, time_in_force=tif)

    def limit_price(self, symbol: str, side: Side, *, cross: bool) -> int:
        sign = 1 if side is Side.BUY else -1
        opposite = self.book.best(symbol, Side.SELL if side is Side.BUY else Side.BUY)
        if cross and opposite is not None:
            return self.clamp(symbol, opposite + sign * self.chooser.randint(0, 3))
        same = self.book.best(symbol, side)
        anchor = same if same is not None else self.mid(symbol) - sign
        return self.clamp(symbol, anchor - sign * self.chooser.randint(-1, 4))

    def immediate(self, symbol: str, account: str) -> NewOrder:
        side = self.pick((Side.BUY, Side.SELL))
        price = self.limit_price(symbol, side, cross=self.chance(80))
        tif = TimeInForce.FOK if self.chance(50) else TimeInForce.IOC
        return self.new(symbol, account, OrderType.LIMIT, side=side, price=price, time_in_force=tif)

    def market(self, symbol: str, account: str) -> NewOrder:
        tif = self.pick((TimeInForce.IOC, TimeInForce.GFD, TimeInForce.FOK))
        return self.new(symbol, account, OrderType.MARKET, time_in_force=tif)

    def post_only(self, symbol: str, account: str) -> NewOrder:
        side = self.pick((Side.BUY, Side.SELL))
        price = self.limit_price(symbol, side, cross=self.chance(30))
        return self.new(symbol, account, OrderType.LIMIT, side=side, price=price, post_only=True)

    def stop(self, symbol: str, account: str) -> NewOrder:
        last = self.book.last_price.get(symbol)
        if last is None and not self.chance(20):
            return self.limit(symbol, account, cross=True)
        last = self.mid(symbol) if last is None else last
        side = self.pick((Side.BUY, Side.SELL))
        sign = 1 if side is Side.BUY else -1
        distance = self.chooser.randint(-1, 5) if self.chance(15) else self.chooser.randint(1, 5)
        stop_price = self.clamp(symbol, last + sign * distance)
        tif = self.pick((TimeInForce.GFD, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK))
        if self.chance(50):
            return self.new(
                symbol, account, OrderType.STOP, side=side, stop_price=stop_price, time_in_force=tif
            )
        price = self.clamp(symbol, stop_price + sign * self.chooser.randint(-1, 3))
        return self.new(
            symbol,
            account,
            OrderType.STOP_LIMIT,
            side=side,
            price=price,
            stop_price=stop_price,
            time_in_force=tif,
        )

    def target(self, symbol: str, account: str, *, amend: bool) -> tuple[str, str, str]:
        """A live order (mostly) or a recently sent one, maybe dead or someone else's."""
        with_stops = not amend or self.chance(5)  # amending a stop: outside the rulebook
        live = self.book.resting + (self.book.stops if with_stops else [])
        recent = [s for s in self.sent[-30:] if with_stops or not s[3]]
        if live and not self.chance(25):
            order = self.pick(live)
            wrong_symbol = self.chance(3)  # the right order id on another instrument
            return (
                order.account,
                order.client_order_id,
                self.pick(self.symbols) if wrong_symbol else order.symbol,
            )
        if recent and not self.chance(10):
            sent_account, client_order_id, sent_symbol, _ = self.pick(recent)
            return sent_account, client_order_id, sent_symbol
        return account, f"x{self.chooser.randint(0, 9)}", symbol

    def cancel(self, symbol: str, account: str) -> CancelOrder:
        owner, client_order_id, order_symbol = self.target(symbol, account, amend=False)
        if self.chance(5):
            owner = account
        if self.chance(2):
            order_symbol = UNKNOWN_SYMBOL
        return CancelOrder(self.ts, owner, client_order_id, order_symbol)

    def cancel_all(self, symbol: str, account: str) -> CancelAll:
        if self.chance(50):
            return CancelAll(self.ts, account, UNKNOWN_SYMBOL if self.chance(5) else symbol)
        return CancelAll(self.ts, account)

    def amend(self, symbol: str, account: str) -> AmendOrder:
        owner, client_order_id, order_symbol = self.target(symbol, account, amend=True)
        order = self.find(owner, client_order_id, order_symbol)
        price = order.price if order is not None and order.price is not None else None
        quantity = order.quantity if order is not None else self.quantity(order_symbol)
        filled = order.filled if order is not None else 0
        kind = self.chooser.randint(0, 9)
        base = price if price is not None else self.mid(order_symbol)
        if order is not None and self.chance(30):
            base = self.limit_price(order_symbol, order.side, cross=True)
        new_price = self.clamp(order_symbol, base + self.chooser.randint(-3, 3))
        if kind <= 2:
            return AmendOrder(self.ts, owner, client_order_id, order_symbol, price=new_price)
        if kind <= 4:
            lower = self.chooser.randint(filled + 1, max(filled + 1, quantity - 1))
            return AmendOrder(self.ts, owner, client_order_id, order_symbol, quantity=lower)
        if kind <= 6:
            higher = min(
                self.book.max_quantity(order_symbol), quantity + self.quantity(order_symbol)
            )
            return AmendOrder(self.ts, owner, client_order_id, order_symbol, quantity=higher)
        if kind == 7:
            to_filled = self.chooser.randint(max(1, filled - 2), max(1, filled))
            return AmendOrder(self.ts, owner, client_order_id, order_symbol, quantity=to_filled)
        if kind == 8:
            return AmendOrder(
                self.ts,
                owner,
                client_order_id,
                order_symbol,
                price=new_price,
                quantity=self.chooser.randint(max(1, filled), quantity + 3),
            )
        return self.odd_amend(owner, client_order_id, order_symbol, price, quantity)

    def odd_amend(
        self, owner: str, client_order_id: str, symbol: str, price: int | None, quantity: int
    ) -> AmendOrder:
        low, high = self.book.limits(symbol)
        fields: dict[str, int | None] = self.pick(
            (
                {"price": price, "quantity": quantity},
                {"price": None, "quantity": None},
                {"price": price},
                {"quantity": 0},
                {"quantity": self.book.max_quantity(symbol) + 1},
                {"price": high + 1},
                {"price": low - 1},
                {"price": 0},
            )
        )
        if self.chance(10):
            symbol = UNKNOWN_SYMBOL
        return AmendOrder(self.ts, owner, client_order_id, symbol, **fields)

    def invalid(self, symbol: str, account: str) -> Command:
        low, high = self.book.limits(symbol)
        mid = self.mid(symbol)
        lim, mkt, stp, stl = OrderType.LIMIT, OrderType.MARKET, OrderType.STOP, OrderType.STOP_LIMIT
        cases: list[tuple[OrderType, dict[str, object]]] = [
            (lim, {"price": high + self.chooser.randint(1, 20)}),
            (lim, {"price": low - self.chooser.randint(1, 20)}),
            (lim, {"price": mid, "quantity": 0}),
            (lim, {"price": mid, "quantity": -1}),
            (lim, {"price": mid, "quantity": self.book.max_quantity(symbol) + 1}),
            (lim, {}),
            (lim, {"price": 0}),
            (lim, {"price": mid, "stop_price": mid}),
            (mkt, {"price": mid}),
            (stp, {}),
            (stp, {"stop_price": high + 5}),
            (stl, {"stop_price": mid}),
            (lim, {"price": mid, "post_only": True, "time_in_force": TimeInForce.IOC}),
            (mkt, {"post_only": True}),
            (lim, {"price": mid, "symbol": UNKNOWN_SYMBOL}),
        ]
        order_type, fields = self.pick(cases)
        if self.chance(40):  # two faults at once: the validation order decides the reason
            fields = {**fields, **self.pick(cases)[1]}
        return self.new(str(fields.pop("symbol", symbol)), account, order_type, **fields)

    def find(self, account: str, client_order_id: str, symbol: str) -> RefOrder | None:
        key = (account, client_order_id, symbol)
        for order in self.book.live_orders():
            if (order.account, order.client_order_id, order.symbol) == key:
                return order
        return None


def generate_stream(
    chooser: Chooser,
    length: int,
    *,
    rules: Sequence[InstrumentRules] = RULES,
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.CANCEL_INCOMING,
) -> list[Command]:
    generator = StreamGenerator(chooser, rules=rules, self_trade_prevention=self_trade_prevention)
    return [generator.next_command() for _ in range(length)]


@st.composite
def command_streams(
    draw: st.DrawFn,
    max_commands: int = 60,
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.CANCEL_INCOMING,
) -> list[Command]:
    """Shrinkable streams: hypothesis draws the integers that drive every choice."""
    length = draw(st.integers(min_value=1, max_value=max_commands))
    integers = st.integers(min_value=0, max_value=255)
    values = draw(st.lists(integers, min_size=length * 10, max_size=length * 14))
    return generate_stream(IntChooser(values), length, self_trade_prevention=self_trade_prevention)
