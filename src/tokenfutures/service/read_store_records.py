"""From a command's events to the read models' rows, in two steps.

:class:`Recorder` runs in the sequencer's listener, once per sequenced command, and does only
what must happen there: it follows each live order's state (filled, leaves, status) through
the events and takes a tuple of it once per command that changed it; keeps each trade with its
two fees; and picks up the immutable records the clearing house holds for that moment (the
``Position`` of each account and contract the command touched, the day's ``Statement`` objects
at an end of day). The result is a :class:`Change`.

:class:`Formatter` runs in the writer's thread and turns a change into rows: decimal text of
prices and money, the average fill price, each trade's two fills, statements as JSON.

The order state follows the same rules as the in-memory views (``service/views.py``): filled
and leaves move with each trade, ``filled`` when nothing is left, a cancel or an expiry ends
the order with its reason, an amend changes price, quantity and leaves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sized
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache
from typing import Any

from tokenfutures.domain.clearing.events import (
    ContractSettled,
    EndOfDayCompleted,
    FinalSettlementPaid,
    LiquidationCompleted,
    PositionTransferred,
    SettlementPriceSet,
    TradeCleared,
)
from tokenfutures.domain.clearing.house import ClearingHouse
from tokenfutures.domain.clearing.positions import Position
from tokenfutures.domain.clearing.statements import Statement
from tokenfutures.domain.events import (
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    TradeExecuted,
)
from tokenfutures.engine.codec import Codec
from tokenfutures.engine.statement_report import statement_json
from tokenfutures.service.read_store_schema import (
    FILLS,
    FINAL_SETTLEMENTS,
    INDEX_FIXINGS,
    ORDERS,
    POSITIONS,
    SETTLEMENT_PRICES,
    STATEMENTS,
    TRADES,
)

AVERAGE_QUANTUM = Decimal("0.000001")  # average fill prices to a millionth, as the API shows
LIVE = ("new", "partially_filled")
MICROS_PER_UNIT = Decimal(1_000_000)  # index values are micro-units of their currency

# An order's state, in the order of ``LIVE_ORDERS``'s columns (read_store_schema.py).
(O_ID, O_ACCOUNT, O_CLIENT, O_SYMBOL, O_SIDE, O_TYPE, O_TIF, O_POST_ONLY, O_PRICE, O_STOP,
 O_QUANTITY, O_FILLED, O_LEAVES, O_NOTIONAL, O_STATUS, O_REASON, O_CREATED_TS, O_UPDATED_TS,
 O_CREATED_SEQ, O_UPDATED_SEQ) = range(20)  # fmt: skip


@dataclass(slots=True)
class Change:
    """What one or more commands changed, up to sequence number ``seq``. A command changes a
    few rows: the containers are made when first needed (the listener runs for every command,
    and every container it makes is work for the garbage collector)."""

    seq: int
    orders: dict[int, tuple[Any, ...]] | None = None  # order id -> state
    trades: list[list[Any]] | None = None  # [trade, buy fee, sell fee, seq]
    positions: dict[tuple[str, str], tuple[Position, int, int]] | None = None
    closes: list[tuple[FinalSettlementPaid, int, int]] | None = None
    settlements: list[tuple[SettlementPriceSet, int]] | None = None
    finals: list[tuple[ContractSettled, int]] | None = None
    statements: list[tuple[Statement, int]] | None = None

    def size(self) -> int:
        """Rows it writes, about (a trade is three)."""
        return (
            _count(self.orders) + 3 * _count(self.trades) + _count(self.positions)
            + _count(self.closes) + _count(self.settlements) + _count(self.finals)
            + _count(self.statements)
        )  # fmt: skip

    def merge(self, later: Change) -> None:
        """Add ``later``'s changes; the later state of an order or a position wins."""
        self.seq = later.seq
        if later.orders:
            self.orders = {**self.orders, **later.orders} if self.orders else later.orders
        if later.positions:
            self.positions = (
                {**self.positions, **later.positions} if self.positions else later.positions
            )
        self.trades = _joined(self.trades, later.trades)
        self.closes = _joined(self.closes, later.closes)
        self.settlements = _joined(self.settlements, later.settlements)
        self.finals = _joined(self.finals, later.finals)
        self.statements = _joined(self.statements, later.statements)


def _count(items: Sized | None) -> int:
    return 0 if items is None else len(items)


def _joined(first: list[Any] | None, second: list[Any] | None) -> list[Any] | None:
    if not second:
        return first
    if not first:
        return second
    first += second
    return first


class Recorder:
    """The listener's side: order states and the house's records, per command."""

    def __init__(self, house: ClearingHouse, live_orders: Iterable[tuple[Any, ...]] = ()) -> None:
        self.house = house
        self.live: dict[int, list[Any]] = {int(row[O_ID]): list(row) for row in live_orders}
        self._written_positions: dict[tuple[str, str], Position] = {}
        self._handlers: dict[type, Any] = {
            OrderAccepted: self._accepted,
            TradeExecuted: self._trade,
            TradeCleared: self._cleared,
            OrderCancelled: self._ended,
            OrderExpired: self._ended,
            OrderAmended: self._amended,
            PositionTransferred: self._transferred,
            LiquidationCompleted: self._liquidated,
            FinalSettlementPaid: self._final_paid,
            ContractSettled: self._contract_settled,
            SettlementPriceSet: self._settlement_price,
            EndOfDayCompleted: self._day_ended,
        }
        self._seq = 0
        self._change: Change | None = None  # the command's, once it changes something
        self._touched_orders: set[int] = set()
        self._touched_positions: dict[tuple[str, str], int] = {}  # key -> ts
        self._touched_accounts: dict[str, int] = {}
        self._all_positions_ts: int | None = None
        self._fees: dict[int, list[Any]] = {}

    def record(self, seq: int, events: list[Any]) -> Change | None:
        """The change made by the command ``seq`` whose events are ``events``; None if it
        touched no read model."""
        handlers = self._handlers
        self._seq = seq
        for event in events:
            handler = handlers.get(type(event))
            if handler is not None:
                handler(event)
        if self._fees:
            self._fees.clear()
        if self._touched_orders:
            live, orders = self.live, {}
            for order_id in self._touched_orders:
                state = live[order_id]
                orders[order_id] = tuple(state)
                if state[O_STATUS] not in LIVE:
                    del live[order_id]
            self._touched_orders.clear()
            self._current().orders = orders
        if self._touched_positions or self._touched_accounts or self._all_positions_ts:
            self._take_positions()
        change, self._change = self._change, None
        if change is not None:
            change.seq = seq
        return change

    def _current(self) -> Change:
        change = self._change
        if change is None:
            change = self._change = Change(self._seq)
        return change

    # --- orders ----------------------------------------------------------------------------

    def _accepted(self, e: OrderAccepted) -> None:
        seq = self._seq
        self.live[e.order_id] = [
            e.order_id, e.account, e.client_order_id, e.symbol, e.side.value,
            e.order_type.value, e.time_in_force.value, e.post_only, e.price, e.stop_price,
            e.quantity, 0, e.quantity, 0, "new", None, e.ts, e.ts, seq, seq,
        ]  # fmt: skip
        self._touched_orders.add(e.order_id)

    def _trade(self, e: TradeExecuted) -> None:
        live, seq = self.live, self._seq
        for order_id in (e.buy_order_id, e.sell_order_id):
            state = live.get(order_id)
            if state is None:
                continue
            state[O_FILLED] += e.quantity
            state[O_LEAVES] -= e.quantity
            state[O_NOTIONAL] += e.price * e.quantity
            state[O_STATUS] = "filled" if state[O_LEAVES] == 0 else "partially_filled"
            state[O_UPDATED_TS], state[O_UPDATED_SEQ] = e.ts, seq
            self._touched_orders.add(order_id)
        fees = [e, 0, 0, seq]  # the fees come with the trade's TradeCleared
        self._fees[e.trade_id] = fees
        change = self._current()
        if change.trades is None:
            change.trades = [fees]
        else:
            change.trades.append(fees)

    def _cleared(self, e: TradeCleared) -> None:
        fees = self._fees.pop(e.trade_id, None)
        if fees is not None:
            fees[1], fees[2] = e.buy_fee, e.sell_fee
        touched = self._touched_positions
        touched[(e.buy_account, e.symbol)] = e.ts
        touched[(e.sell_account, e.symbol)] = e.ts

    def _ended(self, e: OrderCancelled | OrderExpired) -> None:
        state = self.live.get(e.order_id)
        if state is None:
            return
        if isinstance(e, OrderCancelled):
            state[O_STATUS], state[O_REASON] = "cancelled", e.reason.value
        else:
            state[O_STATUS], state[O_REASON] = "expired", "end_of_day"
        state[O_LEAVES] = 0
        state[O_UPDATED_TS], state[O_UPDATED_SEQ] = e.ts, self._seq
        self._touched_orders.add(e.order_id)

    def _amended(self, e: OrderAmended) -> None:
        state = self.live.get(e.order_id)
        if state is None:
            return
        state[O_PRICE], state[O_QUANTITY], state[O_LEAVES] = e.price, e.quantity, e.leaves_quantity
        state[O_UPDATED_TS], state[O_UPDATED_SEQ] = e.ts, self._seq
        self._touched_orders.add(e.order_id)

    # --- positions -------------------------------------------------------------------------

    def _transferred(self, e: PositionTransferred) -> None:
        self._touched_positions[(e.from_account, e.symbol)] = e.ts
        self._touched_positions[(e.to_account, e.symbol)] = e.ts

    def _liquidated(self, e: LiquidationCompleted) -> None:
        self._touched_accounts[e.account] = e.ts  # every position of it was settled

    def _final_paid(self, e: FinalSettlementPaid) -> None:
        change = self._current()
        tick_value = self.house.terms[e.symbol].tick_value
        change.closes = [*(change.closes or ()), (e, tick_value, self._seq)]

    def _contract_settled(self, e: ContractSettled) -> None:
        change = self._current()
        change.finals = [*(change.finals or ()), (e, self._seq)]
        symbol = e.symbol
        self._written_positions = {
            k: v for k, v in self._written_positions.items() if k[1] != symbol
        }
        self._touched_positions = {k: v for k, v in self._touched_positions.items()
                                   if k[1] != symbol}  # fmt: skip

    def _take_positions(self) -> None:
        """The house's record of every position the command touched that changed since it
        was last written (records are immutable: a changed one is a new object)."""
        positions, delisted = self.house.positions, self.house.delisted
        written, seq, changed = self._written_positions, self._seq, {}
        for key, ts in self._touched_keys().items():
            if key[1] in delisted:
                continue
            position = positions.position(*key)
            if written.get(key) is not position:
                written[key] = position
                changed[key] = (position, ts, seq)
        if changed:
            self._current().positions = changed
        self._touched_positions.clear()
        self._touched_accounts.clear()
        self._all_positions_ts = None

    def _touched_keys(self) -> dict[tuple[str, str], int]:
        """(account, symbol) -> ts of every position the command may have changed."""
        keys = self._touched_positions
        if not self._touched_accounts and self._all_positions_ts is None:
            return keys
        keys = dict(keys)
        positions = self.house.positions
        for account, ts in self._touched_accounts.items():
            for position in positions.held_by(account):
                keys[(account, position.symbol)] = ts
        if self._all_positions_ts is not None:
            ts = self._all_positions_ts
            for symbol in positions.symbols():
                for account in positions.accounts_in(symbol):
                    keys[(account, symbol)] = ts
        return keys

    # --- the end of day --------------------------------------------------------------------

    def _settlement_price(self, e: SettlementPriceSet) -> None:
        change = self._current()
        change.settlements = [*(change.settlements or ()), (e, self._seq)]

    def _day_ended(self, e: EndOfDayCompleted) -> None:
        self._all_positions_ts = e.ts
        seq, found = self._seq, []
        for (_, day), statement in reversed(self.house.statements.items()):
            if day != e.date:
                break  # the day's statements are the last ones written
            found.append((statement, seq))
        found.reverse()
        if found:
            self._current().statements = found


class Formatter:
    """The writer's side: a change's rows, table by table, with decimal text."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.money = codec.money_text
        self.price = lru_cache(maxsize=1 << 16)(codec.price_text)

    def _price(self, symbol: str, ticks: int | None) -> str | None:
        return None if ticks is None else self.price(symbol, ticks)

    def rows(self, change: Change) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
        """(table name, rows) for each table the change writes, in writing order."""
        if change.orders:
            yield ORDERS.name, [self.order(s) for s in change.orders.values()]
        if change.trades:
            yield TRADES.name, [self.trade(*t) for t in change.trades]
            yield FILLS.name, [f for t in change.trades for f in self.fills(*t)]
        if change.positions:
            yield POSITIONS.name, [self.position(*p) for p in change.positions.values()]
        if change.settlements:
            yield SETTLEMENT_PRICES.name, [self.settlement(*s) for s in change.settlements]
        if change.finals:
            yield FINAL_SETTLEMENTS.name, [self.final(*f) for f in change.finals]
        if change.statements:
            yield STATEMENTS.name, [self.statement(*s) for s in change.statements]

    def order(self, s: tuple[Any, ...]) -> tuple[Any, ...]:
        symbol, filled = s[O_SYMBOL], s[O_FILLED]
        average = None
        if filled:
            mean = Decimal(s[O_NOTIONAL]) * self.codec.tick_sizes[symbol] / Decimal(filled)
            average = format(mean.quantize(AVERAGE_QUANTUM, rounding=ROUND_HALF_EVEN), "f")
        return (
            s[O_ID], s[O_ACCOUNT], s[O_CLIENT], symbol, s[O_SIDE], s[O_TYPE], s[O_TIF],
            bool(s[O_POST_ONLY]), s[O_PRICE], self._price(symbol, s[O_PRICE]), s[O_STOP],
            self._price(symbol, s[O_STOP]), s[O_QUANTITY], filled, s[O_LEAVES], s[O_NOTIONAL],
            average, s[O_STATUS], s[O_REASON], s[O_CREATED_TS], s[O_UPDATED_TS],
            s[O_CREATED_SEQ], s[O_UPDATED_SEQ],
        )  # fmt: skip

    def trade(self, e: TradeExecuted, buy_fee: int, sell_fee: int, seq: int) -> tuple[Any, ...]:
        aggressor = None if e.aggressor is None else e.aggressor.value
        return (
            e.trade_id, e.symbol, e.ts, e.price, self.price(e.symbol, e.price), e.quantity,
            e.buy_order_id, e.sell_order_id, e.buy_account, e.sell_account,
            e.buy_client_order_id, e.sell_client_order_id, aggressor, buy_fee, sell_fee, seq,
        )  # fmt: skip

    def fills(
        self, e: TradeExecuted, buy_fee: int, sell_fee: int, seq: int
    ) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        price = self.price(e.symbol, e.price)
        aggressor = None if e.aggressor is None else e.aggressor.value

        def liquidity(side: str) -> str:
            if aggressor is None:
                return "auction"
            return "taker" if aggressor == side else "maker"

        return (
            (e.trade_id, "buy", e.buy_account, e.buy_order_id, e.buy_client_order_id, e.symbol,
             e.ts, e.price, price, e.quantity, liquidity("buy"), buy_fee, seq),
            (e.trade_id, "sell", e.sell_account, e.sell_order_id, e.sell_client_order_id,
             e.symbol, e.ts, e.price, price, e.quantity, liquidity("sell"), sell_fee, seq),
        )  # fmt: skip

    def position(self, p: Position, ts: int, seq: int) -> tuple[Any, ...]:
        average = p.average_entry_price
        return (
            p.account, p.symbol, p.quantity, p.cost, average, self._price(p.symbol, average),
            p.trade_realised_pnl, p.variation_margin, ts, seq,
        )  # fmt: skip

    def close(self, e: FinalSettlementPaid, tick_value: int, seq: int) -> tuple[Any, ...]:
        """Parameters of ``CLOSE_POSITION``."""
        return (e.price, tick_value, e.amount, e.ts, seq, e.account, e.symbol, seq)

    def settlement(self, e: SettlementPriceSet, seq: int) -> tuple[Any, ...]:
        price = self.price
        return (
            e.date.isoformat(), e.symbol, e.price, price(e.symbol, e.price), e.method, e.volume,
            e.open_interest, e.lower_limit, e.upper_limit, price(e.symbol, e.lower_limit),
            price(e.symbol, e.upper_limit), e.ts, seq,
        )  # fmt: skip

    def final(self, e: ContractSettled, seq: int) -> tuple[Any, ...]:
        return (e.symbol, e.price, self.price(e.symbol, e.price), e.open_interest, e.ts, seq)

    def statement(self, s: Statement, seq: int) -> tuple[Any, ...]:
        moved = s.movements
        document = json.dumps(statement_json(s, self.codec), separators=(",", ":"))
        return (
            s.account, s.date.isoformat(), s.opening_balance, moved.deposits, moved.withdrawals,
            moved.fees, moved.variation_margin, moved.final_settlement, moved.default_transfers,
            s.closing_balance, s.initial_margin, s.maintenance_margin, s.margin_call,
            len(s.trades), len(s.positions), document, seq,
        )  # fmt: skip


def fixing_row(document: dict[str, Any]) -> tuple[Any, ...]:
    """An ``index_fixings`` row of a published fixing document (as the fixings journal holds
    it: the fixing's fields plus ``version`` and ``published_at``)."""
    for name in ("index", "date", "version", "unit", "quality", "methodology_version",
                 "inputs_sha256"):  # fmt: skip
        if document.get(name) is None:
            raise ValueError(f"a fixing document needs {name!r}")
    value = document.get("value")
    micros = None if value is None else Decimal(str(value)) * MICROS_PER_UNIT
    if micros is not None and micros != micros.to_integral_value():
        raise ValueError(f"{document['index']} {document['date']}: value {value} is finer than a "
                         "micro-unit")  # fmt: skip
    day = date.fromisoformat(str(document["date"])).isoformat()
    return (
        str(document["index"]), day, int(document["version"]),
        None if micros is None else int(micros), None if value is None else str(value),
        str(document["unit"]), str(document["quality"]), str(document["methodology_version"]),
        str(document["inputs_sha256"]), document.get("published_at"),
        json.dumps(document, sort_keys=True, separators=(",", ":")),
    )  # fmt: skip


FIXINGS_TABLE = INDEX_FIXINGS.name
