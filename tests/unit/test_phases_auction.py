"""Trading phases and the opening call auction (docs/matching-rules.md)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from support.books import (
    BUY,
    FOK,
    GFD,
    GTC,
    IOC,
    LATER,
    SYMBOL,
    Venue,
    cancels,
    fills,
    kinds,
    of_type,
    rejected,
    table,
)
from tokenfutures.domain.events import (
    AuctionUncrossed,
    Event,
    OrderExpired,
    PhaseChanged,
    StopTriggered,
    TradeExecuted,
)
from tokenfutures.domain.rejects import RejectReason as R
from tokenfutures.domain.values import Phase

CLOSED, PRE_OPEN, CONTINUOUS, HALTED = Phase.CLOSED, Phase.PRE_OPEN, Phase.CONTINUOUS, Phase.HALTED
ALLOWED = {
    (CLOSED, PRE_OPEN), (CLOSED, CONTINUOUS),
    (PRE_OPEN, CONTINUOUS), (PRE_OPEN, HALTED), (PRE_OPEN, CLOSED),
    (CONTINUOUS, PRE_OPEN), (CONTINUOUS, HALTED), (CONTINUOUS, CLOSED),
    (HALTED, PRE_OPEN), (HALTED, CONTINUOUS), (HALTED, CLOSED),
}  # fmt: skip


@pytest.fixture
def auction() -> Venue:
    return Venue(phase=PRE_OPEN)


# --- transitions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "target"), list(itertools.product(Phase, Phase)))
def test_phase_transitions(start: Phase, target: Phase) -> None:
    venue = Venue(phase=start)
    venue.now = LATER + 77
    events = venue.set_phase(target)
    if (start, target) in ALLOWED:
        assert of_type(events, PhaseChanged) == [
            PhaseChanged(LATER + 77, SYMBOL, target, start, "requested", None)
        ]
        assert venue.phase() is target
    else:
        assert rejected(events).reason is R.INVALID_PHASE_TRANSITION
        assert venue.phase() is start


# --- the phase table, cell by cell ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "reason"), [(CLOSED, R.MARKET_CLOSED), (HALTED, R.INSTRUMENT_HALTED)]
)
def test_closed_and_halted_reject_orders_and_amends_but_cancel(phase: Phase, reason: R) -> None:
    venue = Venue()
    venue.buy("A", 5, 2400, "gtc", tif=GTC)
    venue.set_phase(phase)
    for order in (
        venue.new_order(BUY, "B", 1, 2400, "limit", tif=GTC),
        venue.new_order(BUY, "B", 1, None, "market"),
        venue.new_order(BUY, "B", 1, None, "stop", stop=2600),
    ):
        assert rejected(venue.send(order)).reason is reason
    assert rejected(venue.amend("A", "gtc", quantity=3)).reason is reason
    assert cancels(venue.cancel("A", "gtc")) == [("gtc", "requested", 5)]


@pytest.mark.parametrize(
    "options",
    [{"price": 2490}, {"price": None}, {"price": None, "stop": 2600},
     {"price": 2610, "stop": 2600}, {"price": 2490, "tif": IOC}, {"price": 2490, "tif": FOK},
     {"price": 2490, "post_only": True}, {"price": 2490, "tif": GTC}],
)  # fmt: skip
def test_continuous_takes_every_kind_of_order(options: dict[str, Any]) -> None:
    venue = Venue()
    venue.sell("B", 1, 2500, "b1")
    venue.buy("C", 1, 2400, "c1")
    events = venue.buy("A", 1, cid="a1", **options)
    assert kinds(events)[0] == "OrderAccepted"
    assert kinds(venue.amend("C", "c1", price=2401)) == ["OrderAmended"]
    assert kinds(venue.cancel("C", "c1")) == ["OrderCancelled"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"price": None}, "order_type"),
        ({"price": 2500, "tif": IOC}, "time_in_force"),
        ({"price": 2500, "tif": FOK}, "time_in_force"),
        ({"price": 2500, "post_only": True}, "post_only"),
    ],
)
def test_auction_rejects_market_ioc_fok_and_post_only(
    auction: Venue, kwargs: dict[str, Any], field: str
) -> None:
    event = rejected(auction.buy("A", 1, cid="a1", **kwargs))
    assert (event.reason, event.field) == (R.NOT_ALLOWED_IN_AUCTION, field)


def test_auction_takes_limit_and_stop_orders_and_the_book_may_cross(auction: Venue) -> None:
    assert kinds(auction.buy("A", 5, 2510, "a1", tif=GFD)) == ["OrderAccepted"]
    assert kinds(auction.sell("B", 3, 2490, "b1", tif=GTC)) == ["OrderAccepted"]
    assert kinds(auction.buy("C", 1, None, "c1", stop=2600)) == ["OrderAccepted"]
    assert kinds(auction.sell("C", 1, 2380, "c2", stop=2400)) == ["OrderAccepted"]
    assert auction.table() == table("""
        bids             | asks
        A 5 @ 2.510 (a1) | B 3 @ 2.490 (b1)
    """)
    assert len(auction.stops()) == 2


def test_auction_amend_and_cancel_work_without_matching(auction: Venue) -> None:
    auction.sell("B", 3, 2490, "b1")
    auction.buy("A", 5, 2480, "a1")
    assert kinds(auction.amend("A", "a1", price=2495)) == ["OrderAmended"]
    assert kinds(auction.cancel("B", "b1")) == ["OrderCancelled"]
    assert auction.table() == table("""
        bids             | asks
        A 5 @ 2.495 (a1) |
    """)


def test_halted_keeps_a_crossed_book_without_trading(auction: Venue) -> None:
    auction.buy("A", 5, 2510, "a1")
    auction.sell("B", 3, 2490, "b1")
    events = auction.set_phase(HALTED)
    assert of_type(events, TradeExecuted) == []
    assert auction.book().bids[0].quantity == 5


# --- expiry at the close --------------------------------------------------------------------------


@pytest.mark.parametrize("start", [CONTINUOUS, PRE_OPEN, HALTED])
def test_closing_expires_day_orders_and_keeps_gtc(start: Phase) -> None:
    venue = Venue(phase=PRE_OPEN)
    venue.buy("A", 5, 2490, "day", tif=GFD)
    venue.buy("A", 5, 2480, "gtc", tif=GTC)
    venue.sell("B", 2, None, "stop-day", stop=2400)
    venue.sell("B", 2, None, "stop-gtc", stop=2400, tif=GTC)
    venue.set_phase(CONTINUOUS)
    venue.sell("C", 3, 2490, "c1")  # fills 3 of "day"
    if start is not CONTINUOUS:
        venue.set_phase(start)
    venue.now = LATER + 500
    events = venue.set_phase(CLOSED)
    assert of_type(events, OrderExpired) == [
        OrderExpired(LATER + 500, 1, "A", "day", SYMBOL, expired_quantity=2, filled_quantity=3),
        OrderExpired(
            LATER + 500, 3, "B", "stop-day", SYMBOL, expired_quantity=2, filled_quantity=0
        ),
    ]
    assert kinds(events)[0] == "PhaseChanged"
    assert venue.table() == table("""
        bids               | asks
        A 5 @ 2.480 (gtc)  |
    """)
    assert venue.stops() == [("B", 2, 2400, "stop-gtc")]


# --- the opening call auction ---------------------------------------------------------------------


def _uncrossed(events: list[Event]) -> AuctionUncrossed:
    (event,) = of_type(events, AuctionUncrossed)
    return event


def test_auction_price_maximises_volume_first(auction: Venue) -> None:
    auction.buy("A", 10, 2510, "a1")
    auction.sell("C", 3, 2500, "c1")
    auction.sell("D", 7, 2510, "d1")
    auction.now = LATER + 900
    assert _uncrossed(auction.set_phase(CONTINUOUS)) == AuctionUncrossed(
        LATER + 900, SYMBOL, 2510, 10, 0
    )


def test_auction_price_then_minimises_imbalance(auction: Venue) -> None:
    auction.buy("A", 5, 2520, "a1")
    auction.buy("B", 3, 2510, "b1")
    auction.sell("C", 5, 2505, "c1")
    event = _uncrossed(auction.set_phase(CONTINUOUS))
    assert (event.price, event.volume, event.imbalance) == (2520, 5, 0)


@pytest.mark.parametrize(("reference", "price"), [(2508, 2510), (2492, 2490), (2500, 2490)])
def test_auction_price_then_nearest_reference_then_lower(
    auction: Venue, reference: int, price: int
) -> None:
    auction.set_reference(reference)
    auction.buy("A", 5, 2510, "a1")
    auction.sell("C", 5, 2490, "c1")
    events = auction.set_phase(CONTINUOUS)
    assert _uncrossed(events).price == price
    assert fills(events) == [(5, price, "a1", "c1")]


def test_auction_trades_at_one_price_without_aggressor(auction: Venue) -> None:
    auction.buy("A", 4, 2520, "a1")
    auction.buy("B", 4, 2505, "b1")
    auction.sell("C", 3, 2490, "c1")
    auction.sell("D", 6, 2500, "d1")
    events = auction.set_phase(CONTINUOUS)
    trades = of_type(events, TradeExecuted)
    assert {trade.price for trade in trades} == {2500}
    assert {trade.aggressor for trade in trades} == {None}
    assert fills(events) == [(3, 2500, "a1", "c1"), (1, 2500, "a1", "d1"), (4, 2500, "b1", "d1")]
    assert kinds(events)[-2:] == ["AuctionUncrossed", "PhaseChanged"]
    assert auction.table() == table("""
        bids | asks
             | D 1 @ 2.500 (d1)
    """)


def test_auction_fills_better_prices_first_then_earlier_orders(auction: Venue) -> None:
    auction.buy("Y", 5, 2500, "early")
    auction.buy("X", 5, 2510, "better")
    auction.sell("S", 3, 2490, "s1")
    auction.sell("T", 4, 2500, "t1")
    auction.now = LATER + 800
    events = auction.set_phase(CONTINUOUS)
    assert _uncrossed(events) == AuctionUncrossed(LATER + 800, SYMBOL, 2500, 7, 3)
    assert fills(events) == [
        (3, 2500, "better", "s1"),
        (2, 2500, "better", "t1"),
        (2, 2500, "early", "t1"),
    ]


def test_leaving_an_uncrossed_auction_reports_no_price(auction: Venue) -> None:
    auction.buy("A", 5, 2490, "a1")
    auction.sell("B", 5, 2510, "b1")
    auction.now = LATER + 3
    events = auction.set_phase(CONTINUOUS)
    assert kinds(events) == ["AuctionUncrossed", "PhaseChanged"]
    assert events[0] == AuctionUncrossed(LATER + 3, SYMBOL, None, 0, 0)


@pytest.mark.parametrize("later_side", ["sell", "buy"])
def test_auction_self_trade_cancels_the_later_order(auction: Venue, later_side: str) -> None:
    if later_side == "sell":
        auction.buy("A", 5, 2510, "early")
        auction.sell("A", 2, 2500, "late")
        auction.sell("B", 5, 2505, "other")
    else:
        auction.sell("A", 5, 2490, "early")
        auction.buy("A", 2, 2500, "late")
        auction.buy("B", 5, 2495, "other")
    events = auction.set_phase(CONTINUOUS)
    assert cancels(events) == [("late", "self_trade_prevented", 2)]
    expected = (
        [(5, 2495, "other", "early")] if later_side == "buy" else [(5, 2505, "early", "other")]
    )
    assert fills(events) == expected
    assert auction.table() == table("bids | asks")


def test_auction_self_trade_cancel_does_not_leave_a_crossed_book(auction: Venue) -> None:
    auction.buy("A", 5, 2510, "a1")
    auction.sell("A", 5, 2500, "a2")  # later: cancelled by self-trade prevention
    auction.sell("B", 5, 2505, "b1")
    events = auction.set_phase(CONTINUOUS)  # check_invariants: book crossed in continuous
    trades = of_type(events, TradeExecuted)
    assert cancels(events) == [("a2", "self_trade_prevented", 5)]
    assert [(t.quantity, t.buy_client_order_id, t.sell_client_order_id) for t in trades] == [
        (5, "a1", "b1")
    ]


def test_stops_trigger_after_the_auction(auction: Venue) -> None:
    auction.buy("S", 2, None, "stop", stop=2505)
    auction.sell("B", 4, 2510, "b1")
    auction.buy("A", 1, 2510, "a1")
    events = auction.set_phase(CONTINUOUS)
    assert kinds(events) == [
        "TradeExecuted", "AuctionUncrossed", "PhaseChanged", "StopTriggered", "TradeExecuted",
    ]  # fmt: skip
    assert of_type(events, StopTriggered)[0].trigger_price == 2510
    assert fills(events)[-1] == (2, 2510, "stop", "b1")
    assert of_type(events, TradeExecuted)[-1].aggressor is BUY
