"""Random streams of commands through the whole clearing pipeline, for the property tests.

``Market`` drives a recording ``Clearing`` (tests/support/clearing.py) over simulated days:
members and accounts, deposits and withdrawals, every order type, cancels and amends,
reduce-only orders, halts, fair values that drift so that margin calls, liquidations and
defaults happen, ends of day (with index values sometimes), margin-call deadlines and final
settlements. Every choice comes from a ``Chooser`` (hypothesis data or a seeded random), so a
stream shrinks and replays. ``count_paths`` says which interesting paths a stream took.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from hypothesis import event

from support.clearing import (
    DAY1,
    GPU,
    REFERENCE,
    TERMS,
    TKN,
    TKN_NEXT,
    Clearing,
)
from tokenfutures.domain.clearing.accounts import AccountStatus
from tokenfutures.domain.clearing.commands import (
    EndOfDay,
    FinalSettlement,
    FundHouseCapital,
    MarginCallDeadline,
    OpenAccount,
    SetAccountStatus,
    Withdraw,
)
from tokenfutures.domain.clearing.events import (
    DefaultLossAllocated,
    FundsWithdrawn,
    HouseCapitalFunded,
    MemberAdded,
)
from tokenfutures.domain.clearing.house import AnyCommand, ClearingHouse
from tokenfutures.domain.clearing.ledger import SETTLEMENT
from tokenfutures.domain.commands import AmendOrder, CancelAll, CancelOrder, Deposit, NewOrder
from tokenfutures.domain.events import CommandRejected, FundsDeposited
from tokenfutures.domain.values import OrderType, Side, TimeInForce

from .streams import Chooser

SYMBOLS = (TKN, TKN_NEXT, GPU)
TERMS_BY_SYMBOL = {t.symbol: t for t in TERMS}
LAST_DAY = max(t.last_trading_day for t in TERMS)  # 2027-01-29: every contract is due by then
# Tighter limits than the helper's so that position limits and the opening cap bind sometimes.
STREAM_TERMS = tuple(replace(t, position_limit=250, intraday_open_cap=60) for t in TERMS)
HOUSE_ACCOUNT = "clearing_house"
SEEDED = 2  # the seeded fast stream; checked to take every interesting path
MAKER_INVENTORY = 60  # beyond this many lots a market maker quotes only to reduce


def dollars(amount: int) -> int:
    """Whole dollars as cents (``support.clearing.usd`` parses strings)."""
    return amount * 100


MEMBERS = {"M1": dollars(6_000), "M2": dollars(3_000), "M3": dollars(20_000), "M4": 0}


@dataclass(frozen=True)
class AccountSpec:
    name: str
    member: str
    group: str | None
    exempt: bool
    cash: int


MAKERS = (
    AccountSpec("MM1", "M3", None, True, dollars(3_000_000)),
    AccountSpec("MM2", "M3", "MMG", True, dollars(2_000_000)),
)
TRADERS = (
    AccountSpec("A1", "M1", "G1", False, dollars(9_000)),
    AccountSpec("A2", "M1", "G1", False, dollars(14_000)),
    AccountSpec("A3", "M1", None, True, dollars(25_000)),
    AccountSpec("A4", "M2", None, False, dollars(7_000)),
    AccountSpec("A5", "M2", "G2", False, dollars(12_000)),
    AccountSpec("A6", "M4", "G2", False, dollars(6_000)),
    AccountSpec("A7", "M4", None, False, dollars(18_000)),
)
KINDS = {  # kind of command: weight; the first is what the value 0 picks (shrinks to it)
    "quote": 26,
    "take": 18,
    "passive": 8,
    "cancel": 8,
    "amend": 7,
    "reduce": 5,
    "deposit": 4,
    "withdraw": 6,
    "halt": 3,
    "deadline": 2,
    "capital": 1,
    "house": 3,
    "cancel_all": 2,
    "open_account": 1,
    "invalid": 3,
}
SHOCKS_PCT = (0, 1, -1, 2, -2, 3, -3, 5, -5, 7, -7, 11, -11)  # a day's move of a fair value


class RecordingClearing(Clearing):
    """The helper's ``Clearing`` (every invariant after every command), which also keeps the
    commands sent and counts the money that crosses the boundary from the events alone."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.commands: list[AnyCommand] = []
        self.hashes: list[str] = []
        self.money_in = 0
        self.money_out = 0
        self.counts: Counter[str] = Counter()
        self.record_hashes = False

    def send(self, command: AnyCommand) -> list[Any]:
        self.commands.append(command)
        events = super().send(command)
        for item in events:
            kind = type(item)
            self.counts[kind.__name__] += 1
            if kind is FundsDeposited or kind is HouseCapitalFunded:
                self.money_in += item.amount
            elif kind is MemberAdded:
                self.money_in += item.guaranty_fund
            elif kind is FundsWithdrawn:
                self.money_out += item.amount
            elif kind is DefaultLossAllocated:
                self.counts[f"waterfall:{item.step}"] += 1
            elif kind is CommandRejected:
                self.counts[f"rejected:{item.reason}"] += 1
        ledger = self.house.ledger
        assert ledger.total() == ledger.deposited - ledger.withdrawn
        assert ledger.total() == self.money_in - self.money_out, "money appeared or vanished"
        assert self.house.money_conserved()
        if self.record_hashes:
            self.hashes.append(self.house.state_hash())
        return events

    def finish(self) -> None:
        """At the end of a stream (the full checks already ran after every command)."""


def day_offsets(days: int) -> list[int]:
    """Calendar offsets from DAY1 of ``days`` trading days, the last on LAST_DAY."""
    span = (LAST_DAY - DAY1).days
    if days == 1:
        return [span]
    return [round(i * span / (days - 1)) for i in range(days)]


class Market:
    """Sends a random but realistic stream of days through a ``RecordingClearing``."""

    def __init__(self, chooser: Chooser, clearing: RecordingClearing | None = None) -> None:
        self.chooser = chooser
        self.c = clearing or RecordingClearing(terms=STREAM_TERMS)
        self.house: ClearingHouse = self.c.house
        self.fair = {TKN: REFERENCE, TKN_NEXT: REFERENCE + 20, GPU: REFERENCE}
        self.makers = [a.name for a in MAKERS]
        self.traders = [a.name for a in TRADERS]
        self.members = list(MEMBERS)
        self.coids: list[tuple[str, str, str]] = []  # account, client order id, symbol
        self.counter = 0
        self.statements_checked = 0

    # --- choices ---------------------------------------------------------------------------

    def randint(self, a: int, b: int) -> int:
        return self.chooser.randint(a, b)

    def pick(self, items: Sequence[Any]) -> Any:
        return items[self.randint(0, len(items) - 1)]

    def chance(self, percent: int) -> bool:
        return self.randint(0, 99) >= 100 - percent

    # --- the stream ------------------------------------------------------------------------

    def run(self, days: int, per_day: int) -> None:
        self.setup()
        for number, offset in enumerate(day_offsets(days)):
            self.day(number, offset, per_day)
        self.finish()

    def setup(self) -> None:
        for member, fund in MEMBERS.items():
            self.c.member(member, fund)
        for spec in MAKERS + TRADERS:
            self.c.account(
                spec.name, spec.member, cash=spec.cash, group=spec.group, exempt=spec.exempt
            )
        if self.chance(70):
            self.c.house_capital(dollars(self.randint(1, 20) * 1_000))

    def day(self, number: int, offset: int, per_day: int) -> None:
        if number:
            self.sweep()
            self.drift()
            if self.house.margin_calls and self.chance(15):
                self.c.deadline()  # before the open: nothing can be closed, all is transferred
            self.c.open_day(offset + 1)
        deadline_at = self.randint(0, per_day) if self.chance(70) else -1
        for index in range(per_day):
            if index == deadline_at:
                self.c.deadline()
            self.command(self.random_kind())
        self.end_of_day(DAY1 + timedelta(days=offset))

    def sweep(self) -> None:
        """Overnight, some traders take out most of what is free: they start the day fully
        margined, so the day's move can bring them below maintenance."""
        for account in list(self.traders):
            free = self.house.free_collateral(account)
            if free > 0 and self.chance(40):
                self.c.withdraw(account, max(1, free * self.randint(50, 100) // 100))

    def drift(self) -> None:
        for product_symbols in ((TKN, TKN_NEXT), (GPU,)):
            shock = self.pick(SHOCKS_PCT)
            for symbol in product_symbols:
                moved = self.fair[symbol] * (100 + shock) // 100
                self.fair[symbol] = max(200, moved + self.randint(-3, 3))

    def end_of_day(self, day: date) -> None:
        index = {}
        if self.chance(40):
            index["TKN"] = self.fair[TKN] * 1000 + self.randint(-2000, 2000)
        if self.chance(40):
            index["GPU"] = self.fair[GPU] * 1000 + self.randint(-2000, 2000)
        before = dict(self.house.closing_balances)
        self.c.end_of_day(day, index)
        self.check_statements(day, before)
        for terms in STREAM_TERMS:
            if terms.symbol not in self.house.delisted and terms.last_trading_day <= day:
                self.final_settlement(terms.symbol)

    def final_settlement(self, symbol: str) -> None:
        ts, settle = self.c._ts, self.house.settlement_prices[symbol]
        if self.chance(20):  # both a price and fixings: refused
            self.c.send(FinalSettlement(ts(), symbol, settle, (settle * 1000,)))
        way = self.randint(0, 2)
        if way == 0:
            self.c.send(FinalSettlement(ts(), symbol, settle))
        elif way == 1:
            window = TERMS_BY_SYMBOL[symbol].final_settlement_days  # the window's fixings
            fixings = tuple(
                self.fair[symbol] * 1000 + self.randint(-900, 900) for _ in range(window)
            )
            self.c.send(FinalSettlement(ts(), symbol, None, fixings))
        else:
            shocked = max(1, settle * (100 + self.pick(SHOCKS_PCT)) // 100)
            self.c.send(FinalSettlement(ts(), symbol, shocked))
        assert symbol in self.house.delisted

    def finish(self) -> None:
        """Every contract settled: no position is left, the settlement account is flat, and
        every ledger balance, ``external`` included, sums to zero."""
        self.c.deadline()  # last calls: flat accounts with negative cash default
        self.c.finish()
        house = self.house
        assert house.last_end_of_day == LAST_DAY
        assert house.delisted == set(SYMBOLS)
        assert house.positions.symbols() == []
        assert house.ledger.balance(SETTLEMENT) == 0
        assert sum(house.ledger.balances().values()) == 0
        assert house.ledger.total() == self.c.money_in - self.c.money_out
        assert house.exchange.registry.count() == 0

    def check_statements(self, day: date, before: Mapping[str, int]) -> None:
        statements = {a: s for (a, d), s in self.house.statements.items() if d == day}
        assert statements, "an end of day writes statements"
        for account, statement in statements.items():
            assert statement.opening_balance + statement.movements.net == (
                statement.closing_balance
            ), f"{account} {day}: the statement does not reconcile"
            assert statement.opening_balance == before.get(account, 0)
            assert statement.closing_balance == self.house.ledger.cash(account)
            assert statement.initial_margin >= statement.maintenance_margin >= 0
            self.statements_checked += 1

    # --- one command -----------------------------------------------------------------------

    def random_kind(self) -> str:
        roll = self.randint(0, sum(KINDS.values()) - 1)
        for kind, weight in KINDS.items():
            if roll < weight:
                return kind
            roll -= weight
        raise AssertionError("unreachable")

    def command(self, kind: str) -> None:
        getattr(self, f"k_{kind}")()

    def symbol(self) -> str:
        """A contract still listed, mostly (a delisted one is refused)."""
        live = [s for s in SYMBOLS if s not in self.house.delisted]
        return str(self.pick(live if live and not self.chance(3) else SYMBOLS))

    def trader(self) -> str:
        """A trader that may trade, mostly (a halted or defaulted one is refused)."""
        accounts = self.house.accounts.accounts
        active = [a for a in self.traders if accounts[a].may_trade]
        return str(self.pick(active if active and not self.chance(5) else self.traders))

    def inst(self, symbol: str) -> Any:
        return self.house.exchange.instruments[symbol]

    def clamp(self, symbol: str, price: int) -> int:
        inst = self.inst(symbol)
        return max(inst.lower_limit, min(inst.upper_limit, price))

    def coid(self, account: str) -> str:
        if self.coids and self.chance(2):
            return str(self.pick(self.coids[-20:])[1])  # a duplicate if still live
        self.counter += 1
        return f"{account}-{self.counter}"

    def order(
        self,
        account: str,
        symbol: str,
        side: Side,
        quantity: int,
        price: int | None,
        *,
        tif: TimeInForce = TimeInForce.GFD,
        order_type: OrderType = OrderType.LIMIT,
        post_only: bool = False,
        reduce_only: bool = False,
    ) -> list[Any]:
        coid = self.coid(account)
        self.coids.append((account, coid, symbol))
        del self.coids[:-200]
        return self.c.send(
            NewOrder(
                self.c._ts(),
                account,
                coid,
                symbol,
                side,
                order_type,
                quantity,
                price,
                time_in_force=tif,
                post_only=post_only,
                reduce_only=reduce_only,
            )
        )

    def k_quote(self) -> None:
        """A market maker's passive order around the fair value; nobody sells at the upper
        limit (or buys at the lower) when the fair value is beyond it: a locked close."""
        account, symbol = self.pick(self.makers), self.symbol()
        working = self.house.exchange.registry.orders_of(account)
        if len(working) > 30:  # pull the stalest quote instead
            stale = min(working, key=lambda o: o.order_id)
            self.c.send(CancelOrder(self.c._ts(), account, stale.client_order_id, stale.symbol))
            return
        side = self.pick((Side.BUY, Side.SELL))
        held = self.house.positions.position(account, symbol).quantity
        if abs(held) > MAKER_INVENTORY:
            side = Side.SELL if held > 0 else Side.BUY
        inst, fair = self.inst(symbol), self.fair[symbol]
        if fair >= inst.upper_limit and side is Side.SELL and not self.chance(20):
            side = Side.BUY
        if fair <= inst.lower_limit and side is Side.BUY and not self.chance(20):
            side = Side.SELL
        offset = self.randint(1, 6)
        price = self.clamp(symbol, fair - offset if side is Side.BUY else fair + offset)
        tif = TimeInForce.GTC if self.chance(10) else TimeInForce.GFD
        self.order(
            account,
            symbol,
            side,
            self.randint(1, 20),
            price,
            tif=tif,
            post_only=self.chance(15),
        )

    def k_take(self) -> None:
        account = self.trader() if not self.chance(10) else self.pick(self.makers)
        if self.house.free_collateral(account) <= 0 and self.chance(75):
            return self.k_quote()  # mostly, a trader without free collateral waits
        symbol, side = self.symbol(), self.pick((Side.BUY, Side.SELL))
        quantity = self.size(account, symbol)
        sign = 1 if side is Side.BUY else -1
        price = self.clamp(symbol, self.fair[symbol] + sign * self.randint(0, 15))
        style = self.randint(0, 4)
        if style == 0:
            self.order(account, symbol, side, quantity, price, tif=TimeInForce.IOC)
        elif style == 1:
            self.order(account, symbol, side, quantity, price, tif=TimeInForce.FOK)
        elif style == 2:
            self.order(account, symbol, side, quantity, price, tif=TimeInForce.GTC)
        else:
            tif = TimeInForce.IOC if style == 3 else TimeInForce.FOK
            self.order(account, symbol, side, quantity, None, tif=tif, order_type=OrderType.MARKET)
        return None

    def size(self, account: str, symbol: str) -> int:
        """Mostly what the free collateral allows (traders run fully margined), else more."""
        if self.chance(10):
            return self.randint(1, 30)
        per_lot = -(-self.fair[symbol] * 1_000 // 10_000) * 1_000  # scan range x tick value
        affordable = self.house.free_collateral(account) // per_lot
        return max(1, min(30, affordable * self.randint(30, 90) // 100))

    def k_passive(self) -> None:
        account, symbol = self.trader(), self.symbol()
        side = self.pick((Side.BUY, Side.SELL))
        sign = 1 if side is Side.BUY else -1
        price = self.clamp(symbol, self.fair[symbol] - sign * self.randint(1, 12))
        tif = TimeInForce.GTC if self.chance(20) else TimeInForce.GFD
        self.order(account, symbol, side, self.size(account, symbol), price, tif=tif)

    def live_orders(self) -> list[Any]:
        return [
            order
            for _, inst in sorted(self.house.exchange.instruments.items())
            for order in inst.live_orders()
        ]

    def k_cancel(self) -> None:
        live = self.live_orders()
        if live and not self.chance(10):
            order = self.pick(live)
            account, coid, symbol = order.account, order.client_order_id, order.symbol
        elif self.coids:
            account, coid, symbol = self.pick(self.coids)
        else:
            account, coid, symbol = "A1", "nope", TKN
        self.c.send(CancelOrder(self.c._ts(), account, coid, symbol))

    def k_amend(self) -> None:
        live = [o for o in self.live_orders() if o.price is not None]
        if not live:
            return self.k_quote()
        order = self.pick(live)
        price = self.clamp(order.symbol, order.price + self.randint(-6, 6))
        quantity = order.filled + self.randint(0, 12)
        way = self.randint(0, 2)
        self.c.send(
            AmendOrder(
                self.c._ts(),
                order.account,
                order.client_order_id,
                order.symbol,
                price=price if way != 1 else None,
                quantity=quantity if way != 0 else None,
            )
        )
        return None

    def k_reduce(self) -> None:
        held = [
            p
            for account in self.makers + self.traders
            for p in self.house.positions.positions_of(account)
        ]
        if not held:
            return self.k_take()
        position = self.pick(held)
        side = Side.SELL if position.quantity > 0 else Side.BUY
        quantity = self.randint(1, abs(position.quantity) + 2)  # too many: refused
        sign = 1 if side is Side.BUY else -1
        price = self.clamp(position.symbol, self.fair[position.symbol] + sign * self.randint(-4, 8))
        tif = self.pick((TimeInForce.GTC, TimeInForce.IOC, TimeInForce.GFD))
        self.order(
            position.account,
            position.symbol,
            side,
            min(quantity, 1000),
            price,
            tif=tif,
            reduce_only=True,
        )
        return None

    def some_account(self) -> str:
        called = sorted(self.house.margin_calls)
        if called and self.chance(50):
            return str(self.pick(called))
        return str(self.pick(self.traders + self.makers))

    def k_deposit(self) -> None:
        account = self.some_account() if not self.chance(3) else "nobody"
        amount = dollars(self.randint(1, 12) * 250) if not self.chance(3) else 0
        self.c.send(Deposit(self.c._ts(), account, amount))

    def k_withdraw(self) -> None:
        maker = self.chance(10)
        account = self.pick(self.makers) if maker else self.pick(self.traders)
        free = self.house.free_collateral(account)
        if free > 0 and self.chance(70):  # traders take out what they can, makers a little
            amount = max(1, free * self.randint(30, 100) // (1_000 if maker else 100))
        else:
            amount = max(free, 0) + self.randint(1, 200) * 100  # more than is free: refused
        self.c.send(Withdraw(self.c._ts(), account, amount))

    def k_halt(self) -> None:
        accounts = self.house.accounts.accounts
        halted = [a for a in self.traders if accounts[a].status is AccountStatus.CANCEL_ONLY]
        if halted and self.chance(50):
            account, status = self.pick(halted), AccountStatus.ACTIVE
        else:
            account = self.pick(self.traders)
            status = self.pick(
                (AccountStatus.CANCEL_ONLY, AccountStatus.ACTIVE, AccountStatus.LIQUIDATING)
            )
        self.c.send(SetAccountStatus(self.c._ts(), account, status))

    def k_deadline(self) -> None:
        self.c.send(MarginCallDeadline(self.c._ts()))

    def k_capital(self) -> None:
        amount = dollars(self.randint(1, 10) * 500) if not self.chance(5) else 0
        self.c.send(FundHouseCapital(self.c._ts(), amount))

    def k_house(self) -> None:
        """The clearing house works off a position a default left it."""
        held = self.house.positions.positions_of(HOUSE_ACCOUNT)
        if not held:
            return self.k_take()
        position = self.pick(held)
        side = Side.SELL if position.quantity > 0 else Side.BUY
        sign = 1 if side is Side.BUY else -1
        price = self.clamp(position.symbol, self.fair[position.symbol] + sign * self.randint(0, 10))
        quantity = min(abs(position.quantity), 1000)
        self.order(HOUSE_ACCOUNT, position.symbol, side, quantity, price, tif=TimeInForce.IOC)
        return None

    def k_cancel_all(self) -> None:
        account = self.pick(self.traders + self.makers)
        symbol = self.symbol() if self.chance(50) else None
        self.c.send(CancelAll(self.c._ts(), account, symbol))

    def k_open_account(self) -> None:
        accounts = self.house.accounts.accounts
        standing = sum(accounts[a].status is not AccountStatus.DEFAULTED for a in self.traders)
        if len(self.traders) >= 30 or (standing >= len(TRADERS) and self.chance(90)):
            return self.k_take()  # new accounts replace defaulted ones
        self.counter += 1
        name = f"N{self.counter}"
        member = self.pick(self.members) if not self.chance(10) else "M9"
        group = self.pick((None, "G1", "G2", name))
        events = self.c.send(
            OpenAccount(self.c._ts(), name, member, group, opening_cap_exempt=self.chance(20))
        )
        if type(events[0]) is not CommandRejected:
            self.traders.append(name)
            self.c.deposit(name, dollars(self.randint(2, 30) * 1_000))
        return None

    def k_invalid(self) -> None:
        ts, symbol = self.c._ts, self.symbol()
        way = self.randint(0, 4)
        if way == 0:  # outside the day's limits
            self.order(
                self.pick(self.traders), symbol, Side.BUY, 1, self.inst(symbol).upper_limit + 1
            )
        elif way == 1:
            self.order("ghost", symbol, Side.SELL, 1, self.fair[symbol])
        elif way == 2:
            self.c.send(FinalSettlement(ts(), symbol, self.fair[symbol]))
        elif way == 3 and self.house.last_end_of_day is not None:
            self.c.send(EndOfDay(ts(), self.house.last_end_of_day))
        else:
            self.c.send(Withdraw(ts(), "ghost", 100))


class FastChecksClearing(RecordingClearing):
    """For the 100,000-command stream: the helper's checks after every command, except that
    the ledger's journal is replayed incrementally rather than from the start (a full replay
    after every command is quadratic over such a stream); the complete
    ``house.check_invariants`` still runs every 500 commands and at the end."""

    FULL_EVERY = 500

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.replayed: dict[Any, int] = {}
        self.replayed_to = 0
        self.full_check = self.house.check_invariants
        self.house.check_invariants = self.check  # type: ignore[method-assign]

    def check(self) -> None:
        house = self.house
        if len(self.commands) % self.FULL_EVERY == 0:
            self.full_check()
        house.exchange.check_invariants()
        house.positions.check()
        journal = house.ledger.journal
        for posting in journal[self.replayed_to :]:
            self.replayed[posting.debit] = self.replayed.get(posting.debit, 0) - posting.amount
            self.replayed[posting.credit] = self.replayed.get(posting.credit, 0) + posting.amount
        self.replayed_to = len(journal)
        balances = house.ledger.balances()
        assert self.replayed == balances, "ledger balances differ from a replay of the journal"
        assert sum(balances.values()) == 0
        assert house.ledger.total() == house.ledger.deposited - house.ledger.withdrawn
        assert house.pending_total() == house.ledger.balance(SETTLEMENT)

    def finish(self) -> None:
        self.full_check()


def run_market(chooser: Chooser, days: int, per_day: int, *, hashes: bool = False) -> Market:
    market = Market(chooser)
    market.c.record_hashes = hashes
    market.run(days, per_day)
    return market


def count_paths(market: Market, *, hypothesis_events: bool = False) -> Counter[str]:
    counts = market.c.counts
    if hypothesis_events:
        for name in (
            "TradeCleared",
            "MarginCallIssued",
            "MarginCallMet",
            "LiquidationStarted",
            "DefaultDeclared",
            "DefaultLossAllocated",
            "PositionTransferred",
            "FinalSettlementPaid",
            "LimitLocked",
            "FundsWithdrawn",
        ):
            event(f"stream has {name}: {bool(counts[name])}")
    return counts
