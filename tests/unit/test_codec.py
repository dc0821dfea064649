"""The JSON Lines edge (engine/codec.py, engine/event_codec.py): ticks and lots at the codec,
exact decimals, and every way a command line can be malformed."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tokenfutures.domain.clearing.events import ClearingEvent
from tokenfutures.domain.commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Command,
    Deposit,
    NewOrder,
    SetPhase,
    SetReferencePrice,
)
from tokenfutures.domain.events import (
    AuctionUncrossed,
    Event,
    FundsDeposited,
    PhaseChanged,
    TradeExecuted,
)
from tokenfutures.domain.rejects import RejectReason as R
from tokenfutures.domain.values import OrderType, Phase, SelfTradePrevention, Side, TimeInForce
from tokenfutures.engine.codec import Codec, CommandError
from tokenfutures.engine.event_codec import EVENT_TYPES, encode_event
from tokenfutures.engine.timestamps import format_ts, parse_ts

TS = "2026-11-23T01:30:00Z"
T = 1_795_397_400_000_000
ORDER = {"type": "new_order", "ts": TS, "account": "A", "client_order_id": "a1",
         "symbol": "TKN2612", "side": "buy", "quantity": 5, "price": "2.501"}  # fmt: skip


@pytest.fixture
def codec() -> Codec:
    return Codec({"TKN2612": Decimal("0.001"), "GPU2612": Decimal("0.005")})


def _line(base: dict[str, Any] | None = None, **changes: Any) -> str:
    data = dict(ORDER if base is None else base)
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data)


def _error(codec: Codec, line: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        codec.decode_line(line)
    return caught.value


# --- every command --------------------------------------------------------------------------------


DECODED: dict[str, tuple[dict[str, Any], Command]] = {
    "new_order": (
        {**ORDER, "order_type": "stop_limit", "stop_price": "2.499", "time_in_force": "GTC",
         "self_trade_prevention": "cancel_both"},
        NewOrder(T, "A", "a1", "TKN2612", Side.BUY, OrderType.STOP_LIMIT, 5, 2501, 2499,
                 TimeInForce.GTC, False, SelfTradePrevention.CANCEL_BOTH),
    ),
    "defaults": (ORDER, NewOrder(T, "A", "a1", "TKN2612", Side.BUY, OrderType.LIMIT, 5, 2501)),
    "cancel_order": (
        {"type": "cancel_order", "ts": TS, "account": "A", "client_order_id": "a1",
         "symbol": "TKN2612"},
        CancelOrder(T, "A", "a1", "TKN2612"),
    ),
    "amend_order": (
        {"type": "amend_order", "ts": TS, "account": "A", "client_order_id": "a1",
         "symbol": "GPU2612", "price": "2.255", "quantity": 7},
        AmendOrder(T, "A", "a1", "GPU2612", 451, 7),
    ),
    "cancel_all": ({"type": "cancel_all", "ts": TS, "account": "A"}, CancelAll(T, "A", None)),
    "set_phase": (
        {"type": "set_phase", "ts": TS, "symbol": "TKN2612", "phase": "pre_open"},
        SetPhase(T, "TKN2612", Phase.PRE_OPEN),
    ),
    "set_reference_price": (
        {"type": "set_reference_price", "ts": TS, "symbol": "TKN2612", "price": 2.5},
        SetReferencePrice(T, "TKN2612", 2500),
    ),
    "deposit": (
        {"type": "deposit", "ts": "2026-11-23T09:30:00+08:00", "account": "A",
         "amount": "100.05"},
        Deposit(T, "A", 10005),
    ),
}  # fmt: skip


@pytest.mark.parametrize(("data", "command"), DECODED.values(), ids=DECODED)
def test_decodes_every_command(codec: Codec, data: dict[str, Any], command: Command) -> None:
    assert codec.decode_line(json.dumps(data)) == command


@pytest.mark.parametrize(
    ("raw", "ticks"),
    [("2.501", 2501), ("2.5010", 2501), ("2.5E0", 2500), (2, 2000), ("0.001", 1), ("-0.001", -1)],
)
def test_prices_become_ticks(codec: Codec, raw: Any, ticks: int) -> None:
    command = codec.decode_line(_line(price=raw))
    assert isinstance(command, NewOrder)
    assert command.price == ticks


def test_json_numbers_are_read_exactly_never_through_floats(codec: Codec) -> None:
    # 2.3 has no exact binary float; through a float it would not be 2300 ticks exactly
    command = codec.decode_line(_line().replace('"2.501"', "2.300"))
    assert isinstance(command, NewOrder)
    assert command.price == 2300
    deposit = codec.decode_line(f'{{"type":"deposit","ts":"{TS}","account":"A","amount":0.29}}')
    assert deposit == Deposit(T, "A", 29)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"price": "2.5005"}, "price"), ({"price": 2.5005}, "price"),
     ({"order_type": "stop", "price": ..., "stop_price": "2.4999"}, "stop_price"),
     ({"symbol": "GPU2612", "price": "2.252"}, "price")],
)  # fmt: skip
def test_price_not_on_tick(codec: Codec, changes: dict[str, Any], field: str) -> None:
    error = _error(codec, _line(**changes))
    assert (error.reason, error.field) == (R.PRICE_NOT_ON_TICK, field)


@pytest.mark.parametrize(
    "raw", ['"2.5000000000000000000000000001"', "2.5000000000000000000000000001"]
)
def test_price_a_hair_off_the_tick_is_not_on_tick(codec: Codec, raw: str) -> None:
    error = _error(codec, _line().replace('"2.501"', raw))
    assert error.reason is R.PRICE_NOT_ON_TICK


def test_amount_a_hair_off_the_minor_unit_is_invalid(codec: Codec) -> None:
    line = '{"type":"deposit","ts":"%s","account":"A","amount":"100.0000000000000000000000000001"}'
    assert _error(codec, line % TS).field == "amount"


def test_price_of_an_unlisted_symbol(codec: Codec) -> None:
    error = _error(codec, _line(symbol="NOPE2612"))
    assert (error.reason, error.field) == (R.UNKNOWN_SYMBOL, "symbol")
    command = codec.decode_line(_line(symbol="NOPE2612", order_type="market", price=...))
    assert isinstance(command, NewOrder)  # without a price the core rejects the symbol


# --- malformed lines ------------------------------------------------------------------------------


MALFORMED: dict[str, tuple[str, R, str | None]] = {
    "not-json": ("buy 5 @ 2.5", R.MALFORMED_COMMAND, None),
    "not-an-object": ("[1, 2]", R.MALFORMED_COMMAND, None),
    "no-type": (_line(type=...), R.MISSING_FIELD, "type"),
    "unknown-type": (_line(type="modify_order"), R.UNKNOWN_COMMAND, "type"),
    "no-ts": (_line(ts=...), R.MISSING_FIELD, "ts"),
    "null-quantity": (_line(quantity=None), R.MISSING_FIELD, "quantity"),
    "no-side": (_line(side=...), R.MISSING_FIELD, "side"),
    "unknown-field": (_line(colour="red"), R.INVALID_FIELD, "colour"),
    "quantity-string": (_line(quantity="5"), R.INVALID_FIELD, "quantity"),
    "quantity-float": (_line(quantity=5.0), R.INVALID_FIELD, "quantity"),
    "quantity-fraction": (_line(quantity=2.5), R.INVALID_FIELD, "quantity"),
    "quantity-bool": (_line(quantity=True), R.INVALID_FIELD, "quantity"),
    "price-bool": (_line(price=True), R.INVALID_FIELD, "price"),
    "price-text": (_line(price="two"), R.INVALID_FIELD, "price"),
    "price-nan": (_line(price="NaN"), R.INVALID_FIELD, "price"),
    "price-infinite": (_line(price="Infinity"), R.INVALID_FIELD, "price"),
    "side-upper-case": (_line(side="BUY"), R.INVALID_FIELD, "side"),
    "order-type": (_line(order_type="stop-limit"), R.INVALID_FIELD, "order_type"),
    "time-in-force": (_line(time_in_force="gtc"), R.INVALID_FIELD, "time_in_force"),
    "stp-mode": (_line(self_trade_prevention="none"), R.INVALID_FIELD, "self_trade_prevention"),
    "post-only-text": (_line(post_only="true"), R.INVALID_FIELD, "post_only"),
    "empty-account": (_line(account=" "), R.INVALID_FIELD, "account"),
    "long-id": (_line(client_order_id="x" * 65), R.INVALID_FIELD, "client_order_id"),
    "unprintable-id": (_line(client_order_id="a\n1"), R.INVALID_FIELD, "client_order_id"),
    "numeric-symbol": (_line(symbol=2612), R.INVALID_FIELD, "symbol"),
    "ts-without-offset": (_line(ts="2026-11-23T01:30:00"), R.INVALID_FIELD, "ts"),
    "ts-date-only": (_line(ts="2026-11-23"), R.INVALID_FIELD, "ts"),
    "ts-number": (_line(ts=1795397400), R.INVALID_FIELD, "ts"),
    "ts-garbage": (_line(ts="yesterday"), R.INVALID_FIELD, "ts"),
    "phase": (json.dumps({"type": "set_phase", "ts": TS, "symbol": "TKN2612", "phase": "open"}),
              R.INVALID_FIELD, "phase"),
    "amend-nothing": (json.dumps({"type": "amend_order", "ts": TS, "account": "A",
                                  "client_order_id": "a1", "symbol": "TKN2612"}),
                      R.MISSING_FIELD, "price"),
    "amount-fraction": (json.dumps({"type": "deposit", "ts": TS, "account": "A",
                                    "amount": "1.005"}), R.INVALID_FIELD, "amount"),
    "cancel-extra": (json.dumps({"type": "cancel_all", "ts": TS, "account": "A", "price": 1}),
                     R.INVALID_FIELD, "price"),
}  # fmt: skip


@pytest.mark.parametrize(("line", "reason", "field"), MALFORMED.values(), ids=MALFORMED)
def test_malformed_lines_name_the_rule_and_field(
    codec: Codec, line: str, reason: R, field: str | None
) -> None:
    error = _error(codec, line)
    assert (error.reason, error.field) == (reason, field)
    assert error.detail


@pytest.mark.parametrize("field", ["account", "client_order_id", "symbol", "side", "quantity"])
def test_each_required_field_of_a_new_order(codec: Codec, field: str) -> None:
    error = _error(codec, _line(**{field: ...}))
    assert (error.reason, error.field) == (R.MISSING_FIELD, field)


# --- events out -----------------------------------------------------------------------------------


def test_every_event_type_has_a_wire_name() -> None:
    # by name: a slotted dataclass leaves its pre-slots twin among the subclasses
    classes = Event.__subclasses__() + ClearingEvent.__subclasses__()
    assert {kind.__name__ for kind in EVENT_TYPES} == {kind.__name__ for kind in classes}
    assert len(set(EVENT_TYPES.values())) == len(EVENT_TYPES)


def test_trade_event_as_json(codec: Codec) -> None:
    trade = TradeExecuted(T + 5, 1, "TKN2612", 2501, 3, 2, 1, "A", "B", "a1", "b1", Side.BUY)
    assert encode_event(trade, codec) == {
        "type": "trade", "ts": "2026-11-23T01:30:00.000005Z", "trade_id": 1,
        "symbol": "TKN2612", "price": "2.501", "quantity": 3, "buy_order_id": 2,
        "sell_order_id": 1, "buy_account": "A", "sell_account": "B",
        "buy_client_order_id": "a1", "sell_client_order_id": "b1", "aggressor": "buy",
    }  # fmt: skip


def test_money_times_and_missing_values_as_json(codec: Codec) -> None:
    assert encode_event(FundsDeposited(T, "A", 10005, 20010), codec) == {
        "type": "funds_deposited", "ts": TS, "account": "A", "amount": "100.05",
        "balance": "200.10",
    }  # fmt: skip
    phase = PhaseChanged(T, "GPU2612", Phase.PRE_OPEN, Phase.CONTINUOUS, "x", T + 120_000_000)
    assert encode_event(phase, codec)["reopen_at"] == "2026-11-23T01:32:00Z"
    auction = encode_event(AuctionUncrossed(T, "GPU2612", None, 0, 0), codec)
    assert auction["price"] is None
    assert encode_event(AuctionUncrossed(T, "GPU2612", 451, 1, 0), codec)["price"] == "2.255"


@pytest.mark.parametrize("text", [TS, "2026-11-23T01:30:00.000001Z", "1970-01-01T00:00:00Z"])
def test_timestamps_round_trip(text: str) -> None:
    assert format_ts(parse_ts(text)) == text
