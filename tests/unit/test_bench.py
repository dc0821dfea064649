"""The matching benchmark: the baseline book, the workload, the harness's checks and the CLI."""

from __future__ import annotations

import json
import sys
from array import array
from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from typer.testing import CliRunner

from tokenfutures.bench.baseline import BUY, SELL, BaselineBook
from tokenfutures.bench.harness import load_engine_factory, run_benchmark
from tokenfutures.bench.measure import (
    Subject,
    chunk_bounds,
    percentile,
    run_interleaved,
    timing_of,
)
from tokenfutures.bench.verify import VerificationError, engine_trades, verify_run
from tokenfutures.bench.workload import Workload, WorkloadSpec, build_workload
from tokenfutures.cli import app
from tokenfutures.domain.commands import AmendOrder, CancelOrder, NewOrder
from tokenfutures.domain.events import TradeExecuted
from tokenfutures.domain.rules import price_limits

SMALL = WorkloadSpec(commands=3_000, warmup_commands=300, seed=7)


@pytest.fixture(scope="module")
def small() -> Workload:
    return build_workload(SMALL)


# --- the baseline book ---------------------------------------------------------------------


def test_fifo_at_one_level() -> None:
    book = BaselineBook()
    book.submit("a", "s1", SELL, 100, 2, ioc=False)
    book.submit("b", "s2", SELL, 100, 2, ioc=False)
    assert book.submit("c", "b1", BUY, 100, 3, ioc=False) == [
        (100, 2, "b1", "s1"),
        (100, 1, "b1", "s2"),
    ]
    assert book.depth() == ([], [(100, 1)])


def test_trade_prints_at_the_resting_price() -> None:
    book = BaselineBook()
    book.submit("a", "b1", BUY, 98, 5, ioc=False)
    book.submit("a", "b2", BUY, 97, 5, ioc=False)
    assert book.submit("b", "s1", SELL, 90, 7, ioc=False) == [
        (98, 5, "b1", "s1"),
        (97, 2, "b2", "s1"),
    ]
    assert book.depth() == ([(97, 3)], [])


def test_ioc_remainder_is_cancelled() -> None:
    book = BaselineBook()
    book.submit("a", "s1", SELL, 100, 2, ioc=False)
    assert book.submit("b", "b1", BUY, 101, 5, ioc=True) == [(100, 2, "b1", "s1")]
    assert book.depth() == ([], [])
    assert ("b", "b1") not in book.orders


def test_self_trade_cancels_the_incoming_remainder() -> None:
    book = BaselineBook()
    book.submit("b", "s1", SELL, 100, 1, ioc=False)
    book.submit("a", "s2", SELL, 100, 2, ioc=False)
    book.submit("b", "s3", SELL, 100, 4, ioc=False)
    assert book.submit("a", "b1", BUY, 100, 5, ioc=False) == [(100, 1, "b1", "s1")]
    assert book.depth() == ([], [(100, 6)])
    assert ("a", "b1") not in book.orders
    assert ("a", "s2") in book.orders


def test_amend_loses_priority_and_may_trade_at_once() -> None:
    book = BaselineBook()
    book.submit("a", "s1", SELL, 100, 1, ioc=False)
    book.submit("b", "s2", SELL, 100, 1, ioc=False)
    assert book.amend("a", "s1", 101) == []
    assert book.amend("a", "s1", 100) == []
    assert book.submit("c", "b1", BUY, 100, 1, ioc=False) == [(100, 1, "b1", "s2")]
    book.submit("c", "b2", BUY, 99, 3, ioc=False)
    assert book.amend("c", "b2", 100) == [(100, 1, "b2", "s1")]
    assert book.depth() == ([(100, 2)], [])


def test_cancel_and_amend_of_dead_orders_are_ignored() -> None:
    book = BaselineBook()
    book.submit("a", "s1", SELL, 100, 1, ioc=False)
    book.submit("b", "b1", BUY, 100, 1, ioc=False)
    book.cancel("a", "s1")
    book.cancel("z", "nope")
    assert book.amend("a", "s1", 99) == []
    assert book.depth() == ([], [])
    assert book.orders == {}


# --- the workload --------------------------------------------------------------------------


def test_workload_mix_is_within_tolerance(small: Workload) -> None:
    counts = small.stats.counts
    assert sum(counts.values()) == len(small.timed) == SMALL.commands
    shares = {kind: count / SMALL.commands for kind, count in counts.items()}
    assert shares["new_gtc"] == pytest.approx(0.09, abs=0.02)
    assert shares["ioc"] == pytest.approx(0.03, abs=0.015)
    assert shares["cancel"] == pytest.approx(0.06, abs=0.02)
    assert shares["amend"] == pytest.approx(0.82, abs=0.03)


def test_workload_is_deterministic_for_a_seed(small: Workload) -> None:
    again = build_workload(SMALL)
    other = build_workload(replace(SMALL, seed=8))
    assert again.prefill + again.warmup + again.timed == small.prefill + small.warmup + small.timed
    assert other.timed != small.timed


def test_prefill_rests_without_crossing(small: Workload) -> None:
    book = BaselineBook()
    assert all(book.handle(command) == [] for command in small.prefill)
    bids, asks = book.depth()
    assert len(small.prefill) == 1_000
    assert len(bids) + len(asks) == small.stats.prefill_levels == 700
    assert bids[0][0] < asks[0][0]


def test_stream_targets_live_orders_with_real_changes(small: Workload) -> None:
    lowest, highest = price_limits(SMALL.reference_price, SMALL.price_limit_bp)
    book = BaselineBook()
    commands = [*small.prefill, *small.warmup, *small.timed]
    for previous, command in zip(commands, commands[1:], strict=False):
        assert command.ts == previous.ts + 1
    for command in commands:
        if isinstance(command, CancelOrder | AmendOrder):
            order = book.orders[(command.account, command.client_order_id)]
            assert not isinstance(command, AmendOrder) or command.price != order.price
        if isinstance(command, NewOrder | AmendOrder):
            assert command.price is not None
            assert lowest < command.price < highest
        book.handle(command)
    assert 700 <= len(book.orders) <= 1_300


# --- the harness ---------------------------------------------------------------------------


def test_percentile_is_nearest_rank() -> None:
    ordered = list(range(1, 1_001))
    assert percentile(ordered, 500) == 500
    assert percentile(ordered, 990) == 990
    assert percentile(ordered, 999) == 999
    assert percentile([7], 999) == 7


def test_timing_from_raw_stamps_skips_the_gaps_between_chunks() -> None:
    chunks = chunk_bounds(4, size=2)
    assert chunks == [(0, 2), (2, 4)]
    timing = timing_of(array("q", [0, 1_000, 3_000, 10_000, 11_000, 15_000]), chunks)
    assert timing.cmds_per_s == pytest.approx(500_000)
    assert timing.p50_us == pytest.approx(1.0)
    assert timing.p999_us == pytest.approx(4.0)


def test_engine_trades_equal_the_baseline_trades(small: Workload) -> None:
    untimed = small.prefill + small.warmup
    chunks = chunk_bounds(len(small.timed), size=700)
    exchange = load_engine_factory(small)()
    book = BaselineBook()
    engine = Subject(
        exchange.handle,
        lambda: exchange.depth(SMALL.symbol),
        untimed,
        len(small.timed),
        len(chunks),
    )
    baseline = Subject(book.handle, book.depth, untimed, len(small.timed), len(chunks))
    run_interleaved((engine, baseline), small.timed, chunks, flip=False)
    depths = (engine.final_depth(), baseline.final_depth())
    trades = verify_run(untimed + small.timed, engine.outputs, baseline.outputs, depths)
    assert trades == sum(map(len, baseline.outputs)) > 0
    assert all(stamp > 0 for stamp in engine.stamps)
    assert all(stamp > 0 for stamp in baseline.stamps)


class _DroppingEngine:
    """The real engine, except that it loses the first trade it reports."""

    def __init__(self, workload: Workload) -> None:
        self.exchange = load_engine_factory(workload)()
        self.dropped = False

    def handle(self, command: Any) -> list[Any]:
        events: list[Any] = self.exchange.handle(command)
        if not self.dropped and engine_trades(events):
            self.dropped = True
            return [e for e in events if type(e) is not TradeExecuted]
        return events

    def depth(self, symbol: str) -> Any:
        return self.exchange.depth(symbol)


def test_a_lost_trade_fails_verification(small: Workload) -> None:
    with pytest.raises(VerificationError, match="trades differ at command"):
        run_benchmark(small, 1, lambda: _DroppingEngine(small))


def test_a_changed_event_stream_fails_verification(small: Workload) -> None:
    engines = iter([load_engine_factory(small)(), _DroppingEngine(small)])
    with pytest.raises(VerificationError, match="event stream changed in repetition 2"):
        run_benchmark(small, 2, lambda: next(engines))


def test_benchmark_reports_medians_of_verified_runs(small: Workload) -> None:
    result = run_benchmark(small, 2, load_engine_factory(small), chunk_commands=500)
    assert result.repetitions == 2
    assert len(result.event_hash) == 64
    assert result.engine.timing.cmds_per_s > 0
    assert result.baseline.bytes_per_order > 0
    assert result.ratio == result.engine.timing.cmds_per_s / result.baseline.timing.cmds_per_s


# --- the command line ----------------------------------------------------------------------


def test_cli_json_has_the_documented_fields() -> None:
    result = CliRunner().invoke(
        app, ["bench", "matching", "--commands", "400", "--repeat", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {
        "engine",
        "baseline",
        "ratio",
        "workload",
        "event_hash",
        "repetitions",
        "machine",
    }
    figures = {"cmds_per_s", "p50_us", "p99_us", "p999_us", "bytes_per_order"}
    assert set(report["engine"]) == set(report["baseline"]) == figures
    assert report["repetitions"] == 1
    assert report["workload"]["timed_commands"] == 400


def test_cli_exits_2_when_the_engine_cannot_be_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tokenfutures.domain.exchange", None)
    result = CliRunner().invoke(app, ["bench", "matching", "--commands", "100", "--repeat", "1"])
    assert result.exit_code == 2
    assert "the engine cannot be imported" in result.stderr


def test_index_bench_reports_both_timings_and_verifies_repetitions() -> None:
    from tokenfutures.bench.index_bench import run_index_benchmark

    timings = run_index_benchmark(date(2026, 11, 20), years=1, repeat=2)
    assert timings.indices == 9
    assert timings.history_days == 366
    assert timings.one_day_s > 0
    assert timings.history_s > 0
    assert len(timings.history_sha256) == 64


# --- the clearing benchmark ----------------------------------------------------------------

CLEARING_TINY = ["bench", "clearing", "--accounts", "200", "--repeat", "1", "--commands", "1000"]


def test_clearing_bench_json_has_the_documented_fields() -> None:
    result = CliRunner().invoke(app, [*CLEARING_TINY, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"end_of_day", "pipeline", "machine"}
    eod = report["end_of_day"]
    assert {
        "setup",
        "first_end_of_day",
        "runs",
        "median_s",
        "min_s",
        "max_s",
        "accounts",
        "positions",
        "events",
        "accounts_per_s",
    } <= set(eod)
    assert eod["client_accounts"] == 200
    assert eod["contracts"] == 24
    assert eod["repetitions"] == len(eod["runs"]) == 1
    assert eod["accounts"] >= 200  # every client account holds a position, and the makers
    assert eod["positions"] >= eod["accounts"]
    assert eod["min_s"] <= eod["median_s"] <= eod["max_s"]
    assert eod["setup"]["trades"] > 0
    assert eod["verified"] is True
    pipeline = report["pipeline"]
    figures = {"cmds_per_s", "p50_us", "p99_us", "p999_us"}
    for name in ("exchange", "house, risk off", "house, risk on"):
        assert set(pipeline[name]) == figures
    ratio = pipeline["house, risk on"]["cmds_per_s"] / pipeline["exchange"]["cmds_per_s"]
    assert pipeline["ratio"] == pytest.approx(ratio, rel=1e-3)
    assert pipeline["timed_commands"] == 1000
    assert 0 < pipeline["checked_orders"] <= 1000
    assert "risk_us_per_checked_order" in pipeline
    assert len(pipeline["event_hash"]) == 64


def test_clearing_bench_text_names_every_figure() -> None:
    result = CliRunner().invoke(app, CLEARING_TINY)
    assert result.exit_code == 0, result.output
    for text in (
        "END OF DAY",
        "set-up",
        "median",
        "accounts/s",
        "PIPELINE",
        "house, risk on",
        "ratio",
        "µs per checked order",
        "verified",
    ):
        assert text in result.stdout


# --- the service benchmark -----------------------------------------------------------------


def test_service_order_flow_cancels_behind_its_orders_and_keeps_the_book_bounded() -> None:
    from decimal import Decimal

    from tokenfutures.bench.service_load import OrderFlow
    from tokenfutures.bench.service_market import Contract
    from tokenfutures.bench.service_spec import MIN_RESTING

    flow = OrderFlow(Contract("TKN2611", Decimal("2.500"), Decimal("0.001")), "t", lanes=3)
    placed: dict[str, tuple[int, int]] = {}
    resting: tuple[set[str], set[str]] = (set(), set())
    position = [0, 0]
    for slot in range(2_000):
        request = flow.next(slot)
        if request.kind == "cancel":
            assert placed[request.client_order_id] == (request.account, request.lane)
            resting[request.account].remove(request.client_order_id)
            continue
        assert request.client_order_id not in placed
        placed[request.client_order_id] = (request.account, request.lane)
        assert 0 <= request.lane < 3
        if request.kind == "passive":
            resting[request.account].add(request.client_order_id)
            assert (Decimal(request.price) < Decimal("2.499")) == (request.side == "buy")
            assert Decimal("2.479") <= Decimal(request.price) <= Decimal("2.521")
        else:  # a crossing pair: one tick inside every passive order, the taker an IOC
            assert request.account == (0 if request.kind == "maker" else 1)
            maker_sells = (request.side == "sell") == (request.kind == "maker")
            assert request.price == ("2.501" if maker_sells else "2.499")
            tif = request.order_fields("TKN2611")["time_in_force"]
            assert tif == ("IOC" if request.kind == "taker" else "GTC")
            position[request.account] += 1 if request.side == "buy" else -1
        assert len(resting[request.account]) <= MIN_RESTING + 2
    assert flow.kinds["maker"] == flow.kinds["taker"] == 200
    assert flow.kinds["passive"] + flow.kinds["cancel"] == 1_600
    assert all(abs(p) <= 1 for p in position)  # the sides alternate: positions stay flat


def test_service_quantile_is_nearest_rank() -> None:
    from tokenfutures.bench.service_load import quantile

    ordered = [float(i) for i in range(1, 101)]
    assert quantile(ordered, 0.5) == 50.0
    assert quantile(ordered, 0.99) == 99.0
    assert quantile([], 0.99) == 0.0


SERVICE_TINY = [
    "bench", "service", "--seconds", "1", "--repeat", "1", "--rest-rates", "20",
    "--ws-rates", "40", "--subscribers", "3", "--fanout-rates", "20",
    "--ceiling-commands", "200",
]  # fmt: skip


def test_service_bench_json_has_the_documented_fields() -> None:
    result = CliRunner().invoke(app, [*SERVICE_TINY, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {
        "contract", "seconds", "repetitions", "rest", "ws", "fanout", "sequencer_alone",
        "profile", "verdict", "sustained_rule", "server", "machine",
    }  # fmt: skip
    assert report["contract"].startswith("TKN")
    medians = {"offered_per_s", "achieved_per_s", "p50_ms", "p99_ms", "errors", "refused",
               "unserved", "sustained_runs", "runs", "cpu", "each"}  # fmt: skip
    for key, rate in (("rest", 20), ("ws", 40)):
        (stage,) = report[key]
        assert set(stage) == medians
        assert stage["offered_per_s"] == rate
        assert stage["runs"] == 1
        (run,) = stage["each"]
        assert run["transport"] == key
        assert run["scheduled"] == rate
        assert sum(run["kinds"].values()) == run["sent"] <= run["scheduled"]
        assert run["acked"] > 0
        assert set(run["cpu"]) == {"server_loop", "server_other", "client", "machine"}
        assert {"p50_ms", "p99_ms", "send_lag_p99_ms", "sustained", "limited_by"} <= set(run)
    (fanout,) = report["fanout"]
    assert fanout["subscribers"] == 3
    assert fanout["driver_per_s"] == 20
    assert {"deliveries_per_s", "lag_p50_ms", "lag_p99_ms", "complete_subscribers_min",
            "lost_max", "each"} <= set(fanout)  # fmt: skip
    assert fanout["each"][0]["deliveries"] > 0
    alone = report["sequencer_alone"]
    assert alone["commands"] == 200
    assert alone["per_s"] > 0
    assert set(alone["us_per_command"]) == {"journal", "apply", "market_data", "other"}
    assert report["profile"] is None
    assert report["verdict"]["target_ws_per_s"] == 5_000
    assert report["server"]["load_average_at_start"]
    assert report["machine"]["cpu_count"]
