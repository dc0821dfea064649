"""Named regressions: one test per class of order-book bug that matching engines are known for."""

from __future__ import annotations

from support.books import IOC, SYMBOL, Venue, cancels, fills, kinds, of_type, rejected, table
from tokenfutures.domain.events import TradeExecuted
from tokenfutures.domain.rejects import RejectReason as R
from tokenfutures.domain.values import Phase, SelfTradePrevention


def test_stale_best_price_after_a_cancel(venue: Venue) -> None:
    venue.buy("B", 1, 2500, "best")
    venue.buy("B", 1, 2498, "next")
    venue.cancel("B", "best")
    assert venue.instrument().bids.best_price() == 2498
    assert kinds(venue.sell("A", 1, 2499, "a1")) == ["OrderAccepted"]  # nothing at 2.500 any more
    assert fills(venue.sell("A", 1, 2498, "a2")) == [(1, 2498, "next", "a2")]


def test_empty_price_level_left_behind(venue: Venue) -> None:
    venue.buy("B", 1, 2495, "filled")
    venue.buy("B", 1, 2494, "cancelled")
    venue.buy("C", 1, 2493, "self-traded")
    venue.buy("B", 1, 2492, "moved")
    venue.buy("B", 1, 2491, "ioc", tif=IOC)  # nothing to trade with: never rests
    venue.sell("D", 1, 2495, "d1")
    venue.cancel("B", "cancelled")
    venue.sell("C", 1, 2493, "c1", stp=SelfTradePrevention.CANCEL_BOTH)
    venue.amend("B", "moved", price=2480)
    bids = venue.instrument().bids
    assert sorted(bids.levels) == [2480]
    assert bids.depth() == [(2480, 1)]
    assert venue.instrument().asks.levels == {}


def test_ioc_remainder_resting(venue: Venue) -> None:
    venue.sell("B", 1, 2500, "b1")
    events = venue.buy("A", 4, 2505, "a1", tif=IOC)
    assert cancels(events) == [("a1", "ioc_remainder", 3)]
    assert venue.table() == table("bids | asks")
    assert kinds(venue.sell("C", 1, 2400, "c1")) == ["OrderAccepted"]  # no ghost bid to hit


def test_trade_at_the_aggressors_price(venue: Venue) -> None:
    venue.buy("B", 1, 2510, "b1")
    (trade,) = of_type(venue.sell("A", 1, 2400, "a1"), TradeExecuted)
    assert trade.price == 2510


def test_fifo_violation(venue: Venue) -> None:
    for cid in ("q1", "q2", "q3"):
        venue.sell(cid.upper(), 3, 2501, cid)
    venue.buy("A", 1, 2501, "a1")  # q1 part-filled: still first
    venue.amend("Q1", "q1", quantity=2)  # total 2 of which 1 filled: shrinks, keeps its place
    venue.amend("Q2", "q2", quantity=4)  # grows: to the back
    events = venue.buy("A", 8, 2501, "a2")
    assert [t.sell_client_order_id for t in of_type(events, TradeExecuted)] == ["q1", "q3", "q2"]


def test_duplicate_live_ids(venue: Venue) -> None:
    venue.buy("A", 1, 2490, "same")
    before = venue.exchange.state_hash()
    assert rejected(venue.sell("A", 1, 2510, "same")).reason is R.DUPLICATE_CLIENT_ORDER_ID
    assert venue.exchange.state_hash() == before
    assert venue.exchange.registry.count() == 1
    venue.cancel("A", "same")
    assert kinds(venue.sell("A", 1, 2510, "same")) == ["OrderAccepted"]
    assert venue.exchange.registry.count() == 1


def test_late_cancel_or_amend_of_a_filled_order(venue: Venue) -> None:
    venue.sell("B", 3, 2501, "b1")
    venue.buy("A", 3, 2501, "a1")
    before = venue.exchange.state_hash()
    assert rejected(venue.cancel("B", "b1")).reason is R.UNKNOWN_ORDER
    assert rejected(venue.amend("B", "b1", quantity=10)).reason is R.UNKNOWN_ORDER
    assert rejected(venue.amend("B", "b1", price=2502)).reason is R.UNKNOWN_ORDER
    assert venue.exchange.state_hash() == before
    assert venue.table() == table("bids | asks")


def test_zero_quantity_fills(venue: Venue) -> None:
    venue.sell("B", 2, 2501, "b1")
    venue.sell("C", 2, 2501, "c1")
    venue.buy("A", 2, 2501, "a1")  # b1 filled exactly
    venue.buy("A", 1, 2501, "a2")
    venue.set_phase(Phase.PRE_OPEN)
    venue.buy("D", 1, 2501, "d1")
    venue.set_phase(Phase.CONTINUOUS)
    trades = of_type(venue.log, TradeExecuted)
    assert [(t.quantity, t.sell_client_order_id) for t in trades] == [
        (2, "b1"),
        (1, "c1"),
        (1, "c1"),
    ]
    assert venue.table() == table("bids | asks")


def test_amend_using_original_instead_of_open_quantity(venue: Venue) -> None:
    venue.buy("A", 10, 2500, "a1")
    venue.sell("B", 7, 2500, "b1")  # 7 filled, 3 open
    venue.amend("A", "a1", quantity=9)  # total 9 of which 7 filled: 2 open
    assert venue.exchange.depth(SYMBOL)[0] == [(2500, 2)]
    events = venue.amend("A", "a1", quantity=12)
    assert venue.exchange.depth(SYMBOL)[0] == [(2500, 5)]
    assert kinds(events) == ["OrderAmended"]
    assert cancels(venue.amend("A", "a1", quantity=7)) == [("a1", "amended_to_filled", 5)]
