"""Orders (docs/matching-rules.md): field rules, every reject reason of the core, the
validation order, post-only, duplicate client order ids and the accepted event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from support.books import (
    FOK,
    GFD,
    GTC,
    IOC,
    LATER,
    OTHER,
    SELL,
    STEP,
    SYMBOL,
    Venue,
    kinds,
    rejected,
    rules,
    table,
)
from tokenfutures.domain.commands import (
    AmendOrder,
    CancelOrder,
    Command,
    Deposit,
    SetPhase,
    SetReferencePrice,
)
from tokenfutures.domain.events import OrderAccepted
from tokenfutures.domain.rejects import RejectReason as R
from tokenfutures.domain.values import OrderType, Phase, SelfTradePrevention, Side, TimeInForce

CODEC_ONLY = {R.MALFORMED_COMMAND, R.UNKNOWN_COMMAND, R.MISSING_FIELD, R.INVALID_FIELD}
CODEC_ONLY |= {R.PRICE_NOT_ON_TICK}
# the clearing house's reasons have their own table (tests/unit/test_clearing_rejections.py)
CLEARING = {
    R.UNKNOWN_ACCOUNT, R.UNKNOWN_MEMBER, R.ALREADY_EXISTS, R.ACCOUNT_CANCEL_ONLY,
    R.CONTRACT_DELISTED, R.INSUFFICIENT_MARGIN, R.POSITION_LIMIT, R.GROUP_POSITION_LIMIT,
    R.INTRADAY_OPEN_CAP, R.REDUCE_ONLY_WOULD_OPEN, R.EXCEEDS_FREE_COLLATERAL,
    R.DATE_NOT_AFTER_PREVIOUS, R.FINAL_SETTLEMENT_NOT_DUE,
}  # fmt: skip
LIMIT, MARKET, STOP, STOP_LIMIT = (
    OrderType.LIMIT,
    OrderType.MARKET,
    OrderType.STOP,
    OrderType.STOP_LIMIT,
)


def _seeded() -> Venue:
    """Bid 2.499 and ask 2.501 resting, last trade 2.500, on TKN2612 and GPU2612."""
    venue = Venue(rules(), rules(OTHER))
    venue.buy("B", 5, 2499, "bid")
    venue.sell("C", 5, 2501, "ask")
    venue.sell("C", 1, 2500, "c-last")
    venue.buy("D", 1, 2500, "d-last")
    return venue


Make = Callable[[Venue], Command]


def _in_phase(phase: Phase, make: Make) -> Make:
    def build(venue: Venue) -> Command:
        venue.set_phase(phase)
        return make(venue)

    return build


def _order(
    side: Side = Side.BUY, quantity: int = 1, price: int | None = 2500, **options: Any
) -> Make:
    """A new order of account A built against the venue's clock."""
    return lambda v: v.new_order(side, "A", quantity, price, "new", **options)


def _cancel(account: str, cid: str, symbol: str = SYMBOL) -> Make:
    return lambda v: CancelOrder(v.now, account, cid, symbol)


def _amend(cid: str, price: int, quantity: int | None = None) -> Make:
    return lambda v: AmendOrder(v.now, "B", cid, SYMBOL, price, quantity)


REJECTIONS: dict[str, tuple[R, str | None, Make]] = {
    "unknown-symbol": (R.UNKNOWN_SYMBOL, "symbol", _order(symbol="NOPE2612")),
    "zero-quantity": (R.INVALID_QUANTITY, "quantity", _order(quantity=0)),
    "negative-quantity": (R.INVALID_QUANTITY, "quantity", _order(quantity=-3)),
    "above-maximum": (R.QUANTITY_ABOVE_MAXIMUM, "quantity", _order(quantity=101)),
    "zero-price": (R.INVALID_PRICE, "price", _order(price=0)),
    "zero-stop": (R.INVALID_PRICE, "stop_price", _order(price=None, stop=0)),
    "limit-no-price": (R.PRICE_REQUIRED, "price", _order(price=None, order_type=LIMIT)),
    "stop-limit-no-price": (
        R.PRICE_REQUIRED, "price", _order(price=None, stop=2600, order_type=STOP_LIMIT)
    ),
    "market-with-price": (R.PRICE_NOT_ALLOWED, "price", _order(order_type=MARKET)),
    "stop-with-price": (R.PRICE_NOT_ALLOWED, "price", _order(stop=2600, order_type=STOP)),
    "stop-no-stop": (R.STOP_PRICE_REQUIRED, "stop_price", _order(price=None, order_type=STOP)),
    "limit-with-stop": (
        R.STOP_PRICE_NOT_ALLOWED, "stop_price", _order(stop=2600, order_type=LIMIT)
    ),
    "above-upper-limit": (R.PRICE_OUTSIDE_LIMIT, "price", _order(price=2701)),
    "below-lower-limit": (R.PRICE_OUTSIDE_LIMIT, "price", _order(side=SELL, price=2299)),
    "stop-outside": (R.STOP_PRICE_OUTSIDE_LIMIT, "stop_price", _order(price=None, stop=2701)),
    "post-only-ioc": (R.POST_ONLY_NOT_ALLOWED, "post_only", _order(post_only=True, tif=IOC)),
    "duplicate": (
        R.DUPLICATE_CLIENT_ORDER_ID, "client_order_id",
        lambda v: v.new_order(Side.BUY, "B", 1, 2400, "bid"),
    ),
    "cancel-unknown": (R.UNKNOWN_ORDER, "client_order_id", _cancel("B", "nope")),
    "cancel-other-account": (R.UNKNOWN_ORDER, "client_order_id", _cancel("A", "bid")),
    "cancel-wrong-symbol": (R.UNKNOWN_ORDER, "client_order_id", _cancel("B", "bid", OTHER)),
    "cancel-filled": (R.UNKNOWN_ORDER, "client_order_id", _cancel("C", "c-last")),
    "amend-unknown": (R.UNKNOWN_ORDER, "client_order_id", _amend("nope", 2498)),
    "nothing-to-amend": (R.NOTHING_TO_AMEND, None, _amend("bid", 2499, 5)),
    "closed": (R.MARKET_CLOSED, None, _in_phase(Phase.CLOSED, _order(tif=GTC))),
    "halted": (R.INSTRUMENT_HALTED, None, _in_phase(Phase.HALTED, _order())),
    "market-in-auction": (
        R.NOT_ALLOWED_IN_AUCTION, "order_type", _in_phase(Phase.PRE_OPEN, _order(price=None))
    ),
    "same-phase": (
        R.INVALID_PHASE_TRANSITION, "phase", lambda v: SetPhase(v.now, SYMBOL, Phase.CONTINUOUS)
    ),
    "post-only-cross": (R.POST_ONLY_WOULD_TRADE, "price", _order(price=2501, post_only=True)),
    "stop-triggered": (R.STOP_ALREADY_TRIGGERED, "stop_price", _order(price=None, stop=2500)),
    "zero-deposit": (R.INVALID_AMOUNT, "amount", lambda v: Deposit(v.now, "A", 0)),
    "negative-deposit": (R.INVALID_AMOUNT, "amount", lambda v: Deposit(v.now, "A", -5)),
    "time-going-back": (R.TS_BEFORE_PREVIOUS, "ts", lambda v: Deposit(v.now - 2 * STEP, "A", 5)),
    "zero-reference": (
        R.INVALID_PRICE, "price", lambda v: SetReferencePrice(v.now, SYMBOL, 0)
    ),
}  # fmt: skip


@pytest.mark.parametrize(("reason", "field", "make"), REJECTIONS.values(), ids=REJECTIONS)
def test_each_rule_rejects_and_changes_nothing(reason: R, field: str | None, make: Make) -> None:
    venue = _seeded()
    command = make(venue)
    before = venue.exchange.state_hash()
    event = rejected(venue.send(command))
    assert (event.reason, event.field) == (reason, field)
    assert event.ts == command.ts
    assert venue.exchange.state_hash() == before


def test_the_rejection_table_covers_every_reason_of_the_core() -> None:
    covered = {reason for reason, _, _ in REJECTIONS.values()}
    assert covered == set(R) - CODEC_ONLY - CLEARING


def test_rejection_names_the_command_and_its_ids() -> None:
    venue = _seeded()
    event = rejected(venue.buy("A", 0, 2500, "a1"))
    assert (event.command, event.account, event.client_order_id, event.symbol) == (
        "new_order",
        "A",
        "a1",
        SYMBOL,
    )
    assert "lot" in event.detail


# --- validation order: the first failing rule is the reason ---------------------------------------


def _dup(price: int, **options: Any) -> Make:
    """A new order reusing the live client order id ``bid`` of account B."""
    return lambda v: v.new_order(Side.BUY, "B", 1, price, "bid", **options)


FIRST_FAILURE: dict[str, tuple[Make, R]] = {
    "symbol>quantity": (_order(symbol="NOPE2612", quantity=0), R.UNKNOWN_SYMBOL),
    "phase>quantity": (_in_phase(Phase.CLOSED, _order(quantity=0)), R.MARKET_CLOSED),
    "auction>quantity": (
        _in_phase(Phase.PRE_OPEN, _order(quantity=0, price=None)), R.NOT_ALLOWED_IN_AUCTION
    ),
    "quantity>price-fields": (
        _order(quantity=0, price=None, order_type=LIMIT), R.INVALID_QUANTITY
    ),
    "quantity>limits": (_order(quantity=101, price=2701), R.QUANTITY_ABOVE_MAXIMUM),
    "fields>limits": (_order(price=2701, stop=2800, order_type=LIMIT), R.STOP_PRICE_NOT_ALLOWED),
    "limits>duplicate": (_dup(2701), R.PRICE_OUTSIDE_LIMIT),
    "stop-limits>duplicate": (_dup(2400, stop=2701), R.STOP_PRICE_OUTSIDE_LIMIT),
    "duplicate>post-only": (_dup(2501, post_only=True), R.DUPLICATE_CLIENT_ORDER_ID),
    "duplicate>stop-triggered": (_dup(2600, stop=2500), R.DUPLICATE_CLIENT_ORDER_ID),
}  # fmt: skip


@pytest.mark.parametrize(("make", "reason"), FIRST_FAILURE.values(), ids=FIRST_FAILURE)
def test_validation_order(make: Make, reason: R) -> None:
    venue = _seeded()
    command = make(venue)
    assert rejected(venue.send(command)).reason is reason


# --- post-only ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("side", "price"), [(Side.BUY, 2501), (Side.BUY, 2600), (Side.SELL, 2499)])
def test_post_only_that_would_trade_is_rejected(side: Side, price: int) -> None:
    venue = _seeded()
    command = venue.new_order(side, "A", 1, price, "p1", post_only=True)
    assert rejected(venue.send(command)).reason is R.POST_ONLY_WOULD_TRADE


@pytest.mark.parametrize("tif", [GFD, GTC])
def test_post_only_limit_that_does_not_cross_rests(tif: TimeInForce) -> None:
    venue = _seeded()
    assert kinds(venue.buy("A", 2, 2500, "p1", post_only=True, tif=tif)) == ["OrderAccepted"]
    assert venue.book().bids[0].client_order_id == "p1"


@pytest.mark.parametrize(
    ("order_type", "tif", "price", "stop"),
    [
        (LIMIT, IOC, 2500, None),
        (LIMIT, FOK, 2500, None),
        (MARKET, GFD, None, None),
        (STOP, GFD, None, 2600),
        (STOP_LIMIT, GTC, 2600, 2600),
    ],
)
def test_post_only_only_with_gfd_or_gtc_limit_orders(
    order_type: OrderType, tif: TimeInForce, price: int | None, stop: int | None
) -> None:
    venue = _seeded()
    command = venue.new_order(
        Side.BUY, "A", 1, price, "p1", stop=stop, order_type=order_type, tif=tif, post_only=True
    )
    assert rejected(venue.send(command)).reason is R.POST_ONLY_NOT_ALLOWED


# --- client order ids -----------------------------------------------------------------------------


def test_duplicate_client_order_id_changes_nothing() -> None:
    venue = _seeded()
    book = venue.table()
    before = venue.exchange.state_hash()
    event = rejected(venue.sell("B", 1, 2499, "bid"))  # would trade if accepted
    assert event.reason is R.DUPLICATE_CLIENT_ORDER_ID
    assert venue.exchange.state_hash() == before
    assert venue.table() == book


def test_client_order_id_is_unique_across_instruments() -> None:
    venue = _seeded()
    assert (
        rejected(venue.buy("B", 1, 2400, "bid", symbol=OTHER)).reason is R.DUPLICATE_CLIENT_ORDER_ID
    )


def test_duplicate_of_a_waiting_stop_is_rejected() -> None:
    venue = _seeded()
    venue.buy("A", 1, None, "s1", stop=2600)
    assert rejected(venue.buy("A", 1, 2400, "s1")).reason is R.DUPLICATE_CLIENT_ORDER_ID


def test_same_client_order_id_for_another_account_is_fine() -> None:
    venue = _seeded()
    assert kinds(venue.buy("A", 1, 2400, "bid")) == ["OrderAccepted"]


def test_client_order_id_is_free_again_once_the_order_is_done() -> None:
    venue = _seeded()  # c-last and d-last traded in full
    venue.cancel("B", "bid")
    assert kinds(venue.buy("B", 1, 2400, "bid")) == ["OrderAccepted"]
    assert kinds(venue.sell("C", 1, 2600, "c-last")) == ["OrderAccepted"]
    assert venue.table() == table("""
        bids              | asks
        B 1 @ 2.400 (bid) | C 5 @ 2.501 (ask)
                          | C 1 @ 2.600 (c-last)
    """)


def test_accepted_event_carries_every_field() -> None:
    venue = Venue()
    venue.now = LATER + 7
    events = venue.buy(
        "A", 3, 2450, "a1", tif=GTC, post_only=True, stp=SelfTradePrevention.CANCEL_BOTH
    )
    assert events == [
        OrderAccepted(
            ts=LATER + 7,
            order_id=1,
            account="A",
            client_order_id="a1",
            symbol=SYMBOL,
            side=Side.BUY,
            order_type=LIMIT,
            price=2450,
            stop_price=None,
            quantity=3,
            time_in_force=TimeInForce.GTC,
            post_only=True,
        )
    ]
    stop = venue.sell("A", 2, 2400, "a2", stop=2410)[0]
    assert isinstance(stop, OrderAccepted)
    assert (stop.order_id, stop.order_type, stop.price, stop.stop_price) == (
        2,
        STOP_LIMIT,
        2400,
        2410,
    )
