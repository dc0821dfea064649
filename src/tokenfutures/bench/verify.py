"""Checks that the engine did exactly the work the baseline did, so speed never comes from
skipping it: no rejection, the same trades command by command, the same final book, and an
event stream that hashes the same in every repetition."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from tokenfutures.bench.baseline import Trade
from tokenfutures.bench.measure import Depth
from tokenfutures.domain.events import CommandRejected, TradeExecuted


class VerificationError(Exception):
    """The engine's output differs between repetitions or from the baseline's."""


def event_hash(outputs: Sequence[Sequence[Any]]) -> str:
    """sha256 over ``repr()`` of every event, one per line, in order."""
    digest = hashlib.sha256()
    for events in outputs:
        for event in events:
            digest.update(repr(event).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def engine_trades(events: Sequence[Any]) -> list[Trade]:
    return [
        (e.price, e.quantity, e.buy_client_order_id, e.sell_client_order_id)
        for e in events
        if type(e) is TradeExecuted
    ]


def verify_run(
    commands: Sequence[Any],
    engine_outputs: Sequence[Sequence[Any]],
    baseline_outputs: Sequence[list[Trade]],
    depths: tuple[Depth, Depth],
) -> int:
    """Raise VerificationError unless the engine matched the baseline; return the trade count."""
    trades = 0
    pairs = zip(engine_outputs, baseline_outputs, strict=True)
    for index, (events, expected) in enumerate(pairs):
        rejected = [e for e in events if type(e) is CommandRejected]
        if rejected:
            raise VerificationError(
                f"the engine rejected command #{index} {commands[index]!r}: {rejected[0]!r}"
            )
        actual = engine_trades(events)
        if actual != expected:
            raise VerificationError(
                f"trades differ at command #{index} {commands[index]!r}:\n"
                f"  engine:   {actual}\n  baseline: {expected}"
            )
        trades += len(actual)
    engine_depth, baseline_depth = depths
    if engine_depth != baseline_depth:
        raise VerificationError(
            "the final books differ:\n"
            f"  engine best levels:   {engine_depth[0][:3]} / {engine_depth[1][:3]}\n"
            f"  baseline best levels: {baseline_depth[0][:3]} / {baseline_depth[1][:3]}"
        )
    return trades


class HashCheck:
    """The engine's event hash, which must be one and the same in every repetition."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value: str | None = None

    def check(self, outputs: Sequence[Sequence[Any]], repetition: int) -> None:
        digest = event_hash(outputs)
        if self.value is None:
            self.value = digest
        elif digest != self.value:
            raise VerificationError(
                f"the engine's event stream changed in repetition {repetition}: "
                f"sha256 {digest} instead of {self.value}"
            )
