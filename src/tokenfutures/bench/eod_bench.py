"""Clearing benchmark, part 1: the end of day over many accounts with positions.

The market is the real one (``build_market``: every contract listed on the day, from the
product file) behind the clearing house with its pre-trade risk checks on. The set-up sends,
through ``ClearingHouse.handle`` like any other command:

1. the clearing members, one market-maker account per contract (exempt from the intraday
   opening cap) and ``N`` client accounts, each with a deposit;
2. the first trading day: every client account opens positions in one to four contracts
   (TKN and GPU months, front months busier, 1 to 50 lots, heavy-tailed) by sending IOC
   limit orders that cross the market maker's GFD quote one tick either side of a mid that
   drifts tick by tick; the side leans against the market maker's position so its book stays
   small. Each deposit covers 1.2 to 4 times the outright margin of the planned positions, so
   no order is refused; the set-up checks that nothing was;
3. that day's end of day (timed and reported on its own: it also writes every fill into the
   statements).

Each timed repetition is then one more trading day on the same state, so every repetition
settles the same accounts and positions: the contracts reopen, each mid moves by up to 1 %
(within the daily limit and the circuit-breaker band), the market makers quote around it, 1 %
of the client accounts close part of a position, and one ``EndOfDay`` command goes through
``house.handle``. That command alone is timed: it settles every contract, marks every
position and posts every account's variation margin (the prices moved, so every account's
cash moves), checks every account's margin and writes every account's statement.

The command lists are generated before they are sent, untimed; the garbage collector is
collected before each timed end of day and stays enabled, as it would in production. After
the last repetition every invariant of the exchange and the clearing house is checked
(ledger replay, positions, unpaid variation margin).
"""

from __future__ import annotations

import gc
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tokenfutures.domain.clearing.commands import AddMember, EndOfDay, OpenAccount
from tokenfutures.domain.clearing.events import EndOfDayCompleted, VariationMarginPosted
from tokenfutures.domain.clearing.house import AnyCommand, ClearingHouse
from tokenfutures.domain.commands import CancelAll, Deposit, NewOrder, SetPhase
from tokenfutures.domain.events import CommandRejected, TradeExecuted
from tokenfutures.domain.listing import ListedContract
from tokenfutures.domain.values import OrderType, Phase, Side, TimeInForce
from tokenfutures.engine.market import Market, build_market

DAY = date(2026, 11, 23)
TRADING_FROM = timedelta(hours=6, minutes=30)  # 14:30 in Shanghai: the last half hour
END_OF_DAY_AT = timedelta(hours=7, minutes=15)  # 15:15 in Shanghai, after the close
MAKER_DEPOSIT = 10**11  # minor units: USD 1 billion per market maker
MONTH_DECAY = 0.7  # each later month of a product draws 0.7 times the previous one's orders
PRODUCT_SHARE = {"TKN": 0.6, "GPU": 0.4}
CONTRACTS_PER_ACCOUNT = ((1, 0.30), (2, 0.35), (3, 0.20), (4, 0.15))
DRIFT_EVERY = 200  # fills in a contract between two one-tick moves of its mid on day one
DRIFT_BP = 100  # the mid stays within 1 % of the day's reference


class SetupError(Exception):
    """The set-up did not produce what the benchmark needs (a command was refused)."""


@dataclass(frozen=True, slots=True)
class EodSpec:
    accounts: int = 100_000
    repetitions: int = 5
    seed: int = 2311
    day: date = DAY
    members: int = 20
    max_lots: int = 50
    movers_per_mille: int = 10  # client accounts trading on each later day


@dataclass(frozen=True, slots=True)
class EodRun:
    """One timed end of day."""

    day: date
    seconds: float
    contracts: int
    accounts: int  # accounts marked (EndOfDayCompleted.accounts)
    positions: int  # open positions marked
    events: int
    postings: int  # ledger postings the end of day made
    margin_calls: int
    statements: int
    day_trades: int  # trades of the day before its end of day
    gc_s: float  # of ``seconds``, spent in the garbage collector
    gc_collections: int

    @property
    def accounts_per_s(self) -> float:
        return self.accounts / self.seconds


@dataclass(frozen=True, slots=True)
class EodResult:
    spec: EodSpec
    contracts: int
    makers: int
    setup_commands: int
    setup_trades: int
    setup_s: float  # the set-up's commands through house.handle (the first end of day apart)
    build_s: float  # build_market
    first: EodRun  # the end of day of the set-up day
    runs: tuple[EodRun, ...]
    verified: bool

    @property
    def median_s(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    @property
    def min_s(self) -> float:
        return min(r.seconds for r in self.runs)

    @property
    def max_s(self) -> float:
        return max(r.seconds for r in self.runs)

    @property
    def accounts_per_s(self) -> float:
        return statistics.median(r.accounts_per_s for r in self.runs)


def run_eod_benchmark(spec: EodSpec, progress: Callable[[str], None] | None = None) -> EodResult:
    say = progress or (lambda line: None)
    begin = time.perf_counter()
    market = build_market(spec.day)
    build_s = time.perf_counter() - begin
    flow = _Flow(market, spec)
    setup = flow.first_day()
    say(f"set-up: {len(setup):,} commands ({spec.accounts:,} accounts) generated")
    setup_s, setup_trades = _send(market.house, setup)
    say(f"set-up: sent in {setup_s:.1f} s, {setup_trades:,} trades")
    first = _timed_end_of_day(market.house, flow.end_of_day(), setup_trades)
    say(f"end of day {first.day} (set-up day): {first.seconds:.2f} s")
    runs: list[EodRun] = []
    for repetition in range(1, spec.repetitions + 1):
        _, trades = _send(market.house, flow.next_day())
        runs.append(_timed_end_of_day(market.house, flow.end_of_day(), trades))
        say(
            f"repetition {repetition}/{spec.repetitions}: end of day {runs[-1].day}, "
            f"{runs[-1].seconds:.2f} s, {runs[-1].accounts:,} accounts"
        )
    market.house.check_invariants()
    if not market.house.money_conserved():
        raise SetupError("money was not conserved")
    return EodResult(
        spec=spec,
        contracts=len(market.contracts),
        makers=len(flow.makers),
        setup_commands=len(setup),
        setup_trades=setup_trades,
        setup_s=setup_s,
        build_s=build_s,
        first=first,
        runs=tuple(runs),
        verified=True,
    )


def _send(house: ClearingHouse, commands: Sequence[AnyCommand]) -> tuple[float, int]:
    """Send every command; (seconds, trades). Any refusal is a broken set-up."""
    handle = house.handle
    outputs: list[list[Any]] = [[]] * len(commands)
    begin = time.perf_counter()
    for index, command in enumerate(commands):
        outputs[index] = handle(command)
    seconds = time.perf_counter() - begin
    trades = 0
    for index, events in enumerate(outputs):
        for event in events:
            kind = type(event)
            if kind is TradeExecuted:
                trades += 1
            elif kind is CommandRejected:
                raise SetupError(f"command #{index} {commands[index]!r} refused: {event!r}")
    return seconds, trades


def _timed_end_of_day(house: ClearingHouse, command: EndOfDay, day_trades: int) -> EodRun:
    positions = sum(
        len(house.positions.positions_in(symbol)) for symbol in house.positions.symbols()
    )
    postings = len(house.ledger.journal)
    statements = len(house.statements)
    collector = _CollectorClock()
    gc.collect()
    gc.callbacks.append(collector)
    try:
        begin = time.perf_counter()
        events = house.handle(command)
        seconds = time.perf_counter() - begin
    finally:
        gc.callbacks.remove(collector)
    done = events[-1] if events else None
    if not isinstance(done, EndOfDayCompleted):
        raise SetupError(f"the end of day {command.date} did not complete: {done!r}")
    marked = sum(1 for e in events if type(e) is VariationMarginPosted)
    if marked != done.accounts:
        raise SetupError(f"{marked} variation-margin postings for {done.accounts} accounts")
    return EodRun(
        day=command.date,
        seconds=seconds,
        contracts=done.contracts,
        accounts=done.accounts,
        positions=positions,
        events=len(events),
        postings=len(house.ledger.journal) - postings,
        margin_calls=done.margin_calls,
        statements=len(house.statements) - statements,
        day_trades=day_trades,
        gc_s=collector.seconds,
        gc_collections=collector.collections,
    )


class _CollectorClock:
    """A ``gc.callbacks`` hook adding up the time spent in collections."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.collections += 1


class _Flow:
    """Generates each day's commands; it tracks the quotes itself, so a whole day can be
    generated before any of it is sent (nothing is refused: ``_send`` checks)."""

    def __init__(self, market: Market, spec: EodSpec) -> None:
        self.market = market
        self.house = market.house
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.day = spec.day
        self.ts = 0
        self.next_id = 0
        self.contracts = list(market.contracts)
        self.makers = {c.symbol: f"mm-{c.symbol}" for c in self.contracts}
        self.clients = [f"a{i:06d}" for i in range(spec.accounts)]
        self.mid: dict[str, int] = {}
        self.resting: dict[tuple[str, bool], int] = {}  # (symbol, maker buys) -> lots left
        self.maker_net: dict[str, int] = dict.fromkeys(self.makers, 0)
        self.since_drift: dict[str, int] = dict.fromkeys(self.makers, 0)
        self.commands: list[AnyCommand] = []

    # --- days ------------------------------------------------------------------------------

    def first_day(self) -> list[AnyCommand]:
        self._open_day(reopen=False)
        members = [f"m{i:02d}" for i in range(self.spec.members)]
        for member in members:
            self._emit(AddMember(self._tick(), member))
        for contract in self.contracts:
            maker = self.makers[contract.symbol]
            self._emit(OpenAccount(self._tick(), maker, members[0], opening_cap_exempt=True))
            self._emit(Deposit(self._tick(), maker, MAKER_DEPOSIT))
        plans = [self._plan() for _ in self.clients]
        for number, (client, plan) in enumerate(zip(self.clients, plans, strict=True)):
            self._emit(OpenAccount(self._tick(), client, members[number % len(members)]))
            self._emit(Deposit(self._tick(), client, self._deposit_for(plan)))
        for client, plan in zip(self.clients, plans, strict=True):
            for contract, lots in plan:
                self._drift(contract)
                self._take(client, contract, self._lean(contract), lots)
        return self._flush()

    def next_day(self) -> list[AnyCommand]:
        self.day = _next_business_day(self.day)
        self._open_day(reopen=True)
        positions = self.house.positions
        movers = self.rng.sample(
            self.clients, max(1, len(self.clients) * self.spec.movers_per_mille // 1000)
        )
        for client in movers:
            held = [
                p
                for p in positions.positions_of(client)
                if self._tradable(self._contract(p.symbol))
            ]
            if not held:
                continue
            position = self.rng.choice(held)
            lots = self.rng.randint(1, abs(position.quantity))
            self._take(client, self._contract(position.symbol), position.quantity < 0, lots)
        return self._flush()

    def end_of_day(self) -> EndOfDay:
        return EndOfDay(_at(self.day, END_OF_DAY_AT), self.day)

    def _open_day(self, reopen: bool) -> None:
        self.ts = _at(self.day, TRADING_FROM)
        self.resting.clear()
        for contract in self.contracts:
            symbol = contract.symbol
            if not self._tradable(contract):
                continue
            if reopen:
                self._emit(SetPhase(self._tick(), symbol, Phase.CONTINUOUS))
            reference = self.house.settlement_prices[symbol]
            room = max(1, reference * DRIFT_BP // 10_000)
            self.mid[symbol] = reference + (self.rng.randint(-room, room) if reopen else 0)
            if reopen:  # the makers quote every contract all day: its close has a mid
                self._quote(contract, True)
                self._quote(contract, False)

    # --- orders ----------------------------------------------------------------------------

    def _take(self, client: str, contract: ListedContract, buy: bool, lots: int) -> None:
        """The client's IOC crosses the market maker's quote on the other side."""
        symbol = contract.symbol
        maker_buys = not buy
        key = (symbol, maker_buys)
        price = self.mid[symbol] - 1 if maker_buys else self.mid[symbol] + 1
        if self.resting.get(key, 0) < lots:
            self._quote(contract, maker_buys)
        self._order(client, symbol, buy, lots, price, TimeInForce.IOC)
        self.resting[key] -= lots
        self.maker_net[symbol] += -lots if buy else lots
        self.since_drift[symbol] += 1

    def _quote(self, contract: ListedContract, buy: bool) -> None:
        """The market maker's GFD quote a tick from the mid, of the largest order size."""
        symbol = contract.symbol
        price = self.mid[symbol] - 1 if buy else self.mid[symbol] + 1
        size = contract.product.max_order_quantity
        self._order(self.makers[symbol], symbol, buy, size, price, TimeInForce.GFD)
        key = (symbol, buy)
        self.resting[key] = self.resting.get(key, 0) + size

    def _drift(self, contract: ListedContract) -> None:
        """Every ``DRIFT_EVERY`` fills the mid moves a tick (the maker requotes)."""
        symbol = contract.symbol
        if self.since_drift[symbol] < DRIFT_EVERY:
            return
        self.since_drift[symbol] = 0
        reference = self.house.settlement_prices[symbol]
        room = max(1, reference * DRIFT_BP // 10_000)
        step = self.rng.choice((-1, 1))
        if abs(self.mid[symbol] + step - reference) > room:
            step = -step
        self.mid[symbol] += step
        self._emit(CancelAll(self._tick(), self.makers[symbol], symbol))
        self.resting.pop((symbol, True), None)
        self.resting.pop((symbol, False), None)

    def _lean(self, contract: ListedContract) -> bool:
        """Buy or sell, leaning against the market maker's position (buy when it is long)."""
        scale = 4 * contract.product.max_order_quantity
        lean = max(-0.4, min(0.4, self.maker_net[contract.symbol] / scale))
        return self.rng.random() < 0.5 + lean

    def _order(
        self, account: str, symbol: str, buy: bool, lots: int, price: int, tif: TimeInForce
    ) -> None:
        self.next_id += 1
        self._emit(
            NewOrder(
                ts=self._tick(),
                account=account,
                client_order_id=f"o{self.next_id}",
                symbol=symbol,
                side=Side.BUY if buy else Side.SELL,
                order_type=OrderType.LIMIT,
                quantity=lots,
                price=price,
                time_in_force=tif,
            )
        )

    # --- plans -----------------------------------------------------------------------------

    def _plan(self) -> list[tuple[ListedContract, int]]:
        """The contracts (distinct) and lots one client account will trade on day one."""
        count = self.rng.choices(
            [n for n, _ in CONTRACTS_PER_ACCOUNT], [w for _, w in CONTRACTS_PER_ACCOUNT]
        )[0]
        tradable = [c for c in self.contracts if self._tradable(c)]
        weights = self._weights(tradable)
        chosen: list[ListedContract] = []
        while len(chosen) < min(count, len(tradable)):
            pick = self.rng.choices(tradable, weights)[0]
            if pick not in chosen:
                chosen.append(pick)
        return [(c, min(self.spec.max_lots, int(self.rng.paretovariate(1.2)))) for c in chosen]

    def _weights(self, contracts: list[ListedContract]) -> list[float]:
        rank: dict[str, int] = {}
        weights = []
        for contract in contracts:
            code = contract.product.code
            weights.append(PRODUCT_SHARE.get(code, 0.1) * MONTH_DECAY ** rank.get(code, 0))
            rank[code] = rank.get(code, 0) + 1
        return weights

    def _deposit_for(self, plan: list[tuple[ListedContract, int]]) -> int:
        """1.2 to 4 times the outright initial margin of the planned positions."""
        house = self.house
        outright = 0
        for contract, lots in plan:
            symbol = contract.symbol
            parameters = house.margin_parameters[contract.product.code]
            price = house.settlement_prices[symbol]
            scan = parameters.scan_range_ticks(price * (10_000 + DRIFT_BP) // 10_000 + 2)
            outright += lots * (scan + 2) * house.terms[symbol].tick_value
        return int(outright * self.rng.uniform(1.2, 4.0)) + 1

    # --- helpers ---------------------------------------------------------------------------

    def _tradable(self, contract: ListedContract) -> bool:
        return contract.last_trading_day >= self.day

    def _contract(self, symbol: str) -> ListedContract:
        return next(c for c in self.contracts if c.symbol == symbol)

    def _emit(self, command: AnyCommand) -> None:
        self.commands.append(command)

    def _flush(self) -> list[AnyCommand]:
        commands, self.commands = self.commands, []
        return commands

    def _tick(self) -> int:
        self.ts += 1
        return self.ts


def _at(day: date, offset: timedelta) -> int:
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + offset
    return int(moment.timestamp()) * 1_000_000


def _next_business_day(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day
