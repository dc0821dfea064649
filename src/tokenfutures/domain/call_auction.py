"""Executing a call auction: uncross a crossed book at one price.

The price comes from ``book.auction.uncross_price``. All buys at or above it and all
sells at or below it trade at that price, each side in time priority; auction trades
have no aggressor. If two orders of one account meet, the later-arrived one is
cancelled (self-trade prevention) and the walk goes on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tokenfutures.domain.book.auction import uncross_price
from tokenfutures.domain.book.order import Order
from tokenfutures.domain.book.side import BookSide
from tokenfutures.domain.events import AuctionUncrossed, Event, TradeExecuted
from tokenfutures.domain.rejects import CancelReason

if TYPE_CHECKING:
    from tokenfutures.domain.instrument import Instrument


def uncross(inst: Instrument, ts: int, out: list[Event], reported: bool) -> None:
    """Trade out the crossed part of the book; report it when leaving an auction.

    Self-trade prevention can cancel orders the auction price counted on; the uncross is
    then repeated on what remains, so the book never stays crossed.
    """
    rounds = 0
    while True:
        result = uncross_price(inst.bids.depth(), inst.asks.depth(), inst.reference)
        if result is None:
            if reported and rounds == 0:
                out.append(AuctionUncrossed(ts, inst.symbol, None, 0, 0))
            return
        volume = _uncross_at(inst, result.price, ts, out)
        out.append(AuctionUncrossed(ts, inst.symbol, result.price, volume, result.imbalance))
        rounds += 1


def _uncross_at(inst: Instrument, price: int, ts: int, out: list[Event]) -> int:
    """Match every buy at or above ``price`` with every sell at or below it, in priority."""
    buys = [o for o in inst.bids.orders() if o.price >= price]
    sells = [o for o in inst.asks.orders() if o.price <= price]
    volume = 0
    b = s = 0
    while b < len(buys) and s < len(sells):
        buy = buys[b]
        sell = sells[s]
        if buy.account == sell.account:
            if buy.priority > sell.priority:
                inst.cancel(buy, ts, CancelReason.SELF_TRADE_PREVENTED, out)
                b += 1
            else:
                inst.cancel(sell, ts, CancelReason.SELF_TRADE_PREVENTED, out)
                s += 1
            continue
        quantity = min(buy.leaves, sell.leaves)
        _fill(inst, inst.bids, buy, quantity)
        _fill(inst, inst.asks, sell, quantity)
        volume += quantity
        out.append(
            TradeExecuted(
                ts,
                inst.registry.new_trade_id(),
                inst.symbol,
                price,
                quantity,
                buy.order_id,
                sell.order_id,
                buy.account,
                sell.account,
                buy.client_order_id,
                sell.client_order_id,
                None,
            )  # fmt: skip
        )
        if buy.leaves == 0:
            b += 1
        if sell.leaves == 0:
            s += 1
    if volume:
        inst.record_print(price)
        if inst.breaker is not None:
            # trading reopens around the auction price: the band's window starts again there
            inst.breaker.restart(ts, price)
    return volume


def _fill(inst: Instrument, side: BookSide, order: Order, quantity: int) -> None:
    level = side.levels[order.price]
    order.leaves -= quantity
    order.filled += quantity
    level.quantity -= quantity
    if order.leaves == 0:
        level.unlink(order)
        if level.count == 0:
            side.drop_level(level)
        inst.registry.discard(order)
