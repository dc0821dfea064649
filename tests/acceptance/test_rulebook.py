"""The rulebook (docs/matching-rules.md) as book tables: a book, a command, the book after.

Tables list resting orders best price first, FIFO within a price:
``ACCOUNT OPEN_QUANTITY @ PRICE (CLIENT_ORDER_ID)``. The instrument is TKN2612 with the
reference 2.500, daily limits 2.300-2.700, in continuous trading unless a test says otherwise.
"""

from __future__ import annotations

import pytest

from support.books import (
    FOK,
    GTC,
    IOC,
    MINUTE,
    Venue,
    cancels,
    fills,
    parse_book,
    render_book,
    rules,
    table,
)
from tokenfutures.domain.values import Phase, SelfTradePrevention

BOOK = """
    bids              | asks
    A 5 @ 2.500 (a1)  | C 3 @ 2.501 (c1)
    B 4 @ 2.500 (b1)  | D 2 @ 2.501 (d1)
    B 6 @ 2.498 (b2)  | C 7 @ 2.503 (c2)
"""


@pytest.fixture
def market(venue: Venue) -> Venue:
    venue.seed(BOOK)
    return venue


def test_a_buy_sweeps_best_price_first_then_time_at_each_resting_price(market: Venue) -> None:
    events = market.buy("E", 6, 2503, "e1")
    assert fills(events) == [(3, 2501, "e1", "c1"), (2, 2501, "e1", "d1"), (1, 2503, "e1", "c2")]
    assert market.table() == table("""
        bids              | asks
        A 5 @ 2.500 (a1)  | C 6 @ 2.503 (c2)
        B 4 @ 2.500 (b1)  |
        B 6 @ 2.498 (b2)  |
    """)


def test_a_sell_fills_part_of_a_resting_order_which_keeps_its_place(market: Venue) -> None:
    assert fills(market.sell("E", 7, 2500, "e1")) == [(5, 2500, "a1", "e1"), (2, 2500, "b1", "e1")]
    assert market.table() == table("""
        bids              | asks
        B 2 @ 2.500 (b1)  | C 3 @ 2.501 (c1)
        B 6 @ 2.498 (b2)  | D 2 @ 2.501 (d1)
                          | C 7 @ 2.503 (c2)
    """)


def test_what_remains_of_a_crossing_limit_order_rests(market: Venue) -> None:
    market.buy("E", 8, 2502, "e1")
    assert market.table() == table("""
        bids              | asks
        E 3 @ 2.502 (e1)  | C 7 @ 2.503 (c2)
        A 5 @ 2.500 (a1)  |
        B 4 @ 2.500 (b1)  |
        B 6 @ 2.498 (b2)  |
    """)


def test_ioc_and_market_orders_never_rest(market: Venue) -> None:
    assert cancels(market.buy("E", 8, 2502, "e1", tif=IOC)) == [("e1", "ioc_remainder", 3)]
    assert cancels(market.sell("F", 20, None, "f1")) == [("f1", "ioc_remainder", 5)]
    assert market.table() == table("""
        bids | asks
             | C 7 @ 2.503 (c2)
    """)


def test_fok_trades_everything_or_nothing(market: Venue) -> None:
    assert cancels(market.buy("E", 13, 2503, "e1", tif=FOK)) == [("e1", "fok_not_fillable", 13)]
    assert market.table() == table(BOOK)
    market.buy("E", 12, 2503, "e2", tif=FOK)
    assert market.table() == table("""
        bids              | asks
        A 5 @ 2.500 (a1)  |
        B 4 @ 2.500 (b1)  |
        B 6 @ 2.498 (b2)  |
    """)


STP_AFTER = {
    SelfTradePrevention.CANCEL_INCOMING: """
        bids              | asks
        B 4 @ 2.500 (b1)  | C 3 @ 2.501 (c1)
        B 6 @ 2.498 (b2)  | D 2 @ 2.501 (d1)
                          | C 7 @ 2.503 (c2)
    """,
    SelfTradePrevention.CANCEL_RESTING: """
        bids              | asks
                          | B 5 @ 2.400 (b9)
                          | C 3 @ 2.501 (c1)
                          | D 2 @ 2.501 (d1)
                          | C 7 @ 2.503 (c2)
    """,
    SelfTradePrevention.CANCEL_BOTH: """
        bids              | asks
        B 6 @ 2.498 (b2)  | C 3 @ 2.501 (c1)
                          | D 2 @ 2.501 (d1)
                          | C 7 @ 2.503 (c2)
    """,
}


@pytest.mark.parametrize("mode", list(SelfTradePrevention))
def test_self_trade_prevention_modes(market: Venue, mode: SelfTradePrevention) -> None:
    assert fills(market.sell("B", 10, 2400, "b9", stp=mode)) == [(5, 2500, "a1", "b9")]
    assert market.table() == table(STP_AFTER[mode])


def test_amend_down_keeps_priority_and_amend_up_loses_it(market: Venue) -> None:
    market.amend("A", "a1", quantity=2)
    market.amend("B", "b2", price=2500)
    market.amend("C", "c1", quantity=4)
    assert market.table() == table("""
        bids              | asks
        A 2 @ 2.500 (a1)  | D 2 @ 2.501 (d1)
        B 4 @ 2.500 (b1)  | C 4 @ 2.501 (c1)
        B 6 @ 2.500 (b2)  | C 7 @ 2.503 (c2)
    """)


def test_stop_loss_cascade_through_the_bids(market: Venue) -> None:
    market.sell("S", 10, None, "s1", stop=2500)
    market.sell("T", 9, 2497, "t1", stop=2498)
    market.sell("E", 1, 2500, "e1")
    assert market.table() == table("""
        bids              | asks
                          | T 5 @ 2.497 (t1)
                          | C 3 @ 2.501 (c1)
                          | D 2 @ 2.501 (d1)
                          | C 7 @ 2.503 (c2)
    """)


def test_opening_auction_uncrosses_at_one_price() -> None:
    venue = Venue(phase=Phase.PRE_OPEN)
    venue.seed("""
        bids              | asks
        A 4 @ 2.520 (a1)  | C 3 @ 2.490 (c1)
        B 4 @ 2.505 (b1)  | D 6 @ 2.500 (d1)
        B 2 @ 2.480 (b2)  | C 1 @ 2.530 (c2)
    """)
    events = venue.set_phase(Phase.CONTINUOUS)
    assert {price for _, price, _, _ in fills(events)} == {2500}
    assert venue.table() == table("""
        bids              | asks
        B 2 @ 2.480 (b2)  | D 1 @ 2.500 (d1)
                          | C 1 @ 2.530 (c2)
    """)


def test_circuit_breaker_pauses_and_an_auction_reopens() -> None:
    venue = Venue(rules(breaker_bp=300))  # band 75 ticks: trades 2.425-2.575 at first
    venue.seed("""
        bids              | asks
        A 5 @ 2.500 (a1)  | C 2 @ 2.550 (c1)
                          | D 4 @ 2.630 (d1)
    """)
    venue.buy("E", 5, 2630, "e1")  # 2 at 2.550; 2.630 lies outside 2.475-2.625: trips
    assert venue.phase() is Phase.PRE_OPEN
    assert venue.table() == table("""
        bids              | asks
        E 3 @ 2.630 (e1)  | D 4 @ 2.630 (d1)
        A 5 @ 2.500 (a1)  |
    """)
    venue.now += 2 * MINUTE
    venue.sell("F", 1, 2630, "f1")
    assert venue.phase() is Phase.CONTINUOUS
    assert venue.table() == table("""
        bids              | asks
        A 5 @ 2.500 (a1)  | D 1 @ 2.630 (d1)
                          | F 1 @ 2.630 (f1)
    """)


def test_closing_expires_day_orders_and_cancel_all_clears_an_account(market: Venue) -> None:
    market.buy("A", 1, 2450, "a-gtc", tif=GTC)
    market.sell("C", 1, 2650, "c-gtc", tif=GTC)
    market.set_phase(Phase.CLOSED)
    assert market.table() == table("""
        bids                 | asks
        A 1 @ 2.450 (a-gtc)  | C 1 @ 2.650 (c-gtc)
    """)
    market.cancel_all("A")
    assert market.table() == table("""
        bids | asks
             | C 1 @ 2.650 (c-gtc)
    """)


def test_tables_read_back_what_they_render(market: Venue) -> None:
    assert render_book(parse_book(market.table())) == market.table()
    with pytest.raises(ValueError, match="cannot read"):
        parse_book("bids | asks\nA five @ 2.500 (a1) |")
