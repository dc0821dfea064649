"""The daily cycle, run by the service: the schedule's commands, sent when they fall due.

``DailyCycle`` is the impure half of ``service/schedule.py``. Every ``interval`` seconds
(1 by default) it reads the wall clock, summarises the exchange's state from the sequencer's
clearing house, asks the pure planner (``plan_cycle``) what is due and sends it through the
``Sequencer`` like any other command: journaled first, then applied, then passed to the
listeners (market data gets the phase changes and settlement prices; the clearing house keeps
the day's statements). The clock is read here and only here; ``run_once(now)`` runs one step
at a given moment and ``trigger(step)`` runs (or runs again) a single step, for admins and
tests.

Index fixings come from a ``FixingSource`` (``IndexFixings`` by default: the latest
published version of each day's fixing in the fixings journal, else computed through
``engine/indices.py`` from the packaged data and published there, so every fixing the
exchange settles on is on record). They are fetched off the event loop, only for the days
the planner asks for (the end of day's, a final settlement window's, the day before a new
contract's first day), and cached per day; a day that fails is logged and retried after
``retry_seconds``, and the end of day runs without the index values it lacks (the
settlement fallback then skips ``index_moved``). A final settlement waits until all of its
window's fixings are there.

A command the exchange rejects is logged and not sent again for ``retry_seconds`` (so a
refused step does not repeat every second); the planner's notes (what is held back and why)
are logged when they change.

The cycle rolls the market onto new months (``roll``, on by default): it plans with the
market's contracts as they are now, those listed since the start included, and lists each
month the listing calendar adds. An exchange run without the cycle can list the months it
lacks with :func:`roll_listings` (at start-up, say), which lists them in continuous trading
like the other contracts of such an exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time as _time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tokenfutures.adapters.calendars import load_trading_calendar
from tokenfutures.adapters.fixing_journal import FixingJournal
from tokenfutures.domain.calendar import TradingCalendar
from tokenfutures.domain.clearing.house import ClearingHouse
from tokenfutures.domain.contracts import ProductSpec
from tokenfutures.domain.listing import ListedContract, listed_contracts
from tokenfutures.domain.values import Phase
from tokenfutures.engine.index_json import fixing_json, published_fixing, sources_json
from tokenfutures.engine.indices import DEFAULT_SOURCES, IndexFamily
from tokenfutures.service.schedule import (
    DEFAULT_TIMES,
    SHANGHAI,
    ContractState,
    CycleTimes,
    ExchangeState,
    Plan,
    end_of_day_command,
    final_settlement_command,
    list_contract_command,
    plan_cycle,
    set_phase_command,
)
from tokenfutures.service.sequencer import Outcome, Sequencer, SequencerStopped

log = logging.getLogger("tokenfutures.daily_cycle")

FixingSource = Callable[[date], Mapping[str, int | None]]
"""One day's fixings by index code, micro-units (None: not published). Blocking: it is run in
a worker thread. Raising means "not available now"."""

STEPS = ("cycle", "pre_open", "open", "close", "fixings", "end_of_day", "final_settlement")
_STEP_PHASES = {"pre_open": Phase.PRE_OPEN, "open": Phase.CONTINUOUS, "close": Phase.CLOSED}


class CycleError(ValueError):
    """An admin trigger that cannot be carried out; the message says why."""


def wall_clock() -> datetime:
    return datetime.now(UTC)


class IndexFixings:
    """Each day's fixings: the fixings journal's latest published version of each index where
    there is one, else computed (``IndexFamily``) and then published there."""

    def __init__(
        self,
        family: IndexFamily | None = None,
        journal: FixingJournal | None = None,
        *,
        sources: Sequence[str] = DEFAULT_SOURCES,
        clock: Callable[[], datetime] = wall_clock,
    ) -> None:
        self._family = family
        self.journal = journal
        self.sources = tuple(sources)
        self._clock = clock

    @property
    def family(self) -> IndexFamily:
        if self._family is None:
            self._family = IndexFamily.load()
        return self._family

    def __call__(self, day: date) -> dict[str, int | None]:
        family = self.family
        codes = family.token_indices() + family.gpu_indices()
        values: dict[str, int | None] = {}
        if self.journal is not None:
            for code in codes:
                row = self.journal.latest(code, day.isoformat())
                if row is not None:
                    values[code] = published_fixing(row).value
        missing = [code for code in codes if code not in values]
        if not missing:
            return values
        fixings, snapshots = family.compute_with_sources(day, self.sources)
        for code in missing:
            found = fixings.get(code)
            values[code] = None if found is None else found.value
        if self.journal is not None:
            read = sources_json(snapshots)
            documents = [
                fixing_json(fixings[c]) | {"sources": read} for c in missing if c in fixings
            ]
            stamp = self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for done in self.journal.publish(documents, stamp):
                log.info(
                    "fixing %s %s: version %d %s", done.index, done.date, done.version, done.status
                )
        return values


@dataclass(slots=True)
class CycleRun:
    """What one step did: the plan, and each command sent with its outcome."""

    moment: datetime
    plan: Plan
    sent: list[tuple[dict[str, Any], Outcome]] = field(default_factory=list)
    held_back: list[dict[str, Any]] = field(default_factory=list)  # rejected lately: not resent


def exchange_state(
    house: ClearingHouse, contracts: Sequence[ListedContract], first_day: date | None
) -> ExchangeState:
    """The planner's summary of the clearing house (read on the event loop, between commands)."""
    states: dict[str, ContractState] = {}
    ended = house.last_end_of_day is not None
    for contract in contracts:
        inst = house.exchange.instruments.get(contract.symbol)
        if inst is None:
            continue
        states[contract.symbol] = ContractState(
            phase=inst.phase,
            reference_price=inst.reference * contract.product.tick_size,
            # every contract settles at each end of day: all but those listed since the last
            settled=ended and contract.symbol not in house.day.listed,
            paused=inst.reopen_at is not None,
            delisted=contract.symbol in house.delisted,
        )
    return ExchangeState(states, house.last_end_of_day, first_day)


class DailyCycle:
    def __init__(
        self,
        sequencer: Sequencer,
        calendar: TradingCalendar,
        *,
        contracts: Sequence[ListedContract] | None = None,
        first_day: date | None = None,
        fixings: FixingSource | None = None,
        interval: float = 1.0,
        times: CycleTimes = DEFAULT_TIMES,
        clock: Callable[[], datetime] = wall_clock,
        retry_seconds: float = 300.0,
        roll: bool = True,
    ) -> None:
        self.sequencer = sequencer
        self.calendar = calendar
        self._contracts = None if contracts is None else tuple(contracts)
        catalog = sequencer.market.catalog
        self.products: dict[str, ProductSpec] = (
            dict(catalog.products)
            if catalog is not None
            else {c.product.code: c.product for c in self.contracts}
        )
        self.roll = roll
        if first_day is None:
            listed = sequencer.journal.get_meta("listing_date")
            first_day = None if listed is None else date.fromisoformat(listed)
        self.first_day = first_day
        self.source: FixingSource = fixings if fixings is not None else IndexFixings()
        self.interval = interval
        self.times = times
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._fixings: dict[tuple[str, date], int | None] = {}
        self._days: set[date] = set()  # days whose fixings are in the cache
        self._failed: dict[date, float] = {}  # day -> monotonic time of the last failure
        self._rejected: dict[str, float] = {}  # command -> monotonic time it was rejected
        self._notes: tuple[str, ...] = ()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_sequencer(
        cls, sequencer: Sequencer, *, fixings_journal: Path | None = None, **options: Any
    ) -> DailyCycle:
        """The cycle of the sequencer's market, on the trading calendar the market was listed
        with (exchange_calendars plus ``$TOKENFUTURES_HOLIDAYS``); the day's fixings are
        published to ``fixings_journal`` (the file ``tokenfutures index publish --journal``
        writes and ``index settlement --journal`` reads) when one is given."""
        if "fixings" not in options:
            published = None if fixings_journal is None else FixingJournal(fixings_journal)
            options["fixings"] = IndexFixings(journal=published)
        return cls(sequencer, load_trading_calendar(), **options)

    @property
    def contracts(self) -> tuple[ListedContract, ...]:
        """The contracts the cycle runs: the market's now (those listed since included), or
        the ones it was given."""
        return self.sequencer.market.contracts if self._contracts is None else self._contracts

    # --- running ---------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="daily-cycle")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except SequencerStopped as error:
                log.error("daily cycle stopped: %s", error)
                return
            except Exception:  # one failed step must not end the cycle
                log.exception("daily cycle step failed")
            await asyncio.sleep(self.interval)

    async def run_once(self, now: datetime | None = None) -> CycleRun:
        """Plan at ``now`` (default: the wall clock) and send what is due, in order."""
        moment = self._clock() if now is None else now
        async with self._lock:
            plan = await self._plan(moment)
            run = CycleRun(moment, plan)
            for command in plan.commands:
                key = json.dumps(command, sort_keys=True)
                if _time.monotonic() - self._rejected.get(key, -1e18) < self.retry_seconds:
                    run.held_back.append(command)
                    continue
                outcome = await self.sequencer.submit(command)
                run.sent.append((command, outcome))
                if outcome.rejected is not None:
                    self._rejected[key] = _time.monotonic()
                    log.warning("daily cycle: %s rejected: %s", key, outcome.rejected["detail"])
            self._log_notes(plan.notes)
            return run

    async def _plan(self, moment: datetime) -> Plan:
        """The plan, once more after fetching the fixings it looked up and lacked."""
        plan = self._plan_with_cache(moment)
        days = {day for code, day in plan.wanted if (code, day) not in self._fixings}
        if await self._load(days - self._days):
            plan = self._plan_with_cache(moment)
        return plan

    def _plan_with_cache(self, moment: datetime) -> Plan:
        contracts = self.contracts
        state = exchange_state(self.sequencer.house, contracts, self.first_day)
        return plan_cycle(
            self.products, self.calendar, contracts, state, moment, self._fixings, self.times,
            roll=self.roll,
        )  # fmt: skip

    async def _load(self, days: set[date]) -> bool:
        """Fetch the fixings of ``days`` not cached (nor failed lately); whether any arrived."""
        loaded = False
        for day in sorted(days):
            if day in self._days:
                continue
            failed = self._failed.get(day)
            if failed is not None and _time.monotonic() - failed < self.retry_seconds:
                continue
            try:
                values = await asyncio.to_thread(self.source, day)
            except Exception:
                self._failed[day] = _time.monotonic()
                log.exception("index fixings of %s could not be had", day.isoformat())
                continue
            self._failed.pop(day, None)
            self._days.add(day)
            for code, value in values.items():
                self._fixings[(code, day)] = value
            loaded = True
        return loaded

    def _log_notes(self, notes: tuple[str, ...]) -> None:
        if notes != self._notes:
            for note in notes:
                if note not in self._notes:
                    log.info("daily cycle: %s", note)
            self._notes = notes

    # --- admin triggers --------------------------------------------------------------------

    def today(self) -> date:
        """The exchange-local (Shanghai) date now."""
        return self._clock().astimezone(SHANGHAI).date()

    async def fixings_of(self, day: date) -> dict[str, int | None]:
        """One day's fixings through the cache (fetched, and published, when not cached);
        never of a day still to come."""
        if day > self.today():
            raise CycleError(f"{day.isoformat()} is in the future: no fixing yet")
        self._failed.pop(day, None)  # an explicit request always tries again
        await self._load({day})
        if day not in self._days:
            raise CycleError(f"the index fixings of {day.isoformat()} could not be had")
        return {code: value for (code, on), value in self._fixings.items() if on == day}

    async def trigger(
        self, step: str, *, day: date | None = None, symbol: str | None = None
    ) -> list[Outcome]:
        """Run (or run again) one step of the cycle now, whatever the schedule says:

        ``cycle`` (what is due now), ``pre_open`` / ``open`` / ``close`` (every contract not
        finally settled, or ``symbol``, whose phase differs), ``fixings`` (fetch and publish
        the fixings of ``day``), ``end_of_day`` (of ``day``, default today, with its fixings),
        ``final_settlement`` (of ``symbol``, with its window's fixings). What the exchange
        refuses comes back as a rejected outcome (an end of day run already, a contract not
        yet due)."""
        if step not in STEPS:
            raise CycleError(f"step {step!r}: must be one of {', '.join(STEPS)}")
        if step == "cycle":
            return [outcome for _, outcome in (await self.run_once()).sent]
        async with self._lock:  # one step at a time: the clock's and the admin's
            if step == "fixings":
                await self.fixings_of(day or self.today())
                return []
            commands = await self._step_commands(step, day, symbol)
            return [await self.sequencer.submit(command) for command in commands]

    async def _step_commands(
        self, step: str, day: date | None, symbol: str | None
    ) -> list[dict[str, Any]]:
        if step == "end_of_day":
            on = day or self.today()
            if on > self.today():
                raise CycleError(f"end_of_day: {on.isoformat()} is in the future")
            try:
                values = await self.fixings_of(on)
            except CycleError as error:  # as on the clock: the end of day runs without them
                log.warning("end of day %s without index fixings: %s", on.isoformat(), error)
                values = {}
            underlyings = {product.underlying for product in self.products.values()}
            index = {c: v for c, v in values.items() if c in underlyings and v is not None}
            return [end_of_day_command(on, index)]
        if step == "final_settlement":
            return [await self._final_settlement(symbol)]
        phase = _STEP_PHASES[step]
        house = self.sequencer.house
        return [
            set_phase_command(c.symbol, phase)
            for c in self.contracts
            if (symbol is None or c.symbol == symbol)
            and c.symbol not in house.delisted
            and house.exchange.instruments[c.symbol].phase is not phase
        ]

    async def _final_settlement(self, symbol: str | None) -> dict[str, Any]:
        contract = next((c for c in self.contracts if c.symbol == symbol), None)
        if contract is None:
            raise CycleError(f"final_settlement: {symbol!r} is not a contract of this exchange")
        underlying = contract.product.underlying
        if contract.final_settlement_window[-1] > self.today():
            raise CycleError(
                f"{contract.symbol}: the settlement window ends "
                f"{contract.final_settlement_window[-1].isoformat()}, not yet complete"
            )
        values: list[int] = []
        for day in contract.final_settlement_window:
            value = (await self.fixings_of(day)).get(underlying)
            if value is None:
                raise CycleError(
                    f"{contract.symbol}: no published {underlying} fixing for {day.isoformat()}"
                )
            values.append(value)
        return final_settlement_command(contract.symbol, values)


async def roll_listings(
    sequencer: Sequencer, today: date | None = None, *, phase: Phase = Phase.CONTINUOUS
) -> list[Outcome]:
    """List every month the listing calendar lists on ``today`` (exchange-local; default: the
    wall clock's date in Shanghai, as the sequencer stamps commands) that the exchange does
    not hold, in ``phase``: continuous by default, as an exchange without the daily cycle
    trades. The outcome of each listing, in listing order; nothing is listed twice.

    For an exchange run without the daily cycle (which lists the months itself): call it
    once the sequencer has started, at start-up and then as often as days go by."""
    catalog = sequencer.market.catalog
    if catalog is None:
        return []
    day = today if today is not None else wall_clock().astimezone(SHANGHAI).date()
    held = sequencer.house.exchange.instruments
    due = [c for c in listed_contracts(catalog.products, catalog.calendar, day)
           if c.symbol not in held]  # fmt: skip
    return [await sequencer.submit(list_contract_command(c.symbol, phase)) for c in due]
