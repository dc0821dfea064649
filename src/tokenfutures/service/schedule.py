"""The daily cycle's schedule: which commands are due at a moment. Pure.

``plan_cycle`` takes the products, the trading calendar, the listed contracts, a summary of
the exchange's state, a moment and the index fixings known so far, and returns the commands
that are due and not yet done, in the order to send them: JSON-ready dicts of the command
format (docs/commands-and-events.md) without ``ts``, which the sequencer stamps. It reads no
clock and no file, so the same inputs always give the same plan; and once the planned commands
are applied, asking again at the same moment gives nothing (the plan is idempotent).

Rules, in exchange local time (Asia/Shanghai), on the calendar's business days:

- **Opening call auction.** A contract that trades that day goes ``pre_open`` at its first
  day session's start minus ``CycleTimes.auction`` (5 minutes: orders 08:55-08:59 for a 09:00
  session) and ``continuous`` at the session's start, when the book uncrosses.
- **Sessions.** ``closed`` at the end of each day session; ``continuous`` again at the start
  of the next one, without an auction (``closed`` -> ``continuous``). A contract trades from
  its first to its last trading day; on other days, weekends and holidays it stays closed.
  Note: entering ``closed`` expires GFD orders (docs/matching-rules.md), so under this
  schedule a GFD order lasts until the end of its session.
- **Phases are reconciled, not stepped**: each contract's phase is compared with the phase
  the schedule wants at the moment, so a cycle started late or restarted puts every contract
  where it belongs (a contract found trading at 08:57 goes to ``pre_open``). Two phases
  belong to others and are left alone: ``halted`` (an operator's halt: lifted by the
  operator; the end of day closes it) and a circuit-breaker pause (``pre_open`` with a reopen
  time, which the exchange ends itself; the session's close still closes it).
- **The roll onto new months** (``roll=True``, as the service's cycle plans). A trading day
  begins once the previous business day's end of day has run (its night session, where the
  product has one, is held that evening); before anything else, the plan lists every
  contract month the listing calendar lists on the trading day of the moment
  (``listed_contracts``) that the exchange does not hold (``list_contract``, closed), and
  again right after an end of day this plan sends for the moment's day, for the next
  business day. So the month that replaces an expired one is listed with the expiring
  contract's last end of day, the evening before its first trading day. A month listed so is
  a new contract: it gets its reference price (next rule), and its phases like any other.
- **New contracts.** A contract never settled that still stands at its product's default
  reference price gets, before anything else but the listings, the latest fixing of its
  underlying index before its first day in this plan (the previous business day's; for a
  month listed later, the day before its first trading day at the earliest), rounded half to
  even to a tick, as its reference price (``set_reference_price``). Afterwards the reference
  price is always the last settlement price, which the end of day sets.
- **End of day**, once per business day, at ``CycleTimes.end_of_day`` after the latest close
  of the products' last day session (15:30 for a 15:00 close), with the day's fixing of each
  product's underlying index as ``index`` (micro-unit decimal strings) where available; a
  missing one is left out and a note says so. A business day whose end of day was missed
  (the cycle was down) is settled at the next plan, oldest first, before the day's phases;
  never a day before ``ExchangeState.first_day``. Once a day's end of day has run (even
  early, sent by an admin) the day's sessions are over: its contracts stay closed.
- **Final settlement** of each contract whose last trading day's end of day has run (or is
  planned just before), with its settlement window's fixings, exactly
  ``final_settlement_days`` values, oldest first, once every one of them is available and
  published; until then nothing is sent for it and a note says what it waits for.

- **Night sessions** (``ProductSpec.night_session``, SHFE practice): the evening session of a
  business day belongs to the next business day and is held only when
  ``TradingCalendar.holds_night_session`` says so (not on the eve of a holiday). When a
  contract's trading day starts at night, the opening call auction moves to the evening
  (``pre_open`` from 20:55 for a 21:00 session) and the morning session opens without one. A
  session that crosses midnight goes on into the small hours of the next calendar day (a
  Saturday too). A contract trades in the night sessions that belong to its trading days
  (first to last): the expiring contract has none on its last evening. The end of day ends
  the day's sessions, not the evening's, which belongs to the next day. No evening before
  the exchange's first day holds a session (its first trading day opens in the morning).

Not scheduled:

- Without ``roll`` the contracts are the ones given: no month is listed.
- The margin-call deadline is not sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from tokenfutures.domain.calendar import TradingCalendar
from tokenfutures.domain.contracts import EXCHANGE_TIMEZONE, ProductSpec
from tokenfutures.domain.index.aggregation import round_half_even
from tokenfutures.domain.listing import ListedContract, listed_contracts
from tokenfutures.domain.values import Phase

SHANGHAI = ZoneInfo(EXCHANGE_TIMEZONE)
MICRO_UNITS = Decimal(1_000_000)
ONE_DAY = timedelta(days=1)
LAST_SECOND = 86_399

Fixings = Mapping[tuple[str, date], int | None]
"""Known fixings: (index code, day) -> value in micro-units; ``None``: computed, not published.
A pair that is absent is not (yet) available."""

NO_FIXINGS: Fixings = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class CycleTimes:
    """The cycle's offsets from the sessions of the products."""

    auction: timedelta = timedelta(minutes=5)  # the opening call auction before the 1st session
    end_of_day: timedelta = timedelta(minutes=30)  # after the latest last-session close


DEFAULT_TIMES = CycleTimes()


@dataclass(frozen=True, slots=True)
class ContractState:
    """What the planner needs to know of one contract in the exchange."""

    phase: Phase
    reference_price: Decimal  # the prior settlement now (decimal, in the quotation unit)
    settled: bool = False  # has had a settlement price from an end of day
    paused: bool = False  # a circuit-breaker pause (pre_open until the exchange reopens it)
    delisted: bool = False  # finally settled


@dataclass(frozen=True, slots=True)
class ExchangeState:
    contracts: Mapping[str, ContractState]  # by symbol: the contracts the exchange holds
    last_end_of_day: date | None = None
    first_day: date | None = None  # the exchange's first day: no end of day before it


@dataclass(frozen=True, slots=True)
class Plan:
    """The commands due, in order; notes on what is held back and why; every fixing the
    planner looked up (``wanted``: fetch the ones it lacked, then plan again)."""

    commands: tuple[dict[str, Any], ...] = ()
    notes: tuple[str, ...] = ()
    wanted: frozenset[tuple[str, date]] = field(default_factory=frozenset)


# --- command builders (also used by the admin's triggers) ---------------------------------------


def units_text(micros: int) -> str:
    """An index value in micro-units as an exact decimal string: 3308331 -> "3.308331"."""
    return str(Decimal(micros).scaleb(-6))


def set_phase_command(symbol: str, phase: Phase) -> dict[str, Any]:
    return {"type": "set_phase", "symbol": symbol, "phase": phase.value}


def end_of_day_command(day: date, index: Mapping[str, int]) -> dict[str, Any]:
    """The end of day of ``day`` with the day's fixings by index code (micro-units)."""
    values = {code: units_text(index[code]) for code in sorted(index)}
    return {"type": "end_of_day", "date": day.isoformat(), "index": values}


def list_contract_command(symbol: str, phase: Phase | None = None) -> dict[str, Any]:
    """List the contract month ``symbol`` (``closed`` unless ``phase`` says otherwise)."""
    command: dict[str, Any] = {"type": "list_contract", "symbol": symbol}
    if phase is not None:
        command["phase"] = phase.value
    return command


def final_settlement_command(symbol: str, fixings: Sequence[int]) -> dict[str, Any]:
    return {
        "type": "final_settlement",
        "symbol": symbol,
        "fixings": [units_text(value) for value in fixings],
    }


def reference_from_fixing(product: ProductSpec, micros: int) -> Decimal:
    """An index value as a price on the product's tick grid (half to even, at least a tick)."""
    ratio = Fraction(micros) / Fraction(product.tick_size * MICRO_UNITS)
    ticks = round_half_even(ratio.numerator, ratio.denominator)
    return max(ticks, 1) * product.tick_size


# --- the schedule -------------------------------------------------------------------------------


def _shift(clock: time, delta: timedelta) -> time:
    """``clock`` moved by ``delta`` within the day (clamped to 00:00:00..23:59:59)."""
    seconds = clock.hour * 3600 + clock.minute * 60 + clock.second + int(delta.total_seconds())
    seconds = min(max(seconds, 0), LAST_SECOND)
    return time(seconds // 3600, seconds % 3600 // 60, seconds % 60)


def end_of_day_time(products: Iterable[ProductSpec], times: CycleTimes = DEFAULT_TIMES) -> time:
    """When the end of day runs: after the latest close of the products' day sessions."""
    closes = [product.sessions[-1].end for product in products]
    return _shift(max(closes, default=time(15, 0)), times.end_of_day)


def target_phase(
    contract: ListedContract,
    calendar: TradingCalendar,
    day: date,
    clock: time,
    times: CycleTimes = DEFAULT_TIMES,
    *,
    day_sessions: bool = True,
    first_day: date | None = None,
) -> Phase:
    """The phase the schedule wants for ``contract`` at ``clock`` on calendar day ``day``
    (``day_sessions=False``: the day's sessions are over, only a night session may trade;
    ``first_day``: the exchange's first day, no evening before it holds a session)."""
    night = _night_phase(contract, calendar, day, clock, times, first_day)
    if night is not None:
        return night
    if not day_sessions or not calendar.is_business_day(day):
        return Phase.CLOSED
    if not contract.first_trading_day <= day <= contract.last_trading_day:
        return Phase.CLOSED
    sessions = contract.product.sessions
    opening = sessions[0].start
    eve = calendar.previous_business_day(day)
    opened_at_night = _night_held(contract, calendar, eve, first_day)
    if not opened_at_night and _shift(opening, -times.auction) <= clock < opening:
        return Phase.PRE_OPEN
    if any(session.start <= clock < session.end for session in sessions):
        return Phase.CONTINUOUS
    return Phase.CLOSED


def _night_held(
    contract: ListedContract, calendar: TradingCalendar, evening: date, first_day: date | None
) -> bool:
    """Whether ``contract`` trades in a night session on the evening of ``evening``."""
    if contract.product.night_session is None or not calendar.holds_night_session(evening):
        return False
    if first_day is not None and evening < first_day:
        return False
    trading_day = calendar.next_business_day(evening)
    return contract.first_trading_day <= trading_day <= contract.last_trading_day


def _night_phase(
    contract: ListedContract,
    calendar: TradingCalendar,
    day: date,
    clock: time,
    times: CycleTimes,
    first_day: date | None,
) -> Phase | None:
    """The phase of a night session at ``clock`` on ``day``, None outside night sessions."""
    session = contract.product.night_session
    if session is None:
        return None
    evening = clock >= _shift(session.start, -times.auction)
    if evening and _night_held(contract, calendar, day, first_day):
        if clock < session.start:
            return Phase.PRE_OPEN  # the trading day's opening call auction, in the evening
        if session.crosses_midnight or clock < session.end:
            return Phase.CONTINUOUS
    small_hours = session.crosses_midnight and clock < session.end
    if small_hours and _night_held(contract, calendar, day - ONE_DAY, first_day):
        return Phase.CONTINUOUS  # the evening before's session, after midnight
    return None


def trading_day(calendar: TradingCalendar, last_end_of_day: date | None, today: date) -> date:
    """The business day trading belongs to on ``today``: today's (the next business day's on
    a day without trading) until its end of day has run, then the next one's."""
    day = today if calendar.is_business_day(today) else calendar.next_business_day(today)
    if last_end_of_day is not None and last_end_of_day >= day:
        day = calendar.next_business_day(last_end_of_day)
    return day


def end_of_day_days(
    calendar: TradingCalendar, state: ExchangeState, today: date, after_close: bool
) -> tuple[date, ...]:
    """The business days whose end of day is due and not yet run, oldest first."""
    last = today if after_close else today - ONE_DAY
    if state.last_end_of_day is not None:
        start = state.last_end_of_day + ONE_DAY
    else:
        start = today if state.first_day is None else state.first_day
    if state.first_day is not None:
        start = max(start, state.first_day)
    return calendar.business_days(start, last) if start <= last else ()


def plan_cycle(
    products: Mapping[str, ProductSpec],
    calendar: TradingCalendar,
    contracts: Sequence[ListedContract],
    state: ExchangeState,
    moment: datetime,
    fixings: Fixings = NO_FIXINGS,
    times: CycleTimes = DEFAULT_TIMES,
    *,
    roll: bool = False,
) -> Plan:
    """The commands due at ``moment`` (an aware datetime) and not yet done, in order;
    ``roll``: list the months the listing calendar lists that the exchange lacks."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("moment: must be timezone-aware")
    local = moment.astimezone(SHANGHAI)
    today, clock = local.date(), local.time()
    days = end_of_day_days(
        calendar, state, today, clock >= end_of_day_time(products.values(), times)
    )
    planner = _Planner(products, calendar, contracts, state, fixings)
    trading = trading_day(calendar, state.last_end_of_day, today)
    if roll:
        planner.listings(trading)
    planner.reference_prices(days[0] if days else trading)
    planner.final_settlements()  # due from ends of day already run
    for day in days:
        if day == today:
            break
        planner.end_of_day(day)
    day_over = state.last_end_of_day is not None and state.last_end_of_day >= today
    planner.phases(today, clock, times, day_over)
    if today in days:
        planner.end_of_day(today)
        if roll:  # the next trading day begins: its months, and their reference prices
            following = calendar.next_business_day(today)
            planner.listings(following)
            planner.reference_prices(following)
    return planner.plan()


class _Planner:
    """One plan: the commands so far and the state they will leave behind."""

    def __init__(
        self,
        products: Mapping[str, ProductSpec],
        calendar: TradingCalendar,
        contracts: Sequence[ListedContract],
        state: ExchangeState,
        fixings: Fixings,
    ) -> None:
        self.products = products
        self.calendar = calendar
        self.state = state
        self.contracts = [c for c in contracts if c.symbol in state.contracts]
        self.fixings = fixings
        self.known = dict(state.contracts)  # and the contracts this plan lists
        self.phase = {symbol: known.phase for symbol, known in state.contracts.items()}
        self.delisted = {symbol for symbol, known in state.contracts.items() if known.delisted}
        self.last_end_of_day = state.last_end_of_day
        self.commands: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.waiting: dict[str, str] = {}  # final settlements held back, by symbol
        self.wanted: set[tuple[str, date]] = set()

    def plan(self) -> Plan:
        notes = self.notes + [self.waiting[symbol] for symbol in sorted(self.waiting)]
        return Plan(tuple(self.commands), tuple(notes), frozenset(self.wanted))

    def lookup(self, index: str, day: date) -> tuple[int | None, str]:
        """A fixing's value, or None and why not."""
        self.wanted.add((index, day))
        if (index, day) not in self.fixings:
            return None, "not available"
        value = self.fixings[(index, day)]
        return value, "" if value is not None else "not published"

    def listings(self, day: date) -> None:
        """List the months the listing calendar lists on ``day`` that the exchange lacks."""
        for contract in listed_contracts(self.products, self.calendar, day):
            symbol = contract.symbol
            if symbol in self.known:
                continue
            self.commands.append(list_contract_command(symbol))
            self.contracts.append(contract)
            self.known[symbol] = ContractState(Phase.CLOSED, contract.product.reference_price)
            self.phase[symbol] = Phase.CLOSED

    def reference_prices(self, first: date) -> None:
        """New contracts start from their index's fixing of the business day before ``first``
        (before their first trading day, for a month that starts trading later)."""
        for contract in self.contracts:
            known = self.known[contract.symbol]
            product = contract.product
            if known.settled or known.delisted or contract.last_trading_day < first:
                continue
            if known.reference_price != product.reference_price:
                continue  # set already, by the cycle or by an operator
            start = max(first, contract.first_trading_day)
            day = self.calendar.previous_business_day(start)
            value, why = self.lookup(product.underlying, day)
            if value is None:
                self.notes.append(
                    f"{contract.symbol}: keeps the reference price {product.reference_price}: "
                    f"the {product.underlying} fixing of {day.isoformat()} is {why}"
                )
                continue
            price = reference_from_fixing(product, value)
            if price != known.reference_price:
                self.commands.append(
                    {"type": "set_reference_price", "symbol": contract.symbol, "price": str(price)}
                )

    def phases(self, day: date, clock: time, times: CycleTimes, day_over: bool) -> None:
        """Each contract to the phase of the moment; all closed once the day's end of day ran."""
        for contract in self.contracts:
            symbol = contract.symbol
            if symbol in self.delisted:
                continue
            current = self.phase[symbol]
            wanted = target_phase(
                contract,
                self.calendar,
                day,
                clock,
                times,
                day_sessions=not day_over,
                first_day=self.state.first_day,
            )
            if current is wanted:
                continue
            if current is Phase.HALTED:
                self.notes.append(f"{symbol}: halted; the cycle leaves it to the operator")
                continue
            paused = self.known[symbol].paused and current is Phase.PRE_OPEN
            if paused and wanted is Phase.CONTINUOUS:
                continue  # a circuit-breaker pause: the exchange reopens it itself
            self.commands.append(set_phase_command(symbol, wanted))
            self.phase[symbol] = wanted

    def end_of_day(self, day: date) -> None:
        index: dict[str, int] = {}
        for underlying in sorted({product.underlying for product in self.products.values()}):
            value, why = self.lookup(underlying, day)
            if value is None:
                self.notes.append(
                    f"end of day {day.isoformat()}: without the {underlying} fixing ({why})"
                )
            else:
                index[underlying] = value
        self.commands.append(end_of_day_command(day, index))
        self.last_end_of_day = day
        for symbol in self.phase:
            if symbol not in self.delisted:
                self.phase[symbol] = Phase.CLOSED  # the end of day closes every contract
                self.known[symbol] = replace(self.known[symbol], settled=True)  # and settles it
        self.final_settlements()

    def final_settlements(self) -> None:
        last = self.last_end_of_day
        if last is None:
            return
        for contract in self.contracts:
            symbol = contract.symbol
            if symbol in self.delisted or contract.last_trading_day > last:
                continue
            values, problems = self.window(contract)
            if problems:
                self.waiting[symbol] = (
                    f"{symbol}: final settlement waits for the {contract.product.underlying} "
                    f"fixings of {'; '.join(problems)}"
                )
                continue
            self.commands.append(final_settlement_command(symbol, values))
            self.delisted.add(symbol)
            self.waiting.pop(symbol, None)

    def window(self, contract: ListedContract) -> tuple[list[int], list[str]]:
        """The settlement window's fixing values, and the days that lack one (and why)."""
        product = contract.product
        days = contract.final_settlement_window
        values: list[int] = []
        problems: list[str] = []
        if len(days) != product.final_settlement_days:
            problems.append(f"a window of {product.final_settlement_days} days, not {len(days)}")
        for day in days:
            value, why = self.lookup(product.underlying, day)
            if value is None:
                problems.append(f"{day.isoformat()} ({why})")
            else:
                values.append(value)
        return values, problems
