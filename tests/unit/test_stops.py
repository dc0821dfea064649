"""Stop and stop-limit orders (docs/matching-rules.md): triggers, order of triggering,
cascades, what a triggered stop becomes, and ``stop_already_triggered``."""

from __future__ import annotations

import pytest

from support.books import (
    BUY,
    FOK,
    GTC,
    IOC,
    LATER,
    SELL,
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
from tokenfutures.domain.events import Event, StopTriggered
from tokenfutures.domain.rejects import RejectReason as R
from tokenfutures.domain.values import Phase, Side, TimeInForce


def _triggered(events: list[Event]) -> list[str]:
    return [event.client_order_id for event in of_type(events, StopTriggered)]


def _trade(venue: Venue, price: int, quantity: int = 1) -> list[Event]:
    """Print a trade of ``quantity`` at ``price`` between accounts X and Y."""
    venue.sell("X", quantity, price)
    return venue.buy("Y", quantity, price)


# --- triggers -------------------------------------------------------------------------------------


def test_buy_stop_waits_outside_the_book_until_a_trade_at_or_above(venue: Venue) -> None:
    venue.buy("S", 2, None, "s1", stop=2505)
    venue.sell("B", 5, 2506, "b1")
    assert venue.stops() == [("S", 2, 2505, "s1")]
    assert venue.book().bids == ()
    assert _triggered(_trade(venue, 2504)) == []
    events = _trade(venue, 2505)
    assert _triggered(events) == ["s1"]
    assert fills(events)[-1] == (2, 2506, "s1", "b1")
    assert venue.stops() == []


def test_sell_stop_triggers_on_a_trade_at_or_below(venue: Venue) -> None:
    venue.sell("S", 2, None, "s1", stop=2495)
    venue.buy("B", 5, 2490, "b1")
    assert _triggered(_trade(venue, 2496)) == []
    events = _trade(venue, 2495)
    assert _triggered(events) == ["s1"]
    assert fills(events)[-1] == (2, 2490, "b1", "s1")


@pytest.mark.parametrize(
    ("side", "stop", "accepted"),
    [(BUY, 2499, False), (BUY, 2500, False), (BUY, 2501, True),
     (SELL, 2501, False), (SELL, 2500, False), (SELL, 2499, True)],
)  # fmt: skip
def test_stop_already_triggered_on_entry_is_rejected(
    venue: Venue, side: Side, stop: int, accepted: bool
) -> None:
    _trade(venue, 2500)
    events = venue.send(venue.new_order(side, "S", 1, None, "s1", stop=stop))
    if accepted:
        assert kinds(events) == ["OrderAccepted"]
    else:
        assert rejected(events).reason is R.STOP_ALREADY_TRIGGERED


def test_any_stop_is_accepted_before_the_first_trade(venue: Venue) -> None:
    assert kinds(venue.buy("S", 1, None, "s1", stop=2300)) == ["OrderAccepted"]
    assert kinds(venue.sell("S", 1, None, "s2", stop=2700)) == ["OrderAccepted"]


# --- what a triggered stop becomes ----------------------------------------------------------------


def test_triggered_stop_is_a_market_order_that_never_rests(venue: Venue) -> None:
    venue.buy("S", 5, None, "s1", stop=2505, tif=GTC)
    venue.sell("B", 2, 2600, "b1")
    events = _trade(venue, 2505)
    assert cancels(events) == [("s1", "ioc_remainder", 3)]
    assert fills(events)[-1] == (2, 2600, "s1", "b1")
    assert not venue.is_live("S", "s1")


def test_triggered_stop_without_liquidity_is_no_liquidity(venue: Venue) -> None:
    venue.buy("S", 5, None, "s1", stop=2505)
    assert cancels(_trade(venue, 2505)) == [("s1", "no_liquidity", 5)]


@pytest.mark.parametrize(("tif", "rests"), [(TimeInForce.GFD, True), (GTC, True), (IOC, False)])
def test_triggered_stop_limit_is_a_limit_order_with_its_time_in_force(
    venue: Venue, tif: TimeInForce, rests: bool
) -> None:
    venue.buy("S", 5, 2510, "s1", stop=2505, tif=tif)
    venue.sell("B", 2, 2510, "b1")
    venue.sell("B", 2, 2511, "b2")
    events = _trade(venue, 2505)
    assert fills(events)[-1] == (2, 2510, "s1", "b1")
    assert venue.is_live("S", "s1") is rests
    if not rests:
        assert cancels(events) == [("s1", "ioc_remainder", 3)]


def test_triggered_fok_stop_limit_is_fill_or_kill(venue: Venue) -> None:
    venue.buy("S", 5, 2510, "s1", stop=2505, tif=FOK)
    venue.sell("B", 2, 2510, "b1")
    assert cancels(_trade(venue, 2505)) == [("s1", "fok_not_fillable", 5)]


# --- order of triggering, cascades ----------------------------------------------------------------


def test_buy_stops_trigger_lowest_stop_first_then_by_arrival(venue: Venue) -> None:
    venue.buy("S", 1, 2400, "s1", stop=2510)
    venue.buy("S", 1, 2400, "s2", stop=2505)
    venue.buy("S", 1, 2400, "s3", stop=2505)
    assert _triggered(_trade(venue, 2510)) == ["s2", "s3", "s1"]
    assert venue.table() == table("""
        bids             | asks
        S 1 @ 2.400 (s2) |
        S 1 @ 2.400 (s3) |
        S 1 @ 2.400 (s1) |
    """)


def test_sell_stops_trigger_highest_stop_first_then_by_arrival(venue: Venue) -> None:
    venue.sell("S", 1, 2600, "s1", stop=2490)
    venue.sell("S", 1, 2600, "s2", stop=2495)
    venue.sell("S", 1, 2600, "s3", stop=2495)
    assert _triggered(_trade(venue, 2490)) == ["s2", "s3", "s1"]


@pytest.mark.parametrize("first", [BUY, SELL])
def test_buy_and_sell_stops_triggered_together_go_by_arrival(venue: Venue, first: Side) -> None:
    buy = venue.new_order(BUY, "S", 1, 2400, "buy-stop", stop=2505)
    sell = venue.new_order(SELL, "S", 1, 2600, "sell-stop", stop=2510)
    for command in (buy, sell) if first is BUY else (sell, buy):
        venue.send(command)
    expected = ["buy-stop", "sell-stop"] if first is BUY else ["sell-stop", "buy-stop"]
    assert _triggered(_trade(venue, 2507)) == expected


def test_cascade_is_processed_one_stop_at_a_time(venue: Venue) -> None:
    venue.buy("B", 1, 2495, "x")
    venue.buy("B", 1, 2492, "y")
    venue.buy("B", 1, 2488, "z")
    venue.sell("S", 1, None, "s1", stop=2495)
    venue.sell("S", 1, None, "s2", stop=2492)
    events = venue.sell("C", 1, 2495, "c1")
    assert kinds(events) == [
        "OrderAccepted", "TradeExecuted", "StopTriggered", "TradeExecuted",
        "StopTriggered", "TradeExecuted",
    ]  # fmt: skip
    assert fills(events) == [(1, 2495, "x", "c1"), (1, 2492, "y", "s1"), (1, 2488, "z", "s2")]
    assert [e.trigger_price for e in of_type(events, StopTriggered)] == [2495, 2492]


def test_stop_triggered_event_carries_every_field(venue: Venue) -> None:
    venue.buy("S", 1, None, "s1", stop=2505)
    venue.sell("X", 1, 2507)
    venue.now = LATER + 321
    (event,) = of_type(venue.buy("Y", 1, 2507), StopTriggered)
    assert event == StopTriggered(
        LATER + 321, 1, "S", "s1", SYMBOL, stop_price=2505, trigger_price=2507
    )


def test_stops_trigger_only_in_continuous_trading() -> None:
    venue = Venue(rules(breaker_bp=300))  # band 75 ticks around 2.500
    venue.buy("S", 1, None, "s1", stop=2550)
    venue.sell("B", 1, 2550, "b1")
    venue.sell("B", 5, 2630, "b2")
    venue.buy("T", 1, None, "s2", stop=2600)
    events = venue.buy("A", 6, 2630, "a1")  # trades 2.550, then trips at 2.630
    assert fills(events) == [(1, 2550, "a1", "b1")]
    assert venue.phase() is Phase.PRE_OPEN
    # the 2.550 print reached s1 before the trip: it is triggered, but a stop (market) order
    # cannot enter a paused market, so it is cancelled; s2 was never reached and waits
    assert _triggered(events) == ["s1"]
    assert ("s1", "circuit_breaker", 1) in cancels(events)
    assert venue.stops() == [("T", 1, 2600, "s2")]
    reopen_at = venue.instrument().reopen_at
    assert reopen_at is not None
    venue.now = reopen_at
    events = venue.buy("C", 1, 2400, "c1")
    assert kinds(events)[:3] == ["TradeExecuted", "AuctionUncrossed", "PhaseChanged"]
    # the reopening auction prints 2.630, which reaches s2 once trading has resumed
    assert _triggered(events) == ["s2"]


def test_every_stop_triggered_by_a_print_enters_even_if_an_earlier_one_moves_the_price(
    venue: Venue,
) -> None:
    venue.buy("S", 1, 2500, "s1", stop=2505)
    venue.buy("T", 1, 2500, "s2", stop=2505)
    venue.buy("X", 1, 2507, "x1")
    events = venue.sell("Y", 5, 2500, "y1")  # prints 2.507 (both stops), rests 4 at 2.500
    assert _triggered(events) == ["s1", "s2"]  # s1 fills at 2.500 before s2 gets its turn
    assert fills(events) == [(1, 2507, "x1", "y1"), (1, 2500, "s1", "y1"), (1, 2500, "s2", "y1")]
    assert venue.stops() == []
