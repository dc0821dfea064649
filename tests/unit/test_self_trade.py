"""Self-trade prevention (docs/matching-rules.md): an account never trades with itself."""

from __future__ import annotations

import pytest

from support.books import FOK, Venue, cancels, fills, table
from tokenfutures.domain.values import SelfTradePrevention

INCOMING = SelfTradePrevention.CANCEL_INCOMING
RESTING = SelfTradePrevention.CANCEL_RESTING
BOTH = SelfTradePrevention.CANCEL_BOTH


@pytest.fixture
def ladder(venue: Venue) -> Venue:
    """B's 2 at 2.500, then A's own 3 at 2.501, then C's 5 at 2.501 behind it."""
    venue.sell("B", 2, 2500, "b1")
    venue.sell("A", 3, 2501, "own")
    venue.sell("C", 5, 2501, "c1")
    return venue


def test_default_cancels_the_incoming_rest_and_keeps_the_resting_order(ladder: Venue) -> None:
    events = ladder.buy("A", 6, 2501, "a1")
    assert fills(events) == [(2, 2500, "a1", "b1")]
    assert cancels(events) == [("a1", "self_trade_prevented", 4)]
    assert ladder.table() == table("""
        bids | asks
             | A 3 @ 2.501 (own)
             | C 5 @ 2.501 (c1)
    """)


def test_cancel_resting_cancels_the_own_order_and_matching_continues(ladder: Venue) -> None:
    events = ladder.buy("A", 6, 2501, "a1", stp=RESTING)
    assert fills(events) == [(2, 2500, "a1", "b1"), (4, 2501, "a1", "c1")]
    assert cancels(events) == [("own", "self_trade_prevented", 3)]
    assert ladder.table() == table("""
        bids | asks
             | C 1 @ 2.501 (c1)
    """)


def test_cancel_both_cancels_both_orders(ladder: Venue) -> None:
    events = ladder.buy("A", 6, 2501, "a1", stp=BOTH)
    assert fills(events) == [(2, 2500, "a1", "b1")]
    assert cancels(events) == [
        ("own", "self_trade_prevented", 3),
        ("a1", "self_trade_prevented", 4),
    ]
    assert ladder.table() == table("""
        bids | asks
             | C 5 @ 2.501 (c1)
    """)


def test_cancel_both_drops_a_level_left_empty(venue: Venue) -> None:
    venue.sell("A", 3, 2501, "own")
    venue.sell("C", 5, 2502, "c1")
    venue.buy("A", 6, 2502, "a1", stp=BOTH)
    assert venue.exchange.depth(venue.symbol)[1] == [(2502, 5)]


@pytest.mark.parametrize(
    ("default", "override", "expected"),
    [(RESTING, None, "own"), (RESTING, INCOMING, "a1"), (INCOMING, RESTING, "own")],
)
def test_exchange_default_and_per_order_override(
    default: SelfTradePrevention,
    override: SelfTradePrevention | None,
    expected: str,
) -> None:
    venue = Venue(self_trade_prevention=default)
    venue.sell("A", 3, 2501, "own")
    events = venue.buy("A", 3, 2501, "a1", stp=override)
    assert [cid for cid, _, _ in cancels(events)] == [expected]


def test_the_incoming_order_mode_applies_not_the_resting_one(venue: Venue) -> None:
    venue.sell("A", 3, 2501, "own", stp=RESTING)
    assert cancels(venue.buy("A", 3, 2501, "a1")) == [("a1", "self_trade_prevented", 3)]
    assert venue.is_live("A", "own")


def test_market_order_meeting_its_own_order(venue: Venue) -> None:
    venue.sell("A", 3, 2501, "own")
    assert cancels(venue.buy("A", 3, None, "a1")) == [("a1", "self_trade_prevented", 3)]


# --- FOK counts only what it could really trade ---------------------------------------------------


@pytest.mark.parametrize("mode", [INCOMING, BOTH])
def test_fok_walk_stops_at_the_first_own_order(ladder: Venue, mode: SelfTradePrevention) -> None:
    book = ladder.table()
    events = ladder.buy("A", 5, 2501, "a1", tif=FOK, stp=mode)
    assert fills(events) == []
    assert cancels(events) == [("a1", "fok_not_fillable", 5)]
    assert ladder.table() == book


def test_fok_under_cancel_resting_skips_own_orders(ladder: Venue) -> None:
    events = ladder.buy("A", 7, 2501, "a1", tif=FOK, stp=RESTING)
    assert fills(events) == [(2, 2500, "a1", "b1"), (5, 2501, "a1", "c1")]
    assert cancels(events) == [("own", "self_trade_prevented", 3)]


def test_fok_under_cancel_resting_does_not_count_own_quantity(ladder: Venue) -> None:
    book = ladder.table()
    events = ladder.buy("A", 8, 2501, "a1", tif=FOK, stp=RESTING)
    assert cancels(events) == [("a1", "fok_not_fillable", 8)]
    assert ladder.table() == book


def test_fok_filled_before_reaching_its_own_order(ladder: Venue) -> None:
    assert fills(ladder.buy("A", 2, 2501, "a1", tif=FOK)) == [(2, 2500, "a1", "b1")]
    assert ladder.is_live("A", "own")
