"""Replaying a JSON Lines command file through the core, deterministically.

Each line is decoded, applied, and its events written out in order. A line that cannot
be read becomes a ``rejected`` event naming the line and the field; it changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tokenfutures.domain.events import CommandRejected, TradeExecuted
from tokenfutures.engine.codec import CommandError
from tokenfutures.engine.event_codec import encode_event
from tokenfutures.engine.market import Market, build_market, trading_date
from tokenfutures.engine.timestamps import parse_ts

EventSink = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class RunSummary:
    commands: int = 0
    events: int = 0
    trades: int = 0
    rejected: int = 0
    state_hash: str = ""
    books: dict[str, dict[str, list[list[Any]]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "commands": self.commands,
            "events": self.events,
            "trades": self.trades,
            "rejected": self.rejected,
            "state_hash": self.state_hash,
            "books": self.books,
        }


def first_command_date(lines: Sequence[str]) -> date | None:
    """The trading date of the first line with a readable ``ts``: the listing date of a run."""
    for line in lines:
        try:
            data = json.loads(line)
            return trading_date(parse_ts(data["ts"]))
        except (ValueError, KeyError, TypeError):
            continue
    return None


def run_lines(lines: Iterable[str], market: Market, sink: EventSink | None = None) -> RunSummary:
    summary = RunSummary()
    exchange, codec = market.exchange, market.codec
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        summary.commands += 1
        try:
            command = codec.decode_line(line)
        except CommandError as error:
            summary.events += 1
            summary.rejected += 1
            if sink is not None:
                sink(_invalid_line(number, line, error))
            continue
        for event in exchange.handle(command):
            summary.events += 1
            if type(event) is TradeExecuted:
                summary.trades += 1
            elif type(event) is CommandRejected:
                summary.rejected += 1
            if sink is not None:
                sink(encode_event(event, codec) | {"line": number})
    summary.state_hash = exchange.state_hash()
    for contract in market.contracts:
        bids, asks = exchange.depth(contract.symbol)
        summary.books[contract.symbol] = {
            "bids": [[codec.price_text(contract.symbol, p), q] for p, q in bids],
            "asks": [[codec.price_text(contract.symbol, p), q] for p, q in asks],
        }
    return summary


def run_file_lines(
    lines: Sequence[str], on: date | None = None, sink: EventSink | None = None
) -> RunSummary:
    """List the contracts of ``on`` (default: the first command's date) and replay ``lines``."""
    listing_date = on if on is not None else first_command_date(lines)
    if listing_date is None:
        raise ValueError("no command has a readable ts: give the listing date with --date")
    return run_lines(lines, build_market(listing_date), sink)


def _invalid_line(number: int, line: str, error: CommandError) -> dict[str, Any]:
    """The ``rejected`` event of a line that never became a command."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        data = {}

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    return {
        "type": "rejected",
        "ts": text("ts"),
        "command": text("type"),
        "reason": error.reason.value,
        "detail": error.detail,
        "account": text("account"),
        "client_order_id": text("client_order_id"),
        "symbol": text("symbol"),
        "field": error.field,
        "line": number,
    }
