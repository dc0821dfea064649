"""Priority and prices (docs/matching-rules.md): price-time priority, resting price,
partial fills, IOC, FOK and market-with-protection orders."""

from __future__ import annotations

import pytest

from support.books import FOK, GFD, GTC, IOC, LATER, Venue, cancels, fills, kinds, of_type, table
from tokenfutures.domain.events import OrderCancelled, TradeExecuted
from tokenfutures.domain.rejects import CancelReason
from tokenfutures.domain.values import Side

# --- price-time priority --------------------------------------------------------------------------


def test_better_price_trades_first(venue: Venue) -> None:
    venue.sell("B", 5, 2503, "worse")
    venue.sell("C", 5, 2501, "better")
    events = venue.buy("A", 5, 2505, "a1")
    assert fills(events) == [(5, 2501, "a1", "better")]


def test_at_one_price_the_earlier_order_trades_first(venue: Venue) -> None:
    venue.sell("B", 2, 2501, "first")
    venue.sell("C", 2, 2501, "second")
    venue.sell("D", 2, 2501, "third")
    events = venue.buy("A", 5, 2501, "a1")
    assert fills(events) == [
        (2, 2501, "a1", "first"),
        (2, 2501, "a1", "second"),
        (1, 2501, "a1", "third"),
    ]
    assert venue.table() == table("""
        bids | asks
             | D 1 @ 2.501 (third)
    """)


def test_bids_also_follow_price_then_time(venue: Venue) -> None:
    venue.buy("B", 1, 2499, "low")
    venue.buy("C", 1, 2500, "high-early")
    venue.buy("D", 1, 2500, "high-late")
    events = venue.sell("A", 3, 2499, "a1")
    assert fills(events) == [
        (1, 2500, "high-early", "a1"),
        (1, 2500, "high-late", "a1"),
        (1, 2499, "low", "a1"),
    ]


# --- trade prices, partial fills ------------------------------------------------------------------


@pytest.mark.parametrize(("side", "limit"), [(Side.BUY, 2520), (Side.SELL, 2480)])
def test_trade_prints_at_the_resting_price(venue: Venue, side: Side, limit: int) -> None:
    if side is Side.BUY:
        venue.sell("B", 1, 2501, "rest")
        events = venue.buy("A", 1, limit, "in")
    else:
        venue.buy("B", 1, 2499, "rest")
        events = venue.sell("A", 1, limit, "in")
    (trade,) = of_type(events, TradeExecuted)
    assert trade.price == (2501 if side is Side.BUY else 2499)
    assert trade.aggressor is side


def test_sweep_over_levels_prints_each_level_price(venue: Venue) -> None:
    venue.sell("B", 1, 2501, "b1")
    venue.sell("B", 2, 2502, "b2")
    venue.sell("B", 3, 2504, "b3")
    events = venue.buy("A", 5, 2503, "a1")
    assert fills(events) == [(1, 2501, "a1", "b1"), (2, 2502, "a1", "b2")]
    assert venue.table() == table("""
        bids             | asks
        A 2 @ 2.503 (a1) | B 3 @ 2.504 (b3)
    """)


def test_partial_fill_of_the_resting_order_keeps_it_first(venue: Venue) -> None:
    venue.sell("B", 10, 2501, "b1")
    venue.sell("C", 10, 2501, "c1")
    venue.buy("A", 4, 2501, "a1")
    assert venue.table() == table("""
        bids | asks
             | B 6 @ 2.501 (b1)
             | C 10 @ 2.501 (c1)
    """)
    assert fills(venue.buy("A", 6, 2501, "a2")) == [(6, 2501, "a2", "b1")]


def test_non_crossing_order_rests_without_trading(venue: Venue) -> None:
    venue.sell("B", 1, 2501, "b1")
    events = venue.buy("A", 1, 2500, "a1")
    assert kinds(events) == ["OrderAccepted"]
    assert venue.table() == table("""
        bids             | asks
        A 1 @ 2.500 (a1) | B 1 @ 2.501 (b1)
    """)


def test_trade_and_cancel_events_carry_every_field(venue: Venue) -> None:
    venue.sell("B", 2, 2501, "b1")
    venue.now = LATER + 5_000
    events = venue.buy("A", 3, 2501, "a1", tif=IOC)
    assert events[1:] == [
        TradeExecuted(
            ts=LATER + 5_000, trade_id=1, symbol="TKN2612", price=2501, quantity=2, buy_order_id=2,
            sell_order_id=1, buy_account="A", sell_account="B", buy_client_order_id="a1",
            sell_client_order_id="b1", aggressor=Side.BUY,
        ),
        OrderCancelled(
            ts=LATER + 5_000, order_id=2, account="A", client_order_id="a1", symbol="TKN2612",
            reason=CancelReason.IOC_REMAINDER, cancelled_quantity=1, filled_quantity=2,
        ),
    ]  # fmt: skip


# --- IOC ------------------------------------------------------------------------------------------


def test_ioc_remainder_is_cancelled_and_never_rests(venue: Venue) -> None:
    venue.sell("B", 2, 2501, "b1")
    events = venue.buy("A", 5, 2501, "a1", tif=IOC)
    assert fills(events) == [(2, 2501, "a1", "b1")]
    assert cancels(events) == [("a1", "ioc_remainder", 3)]
    assert venue.book().bids == ()
    assert not venue.is_live("A", "a1")


def test_ioc_without_a_cross_is_cancelled_whole(venue: Venue) -> None:
    venue.sell("B", 2, 2505, "b1")
    events = venue.buy("A", 5, 2501, "a1", tif=IOC)
    assert kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert cancels(events) == [("a1", "ioc_remainder", 5)]


def test_ioc_filled_completely_has_no_cancel(venue: Venue) -> None:
    venue.sell("B", 5, 2501, "b1")
    events = venue.buy("A", 5, 2501, "a1", tif=IOC)
    assert kinds(events) == ["OrderAccepted", "TradeExecuted"]


# --- FOK ------------------------------------------------------------------------------------------


def test_fok_fills_completely_over_several_levels(venue: Venue) -> None:
    venue.sell("B", 2, 2501, "b1")
    venue.sell("C", 3, 2502, "c1")
    events = venue.buy("A", 5, 2502, "a1", tif=FOK)
    assert fills(events) == [(2, 2501, "a1", "b1"), (3, 2502, "a1", "c1")]
    assert venue.book().asks == ()


@pytest.mark.parametrize("limit", [2502, 2501])
def test_fok_that_cannot_fill_whole_trades_nothing(venue: Venue, limit: int) -> None:
    venue.sell("B", 2, 2501, "b1")
    venue.sell("C", 2, 2502, "c1")
    events = venue.buy("A", 5, limit, "a1", tif=FOK)
    assert kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert cancels(events) == [("a1", "fok_not_fillable", 5)]
    assert venue.table() == table("""
        bids | asks
             | B 2 @ 2.501 (b1)
             | C 2 @ 2.502 (c1)
    """)
    assert venue.exchange.registry.next_trade_id == 1
    assert not venue.is_live("A", "a1")


# --- market orders: market with protection --------------------------------------------------------


@pytest.mark.parametrize("tif", [GFD, GTC, IOC])
def test_market_order_never_rests(venue: Venue, tif: object) -> None:
    venue.sell("B", 2, 2501, "b1")
    events = venue.buy("A", 5, None, "a1", tif=tif)
    assert fills(events) == [(2, 2501, "a1", "b1")]
    assert cancels(events) == [("a1", "ioc_remainder", 3)]
    assert venue.book().bids == ()


def test_market_buy_sweeps_up_to_the_upper_daily_limit(venue: Venue) -> None:
    venue.sell("B", 1, 2700, "outside")
    # limits move to [2.208, 2.592]: the resting order outside them is cancelled
    assert cancels(venue.set_reference(2400)) == [("outside", "outside_price_limits", 1)]
    venue.sell("C", 1, 2590, "inside")
    venue.sell("D", 1, 2592, "at-limit")
    events = venue.buy("A", 3, None, "a1")
    assert fills(events) == [(1, 2590, "a1", "inside"), (1, 2592, "a1", "at-limit")]
    assert cancels(events) == [("a1", "ioc_remainder", 1)]
    assert venue.book().asks == ()


def test_a_new_reference_cancels_orders_outside_the_new_limits(venue: Venue) -> None:
    venue.buy("B", 1, 2300, "below")
    venue.buy("B", 1, 2400, "inside", tif=GTC)
    venue.buy("S", 1, None, "stop", stop=2350)
    events = venue.set_reference(2600)  # limits move to [2.392, 2.808]
    assert cancels(events) == [
        ("below", "outside_price_limits", 1),
        ("stop", "outside_price_limits", 1),
    ]
    events = venue.sell("A", 2, None, "a1")
    assert fills(events) == [(1, 2400, "inside", "a1")]


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_market_order_without_any_opposite_order_is_no_liquidity(venue: Venue, side: Side) -> None:
    venue.buy("B", 1, 2400, "bid")
    venue.sell("B", 1, 2600, "ask")
    venue.cancel("B", "ask" if side is Side.BUY else "bid")
    events = venue.send(venue.new_order(side, "A", 3, None, "a1"))
    assert kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert cancels(events) == [("a1", "no_liquidity", 3)]


def test_market_fok_is_fill_or_kill(venue: Venue) -> None:
    venue.sell("B", 2, 2501, "b1")
    assert cancels(venue.buy("A", 3, None, "a1", tif=FOK)) == [("a1", "fok_not_fillable", 3)]
    assert fills(venue.buy("A", 2, None, "a2", tif=FOK)) == [(2, 2501, "a2", "b1")]
