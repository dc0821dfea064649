"""Clearing benchmark, part 2: what the clearing house's pipeline costs per command.

The matching benchmark's seeded order stream (``workload.py``: prefill, warm-up, then mostly
amends with new GTC limits, IOCs and cancels, 50 accounts, one contract) runs through three
subjects, each built fresh in every repetition:

- ``exchange``: the bare matching core, ``Exchange([rules])``;
- ``house, risk off``: ``ClearingHouse(Exchange([rules]), ..., risk=False)``: the pipeline and
  the clearing of every trade (positions, fees, statement lines), no pre-trade risk;
- ``house, risk on``: the same with the pre-trade risk checks (the default of a market).

The contract is the real ``TKN2612`` (its clearing terms and margin parameters from the
product file) with the workload's wider daily limit, so that every order of the stream is
inside it. Before the stream, untimed, the clearing house admits a member and opens the 50
accounts, exempt from the intraday opening cap as market makers are, each funded with USD 10
billion so that every order passes: the checks run in full (limits, the worst case of the
working orders, SPAN margin) and accept.

The timed commands run interleaved by chunks of 1,000 (``measure.py``): chunk 1 on each
subject in turn, then chunk 2, the first subject rotating from chunk to chunk and from
repetition to repetition; the collector is collected before and disabled throughout, as in
the matching benchmark. Every repetition is verified: nothing is refused, both clearing
houses emit exactly the core's events (their own ``TradeCleared`` set aside), one
``TradeCleared`` per trade, the same event stream in every repetition and the same final book.

The pre-trade risk cost per checked order (new orders and amends; cancels are not checked) is
the per-command time of ``risk on`` minus that of ``risk off``, times commands / checked
orders, per repetition, then the median.
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from typing import Any

from tokenfutures.adapters.calendars import load_trading_calendar
from tokenfutures.adapters.products_file import load_products
from tokenfutures.bench.measure import (
    CHUNK_COMMANDS,
    Chunk,
    Subject,
    Timing,
    chunk_bounds,
    median_timing,
    run_chunk,
    timing_of,
)
from tokenfutures.bench.verify import VerificationError, event_hash
from tokenfutures.bench.workload import Workload, WorkloadSpec
from tokenfutures.domain.clearing.commands import AddMember, OpenAccount
from tokenfutures.domain.clearing.events import TradeCleared
from tokenfutures.domain.clearing.house import AnyCommand, ClearingHouse
from tokenfutures.domain.clearing.terms import contract_terms, margin_parameters
from tokenfutures.domain.commands import AmendOrder, CancelOrder, Deposit, NewOrder
from tokenfutures.domain.events import CommandRejected, TradeExecuted
from tokenfutures.domain.exchange import Exchange
from tokenfutures.domain.listing import find_contract

DAY = date(2026, 11, 23)
START_TS = 1_795_397_400_000_000  # 2026-11-23T01:30:00Z, 09:30 in Shanghai
ACCOUNT_DEPOSIT = 10**12  # minor units: USD 10 billion per account
SUBJECTS = ("exchange", "house, risk off", "house, risk on")


def pipeline_spec(commands: int, seed: int = 2612) -> WorkloadSpec:
    """The matching benchmark's stream, dated on a trading day of ``TKN2612``."""
    return WorkloadSpec(
        commands=commands,
        seed=seed,
        warmup_commands=min(20_000, commands // 10),
        start_ts=START_TS,
    )


@dataclass(frozen=True, slots=True)
class SubjectFigures:
    timing: Timing  # medians over the repetitions
    cmds_per_s_runs: tuple[float, ...]

    def as_dict(self) -> dict[str, float]:
        return {
            "cmds_per_s": round(self.timing.cmds_per_s, 1),
            "p50_us": round(self.timing.p50_us, 3),
            "p99_us": round(self.timing.p99_us, 3),
            "p999_us": round(self.timing.p999_us, 3),
        }


@dataclass(frozen=True, slots=True)
class PipelineResult:
    figures: dict[str, SubjectFigures]  # by name in SUBJECTS
    repetitions: int
    timed_commands: int
    checked_orders: int  # new orders and amends in the timed stream
    trades: int  # per run, prefill and warm-up included
    event_hash: str
    ratio_runs: tuple[float, ...]  # risk on / exchange, per repetition
    risk_us_runs: tuple[float, ...]  # pre-trade risk per checked order, per repetition
    clearing_us_runs: tuple[float, ...]  # risk off - exchange, per command, per repetition

    @property
    def ratio(self) -> float:
        """Throughput of the clearing house with risk on over the bare exchange's."""
        return statistics.median(self.ratio_runs)

    @property
    def risk_us_per_order(self) -> float:
        return statistics.median(self.risk_us_runs)

    @property
    def clearing_us_per_command(self) -> float:
        return statistics.median(self.clearing_us_runs)


def run_pipeline_benchmark(
    workload: Workload,
    repetitions: int,
    progress: Callable[[str], None] | None = None,
    chunk_commands: int = CHUNK_COMMANDS,
) -> PipelineResult:
    timed = workload.timed
    chunks = chunk_bounds(len(timed), chunk_commands)
    admin = _admin_commands(workload)
    untimed = workload.prefill + workload.warmup
    checked = sum(1 for c in timed if type(c) is NewOrder or type(c) is AmendOrder)
    timings: dict[str, list[Timing]] = {name: [] for name in SUBJECTS}
    hashes: set[str] = set()
    trades = 0
    for repetition in range(1, repetitions + 1):
        subjects = [
            _subject(Exchange([workload.spec.rules()]), (), untimed, len(timed), len(chunks)),
            *(
                _subject(_house(workload, risk), admin, untimed, len(timed), len(chunks))
                for risk in (False, True)
            ),
        ]
        _run_rotating(subjects, timed, chunks, repetition)
        trades = _verify(subjects, len(admin), hashes)
        for name, subject in zip(SUBJECTS, subjects, strict=True):
            timings[name].append(timing_of(subject.stamps, chunks))
        if progress is not None:
            line = ", ".join(f"{n} {timings[n][-1].cmds_per_s:,.0f}" for n in SUBJECTS)
            progress(f"repetition {repetition}/{repetitions}: cmds/s {line}; verified")
        del subjects
    rates = {name: [t.cmds_per_s for t in timings[name]] for name in SUBJECTS}
    exchange, off, on = (rates[name] for name in SUBJECTS)
    return PipelineResult(
        figures={
            name: SubjectFigures(median_timing(timings[name]), tuple(rates[name]))
            for name in SUBJECTS
        },
        repetitions=repetitions,
        timed_commands=len(timed),
        checked_orders=checked,
        trades=trades,
        event_hash=hashes.pop(),
        ratio_runs=tuple(b / a for a, b in zip(exchange, on, strict=True)),
        risk_us_runs=tuple(
            (1e6 / b - 1e6 / a) * len(timed) / max(1, checked) for a, b in zip(off, on, strict=True)
        ),
        clearing_us_runs=tuple(1e6 / b - 1e6 / a for a, b in zip(exchange, off, strict=True)),
    )


def _house(workload: Workload, risk: bool) -> ClearingHouse:
    spec = workload.spec
    products = load_products()
    contract = find_contract(products, load_trading_calendar(), spec.symbol, DAY)
    terms = replace(contract_terms(contract), price_limit_bp=spec.price_limit_bp)
    margins = {code: margin_parameters(product) for code, product in products.items()}
    return ClearingHouse(Exchange([spec.rules()]), [terms], margins, risk=risk)


def _admin_commands(workload: Workload) -> tuple[AnyCommand, ...]:
    """A member and the workload's accounts, opened and funded, before its first command."""
    everything = workload.prefill + workload.warmup + workload.timed
    accounts = sorted(
        {c.account for c in everything if isinstance(c, NewOrder | CancelOrder | AmendOrder)}
    )
    ts = workload.spec.start_ts - 1_000_000
    commands: list[AnyCommand] = [AddMember(ts, "m00")]
    for account in accounts:
        commands.append(OpenAccount(ts, account, "m00", opening_cap_exempt=True))
        commands.append(Deposit(ts, account, ACCOUNT_DEPOSIT))
    return tuple(commands)


def _subject(
    owner: Exchange | ClearingHouse,
    admin: Sequence[AnyCommand],
    untimed: Sequence[AnyCommand],
    timed_count: int,
    chunk_count: int,
) -> Subject:
    exchange = owner if isinstance(owner, Exchange) else owner.exchange
    depth = partial(exchange.depth, next(iter(exchange.instruments)))
    return Subject(owner.handle, depth, (*admin, *untimed), timed_count, chunk_count)


def _run_rotating(
    subjects: Sequence[Subject], commands: Sequence[Any], chunks: Sequence[Chunk], turn: int
) -> None:
    """Every chunk on every subject, the first one rotating from chunk to chunk."""
    count = len(subjects)
    gc.collect()
    gc.disable()
    try:
        for number, (start, stop) in enumerate(chunks):
            first = (number + turn) % count
            for subject in (*subjects[first:], *subjects[:first]):
                run_chunk(subject, commands, start, stop, number)
    finally:
        gc.enable()


def _verify(subjects: Sequence[Subject], admin_count: int, hashes: set[str]) -> int:
    """Raise VerificationError unless all three did the same work; the trade count."""
    exchange, *houses = subjects
    expected = event_hash(exchange.outputs)
    trades = _count(exchange.outputs, TradeExecuted)
    for name, house in zip(SUBJECTS[1:], houses, strict=True):
        outputs = house.outputs[admin_count:]
        rejected = _count(house.outputs, CommandRejected)
        cleared = _count(outputs, TradeCleared)
        if rejected or cleared != trades:
            raise VerificationError(
                f"{name}: {rejected} commands refused, {cleared} trades cleared of {trades}"
            )
        core = [[e for e in events if type(e) is not TradeCleared] for events in outputs]
        if event_hash(core) != expected:
            raise VerificationError(f"{name}: the core's events differ from the bare exchange's")
        if house.final_depth() != exchange.final_depth():
            raise VerificationError(f"{name}: the final book differs from the bare exchange's")
    if _count(exchange.outputs, CommandRejected):
        raise VerificationError("the bare exchange refused a command")
    hashes.add(expected)
    if len(hashes) != 1:
        raise VerificationError("the event stream changed from one repetition to the next")
    return trades


def _count(outputs: Sequence[Sequence[Any]], kind: type) -> int:
    return sum(1 for events in outputs for event in events if type(event) is kind)
