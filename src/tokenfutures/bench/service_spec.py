"""The service benchmark's settings and constants."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

Progress = Callable[[str], None]

CYCLE = ("passive", "passive", "cancel", "cancel", "maker", "taker",
         "passive", "passive", "cancel", "cancel")  # fmt: skip
MIN_RESTING = 10  # resting orders an account keeps before its cancels start
PASSIVE_LEVELS = 20  # passive prices 2 .. 21 ticks from the settlement price
KEY_RATE = 40  # order-entry requests per second per key (the API allows 50/s, burst 100)
SUSTAINED_SHARE = 0.95  # achieved / offered
SUSTAINED_P99_MS = 100.0  # a backlog building up shows here first
SUSTAINED_LAG_MS = 50.0  # the sender's own lag behind its schedule (p99)
SUSTAINED_ERRORS = 0.01  # share of the requests
CLIENT_BUSY = 0.9  # cores: a load generator this busy is a limit itself
STARTUP_S = 30.0
STOP_S = 5.0
BACKLOG_S = 0.5  # the sender sheds while more than this many seconds of requests are unanswered
MIN_BACKLOG = 200
UNSERVED = frozenset({"shed_by_sender", "not_sent", "unanswered"})
SETTLE_S = 60.0
MAX_LAG_SAMPLES = 200_000
SHANGHAI = ZoneInfo("Asia/Shanghai")
BENCH_MEMBER = "BENCH"
BENCH_DEPOSIT = "10000000.00"
ACCOUNTS = ("bench-a", "bench-b")


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    seconds: float = 3.0
    repeat: int = 3
    rest_rates: tuple[int, ...] = (250, 1_000)
    ws_rates: tuple[int, ...] = (1_000, 2_000, 5_000)
    ws_connections: int = 16  # at least this many order-entry connections, half per account
    rest_connections: int = 32  # keep-alive connections, half per account
    subscribers: int = 100
    fanout_rates: tuple[int, ...] = (100,)  # orders/s of the fan-out driver
    drain_s: float = 3.0  # waiting for the last answers after the last request
    profile: bool = False
    ceiling_commands: int = 20_000
