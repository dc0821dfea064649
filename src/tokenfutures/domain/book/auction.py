"""The call-auction uncrossing price.

Given the aggregated bids and asks of a (possibly crossed) book, the auction price is
the limit price that (1) maximises matched volume, then (2) minimises the imbalance
between buy and sell volume at that price, then (3) lies nearest the reference price,
then (4) is the lower one. Every buy at or above and every sell at or below it can trade.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Uncross:
    price: int
    volume: int
    imbalance: int


def uncross_price(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], reference: int
) -> Uncross | None:
    """The auction price for aggregated ``(price, quantity)`` levels, or None if not crossed."""
    bid_at: dict[int, int] = {}
    for price, quantity in bids:
        bid_at[price] = bid_at.get(price, 0) + quantity
    ask_at: dict[int, int] = {}
    for price, quantity in asks:
        ask_at[price] = ask_at.get(price, 0) + quantity
    candidates = sorted(set(bid_at) | set(ask_at))

    buy_volume: dict[int, int] = {}
    running = 0
    for price in reversed(candidates):
        running += bid_at.get(price, 0)
        buy_volume[price] = running

    best: tuple[int, int, int, int] | None = None
    running = 0
    for price in candidates:
        running += ask_at.get(price, 0)
        matched = min(buy_volume[price], running)
        if matched == 0:
            continue
        key = (-matched, abs(buy_volume[price] - running), abs(price - reference), price)
        if best is None or key < best:
            best = key
    if best is None:
        return None
    return Uncross(price=best[3], volume=-best[0], imbalance=best[1])
