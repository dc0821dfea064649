"""Price limits and the dynamic circuit breaker (docs/matching-rules.md).

The instrument: reference 2.500, daily limits ±8 % = [2.300, 2.700], breaker band 3 % of
the reference = 75 ticks, a 60-minute window and a 2-minute pause.
"""

from __future__ import annotations

import pytest

from support.books import (
    FOK,
    GFD,
    GTC,
    IOC,
    LATER,
    MINUTE,
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
    CircuitBreakerTripped,
    PhaseChanged,
    ReferencePriceSet,
    TradeExecuted,
)
from tokenfutures.domain.rejects import RejectReason as R
from tokenfutures.domain.values import Phase, SelfTradePrevention, TimeInForce

PAUSE = 2 * MINUTE


@pytest.fixture
def banded() -> Venue:
    return Venue(rules(breaker_bp=300), rules(OTHER, breaker_bp=300))


# --- daily price limits ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "accepted"),
    [(2300, False), (2301, True), (2701, True), (2702, False)],
)
def test_limits_are_rounded_inwards_to_ticks(price: int, accepted: bool) -> None:
    venue = Venue(rules(reference=2501))  # 8 % of 2501 is 200.08 ticks: limits [2301, 2701]
    events = venue.buy("A", 1, price, "a1")
    assert kinds(events) == (["OrderAccepted"] if accepted else ["CommandRejected"])


def test_set_reference_price_moves_the_limits(venue: Venue) -> None:
    venue.now = LATER + 10
    assert venue.set_reference(2000) == [ReferencePriceSet(LATER + 10, SYMBOL, 2000, 1840, 2160)]
    assert rejected(venue.buy("A", 1, 2161, "a1")).reason is R.PRICE_OUTSIDE_LIMIT
    assert rejected(venue.buy("A", 1, None, "s1", stop=2200)).reason is R.STOP_PRICE_OUTSIDE_LIMIT
    assert kinds(venue.buy("A", 1, 1840, "a2")) == ["OrderAccepted"]


# --- the breaker trips on a fill outside the band -------------------------------------------------


def test_fill_at_the_band_edge_trades(banded: Venue) -> None:
    banded.sell("B", 1, 2575, "b1")
    assert fills(banded.buy("A", 1, 2575, "a1")) == [(1, 2575, "a1", "b1")]
    assert banded.phase() is Phase.CONTINUOUS


def test_fill_outside_the_band_trips_and_pauses(banded: Venue) -> None:
    banded.sell("B", 1, 2576, "b1")
    banded.now = LATER + 1_000_000
    events = banded.buy("A", 1, 2576, "a1")
    assert kinds(events) == ["OrderAccepted", "CircuitBreakerTripped", "PhaseChanged"]
    reopen_at = LATER + 1_000_000 + PAUSE
    assert events[1:] == [
        CircuitBreakerTripped(LATER + 1_000_000, SYMBOL, 2576, 2425, 2575, reopen_at),
        PhaseChanged(
            LATER + 1_000_000,
            SYMBOL,
            Phase.PRE_OPEN,
            Phase.CONTINUOUS,
            "circuit_breaker",
            reopen_at,
        ),
    ]
    assert banded.phase(OTHER) is Phase.CONTINUOUS


def test_band_follows_the_window_high_and_low(banded: Venue) -> None:
    banded.sell("B", 1, 2540, "b1")
    banded.buy("A", 1, 2540, "a1")  # window high = low = 2.540: range [2.465, 2.615]
    banded.sell("B", 1, 2600, "b2")
    banded.buy("A", 1, 2600, "a2")  # high 2.600, low 2.540: range [2.525, 2.615]
    banded.buy("C", 1, 2524, "c1")
    events = banded.sell("D", 1, 2524, "d1")
    (trip,) = of_type(events, CircuitBreakerTripped)
    assert (trip.price, trip.band_low, trip.band_high) == (2524, 2525, 2615)


@pytest.mark.parametrize("tif", [GFD, GTC])
def test_resting_remainder_of_the_tripping_order_stays(banded: Venue, tif: TimeInForce) -> None:
    banded.sell("B", 2, 2500, "b1")
    banded.sell("C", 3, 2600, "c1")
    events = banded.buy("A", 5, 2600, "a1", tif=tif)
    assert fills(events) == [(2, 2500, "a1", "b1")]
    assert banded.table() == table("""
        bids             | asks
        A 3 @ 2.600 (a1) | C 3 @ 2.600 (c1)
    """)


@pytest.mark.parametrize(("price", "tif"), [(2600, IOC), (None, GFD), (None, IOC)])
def test_ioc_and_market_remainder_is_cancelled_by_the_breaker(
    banded: Venue, price: int | None, tif: TimeInForce
) -> None:
    banded.sell("B", 2, 2500, "b1")
    banded.sell("C", 3, 2600, "c1")
    events = banded.buy("A", 5, price, "a1", tif=tif)
    assert fills(events) == [(2, 2500, "a1", "b1")]
    assert cancels(events) == [("a1", "circuit_breaker", 3)]
    assert banded.phase() is Phase.PRE_OPEN
    assert banded.book().bids == ()


def test_fok_that_could_only_fill_through_the_band_is_cancelled_without_trading(
    banded: Venue,
) -> None:
    banded.sell("B", 2, 2500, "b1")
    banded.sell("C", 3, 2600, "c1")
    events = banded.buy("A", 5, 2600, "a1", tif=FOK)
    assert kinds(events) == ["OrderAccepted", "OrderCancelled"]
    assert cancels(events) == [("a1", "fok_not_fillable", 5)]
    assert banded.phase() is Phase.CONTINUOUS
    assert fills(banded.buy("A", 2, 2600, "a2", tif=FOK)) == [(2, 2500, "a2", "b1")]


def test_set_reference_price_moves_the_band(banded: Venue) -> None:
    banded.set_reference(2000)  # band 3 % of 2.000 = 60 ticks (75 before)
    banded.sell("B", 1, 2061, "b1")
    (trip,) = of_type(banded.buy("A", 1, 2061, "a1"), CircuitBreakerTripped)
    assert (trip.band_low, trip.band_high) == (1940, 2060)


# --- the rolling window ---------------------------------------------------------------------------


@pytest.mark.parametrize(("later", "trips"), [(60 * MINUTE - 1, True), (60 * MINUTE, False)])
def test_trades_leave_the_window_after_sixty_minutes(
    banded: Venue, later: int, trips: bool
) -> None:
    banded.sell("B", 1, 2500, "b1")
    first = banded.now
    banded.buy("A", 1, 2500, "a1")
    banded.sell("B", 1, 2570, "b2")
    banded.buy("A", 1, 2570, "a2")  # range [2.495, 2.575] while 2.500 is in the window
    banded.sell("B", 1, 2600, "b3")
    banded.now = first + later
    events = banded.buy("A", 1, 2600, "a3")  # range [2.495, 2.645] once 2.500 has left
    assert (of_type(events, CircuitBreakerTripped) != []) is trips
    assert (of_type(events, TradeExecuted) != []) is not trips


# --- reopening ------------------------------------------------------------------------------------


@pytest.fixture
def tripped(banded: Venue) -> Venue:
    """Tripped at 2.600 with A's bid of 5 crossing B's ask of 5 at 2.600 in the book."""
    banded.sell("B", 5, 2600, "b1")
    banded.buy("A", 5, 2600, "a1")
    assert banded.phase() is Phase.PRE_OPEN
    return banded


def _reopen_at(venue: Venue) -> int:
    reopen_at = venue.instrument().reopen_at
    assert reopen_at is not None
    return reopen_at


def test_orders_during_the_pause_follow_auction_rules(tripped: Venue) -> None:
    tripped.now = _reopen_at(tripped) - 2
    assert rejected(tripped.buy("C", 1, None, "c1")).reason is R.NOT_ALLOWED_IN_AUCTION
    tripped.now = _reopen_at(tripped) - 1
    assert kinds(tripped.buy("C", 1, 2610, "c2")) == ["OrderAccepted"]
    assert tripped.phase() is Phase.PRE_OPEN


@pytest.mark.parametrize("command", ["new_order", "cancel_order", "amend_order"])
def test_first_command_at_reopen_uncrosses_and_resumes(tripped: Venue, command: str) -> None:
    tripped.now = reopen_at = _reopen_at(tripped)
    if command == "new_order":
        events = tripped.buy("C", 1, 2400, "c1")
    elif command == "cancel_order":
        events = tripped.cancel("C", "nothing")
    else:
        events = tripped.amend("C", "nothing", price=2400)
    assert kinds(events)[:3] == ["TradeExecuted", "AuctionUncrossed", "PhaseChanged"]
    assert events[2] == PhaseChanged(
        reopen_at, SYMBOL, Phase.CONTINUOUS, Phase.PRE_OPEN, "circuit_breaker_reopen", None
    )
    assert fills(events) == [(5, 2600, "a1", "b1")]
    assert of_type(events, TradeExecuted)[0].aggressor is None
    assert tripped.phase() is Phase.CONTINUOUS


def test_a_command_for_another_instrument_does_not_reopen(tripped: Venue) -> None:
    tripped.now = _reopen_at(tripped) + MINUTE
    tripped.buy("C", 1, 2400, "c1", symbol=OTHER)
    assert tripped.phase() is Phase.PRE_OPEN


def test_cancel_all_for_the_instrument_at_reopen_resumes_first(tripped: Venue) -> None:
    tripped.now = _reopen_at(tripped)
    events = tripped.cancel_all("A", SYMBOL)
    assert kinds(events) == ["TradeExecuted", "AuctionUncrossed", "PhaseChanged"]
    assert tripped.phase() is Phase.CONTINUOUS


def test_set_reference_price_at_reopen_resumes_first(tripped: Venue) -> None:
    tripped.now = _reopen_at(tripped)
    events = tripped.set_reference(2550)
    assert kinds(events)[:3] == ["TradeExecuted", "AuctionUncrossed", "PhaseChanged"]
    assert tripped.phase() is Phase.CONTINUOUS


@pytest.mark.parametrize("mode", list(SelfTradePrevention))
def test_a_self_cross_outside_the_band_prints_nothing_and_trips_nothing(
    banded: Venue, mode: SelfTradePrevention
) -> None:
    banded.sell("A", 5, 2600, "own")  # outside the band [2.425, 2.575], no other order
    events = banded.buy("A", 5, 2600, "a1", stp=mode)
    assert of_type(events, CircuitBreakerTripped) == []
    assert banded.phase() is Phase.CONTINUOUS


def test_a_reopening_auction_far_from_the_window_does_not_lock_the_market(banded: Venue) -> None:
    # band is 75 ticks; a trade at 2.500 puts 2.500 in the window
    banded.sell("B", 1, 2500, "b1")
    banded.buy("A", 1, 2500, "a1")
    banded.set_phase(Phase.PRE_OPEN)
    banded.buy("A", 1, 2350, "a2")
    banded.sell("B", 1, 2350, "b2")
    banded.set_phase(Phase.CONTINUOUS)  # the auction prints 2.350, 150 ticks away
    banded.sell("B", 1, 2360, "b3")
    events = banded.buy("A", 1, 2360, "a3")
    assert fills(events) == [(1, 2360, "a3", "b3")]
    assert of_type(events, CircuitBreakerTripped) == []
    assert banded.phase() is Phase.CONTINUOUS
