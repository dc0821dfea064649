"""The bots: each one an account trading through the public client (``tokenfutures.client``).

A bot is stepped by the runner: ``start`` cancels what it left working in an earlier run and
arms the dead-man switch (``cancel_all_after``), ``step(now)`` looks at the market, acts and
says how long to wait before the next step, ``stop`` cancels its orders and disarms the
switch. Decisions come from the pure modules (``quoting``, ``taking``); here are only the
requests. A refusal (4xx) is normal in a live market (an order filled meanwhile, a phase
change) and only makes the bot look again; a 429 waits its Retry-After; a server that does
not answer makes the bot retry a second later.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx

from tokenfutures.client import ApiError, Client
from tokenfutures.demo.market import DemoMarket
from tokenfutures.demo.pricing import FairValue
from tokenfutures.demo.quoting import (
    Action,
    Amend,
    Cancel,
    Place,
    Working,
    maker_quotes,
    requote,
)
from tokenfutures.demo.roster import (
    DEADMAN_MS,
    DEADMAN_REFRESH_SECONDS,
    MAKER_ORDER_BURST,
    MAKER_ORDER_RATE,
    MAKER_STEP_SECONDS,
    SPECULATOR_STEP_SECONDS,
    TAKER_ORDER_BURST,
    TAKER_ORDER_RATE,
    StripSpec,
    maker_months,
    maker_params,
    speculator_params,
    speculator_view,
)
from tokenfutures.demo.taking import (
    Budget,
    StripParams,
    Take,
    Top,
    pick_front_weighted,
    speculate,
    strip_month,
    strip_take,
)

log = logging.getLogger("tokenfutures.demo")
LIVE = ("new", "partially_filled")
FILLS_LOOKED_AT = 50
RESYNC_SECONDS = 60.0
IDLE_SECONDS = DEADMAN_REFRESH_SECONDS  # the longest wait between steps: the switch stays armed


class Bot:
    """What every bot shares: its client, the market, a seeded random source, the switch."""

    def __init__(
        self, name: str, client: Client, market: DemoMarket, rng: random.Random, tag: str
    ) -> None:
        self.name = name
        self.client = client
        self.market = market
        self.rng = rng
        self.failing_since: float | None = None
        self._ids = itertools.count(1)
        self._tag = tag
        self._deadman_due = 0.0

    def next_client_order_id(self) -> str:
        return f"{self.name}-{self._tag}-{next(self._ids)}"

    def start(self, now: float) -> None:
        self.client.cancel_all()
        self.client.cancel_all_after(DEADMAN_MS)
        self._deadman_due = now + DEADMAN_REFRESH_SECONDS

    def step(self, now: float) -> float:
        """One step; the seconds until the next."""
        try:
            if now >= self._deadman_due:
                self.client.cancel_all_after(DEADMAN_MS)
                self._deadman_due = now + DEADMAN_REFRESH_SECONDS
            wait = self.act(now)
        except ApiError as error:
            if error.status == 429:
                return min(error.retry_after or 1.0, 5.0)
            log.debug("%s: %s", self.name, error)
            self.refused()
            wait = 1.0
        except httpx.HTTPError as error:  # a request that timed out may have been carried out
            self.refused()
            if self.failing_since is None:
                self.failing_since = now
                log.warning("%s: the exchange does not answer (%s); retrying", self.name, error)
            return 1.0
        self.failing_since = None
        return wait

    def stop(self) -> None:
        """Cancel the bot's orders and disarm the switch; an exchange gone is no error here."""
        try:
            self.client.cancel_all()
            self.client.cancel_all_after(0)
        except (ApiError, httpx.HTTPError) as error:
            log.debug("%s: stopping: %s", self.name, error)

    def act(self, now: float) -> float:
        raise NotImplementedError

    def refused(self) -> None:
        """A request was refused: look at the exchange afresh next time."""

    # --- reading the exchange --------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        return {p["symbol"]: int(p["quantity"]) for p in self.client.positions()}

    def top(self, symbol: str) -> Top:
        book = self.client.book(symbol, depth=1)
        view = self.market.contracts[symbol]
        bid = view.ticks(book["bids"][0][0]) if book["bids"] else None
        ask = view.ticks(book["asks"][0][0]) if book["asks"] else None
        return Top(bid, ask)

    def take(self, take: Take) -> dict[str, Any]:
        """Send an immediate-or-cancel order."""
        view = self.market.contracts[take.symbol]
        return self.client.place_order(
            take.symbol, take.side, take.quantity, view.text(take.price), "IOC",
            client_order_id=self.next_client_order_id(),
        )  # fmt: skip

    def jitter(self, bounds: tuple[float, float]) -> float:
        return self.rng.uniform(*bounds)


class Maker(Bot):
    """Quotes two-sided markets in its months of every product (``quoting``)."""

    def __init__(
        self, name: str, client: Client, market: DemoMarket, rng: random.Random, tag: str,
        stopping: Callable[[], bool],
    ) -> None:  # fmt: skip
        super().__init__(name, client, market, rng, tag)
        months = maker_months(name)
        self.symbols = [s for s in market.by_month() if market.contracts[s].month < months]
        self.params = {s: maker_params(name, market.contracts[s].product) for s in self.symbols}
        self.working: dict[str, dict[int, Working]] = {s: {} for s in self.symbols}
        self.inventory: dict[str, int] = {}
        self.budget = Budget(MAKER_ORDER_RATE, MAKER_ORDER_BURST)
        self._stopping = stopping
        self._last_trade_id = 0
        self._resync_due = 0.0

    def start(self, now: float) -> None:
        super().start(now)
        seen = self.client.fills(limit=1)
        self._last_trade_id = int(seen[0]["trade_id"]) if seen else 0
        self._resync_due = now + RESYNC_SECONDS

    def refused(self) -> None:
        self._resync_due = 0.0

    def act(self, now: float) -> float:
        if now >= self._resync_due:
            self._resync()
            self._resync_due = now + RESYNC_SECONDS
        else:
            self._follow_fills()
        self.inventory = self.positions()
        for symbol, actions in self._plans():
            if self._stopping() or self.budget.available(now) < 1:
                break
            self.budget.spend(self._execute(symbol, actions), now)
        return max(self.jitter(MAKER_STEP_SECONDS), min(self.budget.wait(now), IDLE_SECONDS))

    def _plans(self) -> list[tuple[str, list[Action]]]:
        """Each contract's requote plan, the most urgent first: levels to add or remove, then
        the largest price move, then the front months."""
        ranked: list[tuple[tuple[int, int, int], str, list[Action]]] = []
        for rank, symbol in enumerate(self.symbols):
            view, params = self.market.contracts[symbol], self.params[symbol]
            if not view.quoting:
                continue  # closed, halted or delisted: the orders wait as they are
            bids, asks = maker_quotes(
                view.value, self.inventory.get(symbol, 0), params, view.band,
                view.max_order_quantity,
            )  # fmt: skip
            working = self.working[symbol]
            actions = requote(list(working.values()), bids, asks, params.tolerance)
            if not actions:
                continue
            structural = sum(1 for a in actions if not isinstance(a, Amend))
            moved = max(
                (abs(a.price - working[a.order_id].price) for a in actions if isinstance(a, Amend)),
                default=0,
            )
            ranked.append(((-structural, -moved, rank), symbol, actions))
        ranked.sort(key=lambda entry: entry[0])
        return [(symbol, actions) for _, symbol, actions in ranked]

    def _execute(self, symbol: str, actions: list[Action]) -> int:
        """Carry out one contract's plan in order; stop at the first refusal (the plan's
        order keeps the own quotes uncrossed only when followed to the end). Requests sent."""
        for sent, action in enumerate(actions, start=1):
            try:
                self._do(symbol, action)
            except ApiError as error:
                if error.status == 429:
                    raise
                log.debug("%s %s: %s", self.name, symbol, error)
                self._resync_due = 0.0
                return sent
        return len(actions)

    def _do(self, symbol: str, action: Action) -> None:
        view = self.market.contracts[symbol]
        if isinstance(action, Cancel):
            self.working[symbol].pop(action.order_id, None)
            self.client.cancel_order(order_id=action.order_id)
        elif isinstance(action, Amend):
            current = self.working[symbol][action.order_id]
            price = None if action.price == current.price else view.text(action.price)
            quantity = None if action.quantity == current.quantity else action.quantity
            self._record(self.client.amend_order(action.order_id, price=price, quantity=quantity))
        elif isinstance(action, Place):
            order = self.client.place_order(
                symbol, action.side, action.quantity, view.text(action.price), "GTC",
                client_order_id=self.next_client_order_id(),
            )  # fmt: skip
            self._record(order)

    def _record(self, order: dict[str, Any]) -> None:
        symbol, order_id = order["symbol"], int(order["order_id"])
        book = self.working.get(symbol)
        if book is None:
            return
        if order["status"] not in LIVE or order["price"] is None:
            book.pop(order_id, None)
            return
        price = self.market.contracts[symbol].ticks(order["price"])
        quantity, leaves = int(order["quantity"]), int(order["leaves_quantity"])
        book[order_id] = Working(order_id, order["side"], price, quantity, leaves)

    def _resync(self) -> None:
        """Working orders afresh from the exchange (and fills seen up to now)."""
        seen = self.client.fills(limit=1)
        self._last_trade_id = max(self._last_trade_id, int(seen[0]["trade_id"]) if seen else 0)
        self.working = {s: {} for s in self.symbols}
        for order in self.client.orders("open"):
            self._record(order)

    def _follow_fills(self) -> None:
        """Orders that traded since the last look, read again (they may be gone)."""
        fills = self.client.fills(limit=FILLS_LOOKED_AT)
        fresh = [f for f in fills if int(f["trade_id"]) > self._last_trade_id]
        if not fresh:
            return
        if len(fresh) == len(fills) == FILLS_LOOKED_AT:
            self._resync()  # more fills than one look shows: read every order again
            return
        self._last_trade_id = max(int(f["trade_id"]) for f in fresh)
        for order_id in sorted({int(f["order_id"]) for f in fresh}):
            if any(order_id in book for book in self.working.values()):
                self._record(self.client.get_order(order_id=order_id))


class StripTrader(Bot):
    """Buys (the hedger) or sells (the GPU operator) a strip of months up to a target."""

    def __init__(
        self, name: str, client: Client, market: DemoMarket, rng: random.Random, tag: str,
        spec: StripSpec,
    ) -> None:  # fmt: skip
        super().__init__(name, client, market, rng, tag)
        months = market.months(spec.product)
        strip = [months[m] for m in spec.months if m < len(months)]
        self.spec = spec
        self.params = StripParams(
            spec.side, dict.fromkeys(strip, spec.target), spec.max_clip, spec.max_premium
        )
        self.budget = Budget(TAKER_ORDER_RATE, TAKER_ORDER_BURST)
        self.done = False

    def act(self, now: float) -> float:
        positions = self.positions()
        open_now = {
            s: t for s, t in self.params.targets.items() if self.market.contracts[s].trading
        }
        symbol = strip_month(replace(self.params, targets=open_now), positions)
        if symbol is None and open_now != self.params.targets:
            return self.jitter(self.spec.step_seconds)  # what is left does not trade now
        if symbol is None:
            if not self.done:
                log.info("%s: every month of the strip is at its target", self.name)
            self.done = True
            return IDLE_SECONDS
        view = self.market.contracts[symbol]
        take = strip_take(
            self.params, symbol, positions.get(symbol, 0), self.top(symbol), view.value,
            view.band, view.max_order_quantity, self.rng,
        )  # fmt: skip
        if take is not None and self.budget.available(now) >= 1:
            self.budget.spend(1, now)
            self.take(take)
        return self.jitter(self.spec.step_seconds)


class Speculator(Bot):
    """Trades its random-walk view against the makers' quotes (``taking.speculate``)."""

    def __init__(
        self, name: str, client: Client, market: DemoMarket, rng: random.Random, tag: str
    ) -> None:
        super().__init__(name, client, market, rng, tag)
        self.views: dict[str, FairValue] = {}  # the view's offset from the fair value
        for symbol, view in market.contracts.items():
            walk = speculator_view(view.product)
            self.views[symbol] = FairValue(anchor=0, bound=walk.bound, step=walk.step)
        self.budget = Budget(TAKER_ORDER_RATE, TAKER_ORDER_BURST)

    def act(self, now: float) -> float:
        products = sorted({c.product for c in self.market.contracts.values()})
        months = self.market.months(self.rng.choice(products))
        trading = [s for s in months if self.market.contracts[s].trading]
        if not trading:
            return self.jitter(SPECULATOR_STEP_SECONDS)
        symbol = pick_front_weighted(trading, self.rng)
        view = self.market.contracts[symbol]
        self.views[symbol].walk(self.rng)
        opinion = view.value + self.views[symbol].offset
        position = self.positions().get(symbol, 0)
        take = speculate(
            symbol, opinion, position, self.top(symbol), speculator_params(view.product),
            view.band, view.max_order_quantity, self.rng,
        )  # fmt: skip
        if take is not None and self.budget.available(now) >= 1:
            self.budget.spend(1, now)
            self.take(take)
        return self.jitter(SPECULATOR_STEP_SECONDS)
