"""Prices of the demo market, in integer ticks. Pure: no clock, no I/O, no floats.

- **Term structure.** Token prices fall over time, so each later month of a product is
  cheaper than the index by ``Curve.bp_per_month`` basis points a month (TKN 0.5 % a month,
  GPU 0.25 %): the index-implied price of the month ``m`` months out (0: the front month) is
  ``index × (1 − bp_per_month × m / 10,000)``, rounded half to even to a tick. ``serve
  --demo`` sets the reference price of each fresh contract to it, so the whole curve stays
  inside its daily limits (8 % and 6 % around the reference).
- **Safe band.** The prices the bots trade at in a contract: the reference price plus or
  minus half the circuit-breaker band less a tick, within the daily limits. Two prices of
  the band are less than a breaker band apart, so the bots' own prints can never trip the
  breaker (its allowed range is ``[high − band, low + band]`` over the trades of the window).
- **Fair value.** An anchor (the index-implied price, kept within a third of the safe band's
  half-width of the reference, so that a later day's index cannot drag quotes out of the
  band) plus two bounded random walks that together never go further than that again: one
  the product's months share (the curve moves as a whole), a smaller one of the contract's
  own. It moves slowly, so the makers' quotes drift and the takers cross them now and then,
  and the curve keeps falling month after month.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

BASIS_POINTS = 10_000


@dataclass(frozen=True, slots=True)
class Curve:
    """Each later month is ``bp_per_month`` basis points cheaper than the index."""

    bp_per_month: int


CURVES: Mapping[str, Curve] = {"TKN": Curve(50), "GPU": Curve(25)}
FLAT = Curve(0)


def curve_of(product: str) -> Curve:
    return CURVES.get(product, FLAT)


def implied_ticks(index: Fraction, tick: Fraction, month: int, curve: Curve) -> int:
    """The index-implied price of the contract ``month`` months out, in ticks (at least one)."""
    if month < 0:
        raise ValueError("month: must be 0 (the front month) or later")
    factor = Fraction(max(0, BASIS_POINTS - curve.bp_per_month * month), BASIS_POINTS)
    return max(1, round(index * factor / tick))


@dataclass(frozen=True, slots=True)
class PriceBand:
    """The prices a bot may use in one contract, both ends included."""

    low: int
    high: int

    def __contains__(self, price: object) -> bool:
        return isinstance(price, int) and self.low <= price <= self.high


def safe_band(reference: int, lower_limit: int, upper_limit: int, breaker_bp: int) -> PriceBand:
    """Reference ± half the circuit-breaker band less a tick, within the daily limits.

    The exchange's band is ``reference × breaker_bp // 10,000`` ticks (at least one); with the
    breaker off (``breaker_bp`` 0) the daily limits alone bound it."""
    if breaker_bp > 0:
        band = max(1, reference * breaker_bp // BASIS_POINTS)
        half = (band - 1) // 2
    else:
        half = upper_limit - lower_limit
    return PriceBand(max(1, lower_limit, reference - half), min(upper_limit, reference + half))


@dataclass(slots=True)
class FairValue:
    """A contract's fair value in ticks: ``anchor + offset``, the offset a random walk
    that never leaves ``[-bound, bound]`` and moves at most ``step`` ticks at a time."""

    anchor: int
    bound: int
    step: int
    offset: int = 0

    @property
    def value(self) -> int:
        return max(1, self.anchor + self.offset)

    def walk(self, rng: random.Random) -> int:
        """One step of the walk (reflected at the bounds); the new value."""
        if self.step > 0:
            target = self.offset + rng.randint(-self.step, self.step)
            if target > self.bound:
                target = 2 * self.bound - target
            elif target < -self.bound:
                target = -2 * self.bound - target
            self.offset = min(self.bound, max(-self.bound, target))
        return self.value


def anchor_room(reference: int, band: PriceBand) -> int:
    """How far a fair value may be from the reference: a third of the band's half-width for
    the anchor, as much again for the walks."""
    return max(0, min(reference - band.low, band.high - reference)) // 3


def fair_value(reference: int, band: PriceBand, implied: int | None) -> FairValue:
    """A contract's own fair value: anchored at the implied price (the reference if there is
    none) kept within ``anchor_room`` of the reference, with a walk of its own of a quarter of
    that room, a tick at a time (the rest of the room is the product's ``common_walk``)."""
    room = anchor_room(reference, band)
    anchor = reference if implied is None else min(reference + room, max(reference - room, implied))
    noise = room // 4
    return FairValue(anchor=anchor, bound=noise, step=1 if noise else 0)


def common_walk(rooms: list[int], steps: list[int]) -> FairValue:
    """The walk every month of a product shares (anchored at 0): the room its contracts'
    own walks leave, in steps of the smallest of ``steps``."""
    bound = min((room - room // 4 for room in rooms), default=0)
    return FairValue(anchor=0, bound=bound, step=max(1, min(steps, default=1)) if bound else 0)
