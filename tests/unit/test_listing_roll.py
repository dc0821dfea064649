"""Listing a contract month on a running exchange (``list_contract``): the contract worked out
from the products file and the trading calendar, the market growing with it, each refusal
and its reason, replay, the state hash, and ``roll_listings`` for an exchange without the
daily cycle.

TKN2611's last trading day is 2026-11-30: that day TKN2611..TKN2710 are listed, and from
2026-12-01 (the next business day) TKN2612..TKN2711."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tokenfutures.domain.clearing.commands import ListContract
from tokenfutures.domain.clearing.events import ContractListed
from tokenfutures.domain.clearing.terms import contract_terms
from tokenfutures.domain.listing import contract_month, to_instrument_rules
from tokenfutures.domain.values import Phase
from tokenfutures.engine.codec import Codec, CommandError
from tokenfutures.engine.market import Market, build_market
from tokenfutures.engine.runner import RunSummary, run_lines
from tokenfutures.service.daily_cycle import roll_listings
from tokenfutures.service.journal import SqliteJournal
from tokenfutures.service.sequencer import Outcome, Sequencer, market_for_journal

LAST_DAY = date(2026, 11, 30)  # TKN2611's last trading day
EVENING = "2026-11-30T08:00:00Z"  # 16:00 in Shanghai, after the day's close


def line(ts: str = EVENING, **fields: Any) -> str:
    return json.dumps({"ts": ts, **fields})


def listing(symbol: str = "TKN2711", ts: str = EVENING, **fields: Any) -> str:
    return line(ts, type="list_contract", symbol=symbol, **fields)


def run(lines: list[str], on: date = LAST_DAY) -> tuple[Market, list[dict[str, Any]], RunSummary]:
    market = build_market(on)
    events: list[dict[str, Any]] = []
    summary = run_lines(lines, market, events.append)
    market.house.check_invariants()
    return market, events, summary


def accounts(ts: str) -> list[str]:
    lines = [line(ts, type="add_member", member="M")]
    for account in ("A", "B"):
        lines.append(line(ts, type="open_account", account=account, member="M"))
        lines.append(line(ts, type="deposit", account=account, amount="200000.00"))
    return lines


def order(ts: str, account: str, side: str, price: str, symbol: str = "TKN2711") -> str:
    return line(ts, type="new_order", account=account, client_order_id=f"{account}{price}",
                symbol=symbol, side=side, quantity=2, price=price, time_in_force="GTC")  # fmt: skip


# --- the command ---------------------------------------------------------------------------------


def test_a_month_is_listed_with_the_rules_of_its_product_and_calendar() -> None:
    market, events, _ = run([listing()])
    assert events == [
        {
            "type": "contract_listed",
            "ts": EVENING,
            "symbol": "TKN2711",
            "product": "TKN",
            "first_trading_day": "2026-12-01",
            "last_trading_day": "2027-11-30",
            "phase": "closed",
            "price": "2.500",  # the product's reference price
            "lower_limit": "2.300",
            "upper_limit": "2.700",
            "line": 1,
        }
    ]
    catalog = market.catalog
    assert catalog is not None
    expected = contract_month(catalog.products["TKN"], catalog.calendar, 2027, 11)
    house = market.house
    assert house.listings == {"TKN2711": expected}
    assert house.terms["TKN2711"] == contract_terms(expected)
    assert house.exchange.instruments["TKN2711"].rules == to_instrument_rules(expected)
    assert house.exchange.instruments["TKN2711"].phase is Phase.CLOSED
    assert house.settlement_prices["TKN2711"] == 2500
    assert house.day.listed == ["TKN2711"]
    # the market and the codec grow with it
    symbols = [c.symbol for c in market.contracts]
    assert symbols == sorted(symbols, key=lambda s: (s[:3], s[3:]))
    assert symbols[-1] == "TKN2711"
    assert len(symbols) == len(market.first) + 1
    assert "TKN2711" in market.codec.tick_sizes
    assert market.codec.tick_sizes["TKN2711"] == Decimal("0.001")
    assert list(market.codec.tick_sizes)[-1] == "TKN2711"
    assert len(market.codec.tick_sizes) == len(symbols)


def test_a_listed_month_trades_settles_and_shows_in_the_books() -> None:
    morning = "2026-12-01T01:30:00Z"  # 09:30 in Shanghai, its first trading day
    lines = [
        listing(phase="continuous"),
        *accounts(EVENING),
        order(morning, "A", "buy", "2.510"),
        order(morning, "B", "sell", "2.505"),
        line("2026-12-01T07:30:00Z", type="end_of_day", date="2026-12-01"),
    ]
    market, events, summary = run(lines)
    assert not [e for e in events if e["type"] == "rejected"]
    trades = [(e["symbol"], e["price"], e["quantity"]) for e in events if e["type"] == "trade"]
    assert trades == [("TKN2711", "2.510", 2)]
    settled = {e["symbol"]: e for e in events if e["type"] == "settlement_price"}
    assert (settled["TKN2711"]["price"], settled["TKN2711"]["method"]) == ("2.510", "vwap_day")
    assert summary.books["TKN2711"] == {"bids": [], "asks": []}
    assert summary.accounts["A"]["positions"] == {"TKN2711": 2}
    assert market.house.day.listed == []  # settled by the end of day


@pytest.mark.parametrize(
    ("symbol", "reason", "detail"),
    [
        ("TKN27", "invalid_field", "'TKN27' is not a contract symbol such as TKN2612"),
        ("tkn2711", "invalid_field", "is not a contract symbol"),
        ("TKN2713", "invalid_field", "is not a contract symbol"),  # month 13
        ("XYZ2711", "invalid_field", "XYZ2711: no product XYZ (GPU, TKN)"),
        (
            "TKN2712",  # thirteen months ahead
            "unknown_symbol",
            "TKN2712 is not listed on 2026-11-30 nor on the next business day 2026-12-01, "
            "when TKN lists TKN2612 to TKN2711",
        ),
        ("TKN2610", "unknown_symbol", "TKN2610 is not listed on 2026-11-30"),  # expired
        ("GPU2712", "unknown_symbol", "GPU lists GPU2612 to GPU2711"),
        ("TKN2611", "already_exists", "TKN2611 is listed already"),
    ],
)
def test_each_refusal_names_its_reason_and_changes_nothing(
    symbol: str, reason: str, detail: str
) -> None:
    untouched, _, before = run([])
    market, events, after = run([listing(symbol)])
    assert [(e["type"], e["reason"], e["field"], e["symbol"]) for e in events] == [
        ("rejected", reason, "symbol", symbol)
    ]
    assert detail in events[0]["detail"]
    assert after.state_hash == before.state_hash
    assert market.contracts == untouched.contracts
    assert market.house.listings == {}


def test_a_finally_settled_contract_is_not_listed_again() -> None:
    lines = [
        line(type="end_of_day", date="2026-11-30"),
        line(type="final_settlement", symbol="TKN2611", price="3.300"),
        listing("TKN2611"),
    ]
    market, events, _ = run(lines)
    assert events[-1]["type"] == "rejected"
    assert (events[-1]["reason"], events[-1]["detail"]) == (
        "already_exists",
        "TKN2611 has been finally settled",
    )
    assert "TKN2611" in market.house.delisted


def test_the_phase_is_the_command_s_and_must_be_a_phase() -> None:
    market, events, _ = run([listing(phase="pre_open"), listing("GPU2711", phase="lunch")])
    assert events[0]["phase"] == "pre_open"
    assert market.house.exchange.instruments["TKN2711"].phase is Phase.PRE_OPEN
    assert (events[1]["reason"], events[1]["field"]) == ("invalid_field", "phase")


@pytest.mark.parametrize(
    ("ts", "listed"),
    [
        ("2026-11-27T08:00:00Z", False),  # Friday: the next business day is 11-30, TKN2611's last
        ("2026-11-29T08:00:00Z", False),  # Sunday: the next business day is 11-30 too
        ("2026-11-30T00:00:00Z", True),  # 08:00 on 11-30: the next business day lists it
        ("2026-12-01T01:00:00Z", True),  # its first trading day
        ("2027-11-30T01:00:00Z", True),  # its last
        ("2027-12-01T01:00:00Z", False),  # expired
    ],
)
def test_the_month_must_be_listed_on_the_command_s_trading_day(ts: str, listed: bool) -> None:
    _, events, _ = run([listing(ts=ts)], on=date(2026, 11, 23))
    assert (events[0]["type"] == "contract_listed") is listed, events[0]


def test_replaying_the_same_lines_gives_the_same_state() -> None:
    morning = "2026-12-01T01:30:00Z"
    lines = [
        *accounts(EVENING),
        order(EVENING, "A", "buy", "2.490", symbol="TKN2612"),
        listing(phase="continuous"),
        order(morning, "A", "buy", "2.510"),
        order(morning, "B", "sell", "2.500"),
        listing(),  # refused: listed already
    ]
    first, first_events, first_summary = run(lines)
    second, second_events, second_summary = run(lines)
    assert first_events == second_events
    assert first_summary.state_hash == second_summary.state_hash
    without = [entry for entry in lines if "list_contract" not in entry]
    _, _, unlisted = run(without)
    assert unlisted.state_hash != first_summary.state_hash


def test_the_state_hash_covers_what_was_listed_and_how() -> None:
    phases = ("closed", "continuous", "halted")
    hashes = {run([listing(phase=phase)])[2].state_hash for phase in phases}
    hashes.add(run([])[2].state_hash)
    assert len(hashes) == 4


def test_the_core_adds_an_instrument_once() -> None:
    market = build_market(LAST_DAY)
    exchange = market.exchange
    before = exchange.state_hash()
    rules = exchange.instruments["TKN2612"].rules
    with pytest.raises(ValueError, match="listed twice"):
        exchange.add_instrument(rules, Phase.CLOSED)
    assert exchange.state_hash() == before
    catalog = market.catalog
    assert catalog is not None
    added = exchange.add_instrument(to_instrument_rules(catalog.contract("TKN2711")), Phase.CLOSED)
    assert exchange.instruments["TKN2711"] is added
    assert exchange.state_hash() != before
    exchange.check_invariants()


def test_a_command_carries_one_contract_s_rules_and_terms() -> None:
    market = build_market(LAST_DAY)
    assert market.catalog is not None
    contract = market.catalog.contract("TKN2711")
    other = market.catalog.contract("TKN2710")
    with pytest.raises(ValueError, match="another contract's"):
        ListContract(0, contract, to_instrument_rules(other), contract_terms(contract))


def test_a_house_without_the_product_s_margin_refuses_the_listing() -> None:
    market = build_market(LAST_DAY)
    assert market.catalog is not None
    contract = market.catalog.contract("TKN2711")
    command = ListContract(1, contract, to_instrument_rules(contract), contract_terms(contract))
    del market.house.margin_parameters["TKN"]
    [rejected] = market.house.handle(command)
    assert (rejected.reason.value, rejected.field) == ("invalid_field", "symbol")
    assert "no margin parameters for product TKN" in rejected.detail
    accepted = build_market(LAST_DAY).house.handle(command)
    assert [type(e) for e in accepted] == [ContractListed]


def test_a_codec_without_a_catalog_lists_nothing() -> None:
    codec = Codec({"TKN2612": Decimal("0.001")})
    with pytest.raises(CommandError) as caught:
        codec.decode_line(listing())
    assert (caught.value.reason.value, caught.value.field) == ("unknown_symbol", "symbol")


# --- through the sequencer ---------------------------------------------------------------------


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.now = int(moment.timestamp()) * 1_000_000_000

    def __call__(self) -> int:
        self.now += 1_000_000
        return self.now


EVENING_NS = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def open_sequencer(path: Path, listing_day: date = date(2026, 11, 23)) -> Sequencer:
    journal = SqliteJournal(path)
    return Sequencer(journal, market_for_journal(journal, listing_day), clock=Clock(EVENING_NS))


def submit_all(sequencer: Sequencer, commands: list[dict[str, Any]], *, together: bool = False
               ) -> list[Outcome]:  # fmt: skip
    async def go() -> list[Outcome]:
        sequencer.start()
        try:
            if together:
                return list(await asyncio.gather(*(sequencer.submit(c) for c in commands)))
            return [await sequencer.submit(c) for c in commands]
        finally:
            await sequencer.stop()

    return asyncio.run(go())


def test_the_sequencer_journals_listings_and_a_replay_lists_them_again(tmp_path: Path) -> None:
    live = open_sequencer(tmp_path / "x.db")
    trade = {"type": "new_order", "symbol": "TKN2711", "quantity": 1, "price": "2.500",
             "time_in_force": "GTC"}  # fmt: skip
    outcomes = submit_all(
        live,
        [
            {"type": "add_member", "member": "M"},
            {"type": "open_account", "account": "A", "member": "M"},
            {"type": "deposit", "account": "A", "amount": "100000.00"},
            {"type": "list_contract", "symbol": "TKN2711", "phase": "continuous"},
            {"type": "list_contract", "symbol": "TKN2711"},
            {"type": "list_contract", "symbol": "TKN2712"},
            trade | {"account": "A", "client_order_id": "a", "side": "buy"},
        ],
    )
    listed, again, too_far, placed = outcomes[3:]
    assert listed.seq == 4
    assert listed.events[0]["type"] == "contract_listed"
    assert again.rejected is not None
    assert (again.seq, again.rejected["reason"]) == (5, "already_exists")  # journaled
    assert too_far.rejected is not None
    assert (too_far.seq, too_far.rejected["reason"]) == (None, "unknown_symbol")  # not journaled
    assert placed.events[0]["type"] == "order_accepted"
    assert "TKN2711" in {c.symbol for c in live.market.contracts}
    state_hash = live.house.state_hash()
    live.journal.close()
    journal = SqliteJournal(tmp_path / "x.db", writer=False)
    replayed = Sequencer(journal, market_for_journal(journal, date(2027, 3, 1)))
    assert replayed.recover() == 6
    assert replayed.house.state_hash() == state_hash
    assert replayed.market.contracts == live.market.contracts
    journal.close()


def test_an_order_read_before_its_contract_is_listed_is_refused_and_never_journaled(
    tmp_path: Path,
) -> None:
    live = open_sequencer(tmp_path / "x.db")
    order = {"type": "new_order", "account": "A", "client_order_id": "early",
             "symbol": "TKN2711", "side": "buy", "quantity": 1, "price": "2.500"}  # fmt: skip
    listed, early = submit_all(
        live, [{"type": "list_contract", "symbol": "TKN2711"}, order], together=True
    )
    assert listed.events[0]["type"] == "contract_listed"
    assert early.rejected is not None
    # read in the same batch as the listing, before it was applied: refused as it was read
    assert (early.seq, early.rejected["reason"]) == (None, "unknown_symbol")
    state_hash = live.house.state_hash()
    live.journal.close()
    journal = SqliteJournal(tmp_path / "x.db", writer=False)
    replayed = Sequencer(journal, market_for_journal(journal, LAST_DAY))
    assert replayed.recover() == 1
    assert replayed.house.state_hash() == state_hash
    journal.close()


def test_roll_listings_lists_the_months_an_exchange_without_the_cycle_lacks(
    tmp_path: Path,
) -> None:
    live = open_sequencer(tmp_path / "x.db")  # listed on 2026-11-23, TKN2611..TKN2710

    async def go() -> tuple[list[Outcome], list[Outcome]]:
        live.start()
        try:
            first = await roll_listings(live, date(2026, 12, 1))
            return first, await roll_listings(live, date(2026, 12, 1))
        finally:
            await live.stop()

    first, second = asyncio.run(go())
    assert [(o.events[0]["symbol"], o.events[0]["phase"]) for o in first] == [
        ("TKN2711", "continuous")
    ]
    assert second == []  # nothing is listed twice
    assert live.house.exchange.instruments["TKN2711"].phase is Phase.CONTINUOUS
    live.journal.close()


def test_a_listed_month_s_book_can_be_streamed_at_once(tmp_path: Path) -> None:
    from tokenfutures.service.market_data import MarketData

    sequencer = open_sequencer(tmp_path / "x.db")
    data = MarketData(sequencer)
    assert "TKN2711" not in data.books
    (listed,) = submit_all(sequencer, [{"type": "list_contract", "symbol": "TKN2711"}])
    assert listed.rejected is None
    snapshot = data.snapshot("TKN2711")
    assert (snapshot["symbol"], snapshot["bids"], snapshot["asks"]) == ("TKN2711", [], [])
