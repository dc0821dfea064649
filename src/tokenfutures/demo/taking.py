"""The liquidity takers' decisions, and an order budget. Pure (randomness passed in).

Every taker sends immediate-or-cancel orders at the best opposite price, and only when that
price is inside the contract's safe band (docs/demo.md), so it trades with what is shown and
never rests an order.

- **Strip trader** (the hedger, an AI company buying a strip of TKN months; the GPU
  operator, selling a strip of GPU months): each month of the strip has a target position;
  it picks the month least far along, and sends a clip of 1 to ``max_clip`` lots, never more
  than what is left to its target, at the best opposite price if that is at most
  ``max_premium`` ticks worse than the fair value. At its targets it stops.
- **Speculator**: its view of a contract is the fair value plus a random walk of its own;
  when the view is at least ``edge`` ticks beyond the best ask it buys, beyond the best bid
  it sells, within ``position_limit`` either way. It looks at the front months most.
- **Budget**: a token bucket of orders (``rate`` a second, up to ``burst`` saved).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tokenfutures.demo.pricing import PriceBand
from tokenfutures.demo.quoting import Side


@dataclass(frozen=True, slots=True)
class Top:
    """The best bid and ask of a book, in ticks (None: that side is empty)."""

    bid: int | None
    ask: int | None


@dataclass(frozen=True, slots=True)
class Take:
    """An immediate-or-cancel order: ``quantity`` lots at ``price`` ticks or better."""

    symbol: str
    side: Side
    price: int
    quantity: int


@dataclass(frozen=True, slots=True)
class StripParams:
    side: Side  # buy: the hedger; sell: the GPU operator
    targets: Mapping[str, int]  # lots to hold at the end, by symbol (positive)
    max_clip: int
    max_premium: int  # ticks worse than the fair value it still accepts

    def __post_init__(self) -> None:
        if self.max_clip < 1 or self.max_premium < 0:
            raise ValueError("max_clip: at least 1; max_premium: not negative")
        if any(target < 0 for target in self.targets.values()):
            raise ValueError("targets: lots to hold, not negative")


def strip_remaining(params: StripParams, symbol: str, position: int) -> int:
    """Lots still to trade in ``symbol`` to reach its target (0 when there)."""
    held = position if params.side == "buy" else -position
    return max(0, params.targets.get(symbol, 0) - held)


def strip_month(params: StripParams, positions: Mapping[str, int]) -> str | None:
    """The month of the strip least far along (its share done smallest), None when done."""
    best: tuple[float, str] | None = None
    for symbol, target in sorted(params.targets.items()):
        left = strip_remaining(params, symbol, positions.get(symbol, 0))
        if left == 0:
            continue
        done = 1 - left / target
        if best is None or done < best[0]:
            best = (done, symbol)
    return None if best is None else best[1]


def strip_take(
    params: StripParams, symbol: str, position: int, top: Top, fair: int, band: PriceBand,
    max_order_quantity: int, rng: random.Random,
) -> Take | None:  # fmt: skip
    """The next clip in ``symbol``, or None (nothing left, no acceptable price)."""
    left = strip_remaining(params, symbol, position)
    price = top.ask if params.side == "buy" else top.bid
    if left == 0 or price is None or price not in band:
        return None
    worse_by = price - fair if params.side == "buy" else fair - price
    if worse_by > params.max_premium:
        return None
    quantity = min(rng.randint(1, params.max_clip), left, max_order_quantity)
    return Take(symbol, params.side, price, quantity)


@dataclass(frozen=True, slots=True)
class SpeculatorParams:
    position_limit: int
    max_clip: int
    edge: int  # ticks the view must be beyond the touch

    def __post_init__(self) -> None:
        if self.position_limit < 0 or self.max_clip < 1 or self.edge < 0:
            raise ValueError("position_limit, edge: not negative; max_clip: at least 1")


def speculate(
    symbol: str, view: int, position: int, top: Top, params: SpeculatorParams, band: PriceBand,
    max_order_quantity: int, rng: random.Random,
) -> Take | None:  # fmt: skip
    """Buy below the view, sell above it, within the position limit; None to wait."""
    clip = min(rng.randint(1, params.max_clip), max_order_quantity)
    if top.ask is not None and top.ask in band and view >= top.ask + params.edge:
        room = params.position_limit - position
        if room > 0:
            return Take(symbol, "buy", top.ask, min(clip, room))
    if top.bid is not None and top.bid in band and view <= top.bid - params.edge:
        room = params.position_limit + position
        if room > 0:
            return Take(symbol, "sell", top.bid, min(clip, room))
    return None


def pick_front_weighted(symbols: Sequence[str], rng: random.Random) -> str:
    """One of ``symbols`` (front month first): the n-th (from 0) of N weighs (N − n)²."""
    if not symbols:
        raise ValueError("symbols: need at least one")
    weights = [(len(symbols) - rank) ** 2 for rank in range(len(symbols))]
    return rng.choices(list(symbols), weights=weights)[0]


@dataclass(slots=True)
class Budget:
    """A token bucket of orders: ``rate`` a second, at most ``burst`` saved; it starts full.
    Spending may take it below zero (a plan is done whole); it then refills before more."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    stamp: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate: positive; burst: at least 1")
        self.tokens = self.burst

    def available(self, now: float) -> float:
        if self.stamp is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return self.tokens

    def spend(self, count: int, now: float) -> None:
        self.available(now)
        self.tokens -= count

    def wait(self, now: float) -> float:
        """Seconds until at least one order is available."""
        missing = 1 - self.available(now)
        return max(0.0, missing / self.rate)
