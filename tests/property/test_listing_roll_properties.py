"""A roll in the middle of a random stream (``list_contract``) replays to the same state.

Seeded random command streams over the market of 2026-11-30 (TKN2611's last trading day):
members, accounts and deposits, then limit orders, amends and cancels in the listed months,
an end of day, and at a random place the listing of TKN2711, after which orders go to it too
(and, before it, orders naming it are refused as they are read). Properties:

- replaying the same lines into a fresh market gives the same events and the same state
  hash, and the new month is in the market's contracts and the codec's tick sizes exactly
  when its listing has run;
- a snapshot taken after any command, written as JSON and restored into a fresh market (which
  lists the month again from its catalog when the snapshot holds it), runs the rest of the
  stream to the same events and state hashes as the uninterrupted run.
"""

from __future__ import annotations

import json
import random
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenfutures.engine import snapshot
from tokenfutures.engine.codec import CommandError
from tokenfutures.engine.event_codec import encode_event
from tokenfutures.engine.market import Market, build_market
from tokenfutures.engine.timestamps import format_ts, parse_ts

ROLL_DAY = date(2026, 11, 30)
START = parse_ts("2026-11-30T08:00:00Z")  # 16:00 in Shanghai: TKN2711 may be listed
OLD = ("TKN2612", "TKN2701", "GPU2612")
NEW = "TKN2711"
ACCOUNTS = ("A", "B", "C", "D")


def stream(seed: int, count: int) -> tuple[list[str], int]:
    """The lines of one stream, and the index of its ``list_contract`` line."""
    chooser = random.Random(seed)
    step = iter(range(10**6))

    def line(**fields: Any) -> str:
        return json.dumps({"ts": format_ts(START + next(step) * 1_000), **fields})

    lines = [line(type="add_member", member="M")]
    for account in ACCOUNTS:
        lines.append(line(type="open_account", account=account, member="M"))
        lines.append(line(type="deposit", account=account, amount="500000.00"))
    listing_at = len(lines) + chooser.randrange(count)
    symbols = list(OLD)
    placed: list[tuple[str, str, str]] = []  # (account, client order id, symbol)
    for n in range(count):
        if len(lines) == listing_at:
            lines.append(line(type="list_contract", symbol=NEW, phase="continuous"))
            symbols.append(NEW)
        roll = chooser.randrange(12)
        if roll == 0 and placed:
            account, coid, symbol = chooser.choice(placed)
            lines.append(line(type="cancel_order", account=account, client_order_id=coid,
                              symbol=symbol))  # fmt: skip
        elif roll == 1 and placed:
            account, coid, symbol = chooser.choice(placed)
            lines.append(line(type="amend_order", account=account, client_order_id=coid,
                              symbol=symbol, quantity=chooser.randint(1, 6)))  # fmt: skip
        elif roll == 2 and n == count // 2:
            lines.append(line(type="end_of_day", date="2026-11-30"))
        else:
            symbol = NEW if roll == 3 else chooser.choice(symbols)  # NEW before it is listed too
            account, coid = chooser.choice(ACCOUNTS), f"o{n}"
            tick = "0.005" if symbol.startswith("GPU") else "0.001"
            price = str(2500 + chooser.randint(-20, 20) * (5 if tick == "0.005" else 1))
            lines.append(line(type="new_order", account=account, client_order_id=coid,
                              symbol=symbol, side=chooser.choice(("buy", "sell")),
                              quantity=chooser.randint(1, 6), price=f"{price[0]}.{price[1:]}",
                              time_in_force="GTC"))  # fmt: skip
            placed.append((account, coid, symbol))
    if listing_at >= len(lines):
        lines.append(line(type="list_contract", symbol=NEW, phase="continuous"))
        listing_at = len(lines) - 1
    return lines, listing_at


def apply(market: Market, text: str) -> list[dict[str, Any]]:
    """One line's events as JSON (a line that does not read gives its refusal's reason)."""
    try:
        command = market.codec.decode_line(text)
    except CommandError as error:
        return [{"type": "refused", "reason": error.reason.value}]
    return [encode_event(event, market.codec) for event in market.house.handle(command)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(10, 80))
def test_a_stream_with_a_roll_replays_to_the_same_state(seed: int, count: int) -> None:
    lines, listing_at = stream(seed, count)
    first, second = build_market(ROLL_DAY), build_market(ROLL_DAY)
    for index, text in enumerate(lines):
        assert apply(first, text) == apply(second, text), index
        assert first.house.state_hash() == second.house.state_hash()
        listed = index >= listing_at
        assert (NEW in {c.symbol for c in first.contracts}) is listed
        assert (NEW in first.codec.tick_sizes) is listed
    first.house.check_invariants()
    assert first.contracts == second.contracts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(10, 60), data=st.data())
def test_a_snapshot_before_or_after_the_roll_resumes_identically(
    seed: int, count: int, data: st.DataObject
) -> None:
    lines, listing_at = stream(seed, count)
    at = data.draw(st.integers(0, len(lines)), label="snapshot after")
    whole, first, restored = build_market(ROLL_DAY), build_market(ROLL_DAY), build_market(ROLL_DAY)
    expected = [apply(whole, text) for text in lines[:at]]
    assert [apply(first, text) for text in lines[:at]] == expected
    document = json.loads(json.dumps(snapshot.export_house(first.house)))
    assert (document["listings"] == [NEW]) is (at > listing_at)
    snapshot.restore_house(restored.house, document, restored.catalog)
    assert restored.house.state_hash() == whole.house.state_hash()
    assert restored.contracts == whole.contracts
    for text in lines[at:]:
        assert apply(restored, text) == apply(whole, text)
        assert restored.house.state_hash() == whole.house.state_hash()
    restored.house.check_invariants()
