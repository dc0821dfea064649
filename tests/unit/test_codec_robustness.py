"""Whatever a line holds, the codec answers with a command or a CommandError, nothing else."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenfutures.domain.commands import Command, NewOrder
from tokenfutures.domain.rejects import RejectReason
from tokenfutures.engine.codec import Codec, CommandError

CODEC = Codec({"TKN2612": Decimal("0.001")})
ORDER = {
    "type": "new_order", "ts": "2026-11-23T01:30:00Z", "account": "A",
    "client_order_id": "a1", "symbol": "TKN2612", "side": "buy", "price": "2.500",
    "quantity": 1,
}  # fmt: skip


def _reason(line: str) -> RejectReason:
    with pytest.raises(CommandError) as caught:
        CODEC.decode_line(line)
    return caught.value.reason


@pytest.mark.parametrize(
    "line",
    [
        '{"type": []}',
        '{"type": {}}',
        "[" * 100_000,
        '{"type":"new_order","quantity":' + "9" * 5000 + "}",
        json.dumps(ORDER) + " " * 5000,
    ],
    ids=["list-type", "object-type", "deep-nesting", "huge-integer", "long-line"],
)
def test_hostile_lines_are_refused_cleanly(line: str) -> None:
    assert _reason(line) in {
        RejectReason.MALFORMED_COMMAND,
        RejectReason.UNKNOWN_COMMAND,
        RejectReason.INVALID_FIELD,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("price", "2_500"),
        ("price", " 2.500"),
        ("price", "\u0662.500"),
        ("price", "1." + "0" * 40),
        ("price", "1e999999"),
        ("account", " A"),
        ("ts", "9999-12-31T23:59:59-05:00"),
        ("ts", "1969-12-31T23:59:59Z"),
    ],
)
def test_fields_outside_their_rules_are_invalid(field: str, value: str) -> None:
    assert _reason(json.dumps({**ORDER, field: value})) is RejectReason.INVALID_FIELD


def test_a_repeated_key_is_refused_not_overwritten() -> None:
    line = json.dumps(ORDER)[:-1] + ', "side": "sell"}'
    with pytest.raises(CommandError) as caught:
        CODEC.decode_line(line)
    assert (caught.value.reason, caught.value.field) == (RejectReason.INVALID_FIELD, "side")


def test_post_only_null_means_absent() -> None:
    command = CODEC.decode_line(json.dumps({**ORDER, "post_only": None}))
    assert getattr(command, "post_only") is False  # noqa: B009


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.sampled_from(["2.500", "buy", "new_order", "TKN2612", "GTC", "2026-11-23T01:30:00Z"]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*ORDER, "order_type", "time_in_force", "stop_price", "post_only", "x"]),
        JSON_VALUES,
        max_size=10,
    )
)
def test_any_json_object_decodes_or_is_refused(data: dict[str, object]) -> None:
    line = json.dumps({**ORDER, **data})
    assert isinstance(_decode(line), NewOrder | CommandError)


def _decode(line: str) -> Command | CommandError:
    """The command, or the refusal; any other exception fails the test."""
    try:
        return CODEC.decode_line(line)
    except CommandError as error:
        return error
