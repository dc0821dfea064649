"""The demo's market makers: quotes (levels, skew, inventory limit, band) and the requote
plan, applied action by action, never crossing the maker's own quotes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenfutures.demo.pricing import PriceBand
from tokenfutures.demo.quoting import (
    Amend,
    Cancel,
    MakerParams,
    Place,
    Quote,
    Working,
    apply_action,
    crossed,
    maker_quotes,
    requote,
    skew,
)

PARAMS = MakerParams(
    half_spread=2, level_step=2, levels=3, size=4, inventory_limit=60, skew_lots_per_tick=10,
    max_skew=6,
)  # fmt: skip
WIDE = PriceBand(1, 10_000)


def prices(quotes: list[Quote]) -> list[int]:
    return [q.price for q in quotes]


def test_flat_quotes_are_levels_around_the_fair_value() -> None:
    bids, asks = maker_quotes(1_000, 0, PARAMS, WIDE, 500)
    assert prices(bids) == [998, 996, 994]
    assert prices(asks) == [1_002, 1_004, 1_006]
    assert {q.quantity for q in bids + asks} == {4}
    assert {q.side for q in bids} == {"buy"}
    assert {q.side for q in asks} == {"sell"}


@pytest.mark.parametrize(("position", "ticks"), [(0, 0), (9, 0), (10, -1), (35, -3), (-25, 2)])
def test_skew_is_a_tick_per_so_many_lots_against_the_position(position: int, ticks: int) -> None:
    assert skew(position, PARAMS) == ticks


def test_a_long_maker_quotes_lower_and_a_short_one_higher() -> None:
    flat_bids, flat_asks = maker_quotes(1_000, 0, PARAMS, WIDE, 500)
    long_bids, long_asks = maker_quotes(1_000, 40, PARAMS, WIDE, 500)
    short_bids, short_asks = maker_quotes(1_000, -40, PARAMS, WIDE, 500)
    assert long_bids[0].price < flat_bids[0].price
    assert long_asks[0].price < flat_asks[0].price
    assert short_bids[0].price > flat_bids[0].price
    assert short_asks[0].price > flat_asks[0].price


def test_skew_stops_at_its_maximum() -> None:
    assert skew(10_000, PARAMS) == -PARAMS.max_skew
    assert skew(-10_000, PARAMS) == PARAMS.max_skew


def test_at_the_inventory_limit_a_side_stops() -> None:
    bids, asks = maker_quotes(1_000, 60, PARAMS, WIDE, 500)
    assert bids == []
    assert len(asks) == 3
    bids, asks = maker_quotes(1_000, -60, PARAMS, WIDE, 500)
    assert asks == []
    assert len(bids) == 3


def test_near_the_limit_a_side_offers_only_what_fits() -> None:
    bids, _ = maker_quotes(1_000, 55, PARAMS, WIDE, 500)  # 5 lots of room
    assert [q.quantity for q in bids] == [4, 1]


def test_levels_outside_the_band_are_left_out_not_stacked_on_its_edge() -> None:
    bids, asks = maker_quotes(1_000, 0, PARAMS, PriceBand(995, 1_003), 500)
    assert prices(bids) == [998, 996]
    assert prices(asks) == [1_002]


def test_sizes_respect_the_contract_s_largest_order() -> None:
    bids, asks = maker_quotes(1_000, 0, PARAMS, WIDE, 3)
    assert {q.quantity for q in bids + asks} == {3}


params_strategy = st.builds(
    MakerParams,
    half_spread=st.integers(1, 6),
    level_step=st.integers(1, 5),
    levels=st.integers(0, 4),
    size=st.integers(1, 12),
    inventory_limit=st.integers(0, 80),
    skew_lots_per_tick=st.integers(1, 20),
    max_skew=st.integers(0, 8),
    tolerance=st.integers(1, 3),
)


@given(
    params_strategy,
    st.integers(400, 600),
    st.integers(-100, 100),
    st.integers(380, 520),
    st.integers(0, 60),
    st.integers(1, 20),
)
def test_quotes_are_inside_the_band_within_the_limit_and_never_crossed(
    params: MakerParams, fair: int, position: int, low: int, width: int, max_quantity: int
) -> None:
    band = PriceBand(low, low + width)
    bids, asks = maker_quotes(fair, position, params, band, max_quantity)
    for quote in bids + asks:
        assert isinstance(quote.price, int)
        assert quote.price in band
        assert 1 <= quote.quantity <= min(params.size, max_quantity)
    assert prices(bids) == sorted(prices(bids), reverse=True)
    assert prices(asks) == sorted(prices(asks))
    assert not crossed(prices(bids), prices(asks))
    assert position + sum(q.quantity for q in bids) <= max(position, params.inventory_limit)
    assert position - sum(q.quantity for q in asks) >= min(position, -params.inventory_limit)


# --- requoting -------------------------------------------------------------------------------


def standing(quotes: list[Quote]) -> list[Working]:
    """The quotes as working orders, nothing filled."""
    return [Working(n, q.side, q.price, q.quantity, q.quantity) for n, q in enumerate(quotes)]


def book_of(working: list[Working]) -> dict[int, Working]:
    return {w.order_id: w for w in working}


def test_nothing_to_do_when_the_quotes_stand() -> None:
    bids, asks = maker_quotes(1_000, 0, PARAMS, WIDE, 500)
    working = [
        Working(i, q.side, q.price, q.quantity, q.quantity) for i, q in enumerate(bids + asks)
    ]
    assert requote(working, bids, asks) == []


def test_a_move_is_an_amend_keeping_the_order_and_a_small_one_keeps_its_price() -> None:
    working = [Working(1, "buy", 998, 4, 4), Working(2, "sell", 1_002, 4, 4)]
    bids, asks = [Quote("buy", 1_001, 4)], [Quote("sell", 1_003, 4)]
    actions = requote(working, bids, asks, tolerance=2)
    assert actions == [Amend(1, "buy", 1_001, 4, 4)]  # the ask is within tolerance: kept


def test_amending_a_partly_filled_order_gives_the_total_including_its_fills() -> None:
    working = [Working(1, "buy", 998, 4, 1)]  # 3 of 4 filled
    actions = requote(working, [Quote("buy", 997, 4)], [])
    assert actions == [Amend(1, "buy", 997, 7, 4)]


def test_levels_gone_are_cancelled_first_and_new_ones_placed() -> None:
    working = [Working(1, "buy", 998, 4, 4), Working(2, "buy", 996, 4, 4)]
    actions = requote(working, [], [Quote("sell", 1_002, 4)])
    assert actions[:2] == [Cancel(1), Cancel(2)]
    assert actions[2:] == [Place("sell", 1_002, 4)]


def test_a_kept_price_that_would_cross_is_moved_after_all() -> None:
    working = [Working(1, "buy", 1_001, 4, 4)]
    actions = requote(working, [Quote("buy", 1_000, 4)], [Quote("sell", 1_001, 4)], tolerance=3)
    book = book_of(working)
    for number, action in enumerate(actions):
        apply_action(book, action, 100 + number)
    assert sorted(w.price for w in book.values()) == [1_000, 1_001]


def test_when_the_fair_value_jumps_up_the_asks_move_first() -> None:
    bids, asks = maker_quotes(1_000, 0, PARAMS, WIDE, 500)
    working = [
        Working(i, q.side, q.price, q.quantity, q.quantity) for i, q in enumerate(bids + asks)
    ]
    new_bids, new_asks = maker_quotes(1_020, 0, PARAMS, WIDE, 500)
    sides = [a.side for a in requote(working, new_bids, new_asks) if isinstance(a, Amend)]
    assert sides == ["sell"] * 3 + ["buy"] * 3


def test_when_it_jumps_down_the_bids_move_first() -> None:
    bids, asks = maker_quotes(1_000, 0, PARAMS, WIDE, 500)
    working = [
        Working(i, q.side, q.price, q.quantity, q.quantity) for i, q in enumerate(bids + asks)
    ]
    new_bids, new_asks = maker_quotes(980, 0, PARAMS, WIDE, 500)
    sides = [a.side for a in requote(working, new_bids, new_asks) if isinstance(a, Amend)]
    assert sides == ["buy"] * 3 + ["sell"] * 3


@settings(max_examples=300)
@given(
    params_strategy,
    st.integers(900, 1_100),
    st.integers(-80, 80),
    st.integers(900, 1_100),
    st.integers(-80, 80),
    st.lists(st.integers(0, 3), max_size=8),
)
def test_own_quotes_never_cross_while_a_plan_is_carried_out(
    params: MakerParams, fair: int, position: int, new_fair: int, new_position: int,
    partly_filled: list[int],
) -> None:  # fmt: skip
    bids, asks = maker_quotes(fair, position, params, WIDE, 500)
    working = []
    for number, quote in enumerate(bids + asks):
        filled = partly_filled[number] if number < len(partly_filled) else 0
        working.append(
            Working(number, quote.side, quote.price, quote.quantity + filled, quote.quantity)
        )
    new_bids, new_asks = maker_quotes(new_fair, new_position, params, WIDE, 500)
    book = book_of(working)
    for number, action in enumerate(requote(working, new_bids, new_asks, params.tolerance)):
        apply_action(book, action, 1_000 + number)
        live = list(book.values())
        bid_prices = [w.price for w in live if w.side == "buy"]
        ask_prices = [w.price for w in live if w.side == "sell"]
        assert not crossed(bid_prices, ask_prices), action
    final = sorted(book.values(), key=lambda w: (w.side, w.price))
    assert sorted((w.side, w.leaves) for w in final) == sorted(
        (q.side, q.quantity) for q in new_bids + new_asks
    )
    for side, wanted in (("buy", new_bids), ("sell", new_asks)):
        kept = sorted((w.price for w in final if w.side == side), reverse=side == "buy")
        assert all(abs(k - q.price) < params.tolerance for k, q in zip(kept, wanted, strict=True))


@pytest.mark.parametrize(
    "bad",
    [
        {"half_spread": 0}, {"level_step": 0}, {"size": 0}, {"skew_lots_per_tick": 0},
        {"levels": -1}, {"inventory_limit": -1}, {"max_skew": -1}, {"tolerance": 0},
    ],
)  # fmt: skip
def test_parameters_that_make_no_sense_are_refused(bad: dict[str, int]) -> None:
    fields = {
        "half_spread": 1, "level_step": 1, "levels": 1, "size": 1, "inventory_limit": 1,
        "skew_lots_per_tick": 1, "max_skew": 0,
    } | bad  # fmt: skip
    with pytest.raises(ValueError, match="at least|negative"):
        MakerParams(**fields)
