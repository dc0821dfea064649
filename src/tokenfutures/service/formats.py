"""Read models and engine state as API JSON: decimal strings for prices and money."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tokenfutures.domain.listing import ListedContract
from tokenfutures.engine.codec import Codec
from tokenfutures.engine.timestamps import format_ts
from tokenfutures.service.sequencer import Sequencer
from tokenfutures.service.views import Fill, OrderRecord

AVERAGE_QUANTUM = Decimal("0.000001")  # average fill prices to a millionth
# FIX OrdStatus and the ccxt unified status of each order status
FIX_STATUS = {
    "new": "0",
    "partially_filled": "1",
    "filled": "2",
    "cancelled": "4",
    "expired": "C",
    "rejected": "8",
}
CCXT_STATUS = {
    "new": "open",
    "partially_filled": "open",
    "filled": "closed",
    "cancelled": "canceled",
    "expired": "expired",
    "rejected": "rejected",
}


def _price(codec: Codec, symbol: str, ticks: int | None) -> str | None:
    return None if ticks is None or ticks == 0 else codec.price_text(symbol, ticks)


def order_json(order: OrderRecord, codec: Codec) -> dict[str, Any]:
    average = None
    if order.filled:
        tick = codec.tick_sizes[order.symbol]
        mean = Decimal(order.notional) * tick / Decimal(order.filled)
        average = format(mean.quantize(AVERAGE_QUANTUM, rounding=ROUND_HALF_EVEN), "f")
    return {
        "order_id": order.order_id,
        "client_order_id": order.client_order_id,
        "account": order.account,
        "symbol": order.symbol,
        "side": order.side,
        "order_type": order.order_type,
        "price": _price(codec, order.symbol, order.price),
        "stop_price": _price(codec, order.symbol, order.stop_price),
        "quantity": order.quantity,
        "filled_quantity": order.filled,
        "leaves_quantity": order.leaves,
        "average_price": average,
        "time_in_force": order.time_in_force,
        "post_only": order.post_only,
        "status": order.status,
        "fix_ord_status": FIX_STATUS[order.status],
        "ccxt_status": CCXT_STATUS[order.status],
        "reason": order.reason,
        "created": format_ts(order.created_ts),
        "updated": format_ts(order.updated_ts),
    }


def fill_json(fill: Fill, codec: Codec) -> dict[str, Any]:
    return {
        "ts": format_ts(fill.ts),
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "client_order_id": fill.client_order_id,
        "symbol": fill.symbol,
        "side": fill.side,
        "price": codec.price_text(fill.symbol, fill.price),
        "quantity": fill.quantity,
        "liquidity": fill.liquidity,
        "fee": codec.money_text(fill.fee),
    }


def instrument_json(contract: ListedContract, sequencer: Sequencer) -> dict[str, Any]:
    spec = contract.product
    inst = sequencer.house.exchange.instruments[contract.symbol]
    codec = sequencer.codec
    symbol = contract.symbol
    return {
        "symbol": symbol,
        "product": spec.code,
        "name": spec.name,
        "underlying": spec.underlying,
        "currency": spec.currency,
        "contract_size": str(spec.contract_size),
        "contract_unit": spec.contract_unit,
        "quotation_unit": spec.quotation_unit,
        "tick_size": str(spec.tick_size),
        "tick_value": str(spec.tick_value),
        "lot_size": 1,
        "max_order_quantity": spec.max_order_quantity,
        "position_limit": spec.position_limit,
        "price_limit_pct": str(spec.price_limit_pct),
        "margin_pct": str(spec.margin_pct),
        "first_trading_day": contract.first_trading_day.isoformat(),
        "last_trading_day": contract.last_trading_day.isoformat(),
        "final_settlement_window": [d.isoformat() for d in contract.final_settlement_window],
        "settlement_price": codec.price_text(symbol, sequencer.house.settlement_prices[symbol]),
        "lower_limit": codec.price_text(symbol, inst.lower_limit),
        "upper_limit": codec.price_text(symbol, inst.upper_limit),
        "phase": inst.phase.value,
        "delisted": symbol in sequencer.house.delisted,
    }


def book_json(sequencer: Sequencer, symbol: str, depth: int) -> dict[str, Any]:
    codec = sequencer.codec
    bids, asks = sequencer.house.exchange.depth(symbol)
    return {
        "symbol": symbol,
        "seq": sequencer.last_seq,
        "bids": [[codec.price_text(symbol, p), q] for p, q in bids[:depth]],
        "asks": [[codec.price_text(symbol, p), q] for p, q in asks[:depth]],
    }
