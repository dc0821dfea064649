"""`tokenfutures demo`: a scripted trading session through the core, printed as it runs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer

from tokenfutures.engine.demo_script import demo_commands
from tokenfutures.engine.market import build_market
from tokenfutures.engine.runner import run_lines


def demo(
    on: Annotated[
        str | None, typer.Option("--date", help="Trading date YYYY-MM-DD (default: today).")
    ] = None,
) -> None:
    """List the contracts, run a scripted session (auction, continuous trading), print the book."""
    day = date.fromisoformat(on) if on else datetime.now(UTC).date()
    market = build_market(day)
    typer.echo(f"tokenfutures demo: contracts listed on {day.isoformat()}\n")
    typer.echo(f"  {'symbol':<9} {'last trading day':<17} {'tick':>6} {'limit':>6}  underlying")
    for contract in market.contracts:
        spec = contract.product
        typer.echo(
            f"  {contract.symbol:<9} {contract.last_trading_day.isoformat():<17} "
            f"{spec.tick_size!s:>6} {spec.price_limit_pct!s:>5}%  {spec.underlying}"
        )
    tkn = next(c.symbol for c in market.contracts if c.product.code == "TKN")
    gpu = next(c.symbol for c in market.contracts if c.product.code == "GPU")
    script = demo_commands(day, {"$TKN": tkn, "$GPU": gpu, "$DATE": day.isoformat()})
    captions = {number: caption for number, (caption, _) in enumerate(script, start=1)}
    typer.echo(f"\nscripted session on {tkn} and {gpu}:\n")

    def show(event: dict[str, Any]) -> None:
        if event["type"] in _QUIET or event.get("symbol") not in (None, tkn, gpu):
            return
        caption = captions.pop(event["line"], "")
        if caption:
            typer.echo(f"-- {caption}")
        typer.echo(f"   {_describe(event)}")

    summary = run_lines([line for _, line in script], market, show)
    typer.echo("")
    for symbol in (tkn, gpu):
        book = summary.books[symbol]
        typer.echo(f"{symbol} book after the close   bids | asks")
        for i in range(max(len(book["bids"]), len(book["asks"]), 1)):
            bid = book["bids"][i] if i < len(book["bids"]) else None
            ask = book["asks"][i] if i < len(book["asks"]) else None
            left = f"{bid[1]:>5} @ {bid[0]}" if bid else " " * 13
            right = f"{ask[0]} x {ask[1]}" if ask else ""
            typer.echo(f"   {left:>28} | {right}")
    typer.echo(
        f"\n{summary.commands} commands, {summary.events} events, {summary.trades} trades, "
        f"{summary.rejected} rejected\nstate hash {summary.state_hash}"
    )


_QUIET = frozenset({"trade_cleared", "reference_price_set", "account_opened", "member_added"})


_TEMPLATES = {
    "rejected": "rejected {client_order_id}: {reason} ({detail})",
    "auction_uncrossed": "auction: price {price}, volume {volume}",
    "stop_triggered": "stop {client_order_id} triggered by a trade at {trigger_price}",
    "funds_deposited": "{account} deposits {amount}",
    "settlement_price": (
        "{symbol} settles at {price} ({method}, volume {volume}, open interest "
        "{open_interest}); next day's limits {lower_limit}-{upper_limit}"
    ),
    "variation_margin": "{account} variation margin {amount}, cash {cash}",
    "phase_changed": "{symbol} is now {phase}",
}


def _describe(event: dict[str, Any]) -> str:
    kind = event["type"]
    template = _TEMPLATES.get(kind)
    if template is not None:
        return template.format(**{k: "" if v is None else v for k, v in event.items()})
    if kind == "trade":
        by = f"aggressor {event['aggressor']}" if event["aggressor"] else "auction"
        return (
            f"TRADE {event['quantity']} @ {event['price']}  buyer {event['buy_account']} "
            f"seller {event['sell_account']} ({by})"
        )
    if kind == "order_accepted":
        price = event["price"] or f"stop {event['stop_price']}"
        return (
            f"accepted {event['client_order_id']}: {event['account']} {event['side']} "
            f"{event['quantity']} @ {price} {event['time_in_force']}"
        )
    if kind in ("order_cancelled", "order_expired"):
        why = event.get("reason", "end of day")
        return f"{kind.replace('_', ' ')} {event['client_order_id']}: {why}"
    if kind == "order_amended":
        return (
            f"amended {event['client_order_id']}: now {event['quantity']} @ {event['price']}, "
            f"{'keeps' if event['priority_kept'] else 'loses'} priority"
        )
    details = {k: v for k, v in event.items() if k not in ("type", "ts", "line")}
    return f"{kind}: {details}"
