"""Amend with FIX semantics, cancel, cancel-all and deposits (docs/matching-rules.md)."""

from __future__ import annotations

import pytest

from support.books import (
    GTC,
    LATER,
    OTHER,
    SYMBOL,
    Venue,
    cancels,
    fills,
    kinds,
    of_type,
    rejected,
    rules,
    table,
)
from tokenfutures.domain.events import (
    Event,
    FundsDeposited,
    OrderAmended,
    OrderCancelled,
    StopTriggered,
)
from tokenfutures.domain.rejects import CancelReason
from tokenfutures.domain.rejects import RejectReason as R
from tokenfutures.domain.values import Phase


def _amended(events: list[Event]) -> OrderAmended:
    (event,) = of_type(events, OrderAmended)
    return event


@pytest.fixture
def queue(venue: Venue) -> Venue:
    """Two bids at 2.500, A's first, and an ask at 2.505."""
    venue.buy("A", 10, 2500, "a1")
    venue.buy("B", 5, 2500, "b1")
    venue.sell("C", 5, 2505, "c1")
    return venue


# --- priority -------------------------------------------------------------------------------------


def test_lower_quantity_at_the_same_price_keeps_priority(queue: Venue) -> None:
    event = _amended(queue.amend("A", "a1", quantity=6))
    assert (event.quantity, event.leaves_quantity, event.priority_kept) == (6, 6, True)
    assert queue.table() == table("""
        bids              | asks
        A 6 @ 2.500 (a1)  | C 5 @ 2.505 (c1)
        B 5 @ 2.500 (b1)  |
    """)
    assert fills(queue.sell("D", 6, 2500, "d1")) == [(6, 2500, "a1", "d1")]


def test_higher_quantity_loses_priority(queue: Venue) -> None:
    event = _amended(queue.amend("A", "a1", quantity=12))
    assert (event.quantity, event.leaves_quantity, event.priority_kept) == (12, 12, False)
    assert queue.table() == table("""
        bids              | asks
        B 5 @ 2.500 (b1)  | C 5 @ 2.505 (c1)
        A 12 @ 2.500 (a1) |
    """)


def test_price_change_goes_to_the_back_of_the_new_level(queue: Venue) -> None:
    queue.buy("D", 1, 2501, "d1")
    queue.amend("A", "a1", price=2501)
    queue.amend("A", "a1", price=2500)
    assert queue.table() == table("""
        bids              | asks
        D 1 @ 2.501 (d1)  | C 5 @ 2.505 (c1)
        B 5 @ 2.500 (b1)  |
        A 10 @ 2.500 (a1) |
    """)


def test_price_change_that_crosses_trades_at_once_as_aggressor(queue: Venue) -> None:
    events = queue.amend("A", "a1", price=2506)
    assert kinds(events) == ["OrderAmended", "TradeExecuted"]
    assert fills(events) == [(5, 2505, "a1", "c1")]
    assert queue.table() == table("""
        bids              | asks
        A 5 @ 2.506 (a1)  |
        B 5 @ 2.500 (b1)  |
    """)


def test_price_change_in_the_auction_does_not_match(queue: Venue) -> None:
    queue.set_phase(Phase.PRE_OPEN)
    assert kinds(queue.amend("B", "b1", price=2506)) == ["OrderAmended"]
    assert queue.table() == table("""
        bids              | asks
        B 5 @ 2.506 (b1)  | C 5 @ 2.505 (c1)
        A 10 @ 2.500 (a1) |
    """)


# --- quantities are totals including what has filled (FIX) ----------------------------------------


@pytest.fixture
def part_filled(queue: Venue) -> Venue:
    """A's order of 10 at 2.500 has filled 4 and has 6 open."""
    queue.sell("D", 4, 2500, "d1")
    return queue


def test_amend_quantity_is_the_new_total_including_the_filled_part(part_filled: Venue) -> None:
    event = _amended(part_filled.amend("A", "a1", quantity=8))
    assert (event.quantity, event.leaves_quantity, event.priority_kept) == (8, 4, True)
    assert part_filled.book().bids[0].quantity == 4
    assert part_filled.exchange.depth(SYMBOL)[0] == [(2500, 9)]


def test_amend_above_the_original_quantity_adds_open_quantity(part_filled: Venue) -> None:
    event = _amended(part_filled.amend("A", "a1", quantity=12))
    assert (event.quantity, event.leaves_quantity, event.priority_kept) == (12, 8, False)


@pytest.mark.parametrize("quantity", [4, 3, 1])
def test_amend_to_at_most_the_filled_quantity_ends_the_order(
    part_filled: Venue, quantity: int
) -> None:
    events = part_filled.amend("A", "a1", quantity=quantity)
    assert kinds(events) == ["OrderCancelled"]
    (event,) = of_type(events, OrderCancelled)
    assert event.reason is CancelReason.AMENDED_TO_FILLED
    assert (event.cancelled_quantity, event.filled_quantity) == (6, 4)
    assert not part_filled.is_live("A", "a1")
    assert [entry.client_order_id for entry in part_filled.book().bids] == ["b1"]


# --- amend refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "quantity", "reason"),
    [
        (None, 10, R.NOTHING_TO_AMEND),
        (2500, None, R.NOTHING_TO_AMEND),
        (2500, 10, R.NOTHING_TO_AMEND),
        (None, 0, R.INVALID_QUANTITY),
        (None, 101, R.QUANTITY_ABOVE_MAXIMUM),
        (0, None, R.INVALID_PRICE),
        (2701, None, R.PRICE_OUTSIDE_LIMIT),
    ],
)
def test_amend_refusals_change_nothing(
    queue: Venue, price: int | None, quantity: int | None, reason: R
) -> None:
    assert rejected(queue.amend("A", "a1", price=price, quantity=quantity)).reason is reason


def test_post_only_amend_to_a_crossing_price_is_rejected(venue: Venue) -> None:
    venue.sell("C", 5, 2505, "c1")
    venue.buy("A", 5, 2500, "p1", post_only=True)
    assert rejected(venue.amend("A", "p1", price=2505)).reason is R.POST_ONLY_WOULD_TRADE
    assert _amended(venue.amend("A", "p1", price=2504)).price == 2504


def test_amend_of_a_stop_order(venue: Venue) -> None:
    venue.buy("A", 5, None, "s1", stop=2600)
    venue.buy("A", 5, 2610, "s2", stop=2600)
    assert rejected(venue.amend("A", "s1", price=2610)).reason is R.PRICE_NOT_ALLOWED
    assert _amended(venue.amend("A", "s1", quantity=3)).leaves_quantity == 3
    assert _amended(venue.amend("A", "s2", price=2620)).price == 2620
    assert venue.stops() == [("A", 3, 2600, "s1"), ("A", 5, 2600, "s2")]
    assert venue.instrument().stops.orders()[1].price == 2620


def test_amended_event_carries_every_field(queue: Venue) -> None:
    queue.now = LATER + 42
    assert queue.amend("B", "b1", price=2499, quantity=4) == [
        OrderAmended(
            ts=LATER + 42, order_id=2, account="B", client_order_id="b1", symbol=SYMBOL, price=2499,
            quantity=4, leaves_quantity=4, priority_kept=False,
        )
    ]  # fmt: skip


# --- cancel ---------------------------------------------------------------------------------------


def test_cancel_takes_the_order_out_and_reports_open_and_filled(part_filled: Venue) -> None:
    part_filled.now = LATER + 99
    events = part_filled.cancel("A", "a1")
    assert events == [
        OrderCancelled(
            ts=LATER + 99, order_id=1, account="A", client_order_id="a1", symbol=SYMBOL,
            reason=CancelReason.REQUESTED, cancelled_quantity=6, filled_quantity=4,
        )
    ]  # fmt: skip
    assert [entry.client_order_id for entry in part_filled.book().bids] == ["b1"]
    assert rejected(part_filled.cancel("A", "a1")).reason is R.UNKNOWN_ORDER


def test_cancel_a_waiting_stop(venue: Venue) -> None:
    venue.sell("A", 2, None, "s1", stop=2400)
    assert cancels(venue.cancel("A", "s1")) == [("s1", "requested", 2)]
    assert venue.stops() == []


# --- cancel all -----------------------------------------------------------------------------------


@pytest.fixture
def two_books() -> Venue:
    venue = Venue(rules(), rules(OTHER))
    venue.buy("A", 1, 2400, "a1")
    venue.sell("A", 2, None, "a2", stop=2300, symbol=OTHER)
    venue.sell("B", 3, 2600, "b1")
    venue.sell("A", 4, 2650, "a3")
    return venue


def test_cancel_all_of_an_account_covers_every_instrument_and_stops(two_books: Venue) -> None:
    events = two_books.cancel_all("A")
    assert cancels(events) == [
        ("a1", "cancel_all", 1),
        ("a2", "cancel_all", 2),
        ("a3", "cancel_all", 4),
    ]
    assert two_books.table() == table("""
        bids | asks
             | B 3 @ 2.600 (b1)
    """)
    assert two_books.stops(OTHER) == []


def test_cancel_all_of_one_symbol_leaves_the_others(two_books: Venue) -> None:
    assert cancels(two_books.cancel_all("A", OTHER)) == [("a2", "cancel_all", 2)]
    book = two_books.book()
    assert [entry.client_order_id for entry in book.bids + book.asks] == ["a1", "b1", "a3"]


def test_cancel_all_with_nothing_live_does_nothing(two_books: Venue) -> None:
    with two_books.unchanged():
        assert two_books.cancel_all("Z") == []


def test_cancel_all_of_an_unknown_symbol_is_rejected(two_books: Venue) -> None:
    assert rejected(two_books.cancel_all("A", "NOPE2612")).reason is R.UNKNOWN_SYMBOL


# --- deposit --------------------------------------------------------------------------------------


def test_deposits_add_up_per_account(venue: Venue) -> None:
    venue.now = LATER + 5
    assert venue.deposit("A", 10_000) == [FundsDeposited(LATER + 5, "A", 10_000, 10_000)]
    assert venue.deposit("A", 250)[0] == FundsDeposited(LATER + 5 + 1_000, "A", 250, 10_250)
    assert venue.deposit("B", 1)[0] == FundsDeposited(LATER + 5 + 2_000, "B", 1, 1)
    assert venue.exchange.balances == {"A": 10_250, "B": 1}


def test_a_post_only_order_can_shrink_in_a_crossed_auction_book() -> None:
    venue = Venue()
    venue.buy("A", 10, 2500, "po", tif=GTC, post_only=True)
    venue.set_phase(Phase.PRE_OPEN)
    venue.sell("B", 5, 2490, "b1")  # the auction book may cross
    assert _amended(venue.amend("A", "po", quantity=4)).leaves_quantity == 4
    assert rejected(venue.amend("A", "po", price=2495)).reason is R.POST_ONLY_WOULD_TRADE


def test_an_amended_stop_goes_to_the_back_of_the_stops_queue(venue: Venue) -> None:
    venue.buy("S", 1, None, "st1", stop=2505)
    venue.buy("T", 1, None, "st2", stop=2505)
    assert _amended(venue.amend("S", "st1", quantity=2)).priority_kept is False
    venue.sell("X", 1, 2505, "x1")
    events = venue.buy("Y", 1, 2505, "y1")  # prints 2.505: both stops trigger, st2 first
    triggered = [e.client_order_id for e in of_type(events, StopTriggered)]
    assert triggered == ["st2", "st1"]
