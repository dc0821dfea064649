"""Unit tests of positions: hand-computed FIFO lots, P&L, open interest and mark-to-market."""

from __future__ import annotations

import pytest

from tokenfutures.domain.clearing.positions import Lot, Positions
from tokenfutures.domain.values import Side

SYMBOL = "TKN2612"
TICK_VALUE = 10  # minor units per tick per lot


@pytest.fixture
def book() -> Positions:
    return Positions()


def test_open_long(book: Positions) -> None:
    assert book.apply_fill("a", SYMBOL, Side.BUY, 3, 2500, TICK_VALUE) == 0
    position = book.position("a", SYMBOL)
    assert position.quantity == 3
    assert position.cost == 7500
    assert position.average_entry_price == 2500
    assert position.lots == (Lot(3, 2500, 2500),)


def test_add_keeps_exact_cost_and_rounds_average_for_display(book: Positions) -> None:
    book.apply_fill("a", SYMBOL, Side.BUY, 2, 2500, TICK_VALUE)
    book.apply_fill("a", SYMBOL, Side.BUY, 1, 2501, TICK_VALUE)
    position = book.position("a", SYMBOL)
    assert (position.quantity, position.cost) == (3, 7501)  # average 2500 1/3
    assert position.average_entry_price == 2500
    book.apply_fill("a", SYMBOL, Side.BUY, 1, 2503, TICK_VALUE)
    assert book.position("a", SYMBOL).cost == 10004  # average 2501 exactly
    assert book.position("a", SYMBOL).average_entry_price == 2501


def test_short_average_rounds_half_up(book: Positions) -> None:
    book.apply_fill("a", SYMBOL, Side.SELL, 1, 2500, TICK_VALUE)
    book.apply_fill("a", SYMBOL, Side.SELL, 1, 2501, TICK_VALUE)
    position = book.position("a", SYMBOL)
    assert (position.quantity, position.cost) == (-2, -5001)
    assert position.average_entry_price == 2501


def test_partial_close_realises_first_in_first_out(book: Positions) -> None:
    book.apply_fill("a", SYMBOL, Side.BUY, 2, 2500, TICK_VALUE)
    book.apply_fill("a", SYMBOL, Side.BUY, 2, 2520, TICK_VALUE)
    # Sell 3 at 2530: 2 lots from 2500 (+30 each) and 1 from 2520 (+10) = 70 ticks.
    assert book.apply_fill("a", SYMBOL, Side.SELL, 3, 2530, TICK_VALUE) == 700
    position = book.position("a", SYMBOL)
    assert position.lots == (Lot(1, 2520, 2520),)
    assert (position.realised_pnl, position.trade_realised_pnl) == (700, 700)


def test_short_close_at_a_loss(book: Positions) -> None:
    book.apply_fill("a", SYMBOL, Side.SELL, 4, 2500, TICK_VALUE)
    # Buy back 4 at 2512: loss of 12 ticks x 4 lots x 10.
    assert book.apply_fill("a", SYMBOL, Side.BUY, 4, 2512, TICK_VALUE) == -480
    position = book.position("a", SYMBOL)
    assert position.quantity == 0
    assert position.average_entry_price is None
    assert book.positions_of("a") == []


def test_flip_closes_everything_and_opens_the_rest_at_the_fill_price(book: Positions) -> None:
    book.apply_fill("a", SYMBOL, Side.BUY, 2, 2500, TICK_VALUE)
    # Sell 5 at 2490: close 2 at -10 ticks each, then short 3 at 2490.
    assert book.apply_fill("a", SYMBOL, Side.SELL, 5, 2490, TICK_VALUE) == -200
    position = book.position("a", SYMBOL)
    assert position.lots == (Lot(-3, 2490, 2490),)
    assert position.average_entry_price == 2490


def test_unrealised_pnl_against_entry(book: Positions) -> None:
    book.apply_fill("a", SYMBOL, Side.BUY, 2, 2500, TICK_VALUE)
    book.apply_fill("a", SYMBOL, Side.BUY, 1, 2530, TICK_VALUE)
    # Mark 2520: 2 x (+20) + 1 x (-10) = 30 ticks.
    assert book.position("a", SYMBOL).unrealised_pnl(2520, TICK_VALUE) == 300


def test_open_interest_counts_longs(book: Positions) -> None:
    book.apply_trade(SYMBOL, "a", "b", 5, 2500, TICK_VALUE)
    book.apply_trade(SYMBOL, "c", "a", 2, 2505, TICK_VALUE)
    assert (book.open_interest(SYMBOL), book.short_interest(SYMBOL)) == (5, 5)
    book.apply_trade(SYMBOL, "b", "c", 2, 2505, TICK_VALUE)
    assert (book.open_interest(SYMBOL), book.short_interest(SYMBOL)) == (3, 3)
    book.check()


def test_mark_to_market_pays_variation_margin_and_moves_reference(book: Positions) -> None:
    book.apply_trade(SYMBOL, "a", "b", 3, 2500, TICK_VALUE)
    book.apply_trade(SYMBOL, "a", "c", 1, 2510, TICK_VALUE)
    # Settle 2520: a = 3 x 20 + 1 x 10 = 70 ticks; b = -3 x 20; c = -1 x 10.
    assert book.mark_to_market(SYMBOL, 2520, TICK_VALUE) == {"a": 700, "b": -600, "c": -100}
    a = book.position("a", SYMBOL)
    assert {lot.reference_price for lot in a.lots} == {2520}
    assert a.average_entry_price == 2503  # 10010 / 4 = 2502.5, rounded half up
    assert a.variation_margin == 700
    # Next day: a sells 2 at 2515 -> realised vs the settlement price: 2 x -5 ticks.
    assert book.apply_fill("a", SYMBOL, Side.SELL, 2, 2515, TICK_VALUE) == -100
    assert book.position("a", SYMBOL).trade_realised_pnl == 300  # 2 x +15 vs entry 2500
    assert book.position("a", SYMBOL).realised_unsettled == -100
    book.apply_fill("d", SYMBOL, Side.BUY, 2, 2515, TICK_VALUE)
    # Settle 2500: a holds 1 from 2500 and 1 from 2510, both at reference 2520: -40 ticks,
    # plus the -10 ticks realised today.
    assert book.mark_to_market(SYMBOL, 2500, TICK_VALUE) == {
        "a": -500,
        "b": 600,
        "c": 200,
        "d": -300,
    }
    assert book.position("a", SYMBOL).realised_unsettled == 0
    assert book.position("a", SYMBOL).variation_margin == 200


def test_account_closed_out_intraday_is_paid_its_realised_pnl_at_the_marking(
    book: Positions,
) -> None:
    book.apply_trade(SYMBOL, "a", "b", 1, 100, TICK_VALUE)
    assert book.apply_trade(SYMBOL, "c", "a", 1, 110, TICK_VALUE) == (0, 100)
    # Settle 105: a (flat) gets its +10 ticks; b short from 100 and c long from 110 lose 5.
    assert book.mark_to_market(SYMBOL, 105, TICK_VALUE) == {"a": 100, "b": -50, "c": -50}
    assert book.mark_to_market(SYMBOL, 105, TICK_VALUE) == {"b": 0, "c": 0}


def test_positions_listings(book: Positions) -> None:
    book.apply_trade("B", "a", "b", 1, 100, TICK_VALUE)
    book.apply_trade("A", "b", "a", 1, 100, TICK_VALUE)
    assert [p.symbol for p in book.positions_of("a")] == ["A", "B"]
    assert [p.account for p in book.positions_in("A")] == ["a", "b"]
    assert book.symbols() == ["A", "B"]


@pytest.mark.parametrize(("quantity", "price", "tick_value"), [(0, 1, 1), (1, 0, 1), (1, 1, 0)])
def test_non_positive_inputs_are_bugs(
    book: Positions, quantity: int, price: int, tick_value: int
) -> None:
    with pytest.raises(ValueError, match="positive"):
        book.apply_fill("a", SYMBOL, Side.BUY, quantity, price, tick_value)
