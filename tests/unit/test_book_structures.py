"""The book's building blocks on their own: PriceLevel, BookSide, StopBook, the auction
price, the circuit breaker's window and the instrument rules' arithmetic."""

from __future__ import annotations

from itertools import count
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenfutures.domain.book.auction import Uncross, uncross_price
from tokenfutures.domain.book.level import PriceLevel
from tokenfutures.domain.book.order import Order
from tokenfutures.domain.book.side import BookSide
from tokenfutures.domain.breaker import CircuitBreaker
from tokenfutures.domain.rules import InstrumentRules, band_width, price_limits
from tokenfutures.domain.stops import StopBook
from tokenfutures.domain.values import OrderType, SelfTradePrevention, Side, TimeInForce

_ids = count(1)


def _order(
    side: Side, price: int, quantity: int = 1, stop: int | None = None, order_id: int | None = None
) -> Order:
    order_type = OrderType.LIMIT if stop is None else OrderType.STOP_LIMIT
    order = Order(
        order_id or next(_ids), "A", f"o{next(_ids)}", "TKN2612", side, order_type, price, stop,
        quantity, TimeInForce.GFD, False, SelfTradePrevention.CANCEL_INCOMING,
    )  # fmt: skip
    order.priority = order.order_id  # arrival order, as the exchange stamps it
    return order


# --- PriceLevel -----------------------------------------------------------------------------------


def test_level_is_a_fifo_with_quantity_and_count() -> None:
    level = PriceLevel(2500)
    orders = [_order(Side.BUY, 2500, quantity) for quantity in (1, 2, 3)]
    for order in orders:
        level.append(order)
    assert level.orders() == orders
    assert (level.quantity, level.count) == (6, 3)
    assert level.head is orders[0]
    assert level.tail is orders[2]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_unlink_keeps_the_links_intact(index: int) -> None:
    level = PriceLevel(2500)
    orders = [_order(Side.BUY, 2500) for _ in range(3)]
    for order in orders:
        level.append(order)
    gone = orders.pop(index)
    level.unlink(gone)
    assert level.orders() == orders
    assert (level.head, level.tail, level.count) == (orders[0], orders[-1], 2)
    assert (gone.prev, gone.next) == (None, None)
    assert orders[1].prev is orders[0]


# --- BookSide -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("is_bid", "best"), [(True, 2503), (False, 2497)])
def test_side_orders_levels_best_first(is_bid: bool, best: int) -> None:
    side = BookSide(is_bid=is_bid)
    assert side.best_price() is None
    for price in (2500, 2503, 2497, 2501):
        side.add(_order(Side.BUY if is_bid else Side.SELL, price, 2))
    assert side.best_price() == best
    prices = [price for price, _ in side.depth()]
    assert prices == sorted(prices, reverse=is_bid)
    assert side.depth(limit=2) == side.depth()[:2]


def test_side_remove_drops_an_emptied_level_anywhere() -> None:
    side = BookSide(is_bid=True)
    low, mid, high = (_order(Side.BUY, price) for price in (2498, 2499, 2500))
    for order in (low, mid, high):
        side.add(order)
    side.remove(mid)
    assert side.depth() == [(2500, 1), (2498, 1)]
    side.remove(high)
    assert side.best_price() == 2498
    side.remove(low)
    assert (side.levels, side.keys, side.best_price()) == ({}, [], None)


def test_side_orders_in_priority_order() -> None:
    side = BookSide(is_bid=False)
    first, second, better = (
        _order(Side.SELL, 2501),
        _order(Side.SELL, 2501),
        _order(Side.SELL, 2500),
    )
    for order in (first, second, better):
        side.add(order)
    assert side.orders() == [better, first, second]
    assert side.depth() == [(2500, 1), (2501, 2)]


# --- StopBook -------------------------------------------------------------------------------------


def test_stop_book_elects_buys_lowest_and_sells_highest_first() -> None:
    stops = StopBook()
    buy_high = _order(Side.BUY, 2600, stop=2510, order_id=1)
    buy_low = _order(Side.BUY, 2600, stop=2505, order_id=2)
    sell_low = _order(Side.SELL, 2400, stop=2490, order_id=3)
    sell_high = _order(Side.SELL, 2400, stop=2495, order_id=4)
    for order in (buy_high, buy_low, sell_low, sell_high):
        stops.add(order)
    assert len(stops) == 4
    assert stops.orders() == [buy_low, buy_high, sell_high, sell_low]
    assert stops.pop_elected(high=2500, low=2500) == []
    assert stops.pop_elected(high=2510, low=2510) == [buy_low, buy_high]
    assert stops.pop_elected(high=2510, low=2510) == []
    assert stops.pop_elected(high=2490, low=2490) == [sell_high, sell_low]
    assert len(stops) == 0


@pytest.mark.parametrize(("buy_id", "sell_id", "first"), [(1, 2, Side.BUY), (2, 1, Side.SELL)])
def test_stop_book_earlier_arrival_first_when_both_sides_trigger(
    buy_id: int, sell_id: int, first: Side
) -> None:
    stops = StopBook()
    stops.add(_order(Side.BUY, 2400, stop=2505, order_id=buy_id))
    stops.add(_order(Side.SELL, 2600, stop=2510, order_id=sell_id))
    elected = stops.pop_elected(high=2507, low=2507)
    assert len(elected) == 2
    assert elected[0].side is first


def test_stop_book_remove() -> None:
    stops = StopBook()
    kept, gone = _order(Side.BUY, 1, stop=2505), _order(Side.BUY, 1, stop=2505)
    stops.add(kept)
    stops.add(gone)
    stops.remove(gone)
    assert stops.orders() == [kept]
    with pytest.raises(KeyError):
        stops.remove(gone)


# --- the auction price ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bids", "asks", "reference", "expected"),
    [
        ([], [], 2500, None),
        ([(2499, 5)], [(2501, 5)], 2500, None),
        ([(2510, 10)], [(2500, 3), (2510, 7)], 2500, Uncross(2510, 10, 0)),  # volume first
        ([(2520, 5), (2510, 3)], [(2505, 5)], 2500, Uncross(2520, 5, 0)),  # then imbalance
        ([(2510, 5)], [(2490, 5)], 2508, Uncross(2510, 5, 0)),  # then nearest reference
        ([(2510, 5)], [(2490, 5)], 2492, Uncross(2490, 5, 0)),
        ([(2510, 5)], [(2490, 5)], 2500, Uncross(2490, 5, 0)),  # then the lower price
        ([(2500, 2), (2500, 3)], [(2500, 4)], 2500, Uncross(2500, 4, 1)),  # levels summed
    ],
)
def test_uncross_price(
    bids: list[tuple[int, int]],
    asks: list[tuple[int, int]],
    reference: int,
    expected: Uncross | None,
) -> None:
    assert uncross_price(bids, asks, reference) == expected


# --- the circuit breaker's window -----------------------------------------------------------------


def test_breaker_uses_the_anchor_while_the_window_is_empty() -> None:
    breaker = CircuitBreaker(band=75, window=100, pause=10)
    assert breaker.allowed(0, 2500) == (2425, 2575)
    assert breaker.extremes(0) == (None, None)
    breaker.record(10, 2540)
    breaker.record(20, 2520)
    assert breaker.allowed(30, 9999) == (2465, 2595)
    assert breaker.extremes(30) == (2540, 2520)
    assert breaker.extremes(110) == (2520, 2520)  # the trade at 10 left at 10 + window
    assert breaker.allowed(120, 2520) == (2445, 2595)  # empty again: the anchor stands in
    breaker.set_band(10)
    assert breaker.allowed(120, 2520) == (2510, 2530)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 40), st.integers(2400, 2600)), max_size=30))
def test_breaker_extremes_match_a_brute_force_window(trades: list[tuple[int, int]]) -> None:
    breaker = CircuitBreaker(band=1, window=60, pause=1)
    ts = 0
    seen: list[tuple[int, int]] = []
    for step, price in trades:
        ts += step
        breaker.record(ts, price)
        seen.append((ts, price))
        inside = [p for t, p in seen if t > ts - 60]
        assert breaker.extremes(ts) == (max(inside), min(inside))


# --- rules arithmetic -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "bp", "limits"),
    [(2500, 800, (2300, 2700)), (2501, 800, (2301, 2701)), (2499, 800, (2300, 2698)),
     (1, 9999, (1, 1)), (3, 5000, (2, 4))],
)  # fmt: skip
def test_price_limits_round_inwards(reference: int, bp: int, limits: tuple[int, int]) -> None:
    assert price_limits(reference, bp) == limits


@pytest.mark.parametrize(("reference", "bp", "band"), [(2500, 300, 75), (450, 200, 9), (10, 1, 1)])
def test_band_width_is_at_least_one_tick(reference: int, bp: int, band: int) -> None:
    assert band_width(reference, bp) == band


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"symbol": ""}, "symbol"), ({"reference_price": 0}, "reference_price"),
     ({"price_limit_bp": 0}, "price_limit_bp"), ({"price_limit_bp": 10_000}, "price_limit_bp"),
     ({"max_order_quantity": 0}, "max_order_quantity"),
     ({"circuit_breaker_bp": -1}, "circuit_breaker_bp"),
     ({"circuit_breaker_window": 0}, "window"), ({"circuit_breaker_pause": 0}, "pause")],
)  # fmt: skip
def test_instrument_rules_refuse_nonsense(changes: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {
        "symbol": "TKN2612", "reference_price": 2500, "price_limit_bp": 800,
        "max_order_quantity": 100,
    }  # fmt: skip
    with pytest.raises(ValueError, match=message):
        InstrumentRules(**(fields | changes))
