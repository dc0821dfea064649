"""A market maker's quotes and the plan that moves its working orders to them. Pure.

Quotes (``maker_quotes``): ``levels`` bids and ``levels`` asks around the fair value, the
best ``half_spread`` ticks away from it, each further level ``level_step`` ticks further,
``size`` lots each. Inventory moves both sides (the **skew**): a long maker quotes lower (its
ask is likelier to be hit, its bid less), a short one higher, one tick per
``skew_lots_per_tick`` lots, at most ``max_skew`` ticks. The **inventory limit** caps what
the quotes of a side can add: the bids together never exceed ``inventory_limit −
position`` lots, so a side stops once the position is at the limit and fills cannot carry it
beyond. A level priced outside the safe band is left out (never moved onto the band's edge,
where it would stack). The best bid is at least a tick below the skewed fair value and the
best ask a tick above it, so a maker's own quotes never cross.

The plan (``requote``): working orders and wanted quotes are paired by rank on each side
(best with best). A pair whose price is off by ``tolerance`` ticks or more is amended (FIX:
the new quantity is the total including what has filled); a pair off by less keeps its
price (and its time priority) unless that would leave the quotes crossed; a working order
without a partner is cancelled, a quote without one placed. The actions come in an order
that never crosses the maker's own quotes on the way: cancels first, then the side that
moves away from the other (all of it), then the other side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tokenfutures.demo.pricing import PriceBand

Side = Literal["buy", "sell"]


@dataclass(frozen=True, slots=True)
class MakerParams:
    half_spread: int  # ticks from the (skewed) fair value to each best quote, at least 1
    level_step: int  # ticks between levels, at least 1
    levels: int  # quotes per side
    size: int  # lots per quote
    inventory_limit: int  # largest position either way, lots
    skew_lots_per_tick: int  # position that moves the quotes one tick
    max_skew: int  # ticks
    tolerance: int = 1  # a working price this close to the wanted one is kept

    def __post_init__(self) -> None:
        if min(self.half_spread, self.level_step, self.size, self.skew_lots_per_tick) < 1:
            raise ValueError("half_spread, level_step, size, skew_lots_per_tick: at least 1")
        if self.levels < 0 or self.inventory_limit < 0 or self.max_skew < 0:
            raise ValueError("levels, inventory_limit, max_skew: must not be negative")
        if self.tolerance < 1:
            raise ValueError("tolerance: at least 1 tick")


@dataclass(frozen=True, slots=True)
class Quote:
    side: Side
    price: int  # ticks
    quantity: int  # lots


@dataclass(frozen=True, slots=True)
class Working:
    """A live order of the maker: open quantity ``leaves`` of a total ``quantity``."""

    order_id: int
    side: Side
    price: int
    quantity: int
    leaves: int

    @property
    def filled(self) -> int:
        return self.quantity - self.leaves


@dataclass(frozen=True, slots=True)
class Place:
    side: Side
    price: int
    quantity: int


@dataclass(frozen=True, slots=True)
class Amend:
    order_id: int
    side: Side
    price: int
    quantity: int  # the new total, including what has filled
    leaves: int  # open quantity once amended


@dataclass(frozen=True, slots=True)
class Cancel:
    order_id: int


Action = Place | Amend | Cancel


def skew(position: int, params: MakerParams) -> int:
    """Ticks the quotes move for ``position``: down when long, up when short."""
    ticks = abs(position) // params.skew_lots_per_tick
    return -min(ticks, params.max_skew) if position > 0 else min(ticks, params.max_skew)


def maker_quotes(
    fair: int, position: int, params: MakerParams, band: PriceBand, max_order_quantity: int
) -> tuple[list[Quote], list[Quote]]:
    """The bids and asks, best first (see the module's docstring)."""
    center = fair + skew(position, params)
    size = min(params.size, max_order_quantity)
    bids = _side("buy", center, params.inventory_limit - position, size, params, band)
    asks = _side("sell", center, params.inventory_limit + position, size, params, band)
    return bids, asks


def _side(
    side: Side, center: int, room: int, size: int, params: MakerParams, band: PriceBand
) -> list[Quote]:
    """One side's quotes, best first: at most ``room`` lots in all, inside ``band``."""
    direction = -1 if side == "buy" else 1
    quotes: list[Quote] = []
    for level in range(params.levels):
        price = center + direction * (params.half_spread + level * params.level_step)
        quantity = min(size, room)
        if quantity < 1:
            break
        if price in band:
            quotes.append(Quote(side, price, quantity))
            room -= quantity
    return quotes


def _paired(
    working: list[Working], wanted: list[Quote], tolerance: int
) -> tuple[list[Action], list[Action], list[int]]:
    """One side: (cancels, amends and places, the side's prices once done)."""
    cancels: list[Action] = [Cancel(w.order_id) for w in working[len(wanted) :]]
    moves: list[Action] = []
    final: list[int] = []
    for rank, quote in enumerate(wanted):
        if rank >= len(working):
            moves.append(Place(quote.side, quote.price, quote.quantity))
            final.append(quote.price)
            continue
        order = working[rank]
        price = order.price if abs(order.price - quote.price) < tolerance else quote.price
        if price != order.price or order.leaves != quote.quantity:
            total = order.filled + quote.quantity
            moves.append(Amend(order.order_id, quote.side, price, total, quote.quantity))
        final.append(price)
    return cancels, moves, final


def _plan(working: list[Working], bids: list[Quote], asks: list[Quote], tolerance: int) -> tuple[
    list[Action], list[Action], list[Action], list[int], list[int]
]:  # fmt: skip
    own_bids = sorted((w for w in working if w.side == "buy"), key=lambda w: -w.price)
    own_asks = sorted((w for w in working if w.side == "sell"), key=lambda w: w.price)
    bid_cancels, bid_moves, final_bids = _paired(own_bids, bids, tolerance)
    ask_cancels, ask_moves, final_asks = _paired(own_asks, asks, tolerance)
    return bid_cancels + ask_cancels, bid_moves, ask_moves, final_bids, final_asks


def requote(
    working: list[Working], bids: list[Quote], asks: list[Quote], tolerance: int = 1
) -> list[Action]:
    """The actions that turn ``working`` (one contract's live orders) into the quotes."""
    cancels, bid_moves, ask_moves, final_bids, final_asks = _plan(working, bids, asks, tolerance)
    if final_bids and final_asks and max(final_bids) >= min(final_asks):
        cancels, bid_moves, ask_moves, final_bids, final_asks = _plan(working, bids, asks, 1)
    cancelled = {c.order_id for c in cancels if isinstance(c, Cancel)}
    old_bids = [w.price for w in working if w.side == "buy" and w.order_id not in cancelled]
    if not final_asks or not old_bids or min(final_asks) > max(old_bids):
        return cancels + ask_moves + bid_moves  # the asks move away from the bids first
    return cancels + bid_moves + ask_moves


def crossed(bids: list[int], asks: list[int]) -> bool:
    return bool(bids) and bool(asks) and max(bids) >= min(asks)


def apply_action(book: dict[int, Working], action: Action, next_id: int) -> None:
    """``action`` done to a maker's working orders (``book``, by order id), as the exchange
    would do it with nothing else trading; a placed order gets id ``next_id``."""
    if isinstance(action, Cancel):
        book.pop(action.order_id, None)
    elif isinstance(action, Amend):
        book[action.order_id] = Working(
            action.order_id, action.side, action.price, action.quantity, action.leaves
        )
    else:
        book[next_id] = Working(
            next_id, action.side, action.price, action.quantity, action.quantity
        )
