"""Daily statements at the edge: the domain's ``Statement`` as JSON or as printed text."""

from __future__ import annotations

from typing import Any

from tokenfutures.domain.clearing.statements import Statement
from tokenfutures.engine.codec import Codec
from tokenfutures.engine.timestamps import format_ts

_MOVEMENTS = (
    ("deposits", 1),
    ("withdrawals", -1),
    ("fees", -1),
    ("variation_margin", 1),
    ("final_settlement", 1),
    ("default_transfers", 1),
)


def statement_json(statement: Statement, codec: Codec) -> dict[str, Any]:
    money = codec.money_text
    moved = statement.movements
    return {
        "account": statement.account,
        "date": statement.date.isoformat(),
        "opening_balance": money(statement.opening_balance),
        **{name: money(getattr(moved, name)) for name, _ in _MOVEMENTS},
        "closing_balance": money(statement.closing_balance),
        "trades": [
            {
                "ts": format_ts(t.ts),
                "trade_id": t.trade_id,
                "symbol": t.symbol,
                "side": t.side,
                "quantity": t.quantity,
                "price": codec.price_text(t.symbol, t.price),
                "fee": money(t.fee),
            }
            for t in statement.trades
        ],
        "positions": [
            {
                "symbol": p.symbol,
                "quantity": p.quantity,
                "average_entry_price": None
                if p.average_entry_price is None
                else codec.price_text(p.symbol, p.average_entry_price),
                "settlement_price": codec.price_text(p.symbol, p.settlement_price),
                "unrealised_pnl": money(p.unrealised_pnl),
            }
            for p in statement.positions
        ],
        "initial_margin": money(statement.initial_margin),
        "maintenance_margin": money(statement.maintenance_margin),
        "equity": money(statement.equity),
        "free_collateral": money(statement.free_collateral),
        "margin_call": money(statement.margin_call),
    }


def statement_text(statement: Statement, codec: Codec, member: str | None = None) -> str:
    data = statement_json(statement, codec)
    who = f"account {statement.account}" + (f" (member {member})" if member else "")
    lines = [f"Daily statement  {who}  trading day {data['date']}", "", "Balance"]
    lines.append(f"  {'opening balance':<22}{data['opening_balance']:>16}")
    for name, sign in _MOVEMENTS:
        amount = data[name]
        shown = f"-{amount}" if sign < 0 and amount not in ("0", "0.00") else amount
        lines.append(f"  {name.replace('_', ' '):<22}{shown:>16}")
    lines.append(f"  {'closing balance':<22}{data['closing_balance']:>16}")
    lines += ["", "Trades"]
    if not data["trades"]:
        lines.append("  none")
    for t in data["trades"]:
        lines.append(
            f"  {t['ts']:<28} #{t['trade_id']:<6} {t['symbol']:<9} {t['side']:<4} "
            f"{t['quantity']:>6} @ {t['price']:<8} fee {t['fee']}"
        )
    lines += ["", "Positions"]
    if not data["positions"]:
        lines.append("  none")
    for p in data["positions"]:
        lines.append(
            f"  {p['symbol']:<9} {p['quantity']:>+7}  entry {p['average_entry_price']:<8} "
            f"settlement {p['settlement_price']:<8} unrealised {p['unrealised_pnl']}"
        )
    lines += ["", "Margin"]
    for name in ("initial_margin", "maintenance_margin", "equity", "free_collateral"):
        lines.append(f"  {name.replace('_', ' '):<22}{data[name]:>16}")
    call = data["margin_call"]
    lines.append(f"  {'margin call':<22}{call if statement.margin_call else 'none':>16}")
    return "\n".join(lines)
