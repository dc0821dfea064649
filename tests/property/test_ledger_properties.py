"""Property tests of the ledger and positions: money is conserved over random streams.

A stream mixes deposits, withdrawals, fees, trades (buyer and seller may be the same account)
and daily marking (variation margin, which includes P&L realised since the previous marking,
posted through the settlement account). After every operation the
money inside the exchange equals deposits minus withdrawals, the ledger's own checks hold and
open interest equals total short; variation margin of a symbol sums to zero; a refused
withdrawal changes nothing; the settlement account is always empty.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenfutures.domain.clearing.ledger import (
    SETTLEMENT,
    Ledger,
    Posting,
    WithdrawalRejected,
)
from tokenfutures.domain.clearing.positions import Positions

ACCOUNTS = ("a", "b", "c", "d", "e")
TICK_VALUES = {"TKN2612": 10, "GPU2703": 25, "TKN2703": 1}
SYMBOLS = tuple(TICK_VALUES)

Operation = tuple[str, int, int, int, int]


@dataclass
class Exchange:
    ledger: Ledger = field(default_factory=Ledger)
    positions: Positions = field(default_factory=Positions)
    net_inflow: int = 0
    refusals: int = 0

    def apply(self, operation: Operation) -> None:
        kind, first, second, amount, price = operation
        owner = ACCOUNTS[first % len(ACCOUNTS)]
        if kind == "deposit":
            self.ledger.deposit(owner, amount, "dep")
            self.net_inflow += amount
        elif kind == "withdraw":
            self._withdraw(owner, amount, free_collateral=price * 100)
        elif kind == "fee":
            self.ledger.charge_fee(owner, amount, "fee")
        elif kind == "trade":
            self._trade(owner, ACCOUNTS[second % len(ACCOUNTS)], amount, price)
        else:
            self._mark(SYMBOLS[second % len(SYMBOLS)], price)

    def _withdraw(self, owner: str, amount: int, free_collateral: int) -> None:
        before = (self.ledger.balances(), len(self.ledger.journal), self.ledger.withdrawn)
        result = self.ledger.withdraw(owner, amount, free_collateral, "wd")
        if isinstance(result, WithdrawalRejected):
            self.refusals += 1
            after = (self.ledger.balances(), len(self.ledger.journal), self.ledger.withdrawn)
            assert after == before
        else:
            assert isinstance(result, Posting)
            self.net_inflow -= amount

    def _trade(self, buyer: str, seller: str, quantity: int, price: int) -> None:
        symbol = SYMBOLS[(quantity + price) % len(SYMBOLS)]
        lots = quantity % 7 + 1
        self.positions.apply_trade(symbol, buyer, seller, lots, price, TICK_VALUES[symbol])

    def _mark(self, symbol: str, price: int) -> None:
        amounts = self.positions.mark_to_market(symbol, price, TICK_VALUES[symbol])
        assert sum(amounts.values()) == 0
        self.ledger.post_variation_margin(amounts, f"eod {symbol}")

    def check(self) -> None:
        assert self.ledger.total() == self.net_inflow
        assert self.ledger.balance(SETTLEMENT) == 0
        self.ledger.check()
        self.positions.check()
        for symbol in SYMBOLS:
            assert self.positions.open_interest(symbol) == self.positions.short_interest(symbol)

    def mark_all(self, price: int) -> None:
        for symbol in SYMBOLS:
            self._mark(symbol, price)
        self.check()
        for symbol in SYMBOLS:
            assert all(p.realised_unsettled == 0 for p in self.positions.positions_in(symbol))


prices = st.integers(min_value=1, max_value=400)
operations = st.tuples(
    st.sampled_from(["deposit", "withdraw", "fee", "trade", "trade", "trade", "mark"]),
    st.integers(min_value=0, max_value=len(ACCOUNTS) - 1),
    st.integers(min_value=0, max_value=len(ACCOUNTS) - 1),
    st.integers(min_value=1, max_value=50_000),
    prices,
)


@settings(max_examples=150, deadline=None)
@given(stream=st.lists(operations, max_size=80), final_price=prices)
def test_money_is_conserved_over_random_streams(stream: list[Operation], final_price: int) -> None:
    exchange = Exchange()
    for operation in stream:
        exchange.apply(operation)
        exchange.check()
    exchange.mark_all(final_price)


@settings(max_examples=100, deadline=None)
@given(
    trades=st.lists(
        st.tuples(st.sampled_from(ACCOUNTS), st.sampled_from(ACCOUNTS), prices, prices),
        min_size=1,
        max_size=40,
    ),
    settlement_price=prices,
)
def test_variation_margin_of_a_symbol_sums_to_zero(
    trades: list[tuple[str, str, int, int]], settlement_price: int
) -> None:
    positions = Positions()
    for buyer, seller, lots, price in trades:
        positions.apply_trade("TKN2612", buyer, seller, lots, price, 10)
    pending = {
        p.account: p.pending_variation_margin(settlement_price, 10)
        for p in positions.positions_in("TKN2612")
    }
    amounts = positions.mark_to_market("TKN2612", settlement_price, 10)
    assert sum(amounts.values()) == 0
    assert {a: v for a, v in amounts.items() if a in pending} == pending
    assert positions.open_interest("TKN2612") == positions.short_interest("TKN2612")
    again = positions.mark_to_market("TKN2612", settlement_price, 10)
    assert set(again.values()) <= {0}


@settings(max_examples=100, deadline=None)
@given(
    deposit=st.integers(min_value=1, max_value=10_000),
    amount=st.integers(min_value=-10, max_value=20_000),
    free_collateral=st.integers(min_value=-10, max_value=20_000),
)
def test_a_refused_withdrawal_changes_nothing(
    deposit: int, amount: int, free_collateral: int
) -> None:
    ledger = Ledger()
    ledger.deposit("a", deposit, "dep")
    before = (ledger.balances(), list(ledger.journal), ledger.withdrawn)
    result = ledger.withdraw("a", amount, free_collateral)
    refused = amount <= 0 or amount > free_collateral or amount > deposit
    assert isinstance(result, WithdrawalRejected) == refused
    if refused:
        assert (ledger.balances(), list(ledger.journal), ledger.withdrawn) == before
    ledger.check()


def _random_operation(rng: random.Random) -> Operation:
    kind = rng.choices(["deposit", "withdraw", "fee", "trade", "mark"], [2, 2, 2, 12, 1])[0]
    return (
        kind,
        rng.randrange(len(ACCOUNTS)),
        rng.randrange(len(ACCOUNTS)),
        rng.randint(1, 50_000),
        rng.randint(1, 400),
    )


@pytest.mark.slow
def test_money_is_conserved_over_a_long_seeded_stream() -> None:
    rng = random.Random(20_261_231)
    exchange = Exchange()
    steps = 12_000
    for step in range(steps):
        exchange.apply(_random_operation(rng))
        assert exchange.ledger.total() == exchange.net_inflow
        if step % 100 == 0:
            exchange.check()
    exchange.check()
    assert len(exchange.ledger.journal) > steps // 3
    assert exchange.refusals > 0
    exchange.mark_all(200)
