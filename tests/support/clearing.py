"""A small layer over ``ClearingHouse`` for clearing tests that read like the rulebook.

``Clearing`` lists three contracts with explicit terms (so tests do not depend on the
product file): ``TKN2612`` and ``TKN2701`` (one product, two months: calendar spreads) and
``GPU2612`` (settled on the last hour's VWAP). It stamps each command with a clock moving
one millisecond per command (``at`` jumps it forward), and after every command checks every
invariant of the core and the clearing house, and that a rejection changed nothing.

Money in these tests is in cents (minor units); ``usd("1,234.50")`` converts. Prices are
ticks of 0.001 (``2.500`` is 2500 ticks, ``px("2.500")``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from tokenfutures.domain.clearing.accounts import AccountStatus
from tokenfutures.domain.clearing.commands import (
    AddMember,
    EndOfDay,
    FinalSettlement,
    FundHouseCapital,
    MarginCallDeadline,
    OpenAccount,
    SetAccountStatus,
    Withdraw,
)
from tokenfutures.domain.clearing.house import AnyCommand, ClearingHouse
from tokenfutures.domain.clearing.margin import MarginParameters
from tokenfutures.domain.clearing.terms import ContractTerms
from tokenfutures.domain.commands import CancelOrder, Deposit, NewOrder, SetPhase
from tokenfutures.domain.events import CommandRejected
from tokenfutures.domain.exchange import Exchange
from tokenfutures.domain.rules import InstrumentRules
from tokenfutures.domain.values import MICROS_PER_SECOND, OrderType, Phase, Side, TimeInForce

T0 = 1_795_397_400_000_000  # 2026-11-23T01:30:00Z (09:30 in Shanghai)
DAY1 = date(2026, 11, 23)
STEP = 1_000
HOUR = 3600 * MICROS_PER_SECOND
TKN, TKN_NEXT, GPU = "TKN2612", "TKN2701", "GPU2612"
REFERENCE = 2500  # 2.500 for every contract

E = TypeVar("E")


def px(text: str) -> int:
    """A decimal price as ticks of 0.001."""
    return int(Decimal(text) * 1000)


def usd(text: str) -> int:
    """A dollar amount as cents: usd("1,234.50") == 123450."""
    return int(Decimal(text.replace(",", "")) * 100)


def _terms(symbol: str, product: str, month: int, last_day: date, **changes: Any) -> ContractTerms:
    values: dict[str, Any] = {
        "symbol": symbol,
        "product": product,
        "underlying": product,
        "month_index": month,
        "last_trading_day": last_day,
        "final_settlement_days": 5,
        "tick_value": 1000,  # USD 10 per tick per lot (0.001 x 10,000 units)
        "tick_micros": 1000,
        "fee_per_lot": 0,
        "fee_rate_e8": 5000,  # 0.005 % of turnover
        "position_limit": 5000,
        "intraday_open_cap": 1000,
        "daily_settlement_method": "vwap_day",
        "daily_settlement_min_lots": 1,
        "price_limit_bp": 800,
        "margin_bp": 1000,
        "limit_lock_step_bp": 300,
        "limit_lock_margin_extra_bp": 200,
    }
    values.update(changes)
    return ContractTerms(**values)


TERMS = (
    _terms(TKN, "TKN", 2026 * 12 + 12, date(2026, 12, 31)),
    _terms(TKN_NEXT, "TKN", 2027 * 12 + 1, date(2027, 1, 29)),
    _terms(
        GPU, "GPU", 2026 * 12 + 12, date(2026, 12, 15), daily_settlement_method="vwap_last_hour"
    ),
)
MARGIN = {
    "TKN": MarginParameters("TKN", tick_value=1000, scan_range_bp=1000, spread_charge=20_000),
    "GPU": MarginParameters("GPU", tick_value=1000, scan_range_bp=1000, spread_charge=20_000),
}


class Clearing:
    def __init__(
        self, *, risk: bool = True, terms: Iterable[ContractTerms] = TERMS,
        circuit_breaker_bp: int = 0,
    ) -> None:  # fmt: skip
        terms = tuple(terms)
        rules = [
            InstrumentRules(
                t.symbol,
                REFERENCE,
                t.price_limit_bp,
                max_order_quantity=1000,
                circuit_breaker_bp=circuit_breaker_bp,
            )  # fmt: skip
            for t in terms
        ]
        self.exchange = Exchange(rules, phase=Phase.CONTINUOUS)
        self.house = ClearingHouse(self.exchange, terms, MARGIN, risk=risk)
        self.now = T0
        self.log: list[Any] = []

    # --- sending -------------------------------------------------------------------------

    def at(self, ts: int) -> Clearing:
        """Move the clock to ``ts`` (it never goes back)."""
        self.now = max(self.now, ts)
        return self

    def send(self, command: AnyCommand) -> list[Any]:
        before = self.house.state_hash()
        events = self.house.handle(command)
        self.log.extend(events)
        self.house.check_invariants()
        if len(events) == 1 and type(events[0]) is CommandRejected:
            assert self.house.state_hash() == before, "a rejection changed the state"
        return events

    def _ts(self) -> int:
        self.now += STEP
        return self.now

    # --- set-up and money ------------------------------------------------------------------

    def member(self, name: str, guaranty_fund: int = 0) -> list[Any]:
        return self.send(AddMember(self._ts(), name, guaranty_fund))

    def account(
        self, name: str, member: str = "M1", *, cash: int = 0, group: str | None = None,
        exempt: bool = False,
    ) -> list[Any]:  # fmt: skip
        if member not in self.house.accounts.members:
            self.member(member)
        events = self.send(OpenAccount(self._ts(), name, member, group, exempt))
        if cash:
            events += self.deposit(name, cash)
        return events

    def deposit(self, account: str, amount: int) -> list[Any]:
        return self.send(Deposit(self._ts(), account, amount))

    def withdraw(self, account: str, amount: int) -> list[Any]:
        return self.send(Withdraw(self._ts(), account, amount))

    def house_capital(self, amount: int) -> list[Any]:
        return self.send(FundHouseCapital(self._ts(), amount))

    def status(self, account: str, status: AccountStatus) -> list[Any]:
        return self.send(SetAccountStatus(self._ts(), account, status))

    # --- orders ----------------------------------------------------------------------------

    def order(
        self, account: str, side: Side, quantity: int, price: str | None, *,
        symbol: str = TKN, coid: str | None = None, tif: TimeInForce = TimeInForce.GTC,
        reduce_only: bool = False, order_type: OrderType = OrderType.LIMIT,
    ) -> list[Any]:  # fmt: skip
        ts = self._ts()
        return self.send(
            NewOrder(
                ts,
                account,
                coid or f"{account}-{ts}",
                symbol,
                side,
                order_type,
                quantity,
                price=None if price is None else px(price),
                time_in_force=tif,
                reduce_only=reduce_only,
            )  # fmt: skip
        )

    def buy(self, account: str, quantity: int, price: str, **kw: Any) -> list[Any]:
        return self.order(account, Side.BUY, quantity, price, **kw)

    def sell(self, account: str, quantity: int, price: str, **kw: Any) -> list[Any]:
        return self.order(account, Side.SELL, quantity, price, **kw)

    def trade(self, buyer: str, seller: str, quantity: int, price: str, **kw: Any) -> list[Any]:
        """A resting sell from ``seller`` lifted by ``buyer``: one trade of ``quantity``."""
        return self.sell(seller, quantity, price, **kw) + self.buy(
            buyer, quantity, price, tif=TimeInForce.IOC, **kw
        )

    def cancel(self, account: str, coid: str, symbol: str = TKN) -> list[Any]:
        return self.send(CancelOrder(self._ts(), account, coid, symbol))

    def phase(self, symbol: str, phase: Phase) -> list[Any]:
        return self.send(SetPhase(self._ts(), symbol, phase))

    # --- the daily cycle -------------------------------------------------------------------

    def end_of_day(self, day: date = DAY1, index: dict[str, int] | None = None) -> list[Any]:
        return self.send(EndOfDay(self._ts(), day, tuple(sorted((index or {}).items()))))

    def open_day(self, day: int) -> list[Any]:
        """Start trading day ``day`` (1 = DAY1) at 09:30 Shanghai: every contract continuous."""
        self.at(T0 + (day - 1) * 24 * HOUR)
        events: list[Any] = []
        for symbol, inst in sorted(self.exchange.instruments.items()):
            if inst.phase is Phase.CLOSED and symbol not in self.house.delisted:
                events += self.phase(symbol, Phase.CONTINUOUS)
        return events

    def deadline(self) -> list[Any]:
        return self.send(MarginCallDeadline(self._ts()))

    def final_settlement(
        self, symbol: str, price: str | None = None, fixings: tuple[int, ...] = ()
    ) -> list[Any]:
        return self.send(
            FinalSettlement(self._ts(), symbol, None if price is None else px(price), fixings)
        )

    # --- reading ---------------------------------------------------------------------------

    def cash(self, account: str) -> int:
        return self.house.ledger.cash(account)

    def position(self, account: str, symbol: str = TKN) -> int:
        return self.house.positions.position(account, symbol).quantity


def only(events: Iterable[Any], kind: type[E]) -> list[E]:
    """The events of one type, in order."""
    return [event for event in events if type(event) is kind]


def rejected(events: list[Any]) -> CommandRejected:
    assert len(events) == 1, events
    assert type(events[0]) is CommandRejected, events
    event: CommandRejected = events[0]
    return event
