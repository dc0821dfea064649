"""Properties of the clearing house over long random streams through the whole pipeline.

A ``Market`` (clearing_streams.py) drives ``tests/support/clearing.py``'s ``Clearing`` (which
checks every invariant of the core and the clearing house after each command, and that a
rejection changes nothing) with realistic days: members with guaranty funds, accounts (some
grouped, some exempt from the opening cap, market makers and thinly funded traders),
deposits, withdrawals (some refused), limit/IOC/FOK/market orders on TKN2612, TKN2701 and
GPU2612 around fair values that drift from day to day (so some traders lose enough to be
called), cancels, amends, reduce-only orders, halts, house capital, the clearing house's own
orders, an end of day each simulated day (with index fixings sometimes), margin-call deadlines
(liquidations, defaults, the waterfall), and final settlement of every contract once its last
trading day has been settled.

Properties:

- money: after every command ``ledger.total()`` equals the deposits minus the withdrawals
  counted from the published events, and at the end every balance, ``external`` included,
  sums to zero with every contract settled and no position left;
- statements: after each end of day every statement reconciles (opening + movements = closing),
  opens at the previous closing balance and closes at the ledger's cash;
- determinism: the same commands sent to two fresh clearing houses give identical events and
  state hashes, command by command;
- worst-case margin of working orders: in test_worst_case_margin.py.

The stream generator is tests/property/clearing_streams.py.

The 100,000-command stream (``-m slow``) replays the ledger's journal incrementally after each
command instead of from the start (``FastChecksClearing``); every other check is the helper's.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.clearing import (
    TKN,
    Clearing,
)
from tokenfutures.domain.clearing.house import AnyCommand
from tokenfutures.domain.clearing.ledger import SETTLEMENT

from .clearing_streams import (
    SEEDED,
    STREAM_TERMS,
    FastChecksClearing,
    Market,
    RecordingClearing,
    count_paths,
    dollars,
    run_market,
)
from .streams import IntChooser

# --- 1. money is conserved through the whole pipeline ----------------------------------------


@st.composite
def market_streams(draw: st.DrawFn) -> tuple[list[int], int, int]:
    """Shrinkable streams: the days, the commands per day and the integers behind every
    choice (0 picks the plainest option: a market maker's passive quote)."""
    days = draw(st.integers(min_value=2, max_value=8))
    per_day = draw(st.integers(min_value=20, max_value=80))
    values = draw(
        st.lists(
            st.integers(min_value=0, max_value=255),
            min_size=days * per_day * 4,
            max_size=days * per_day * 8,
        )
    )
    return values, days, per_day


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(stream=market_streams())
def test_money_is_conserved_on_hypothesis_streams(stream: tuple[list[int], int, int]) -> None:
    values, days, per_day = stream
    market = run_market(IntChooser(values), days, per_day)
    count_paths(market, hypothesis_events=True)
    assert market.statements_checked > 0


def test_money_is_conserved_on_a_seeded_stream_that_takes_every_path() -> None:
    market = run_market(random.Random(SEEDED), days=14, per_day=160)
    counts = count_paths(market)
    assert counts["TradeCleared"] > 150
    assert counts["MarginCallIssued"] > 0
    assert counts["LiquidationStarted"] > 0
    assert counts["DefaultDeclared"] > 0
    assert counts["FinalSettlementPaid"] > 0
    assert counts["FundsWithdrawn"] > 0
    assert counts["rejected:exceeds_free_collateral"] > 0
    assert counts["rejected:insufficient_margin"] > 0
    assert counts["rejected:reduce_only_would_open"] > 0


@pytest.mark.slow
def test_money_is_conserved_over_100_000_commands() -> None:
    market = Market(random.Random(20261123), FastChecksClearing(terms=STREAM_TERMS))
    market.run(days=60, per_day=1_660)
    counts = count_paths(market)
    assert len(market.c.commands) >= 100_000
    assert counts["TradeCleared"] > 5_000
    assert counts["MarginCallIssued"] > 10
    assert counts["MarginCallMet"] > 0
    assert counts["LiquidationStarted"] > 10
    assert counts["LiquidationCompleted"] == counts["LiquidationStarted"]
    assert counts["DefaultDeclared"] > 0
    assert counts["PositionTransferred"] > 0
    assert counts["waterfall:guaranty_fund"] + counts["waterfall:house_capital"] > 0
    assert counts["LimitLocked"] > 0
    assert counts["FinalSettlementPaid"] > 0


# --- 2. determinism --------------------------------------------------------------------------


def replay(commands: Sequence[AnyCommand]) -> tuple[list[list[Any]], list[str]]:
    """Send ``commands`` to a fresh clearing house; its events and state hash per command."""
    fresh = Clearing(terms=STREAM_TERMS)
    events, hashes = [], []
    for command in commands:
        events.append(fresh.house.handle(command))
        hashes.append(fresh.house.state_hash())
    return events, hashes


def assert_deterministic(market: Market) -> None:
    commands = market.c.commands
    first_events, first_hashes = replay(commands)
    second_events, second_hashes = replay(commands)
    assert first_hashes == second_hashes == market.c.hashes
    assert first_events == second_events
    assert [e for batch in first_events for e in batch] == market.c.log
    assert len(set(first_hashes)) > len(commands) // 4, "the state hash follows the state"


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=market_streams())
def test_the_same_stream_gives_the_same_events_and_state_hashes(
    stream: tuple[list[int], int, int],
) -> None:
    values, days, per_day = stream
    assert_deterministic(run_market(IntChooser(values), days, per_day, hashes=True))


def test_a_seeded_stream_replays_identically() -> None:
    market = run_market(random.Random(77), days=6, per_day=150, hashes=True)
    assert market.c.counts["LiquidationStarted"] + market.c.counts["TradeCleared"] > 0
    assert_deterministic(market)


# --- 4. statements reconcile (also checked after every end of day of every stream above) -----


def test_statements_reconcile_after_every_end_of_day() -> None:
    market = run_market(random.Random(5), days=5, per_day=120)
    house = market.house
    by_account: dict[str, list[Any]] = {}
    for (account, _), statement in sorted(house.statements.items()):
        assert statement.opening_balance + statement.movements.net == statement.closing_balance
        by_account.setdefault(account, []).append(statement)
    for account, statements in by_account.items():
        assert statements[0].opening_balance == 0
        for previous, current in itertools.pairwise(statements):
            assert current.opening_balance == previous.closing_balance, account
    assert market.statements_checked == len(house.statements)


# --- a liquidation that settles one account early (found by these streams; fixed in 9ad336e) --


def test_a_liquidation_settled_early_keeps_the_settlement_account_equal_to_unpaid_margin() -> None:
    """T is called, then liquidated below the day's mark: its loss is collected at once into
    the settlement account, which then holds exactly what the other accounts are still owed.
    (``check_invariants`` first tested ``pending + settlement == 0`` and raised here.)"""
    c = RecordingClearing()
    c.account("MM", "M1", cash=dollars(1_000_000), exempt=True)
    c.account("MM2", "M1", cash=dollars(1_000_000), exempt=True)
    c.account("T", "M1", cash=dollars(3_000))
    c.trade("T", "MM", 1, "2.500")  # T long 1 lot at 2.500
    c.trade("MM2", "MM", 9, "2.300")  # the day's VWAP 2.320: T loses USD 1,800
    assert c.counts["MarginCallIssued"] == 0
    c.end_of_day()
    assert sorted(c.house.margin_calls) == ["T"]
    c.open_day(2)
    c.buy("MM2", 1, "2.200")  # the only bid
    c.deadline()  # T sells at 2.200: USD 1,200 collected from T at once
    house = c.house
    assert house.positions.position("T", TKN).quantity == 0
    assert house.pending_total() == house.ledger.balance(SETTLEMENT) == dollars(1_200)
    assert c.counts["LiquidationStarted"] == 1
