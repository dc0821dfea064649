"""The bots' process: ``python -m tokenfutures.demo``, started by ``tokenfutures serve --demo``.

It reads one JSON line from standard input (the configuration: the exchange's URL, a seed,
each product's index value and circuit-breaker band, each bot's name, role, key and secret),
then steps the bots one at a time, each when it is due, in one thread: no bot waits on
another's timer, and the whole process makes a few dozen requests a second at most.

It stops, cancelling the bots' orders on the way out, on SIGINT or SIGTERM, and when its
standard input closes: the process that started it has gone (even killed), so the bots never
outlive the exchange. If no request has been answered for ``GIVE_UP_SECONDS`` it stops too.
"""

from __future__ import annotations

import heapq
import json
import logging
import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from types import FrameType
from typing import Any, TextIO

import httpx

from tokenfutures.client import ApiError, Client
from tokenfutures.demo.bots import Bot, Maker, Speculator, StripTrader
from tokenfutures.demo.market import DemoMarket, ProductInputs, build_market
from tokenfutures.demo.roster import (
    COMMON_MOVE_ODDS,
    FAIR_MOVES_PER_STEP,
    FAIR_STEP_SECONDS,
    GPU_OPERATOR,
    HEDGER,
)

log = logging.getLogger("tokenfutures.demo")
GIVE_UP_SECONDS = 30.0
READY_SECONDS = 30.0
INSTRUMENTS_SECONDS = 5.0
REQUEST_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class BotConfig:
    name: str
    role: str
    key: str
    secret: str


@dataclass(frozen=True, slots=True)
class DemoConfig:
    url: str
    seed: int
    products: dict[str, ProductInputs]
    bots: tuple[BotConfig, ...]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DemoConfig:
        products = {
            code: ProductInputs(
                None if entry.get("index") is None else Decimal(str(entry["index"])),
                int(entry["circuit_breaker_bp"]),
            )
            for code, entry in data["products"].items()
        }
        bots = tuple(BotConfig(b["name"], b["role"], b["key"], b["secret"]) for b in data["bots"])
        return cls(str(data["url"]), int(data["seed"]), products, bots)


def build_bots(
    config: DemoConfig, market: DemoMarket, stopping: Callable[[], bool], tag: str
) -> list[Bot]:
    """One bot per configured account, each with its own seeded random source."""
    bots: list[Bot] = []
    for number, bot in enumerate(config.bots):
        client = Client(config.url, bot.key, bot.secret, timeout=REQUEST_TIMEOUT_SECONDS)
        rng = random.Random(config.seed * 1_000 + number)
        if bot.role == "maker":
            bots.append(Maker(bot.name, client, market, rng, tag, stopping))
        elif bot.role == "hedger":
            bots.append(StripTrader(bot.name, client, market, rng, tag, HEDGER))
        elif bot.role == "gpu_operator":
            bots.append(StripTrader(bot.name, client, market, rng, tag, GPU_OPERATOR))
        elif bot.role == "speculator":
            bots.append(Speculator(bot.name, client, market, rng, tag))
        else:
            client.close()
            raise ValueError(f"bot {bot.name}: unknown role {bot.role!r}")
    return bots


def _instruments(url: str, stop: threading.Event) -> list[dict[str, Any]] | None:
    """The listed contracts, once the exchange answers (None if stopped or it never does)."""
    deadline = time.monotonic() + READY_SECONDS
    with Client(url, timeout=REQUEST_TIMEOUT_SECONDS) as public:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                return public.instruments()
            except (ApiError, httpx.HTTPError):
                stop.wait(0.2)
    return None


def run(config: DemoConfig, stop: threading.Event, out: TextIO = sys.stdout) -> int:
    """Trade until ``stop`` is set; the exit status."""
    instruments = _instruments(config.url, stop)
    if instruments is None:
        if stop.is_set():
            return 0
        log.error("the exchange at %s did not answer: the bots are not started", config.url)
        return 1
    market = build_market(instruments, config.products)
    tag = _run_tag()
    bots = build_bots(config, market, stop.is_set, tag)
    public = Client(config.url, timeout=REQUEST_TIMEOUT_SECONDS)
    try:
        now = time.monotonic()
        for bot in bots:
            bot.start(now)
        names = ", ".join(bot.name for bot in bots)
        print(f"demo bots trading on {config.url}: {names}", file=out, flush=True)
        return _loop(bots, market, random.Random(config.seed), stop, public)
    except (ApiError, httpx.HTTPError) as error:
        log.error("the bots could not start: %s", error)
        return 1
    finally:
        for bot in bots:
            bot.stop()
            bot.client.close()
        public.close()


def _loop(
    bots: list[Bot], market: DemoMarket, rng: random.Random, stop: threading.Event, public: Client
) -> int:
    """Step whatever is due until stopped: the bots, the fair values' walk, and a look at the
    instruments (phases, reference prices and limits: an operator may halt a contract or run
    an end of day)."""
    now = time.monotonic()
    walker, looker = len(bots), len(bots) + 1
    due: list[tuple[float, int]] = [(now, number) for number in range(len(bots) + 2)]
    heapq.heapify(due)
    while not stop.is_set():
        when, number = due[0]
        now = time.monotonic()
        if when > now:
            stop.wait(when - now)
            continue
        heapq.heappop(due)
        if number == walker:
            market.walk(rng, FAIR_MOVES_PER_STEP, COMMON_MOVE_ODDS)
            wait = rng.uniform(*FAIR_STEP_SECONDS)
        elif number == looker:
            _look(market, public)
            wait = INSTRUMENTS_SECONDS
        else:
            wait = _step(bots[number], now)
        heapq.heappush(due, (time.monotonic() + wait, number))
        failing = [bot.failing_since for bot in bots]
        if all(since is not None and now - since > GIVE_UP_SECONDS for since in failing):
            log.error("the exchange has not answered for %.0f s: the bots stop", GIVE_UP_SECONDS)
            return 1
    return 0


def _look(market: DemoMarket, public: Client) -> None:
    try:
        market.update(public.instruments())
    except (ApiError, httpx.HTTPError) as error:
        log.debug("instruments: %s", error)


def _step(bot: Bot, now: float) -> float:
    try:
        return bot.step(now)
    except Exception:  # a bug in one bot must not stop the others
        log.exception("%s: step failed", bot.name)
        return 5.0


def _run_tag() -> str:
    """A tag that makes this run's client order ids differ from every earlier run's."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    value, text = time.time_ns() // 1_000_000, ""
    while value:
        value, digit = divmod(value, 36)
        text = digits[digit] + text
    return text


def _watch_input(source: TextIO, stop: threading.Event) -> None:
    """Set ``stop`` when ``source`` ends: the process that started the bots is gone."""
    for _line in source:
        pass
    stop.set()


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="demo: %(message)s")
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    first = sys.stdin.readline()
    if not first.strip():
        log.error("expected the demo configuration as one JSON line on standard input")
        return 2
    config = DemoConfig.from_json(json.loads(first))
    threading.Thread(target=_watch_input, args=(sys.stdin, stop), daemon=True).start()
    return run(config, stop)
