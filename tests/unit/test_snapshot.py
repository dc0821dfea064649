"""Snapshots of the clearing house and its core (engine/snapshot*.py): export, restore, refuse.

Two scripted states, each exported after every one of its commands, written as JSON, read
back into a fresh clearing house and run on with the rest of the script next to the
original: the state hash right after restoring, and every event and state hash afterwards,
must be the original's.

- a clearing week: resting orders (two at one price, in time priority), a stop-limit order,
  a reduce-only order, positions, two ends of day with statements, a limit-locked close, a
  margin call, and the default that follows (liquidation, transfer to the clearing house);
- a circuit-breaker pause: a trade outside the band pauses the contract, an order arrives
  during the pause, and the next command after the pause reopens it with an auction;
- a roll: a month listed after the listing date (``list_contract``), traded, settled by an
  end of day, with orders resting in it; restoring lists it again from the market's catalog.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.clearing import DAY1, GPU, TERMS, TKN, TKN_NEXT, Clearing, px, usd
from tokenfutures.domain.clearing.commands import MarginCallDeadline
from tokenfutures.domain.clearing.house import AnyCommand
from tokenfutures.domain.commands import NewOrder
from tokenfutures.domain.values import OrderType, Phase, Side, TimeInForce
from tokenfutures.engine import snapshot
from tokenfutures.engine.market import build_market
from tokenfutures.engine.snapshot import SnapshotError


class Recording(Clearing):
    """The helper's ``Clearing`` that also keeps the commands it sent."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.commands: list[AnyCommand] = []

    def send(self, command: AnyCommand) -> list[Any]:
        self.commands.append(command)
        return super().send(command)


def stop_limit(c: Clearing, account: str, symbol: str, side: Side, stop: str, limit: str) -> None:
    c.send(
        NewOrder(c._ts(), account, f"{account}-stop", symbol, side, OrderType.STOP_LIMIT, 2,
                 price=px(limit), stop_price=px(stop), time_in_force=TimeInForce.GTC)
    )  # fmt: skip


def clearing_week() -> Recording:
    c = Recording()
    c.member("M1", usd("5,000"))
    c.member("M2", usd("8,000"))
    c.member("M3", usd("4,000"))
    c.house_capital(usd("10,000"))
    c.account("DF", "M1", cash=usd("250,000"))
    c.account("SELLER", "M2", cash=usd("300,000"))
    c.account("P", "M2", cash=usd("10,000"), group="G")
    c.account("Q", "M3", cash=usd("10,000"), group="G")
    c.account("BIDDER", "M3", cash=usd("300,000"))
    c.account("MM", "M3", cash=usd("1,000,000"), exempt=True)
    c.trade("DF", "SELLER", 100, "2.500")
    c.sell("MM", 5, "2.550", symbol=GPU)
    c.sell("SELLER", 1, "2.550", symbol=GPU)  # behind MM's offer at the same price
    c.buy("MM", 4, "2.450", symbol=GPU, coid="mm-bid")
    stop_limit(c, "P", TKN_NEXT, Side.BUY, "2.540", "2.560")
    c.end_of_day(DAY1)
    c.open_day(2)
    c.trade("P", "Q", 1, "2.300")
    c.buy("SELLER", 10, "2.300", reduce_only=True)  # SELLER is short 100
    c.end_of_day(DAY1 + timedelta(days=1))  # DF is called
    c.open_day(3)
    c.buy("BIDDER", 100, "2.116")
    c.deadline()  # DF cannot meet the call: liquidated, defaulted, the waterfall runs
    c.buy("Q", 2, "2.550", symbol=GPU, tif=TimeInForce.IOC)  # takes MM's offer first
    c.sell("MM", 2, "2.540", symbol=TKN_NEXT)
    c.buy("BIDDER", 2, "2.540", symbol=TKN_NEXT, tif=TimeInForce.IOC)  # elects P's stop
    c.cancel("MM", "mm-bid", GPU)
    c.end_of_day(DAY1 + timedelta(days=2))
    return c


def breaker_pause() -> Recording:
    c = Recording(circuit_breaker_bp=300)  # a band of 3 % of 2.500: 75 ticks
    c.account("MM", "M1", cash=usd("1,000,000"), exempt=True)
    c.account("T", "M1", cash=usd("200,000"))
    c.sell("MM", 5, "2.550")
    c.sell("MM", 5, "2.600")
    c.sell("MM", 5, "2.700")
    c.buy("MM", 3, "2.450")
    c.buy("MM", 2, "2.450")
    stop_limit(c, "T", TKN, Side.SELL, "2.440", "2.430")
    c.buy("T", 10, "2.600")  # prints 2.550 and 2.600: the band is now 2.525 - 2.625
    c.buy("T", 2, "2.700")  # outside the band: the contract pauses, the order waits
    c.sell("T", 1, "2.580")  # enters the auction book
    reopen_at = c.exchange.instruments[TKN].reopen_at
    assert reopen_at is not None
    c.at(reopen_at + 1)
    c.buy("MM", 1, "2.400")  # the pause is over: the auction reopens the contract first
    c.sell("MM", 4, "2.420", tif=TimeInForce.IOC)
    return c


def resume_at(make: Callable[[], Clearing], commands: list[AnyCommand], at: int) -> None:
    """Run ``commands`` whole, and again stopping at ``at`` for a snapshot restored into a
    fresh clearing house that runs the rest: the same state hashes and events, throughout."""
    whole, first, restored = make(), make(), make()
    for command in commands[:at]:
        whole.house.handle(command)
        first.house.handle(command)
    document = json.loads(json.dumps(snapshot.export_house(first.house)))
    snapshot.restore_house(restored.house, document)
    assert restored.house.state_hash() == whole.house.state_hash(), f"at {at}"
    restored.house.check_invariants()
    assert snapshot.export_house(restored.house) == document
    for offset, command in enumerate(commands[at:], start=at):
        expected = whole.house.handle(command)
        assert restored.house.handle(command) == expected, f"snapshot at {at}, command {offset}"
        assert restored.house.state_hash() == whole.house.state_hash()
    restored.house.check_invariants()


def test_a_snapshot_after_any_command_of_a_clearing_week_resumes_identically() -> None:
    script = clearing_week()
    happened = {type(event).__name__ for event in script.log}
    assert {"MarginCallIssued", "DefaultLossAllocated", "StopTriggered"} <= happened
    for at in range(len(script.commands) + 1):
        resume_at(Clearing, script.commands, at)


def test_a_snapshot_during_a_circuit_breaker_pause_resumes_identically() -> None:
    script = breaker_pause()
    assert script.exchange.instruments[TKN].phase is Phase.CONTINUOUS  # reopened at the end
    for at in range(len(script.commands) + 1):
        resume_at(lambda: Clearing(circuit_breaker_bp=300), script.commands, at)


ROLL_DAY = date(2026, 11, 30)  # TKN2611's last trading day: TKN2711 lists from the evening


def roll_lines() -> list[str]:
    """A market that lists TKN2711 mid-stream and trades it: orders rest in both months, the
    new month trades, an end of day settles it, orders rest in it over the snapshot."""

    def line(ts: str, **fields: Any) -> str:
        return json.dumps({"ts": ts, **fields})

    def order(ts: str, account: str, coid: str, symbol: str, side: str, price: str) -> str:
        return line(ts, type="new_order", account=account, client_order_id=coid, symbol=symbol,
                    side=side, quantity=3, price=price, time_in_force="GTC")  # fmt: skip

    evening, night = "2026-11-30T08:00:00Z", "2026-11-30T13:05:00Z"
    lines = [line(evening, type="add_member", member="M")]
    for account in ("A", "B", "C"):
        lines.append(line(evening, type="open_account", account=account, member="M"))
        lines.append(line(evening, type="deposit", account=account, amount="300000.00"))
    return [
        *lines,
        order(evening, "A", "a1", "TKN2612", "buy", "2.490"),
        line(evening, type="end_of_day", date="2026-11-30"),
        line(evening, type="list_contract", symbol="TKN2711", phase="continuous"),
        line(evening, type="set_reference_price", symbol="TKN2711", price="3.300"),
        order(night, "B", "b1", "TKN2711", "sell", "3.310"),
        order(night, "C", "c1", "TKN2711", "buy", "3.310"),
        order(night, "C", "c2", "TKN2711", "buy", "3.290"),
        line(
            night,
            type="amend_order",
            account="C",
            client_order_id="c2",
            symbol="TKN2711",
            quantity=2,
        ),  # fmt: skip
        line(night, type="list_contract", symbol="TKN2711"),  # refused: listed already
        order(night, "A", "a2", "TKN2711", "sell", "3.320"),
        line("2026-12-01T07:30:00Z", type="end_of_day", date="2026-12-01"),
        order("2026-12-02T01:30:00Z", "B", "b2", "TKN2711", "buy", "3.300"),
    ]


def test_a_snapshot_after_any_command_of_a_roll_lists_the_month_again() -> None:
    lines = roll_lines()
    whole = build_market(ROLL_DAY)
    for text in lines:
        whole.house.handle(whole.codec.decode_line(text))
    assert list(whole.house.listings) == ["TKN2711"]
    assert whole.house.positions.position("C", "TKN2711").quantity == 3
    for at in range(len(lines) + 1):
        first, restored, again = (build_market(ROLL_DAY) for _ in range(3))
        for text in lines[:at]:
            first.house.handle(first.codec.decode_line(text))
            again.house.handle(again.codec.decode_line(text))
        document = json.loads(json.dumps(snapshot.export_house(first.house)))
        snapshot.restore_house(restored.house, document, restored.catalog)
        assert restored.house.state_hash() == again.house.state_hash(), f"at {at}"
        restored.house.check_invariants()
        assert snapshot.export_house(restored.house) == document
        assert restored.contracts == again.contracts
        for offset, text in enumerate(lines[at:], start=at):
            expected = again.house.handle(again.codec.decode_line(text))
            assert restored.house.handle(restored.codec.decode_line(text)) == expected, offset
            assert restored.house.state_hash() == again.house.state_hash()
        assert restored.house.state_hash() == whole.house.state_hash()


def test_restoring_a_state_without_the_roll_takes_the_listed_months_out() -> None:
    before, rolled = build_market(ROLL_DAY), build_market(ROLL_DAY)
    for text in roll_lines():
        rolled.house.handle(rolled.codec.decode_line(text))
    assert "TKN2711" in rolled.codec.tick_sizes
    snapshot.restore_house(rolled.house, snapshot.export_house(before.house), rolled.catalog)
    assert rolled.house.state_hash() == before.house.state_hash()
    assert rolled.contracts == before.contracts
    assert "TKN2711" not in rolled.codec.tick_sizes
    assert "TKN2711" not in rolled.exchange.instruments


def test_a_roll_is_refused_by_a_market_that_lists_nothing_later() -> None:
    rolled = build_market(ROLL_DAY)
    for text in roll_lines():
        rolled.house.handle(rolled.codec.decode_line(text))
    document = json.loads(json.dumps(snapshot.export_house(rolled.house)))
    with pytest.raises(SnapshotError, match="lists none"):
        snapshot.restore_house(build_market(ROLL_DAY).house, document)
    document["listings"] = ["TKN2713"]
    with pytest.raises(SnapshotError, match="listings: symbol"):
        snapshot.restore_house(build_market(ROLL_DAY).house, document, rolled.catalog)


def state_after(script: Recording, count: int, make: Callable[[], Clearing]) -> Clearing:
    c = make()
    for command in script.commands[:count]:
        c.house.handle(command)
    return c


def test_the_document_holds_books_in_time_priority_stops_and_the_paused_breaker() -> None:
    script = breaker_pause()
    paused = state_after(script, len(script.commands) - 2, lambda: Clearing(circuit_breaker_bp=300))
    inst = snapshot.export_house(paused.house)["exchange"]["instruments"][TKN]
    assert inst["phase"] == "pre_open"
    assert inst["reopen_at"] == paused.exchange.instruments[TKN].reopen_at
    assert inst["breaker"]["band"] == 75
    assert [p for _, p in inst["breaker"]["lows"]] == [2550, 2600]
    assert [(o[1], o[5], o[9]) for o in inst["bids"]] == [("T", 2700, 2), ("MM", 2450, 3),
                                                          ("MM", 2450, 2)]  # fmt: skip
    assert [(o[1], o[5], o[9]) for o in inst["asks"]] == [("T", 2580, 1), ("MM", 2700, 5)]
    assert [(o[1], o[6], o[13]) for o in inst["stops"]] == [("T", 2440, False)]


def test_the_document_holds_positions_statements_calls_and_the_default() -> None:
    script = clearing_week()
    deadline = next(i for i, c in enumerate(script.commands) if type(c) is MarginCallDeadline)
    clearing = snapshot.export_house(state_after(script, deadline, Clearing).house)["clearing"]
    assert [row[1] for row in clearing["margin_calls"]] == ["DF"]
    assert [account for _, account in clearing["reduce_only"]] == ["SELLER"]
    assert clearing["last_end_of_day"] == "2026-11-24"
    assert len(clearing["statements"]) == 12  # six accounts, two days
    after = snapshot.export_house(script.house)["clearing"]
    statuses = {row[0]: row[4] for row in after["accounts"]["accounts"]}
    assert statuses["DF"] == "defaulted"
    held = {row[0]: sum(lot[0] for lot in row[1]) for row in after["positions"][TKN]}
    assert {a: q for a, q in held.items() if q} == {"BIDDER": 90, "P": 1, "Q": -1, "SELLER": -90}


def leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def test_the_document_is_plain_json_with_integers_for_every_amount() -> None:
    document = snapshot.export_house(clearing_week().house)
    found = {type(leaf) for leaf in leaves(document)}
    assert found <= {int, str, bool, type(None)}
    assert json.loads(json.dumps(document)) == document
    assert snapshot.decode(snapshot.encode(document)) == document


def test_restoring_an_empty_house_replaces_everything() -> None:
    busy = clearing_week()
    empty = Clearing()
    snapshot.restore_house(busy.house, snapshot.export_house(empty.house))
    assert busy.house.state_hash() == empty.house.state_hash()
    assert snapshot.export_house(busy.house) == snapshot.export_house(empty.house)


def test_a_market_with_other_terms_is_refused() -> None:
    document = snapshot.export_house(clearing_week().house)
    other = Clearing(terms=[replace(t, fee_per_lot=1) for t in TERMS])
    with pytest.raises(SnapshotError, match="other contracts or terms"):
        snapshot.restore_house(other.house, document)


def first_order(document: dict[str, Any]) -> list[Any]:
    rows: list[Any] = document["exchange"]["instruments"][GPU]["asks"]
    return rows[0]


def _quantity_as_text(d: dict[str, Any]) -> None:
    first_order(d)[7] = "5"


def _unknown_side(d: dict[str, Any]) -> None:
    first_order(d)[3] = "sideways"


def _unregistered(d: dict[str, Any]) -> None:
    d["exchange"]["registry"]["live"] = []


def _twice(d: dict[str, Any]) -> None:
    asks = d["exchange"]["instruments"][GPU]["asks"]
    asks.append(list(asks[0]))


def _no_ledger(d: dict[str, Any]) -> None:
    del d["clearing"]["ledger"]


def _bad_date(d: dict[str, Any]) -> None:
    d["clearing"]["last_end_of_day"] = "yesterday"


def _short_row(d: dict[str, Any]) -> None:
    d["clearing"]["ledger"]["postings"][0] = [0, 1]


@pytest.mark.parametrize(
    "damage",
    [_quantity_as_text, _unknown_side, _unregistered, _twice, _no_ledger, _bad_date, _short_row],
)
def test_a_damaged_document_is_refused(damage: Callable[[dict[str, Any]], None]) -> None:
    document = json.loads(json.dumps(snapshot.export_house(clearing_week().house)))
    damage(document)
    with pytest.raises(SnapshotError):
        snapshot.restore_house(Clearing().house, document)


def test_a_damaged_body_or_another_format_is_refused() -> None:
    body = snapshot.encode({"format": snapshot.FORMAT})
    with pytest.raises(SnapshotError, match="unreadable"):
        snapshot.decode(body[:-3] + b"abc")
    with pytest.raises(SnapshotError, match="not a tokenfutures snapshot"):
        snapshot.read_document({"format": "other"})
    with pytest.raises(SnapshotError, match="version 2"):
        snapshot.read_document({"format": snapshot.FORMAT, "version": 2})
    with pytest.raises(SnapshotError, match="no 'seq'"):
        snapshot.read_document({"format": snapshot.FORMAT, "version": 1, "house": {}, "parts": {}})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=9) | st.dictionaries(st.text(max_size=3), inner, max_size=9)
    ),
    max_leaves=60,
)


@settings(max_examples=200, deadline=None)
@given(value=json_values, rows=st.integers(min_value=1, max_value=4))
def test_the_document_is_written_in_pieces_that_make_its_json(value: Any, rows: int) -> None:
    pieces = list(snapshot.json_chunks(value, rows))
    assert "".join(pieces) == json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def test_the_collector_is_paused_only_while_a_state_is_copied() -> None:
    assert gc.isenabled()
    with snapshot.collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with snapshot.collector_paused():
            pass
        assert not gc.isenabled()  # left as it was
    finally:
        gc.enable()
