"""What ``serve --demo`` sets up on a real sequencer and journal: reference prices for fresh
contracts only, the demo's accounts once, keys found again, and the day's fixings published."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

from tokenfutures.adapters.fixing_journal import FixingJournal
from tokenfutures.demo.roster import BOTS, DEMO_MEMBER, TRADER_ACCOUNT
from tokenfutures.demo.session import (
    DemoSession,
    account_commands,
    demo_fixings,
    fresh_reference_prices,
    key_of,
    reopen_commands,
)
from tokenfutures.service.journal import SqliteJournal
from tokenfutures.service.keys import KeyStore
from tokenfutures.service.sequencer import Sequencer, market_for_journal

MONDAY = date(2026, 11, 23)
FIXINGS: dict[str, int | None] = {"TKN": 3_308_331, "GPU-H100": 2_457_100, "TKN-OPEN": 687_039}


def _open(path: Path) -> Sequencer:
    journal = SqliteJournal(path)
    sequencer = Sequencer(journal, market_for_journal(journal, MONDAY))
    sequencer.recover()
    return sequencer


def _send(sequencer: Sequencer, commands: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    async def run() -> list[list[dict[str, Any]]]:
        sequencer.start()
        try:
            return [(await sequencer.submit(command)).events for command in commands]
        finally:
            await sequencer.stop()

    return asyncio.run(run())


def test_fresh_contracts_get_the_index_implied_price_of_their_month_once(tmp_path: Path) -> None:
    sequencer = _open(tmp_path / "demo.db")
    commands = fresh_reference_prices(sequencer, FIXINGS)
    prices = {c["symbol"]: c["price"] for c in commands}
    assert len(prices) == 24
    assert prices["TKN2611"] == "3.308"  # the front month: the index on the tick grid
    assert prices["TKN2705"] == "3.209"  # six months out: 3.308331 x 0.97
    assert prices["GPU2612"] == "2.455"  # 2.4571 to the 0.005 grid
    assert prices["GPU2711"] == "2.390"  # eleven months out: 2.4571 x 0.9725 = 2.3895
    events = _send(sequencer, commands)
    assert all(e[0]["type"] == "reference_price_set" for e in events)
    assert fresh_reference_prices(sequencer, FIXINGS) == []
    sequencer.journal.close()
    rerun = _open(tmp_path / "demo.db")  # a rerun on the journal: nothing is reset
    assert fresh_reference_prices(rerun, {"TKN": 4_000_000, "GPU-H100": 3_000_000}) == []
    rerun.journal.close()


def test_a_contract_that_has_traded_keeps_its_price(tmp_path: Path) -> None:
    sequencer = _open(tmp_path / "demo.db")
    order = {"type": "new_order", "symbol": "TKN2612", "quantity": 1, "price": "2.500"}
    _send(
        sequencer,
        [
            {"type": "add_member", "member": "M"},
            {"type": "open_account", "account": "A", "member": "M"},
            {"type": "open_account", "account": "B", "member": "M"},
            {"type": "deposit", "account": "A", "amount": "100000.00"},
            {"type": "deposit", "account": "B", "amount": "100000.00"},
            order | {"account": "A", "client_order_id": "a", "side": "buy"},
            order | {"account": "B", "client_order_id": "b", "side": "sell"},
        ],
    )
    symbols = {c["symbol"] for c in fresh_reference_prices(sequencer, FIXINGS)}
    assert "TKN2612" not in symbols
    assert "TKN2611" in symbols
    assert fresh_reference_prices(sequencer, {}) == []  # no fixings: nothing to set
    sequencer.journal.close()


def test_the_demo_accounts_are_opened_and_funded_once(tmp_path: Path) -> None:
    sequencer = _open(tmp_path / "demo.db")
    groups = account_commands(sequencer)
    assert groups[0] == [{"type": "add_member", "member": DEMO_MEMBER}]
    events = _send(sequencer, [command for group in groups for command in group])
    assert not [e for each in events for e in each if e["type"] == "rejected"]
    assert account_commands(sequencer) == []
    house = sequencer.house
    for bot in BOTS:
        assert house.accounts.accounts[bot.name].opening_cap_exempt
        assert house.ledger.cash(bot.name) == int(bot.deposit.replace(".", ""))
    assert not house.accounts.accounts[TRADER_ACCOUNT].opening_cap_exempt
    assert house.ledger.cash(TRADER_ACCOUNT) == 100_000_000  # USD 1,000,000.00
    sequencer.journal.close()


def test_keys_are_found_again_by_account_and_scopes(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "demo.db")
    try:
        first = key_of(keys, "mm-1", frozenset({"read", "trade"}))
        again = key_of(keys, "mm-1", frozenset({"read", "trade"}))
        admin = key_of(keys, "mm-1", frozenset({"read", "admin"}))
        assert (again.key, again.secret) == (first.key, first.secret)
        assert admin.key != first.key
        assert admin.scopes == frozenset({"read", "admin"})
        assert len(keys.list("mm-1")) == 2
    finally:
        keys.close()


def test_the_day_s_fixings_are_computed_published_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "demo-fixings.jsonl"
    found = demo_fixings(path, date(2026, 11, 21))
    assert found is not None
    day, values = found
    assert day == date(2026, 11, 21)
    assert values["TKN"] == 3_308_331
    assert values["GPU-H100"] == 2_457_100
    published = FixingJournal(path).latest("TKN", "2026-11-21")
    assert published is not None
    assert published["value"] == "3.308331"
    lines = path.read_text().count("\n")
    assert demo_fixings(path, date(2026, 11, 21)) == found
    assert path.read_text().count("\n") == lines  # read back, not published again


def test_the_demo_opens_the_next_session_after_an_end_of_day(tmp_path: Path) -> None:
    sequencer = _open(tmp_path / "demo.db")
    session = DemoSession(sequencer, KeyStore(tmp_path / "keys.db"), tmp_path / "f.jsonl", MONDAY)
    session.reopen_after_s = 0.05
    session.watch_end_of_day()
    halted = "TKN2612"

    async def run() -> dict[str, str]:
        sequencer.start()
        try:
            await sequencer.submit({"type": "set_phase", "symbol": halted, "phase": "halted"})
            await sequencer.submit({"type": "end_of_day", "date": MONDAY.isoformat()})
            closed = {s: i.phase.value for s, i in sequencer.house.exchange.instruments.items()}
            assert set(closed.values()) == {"closed"}  # the end of day closes every contract
            await asyncio.sleep(0.5)
            return {s: i.phase.value for s, i in sequencer.house.exchange.instruments.items()}
        finally:
            await sequencer.stop()

    phases = asyncio.run(run())
    assert reopen_commands(sequencer.house) == []
    assert set(phases.values()) == {"continuous"}  # the halt ended with the day too
