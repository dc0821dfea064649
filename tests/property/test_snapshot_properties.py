"""A snapshot taken anywhere, restored and run on, is the uninterrupted run (engine/snapshot*).

For random command streams, the stream is run whole, and again with a stop after a random
command: the state is exported, written as JSON, read back and restored into a fresh clearing
house (or exchange), and the rest of the stream runs there. Properties:

- the restored state hash is the original's at that point;
- every later command gives the same events and the same state hash as the whole run;
- the read models (``service/views.py``) restored with it end equal to the whole run's;
- a restored state snapshotted again later (a second stop) still runs on identically.

Streams: the clearing streams of clearing_streams.py (orders of every kind, ends of day,
margin calls, liquidations, defaults, final settlements) and the matching core's streams of
streams.py (stops, amends, self-trade prevention), the latter with the circuit breaker on.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.clearing import Clearing
from tokenfutures.domain.exchange import Exchange
from tokenfutures.domain.values import MICROS_PER_SECOND, Phase
from tokenfutures.engine import snapshot
from tokenfutures.engine.snapshot_exchange import export_exchange, restore_exchange
from tokenfutures.service.views import Views

from .clearing_streams import SEEDED, STREAM_TERMS, run_market
from .streams import RULES, IntChooser, command_streams, generate_stream

BREAKER_RULES = tuple(
    replace(r, circuit_breaker_bp=60, circuit_breaker_window=60 * MICROS_PER_SECOND,
            circuit_breaker_pause=MICROS_PER_SECOND)
    for r in RULES
)  # fmt: skip


class Engine(Protocol):
    def handle(self, command: Any) -> list[Any]: ...
    def state_hash(self) -> str: ...


class Run:
    """One engine (a clearing house or a bare exchange) with the read models beside it."""

    def __init__(
        self,
        engine: Engine,
        export: Callable[[Any], Any],
        restore: Callable[[Any, Any], None],
    ) -> None:
        self.engine, self._export, self._restore = engine, export, restore
        self.views = Views()

    def handle(self, command: Any) -> list[Any]:
        events = self.engine.handle(command)
        self.views.apply(events)
        return events

    def export(self) -> dict[str, Any]:
        document = {"engine": self._export(self.engine), "views": self.views.export()}
        loaded: dict[str, Any] = json.loads(json.dumps(document))  # as it is stored
        return loaded

    def restore(self, document: dict[str, Any]) -> None:
        self._restore(self.engine, document["engine"])
        self.views.restore(document["views"])


def clearing_run() -> Run:
    return Run(Clearing(terms=STREAM_TERMS).house, snapshot.export_house, snapshot.restore_house)


def exchange_run(rules: Sequence[Any] = RULES) -> Callable[[], Run]:
    def make() -> Run:
        return Run(Exchange(rules, phase=Phase.CONTINUOUS), export_exchange, restore_exchange)

    return make


def assert_resumes(make: Callable[[], Run], commands: Sequence[Any], stops: Sequence[int]) -> None:
    """``commands`` run whole, and run with a snapshot restored into a fresh engine at each
    of ``stops`` (ascending): identical events, state hashes and read models throughout."""
    whole, current = make(), make()
    position = 0
    for stop in stops:
        for command in commands[position:stop]:
            whole.handle(command)
            current.handle(command)
        position = stop
        document = current.export()
        current = make()
        current.restore(document)
        assert current.engine.state_hash() == whole.engine.state_hash(), f"restored at {stop}"
        assert current.export() == document
    for index in range(position, len(commands)):
        expected = whole.handle(commands[index])
        assert current.handle(commands[index]) == expected, f"command {index} after {stops}"
        assert current.engine.state_hash() == whole.engine.state_hash(), f"command {index}"
    assert current.views == whole.views


# --- the clearing house ------------------------------------------------------------------


@st.composite
def clearing_streams(draw: st.DrawFn) -> tuple[list[Any], list[int]]:
    """A clearing stream's commands and two stops in it."""
    days = draw(st.integers(min_value=2, max_value=5))
    per_day = draw(st.integers(min_value=10, max_value=50))
    values = draw(
        st.lists(st.integers(0, 255), min_size=days * per_day * 4, max_size=days * per_day * 8)
    )
    commands = run_market(IntChooser(values), days, per_day).c.commands
    first = draw(st.integers(min_value=0, max_value=len(commands)))
    second = draw(st.integers(min_value=first, max_value=len(commands)))
    return commands, [first, second]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(stream=clearing_streams())
def test_a_clearing_stream_resumed_from_snapshots_is_the_uninterrupted_run(
    stream: tuple[list[Any], list[int]],
) -> None:
    commands, stops = stream
    assert_resumes(clearing_run, commands, stops)


def test_a_seeded_clearing_stream_resumes_identically_from_anywhere() -> None:
    """The seeded stream that takes every path (liquidations, defaults, final settlement),
    resumed from snapshots at random places, and once from every end of day."""
    market = run_market(random.Random(SEEDED), days=14, per_day=160)
    counts, commands = market.c.counts, market.c.commands
    assert min(counts["LiquidationStarted"], counts["DefaultDeclared"]) > 0
    assert min(counts["FinalSettlementPaid"], counts["LimitLocked"]) > 0
    chooser = random.Random(11)
    for _ in range(3):
        stops = sorted(chooser.sample(range(len(commands) + 1), 2))
        assert_resumes(clearing_run, commands, stops)
    ends = [i + 1 for i, c in enumerate(commands) if type(c).__name__ == "EndOfDay"]
    assert len(ends) >= 14
    assert_resumes(clearing_run, commands, ends)


# --- the matching core, circuit breaker on ---------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands=command_streams(max_commands=120), data=st.data())
def test_an_exchange_stream_resumed_from_a_snapshot_is_the_uninterrupted_run(
    commands: list[Any], data: st.DataObject
) -> None:
    stop = data.draw(st.integers(min_value=0, max_value=len(commands)))
    assert_resumes(exchange_run(), commands, [stop])


def test_seeded_exchange_streams_with_the_circuit_breaker_resume_identically() -> None:
    """Stops anywhere, and one while a contract is paused by its circuit breaker."""
    during_pauses = 0
    for seed in range(6):
        commands = generate_stream(random.Random(seed), 1_500, rules=BREAKER_RULES)
        whole = exchange_run(BREAKER_RULES)()
        paused: list[int] = []
        for index, command in enumerate(commands, start=1):
            whole.handle(command)
            if any(i.reopen_at is not None for i in whole.engine.instruments.values()):
                paused.append(index)
        chooser = random.Random(100 + seed)
        stops = {chooser.randint(0, len(commands)), chooser.randint(0, len(commands))}
        if paused:
            stops.add(chooser.choice(paused))
            during_pauses += 1
        assert_resumes(exchange_run(BREAKER_RULES), commands, sorted(stops))
    assert during_pauses >= 3, "the streams should pause a contract now and then"
