"""What ``tokenfutures serve --demo`` does around the exchange, once it listens:

1. today's index fixings (UTC day; the latest earlier day within a week if today's cannot be
   had), computed from the packaged data in a worker thread and published to the demo's
   fixings journal;
2. a reference price for every **fresh** contract (never settled, never traded, still at its
   product's default reference price): the index-implied price of its month
   (``pricing.implied_ticks``), sent as ``set_reference_price`` through the sequencer, so its
   daily limits and circuit-breaker band sit around the index. A rerun on the same journal
   finds the contracts no longer fresh and leaves their prices alone;
3. the member ``DEMO`` and its accounts (the bots', ``demo-trader`` and ``demo-admin``),
   opened and funded once, by admin commands through the sequencer;
4. the keys: one read/trade key per bot and for ``demo-trader``, a read/admin key for
   ``demo-admin``, created once and found again in the key store on every rerun;
5. the bots' process (``python -m tokenfutures.demo``), its configuration written to its
   standard input, which stays open: when this process ends, however, the bots see it close
   and stop. ``stop`` asks them to stop (SIGTERM), waits, and kills them if they linger.

The demo has no daily cycle, so after an end of day (run from the risk desk, say) it opens
the next session itself: ``REOPEN_AFTER_S`` later, every contract the end of day closed goes
back to continuous trading (as the next day would open it; the end of day also ends a halt).
A contract halted after that stays halted: lifting it is the operator's.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from tokenfutures.adapters.fixing_journal import FixingJournal
from tokenfutures.demo.pricing import curve_of, implied_ticks
from tokenfutures.demo.roster import (
    ADMIN_ACCOUNT,
    BOTS,
    DEMO_MEMBER,
    TRADER_ACCOUNT,
    TRADER_DEPOSIT,
)
from tokenfutures.domain.clearing.events import EndOfDayCompleted
from tokenfutures.domain.clearing.house import ClearingHouse
from tokenfutures.domain.listing import ListedContract, to_instrument_rules
from tokenfutures.domain.values import Phase
from tokenfutures.service.daily_cycle import IndexFixings
from tokenfutures.service.keys import ApiKey, ApiKeyStore
from tokenfutures.service.sequencer import Sequencer

log = logging.getLogger("tokenfutures.demo")
MICRO_UNITS = Decimal(1_000_000)
LOOKBACK_DAYS = 7
STOP_SECONDS = 5.0
BOT_SCOPES = frozenset({"read", "trade"})
ADMIN_SCOPES = frozenset({"read", "admin"})
REOPEN_AFTER_S = 2.0


def reopen_commands(house: ClearingHouse) -> list[dict[str, Any]]:
    """The next session's opening: every closed, listed contract back to continuous."""
    return [
        {"type": "set_phase", "symbol": symbol, "phase": Phase.CONTINUOUS.value}
        for symbol, inst in sorted(house.exchange.instruments.items())
        if inst.phase is Phase.CLOSED and symbol not in house.delisted
    ]


class DemoError(RuntimeError):
    """The demo could not be set up; the message says why."""


def demo_fixings(journal: Path, today: date) -> tuple[date, dict[str, int | None]] | None:
    """The fixings of ``today``, or of the latest day of the week before with any; None if no
    day has any. Blocking (run it in a worker thread)."""
    source = IndexFixings(journal=FixingJournal(journal))
    for back in range(LOOKBACK_DAYS + 1):
        day = today - timedelta(days=back)
        try:
            values = source(day)
        except Exception as error:  # a day the data cannot price: try the day before
            log.warning("demo: no index fixings for %s: %s", day.isoformat(), error)
            continue
        if any(value is not None for value in values.values()):
            return day, values
    return None


def contract_months(contracts: list[ListedContract], delisted: set[str]) -> dict[str, int]:
    """Each live contract's month counted from its product's front month (0)."""
    months: dict[str, int] = {}
    for code in sorted({c.product.code for c in contracts}):
        live = [c for c in contracts if c.product.code == code and c.symbol not in delisted]
        ordered = sorted(live, key=lambda c: (c.last_trading_day, c.symbol))
        months.update((c.symbol, month) for month, c in enumerate(ordered))
    return months


def fresh_reference_prices(
    sequencer: Sequencer, fixings: Mapping[str, int | None]
) -> list[dict[str, Any]]:
    """``set_reference_price`` for every fresh contract whose index has a fixing."""
    house = sequencer.house
    if house.last_end_of_day is not None:
        return []
    delisted = set(house.delisted)
    months = contract_months(list(sequencer.market.contracts), delisted)
    commands: list[dict[str, Any]] = []
    for contract in sequencer.market.contracts:
        product, symbol = contract.product, contract.symbol
        value = fixings.get(product.underlying)
        inst = house.exchange.instruments[symbol]
        default = to_instrument_rules(contract).reference_price
        if value is None or symbol in delisted or sequencer.views.trades.get(symbol):
            continue
        if inst.reference != default:
            continue  # set already: by an earlier run, the daily cycle or an operator
        tick = Fraction(product.tick_size)
        ticks = implied_ticks(
            Fraction(value, 1_000_000), tick, months[symbol], curve_of(product.code)
        )
        if ticks != inst.reference:
            price = str(ticks * product.tick_size)
            commands.append({"type": "set_reference_price", "symbol": symbol, "price": price})
    return commands


def account_commands(sequencer: Sequencer) -> list[list[dict[str, Any]]]:
    """What opens and funds the demo's accounts, in groups to send one after the other (a
    group's commands may go together); nothing for what exists already."""
    house = sequencer.house
    first: list[dict[str, Any]] = []
    if DEMO_MEMBER not in house.accounts.members:
        first.append({"type": "add_member", "member": DEMO_MEMBER})
    wanted: list[tuple[str, str | None, bool]] = [(bot.name, bot.deposit, True) for bot in BOTS]
    wanted += [(TRADER_ACCOUNT, TRADER_DEPOSIT, False), (ADMIN_ACCOUNT, None, False)]
    opened: list[dict[str, Any]] = []
    funded: list[dict[str, Any]] = []
    for account, deposit, exempt in wanted:
        if account not in house.accounts.accounts:
            command = {"type": "open_account", "account": account, "member": DEMO_MEMBER}
            opened.append(command | ({"opening_cap_exempt": True} if exempt else {}))
        if deposit is not None and house.ledger.cash(account) == 0:
            funded.append({"type": "deposit", "account": account, "amount": deposit})
    return [group for group in (first, opened, funded) if group]


def key_of(keys: ApiKeyStore, account: str, scopes: frozenset[str]) -> ApiKey:
    """The account's first active key with exactly ``scopes``; a new one if it has none."""
    for key in keys.list(account):
        if key.scopes == scopes:
            return key
    return keys.create(account, sorted(scopes))


@dataclass(frozen=True, slots=True)
class Started:
    """What the demo printed: the fixing day used, and the keys handed out."""

    fixing_day: date | None
    admin: ApiKey
    trader: ApiKey


class DemoSession:
    def __init__(
        self, sequencer: Sequencer, keys: ApiKeyStore, fixings_journal: Path, today: date,
        echo: Callable[[str], None] = print,
    ) -> None:  # fmt: skip
        self.sequencer = sequencer
        self.keys = keys
        self.fixings_journal = fixings_journal
        self.today = today
        self.echo = echo
        self.bots: subprocess.Popen[str] | None = None
        self.reopen_after_s = REOPEN_AFTER_S
        self._reopening: set[asyncio.Task[None]] = set()

    def watch_end_of_day(self) -> None:
        """Reopen the market ``reopen_after_s`` after each end of day (see the docstring)."""

        def on_events(_seq: int, events: list[Any]) -> None:
            if any(type(event) is EndOfDayCompleted for event in events):
                task = asyncio.get_running_loop().create_task(self._reopen())
                self._reopening.add(task)
                task.add_done_callback(self._reopening.discard)

        self.sequencer.listeners.append(on_events)

    async def _reopen(self) -> None:
        await asyncio.sleep(self.reopen_after_s)
        for command in reopen_commands(self.sequencer.house):
            outcome = await self.sequencer.submit(command)
            if outcome.rejected is not None:
                log.warning("demo: %s not reopened: %s", command["symbol"], outcome.rejected)

    async def start(self, url: str) -> Started:
        """Fixings, reference prices, accounts, keys, then the bots (see the docstring)."""
        found = await asyncio.to_thread(demo_fixings, self.fixings_journal, self.today)
        day, fixings = found if found is not None else (None, {})
        await self._send([fresh_reference_prices(self.sequencer, fixings)])
        await self._send(account_commands(self.sequencer))
        self.watch_end_of_day()
        bot_keys, trader, admin = await asyncio.to_thread(self._keys)
        config = {
            "url": url,
            "seed": self.sequencer.last_seq,
            "products": self._products(fixings),
            "bots": [
                {"name": b.name, "role": b.role, "key": bot_keys[b.name].key,
                 "secret": bot_keys[b.name].secret}
                for b in BOTS
            ],
        }  # fmt: skip
        self.bots = subprocess.Popen(
            [sys.executable, "-m", "tokenfutures.demo"],
            stdin=subprocess.PIPE,
            text=True,
            start_new_session=True,  # a terminal's Ctrl-C reaches this process, which stops it
        )
        assert self.bots.stdin is not None
        self.bots.stdin.write(json.dumps(config) + "\n")
        self.bots.stdin.flush()
        self._banner(url, day, fixings, admin, trader)
        return Started(day, admin, trader)

    async def stop(self) -> None:
        """Stop the bots (they cancel their orders first) and wait for their process."""
        for task in list(self._reopening):
            task.cancel()
        proc, self.bots = self.bots, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait, STOP_SECONDS)
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()

    def _keys(self) -> tuple[dict[str, ApiKey], ApiKey, ApiKey]:
        """Each bot's key, the trader's and the admin's (blocking: the key store's I/O)."""
        bot_keys = {bot.name: key_of(self.keys, bot.name, BOT_SCOPES) for bot in BOTS}
        trader = key_of(self.keys, TRADER_ACCOUNT, BOT_SCOPES)
        return bot_keys, trader, key_of(self.keys, ADMIN_ACCOUNT, ADMIN_SCOPES)

    async def _send(self, groups: list[list[dict[str, Any]]]) -> None:
        for group in groups:
            outcomes = await asyncio.gather(*(self.sequencer.submit(c) for c in group))
            for command, outcome in zip(group, outcomes, strict=True):
                refusal = outcome.rejected
                if refusal is not None:
                    raise DemoError(f"{command['type']} refused: {refusal['detail']}")

    def _products(self, fixings: Mapping[str, int | None]) -> dict[str, dict[str, Any]]:
        products: dict[str, dict[str, Any]] = {}
        for contract in self.sequencer.market.contracts:
            value = fixings.get(contract.product.underlying)
            products[contract.product.code] = {
                "index": None if value is None else str(Decimal(value) / MICRO_UNITS),
                "circuit_breaker_bp": to_instrument_rules(contract).circuit_breaker_bp,
            }
        return products

    def _banner(
        self, url: str, day: date | None, fixings: Mapping[str, int | None], admin: ApiKey,
        trader: ApiKey,
    ) -> None:  # fmt: skip
        underlyings = sorted({c.product.underlying for c in self.sequencer.market.contracts})
        if day is None:
            self.echo("demo: no index fixings could be had: reference prices left as they are")
        else:
            values = ", ".join(
                f"{code} {Decimal(fixings[code] or 0) / MICRO_UNITS}"
                for code in underlyings
                if fixings.get(code) is not None
            )
            self.echo(f"demo: index fixings of {day.isoformat()}: {values}")
        self.echo(f"demo: admin key  {admin.key}  secret {admin.secret}  (account {ADMIN_ACCOUNT})")
        self.echo(
            f"demo: trader key {trader.key}  secret {trader.secret}  "
            f"(account {TRADER_ACCOUNT}, read and trade)"
        )
        self.echo(f"demo: bots {', '.join(b.name for b in BOTS)}; Ctrl-C stops everything")
        self.echo(f"demo: the market is open on {url}/ (API docs at {url}/docs)")
