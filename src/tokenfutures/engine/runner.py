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
from tokenfutures.engine.event_codec import encode_event, refusal_json
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
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    money_conserved: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {
            "commands": self.commands,
            "events": self.events,
            "trades": self.trades,
            "rejected": self.rejected,
            "state_hash": self.state_hash,
            "books": self.books,
            "accounts": self.accounts,
            "money_conserved": self.money_conserved,
        }


def first_command_date(lines: Sequence[str]) -> date | None:
    """The trading date of the first line with a readable ``ts``: the listing date of a run."""
    for line in lines:
        try:
            data = json.loads(line)
            return trading_date(parse_ts(data["ts"]))
        except (ValueError, KeyError, TypeError, RecursionError):
            continue  # not JSON, absurdly nested, huge numbers, no readable ts
    return None


def run_lines(lines: Iterable[str], market: Market, sink: EventSink | None = None) -> RunSummary:
    summary = RunSummary()
    exchange, codec, house = market.exchange, market.codec, market.house
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
        for event in house.handle(command):
            summary.events += 1
            if type(event) is TradeExecuted:
                summary.trades += 1
            elif type(event) is CommandRejected:
                summary.rejected += 1
            if sink is not None:
                sink(encode_event(event, codec) | {"line": number})
    summary.state_hash = house.state_hash()
    summary.accounts = account_summaries(market)
    summary.money_conserved = house.money_conserved()
    for contract in market.contracts:
        bids, asks = exchange.depth(contract.symbol)
        summary.books[contract.symbol] = {
            "bids": [[codec.price_text(contract.symbol, p), q] for p, q in bids],
            "asks": [[codec.price_text(contract.symbol, p), q] for p, q in asks],
        }
    return summary


def account_summaries(market: Market) -> dict[str, dict[str, Any]]:
    """Per account: cash, net positions, margin (positions and working orders), equity."""
    house, codec = market.house, market.codec
    found: dict[str, dict[str, Any]] = {}
    for account in house.cash_owners():
        required = house.requirement(account)
        found[account] = {
            "cash": codec.money_text(house.ledger.cash(account)),
            "positions": {p.symbol: p.quantity for p in house.positions.positions_of(account)},
            "initial_margin": codec.money_text(required.initial),
            "maintenance_margin": codec.money_text(required.maintenance),
            "equity": codec.money_text(house.equity(account)),
        }
    return found


def market_for(lines: Sequence[str], on: date | None = None, *, risk: bool = True) -> Market:
    """The market of ``on`` (default: the first command's trading date)."""
    listing_date = on if on is not None else first_command_date(lines)
    if listing_date is None:
        raise ValueError("no command has a readable ts: give the listing date with --date")
    return build_market(listing_date, risk=risk)


def run_file_lines(
    lines: Sequence[str],
    on: date | None = None,
    sink: EventSink | None = None,
    *,
    risk: bool = True,
) -> RunSummary:
    """List the contracts of ``on`` (default: the first command's date) and replay ``lines``."""
    return run_lines(lines, market_for(lines, on, risk=risk), sink)


def _invalid_line(number: int, line: str, error: CommandError) -> dict[str, Any]:
    """The ``rejected`` event of a line that never became a command."""
    try:
        data = json.loads(line)
    except (ValueError, RecursionError):  # not JSON, absurd nesting, integers too long
        data = None
    if not isinstance(data, dict):
        data = {}
    return refusal_json(data, error) | {"line": number}
