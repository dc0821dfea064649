"""Net positions per account and contract: FIFO lots, P&L, open interest, mark-to-market.

Quantities are signed lots (long > 0, short < 0), prices integer ticks and money integer
minor units; ``tick_value`` is minor units per tick per lot, passed in by the caller.

Each open lot keeps two prices:

- ``entry_price``, the fill price: the average entry price (``cost / quantity``, exact because
  ``cost`` is the integer sum of price x lots) and the trade-by-trade P&L use it;
- ``reference_price``, the price the lot's cash has been settled to: its fill price, then each
  daily settlement price. Cash P&L is measured against it, as in daily mark-to-market.

P&L realised by closing fills is accumulated on the position and paid at the next marking,
together with the move of the open lots to the settlement price, as one variation-margin
amount (the daily settlement of close-out and position P&L).

Closing fills consume lots first in, first out, so realised P&L is exact with no rounding.
Since every trade has two sides, for each symbol the net quantities sum to zero (open
interest = total long = total short), and once every position of a symbol is marked the cash
of a marking (realised since the previous marking plus the move of open lots) sums to zero
over all accounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tokenfutures.domain.invariants import InvariantViolation
from tokenfutures.domain.values import Lots, MinorUnits, Side, Ticks


@dataclass(frozen=True, slots=True)
class Lot:
    quantity: Lots
    entry_price: Ticks
    reference_price: Ticks


@dataclass(frozen=True, slots=True)
class Position:
    """One account's net position in one contract, with its cumulative P&L."""

    account: str
    symbol: str
    lots: tuple[Lot, ...] = ()
    realised_pnl: MinorUnits = 0
    trade_realised_pnl: MinorUnits = 0
    realised_unsettled: MinorUnits = 0
    variation_margin: MinorUnits = 0
    quantity: Lots = field(init=False, compare=False)  # the net: the sum of the lots

    def __post_init__(self) -> None:
        object.__setattr__(self, "quantity", sum(lot.quantity for lot in self.lots))

    @property
    def cost(self) -> int:
        """Signed sum of entry price x lots, in ticks x lots: the exact entry basis."""
        return sum(lot.quantity * lot.entry_price for lot in self.lots)

    @property
    def reference_cost(self) -> int:
        return sum(lot.quantity * lot.reference_price for lot in self.lots)

    @property
    def average_entry_price(self) -> Ticks | None:
        """``cost / quantity`` rounded half up to a tick, for display; None when flat."""
        quantity = self.quantity
        if quantity == 0:
            return None
        numerator, denominator = abs(self.cost), abs(quantity)
        return (2 * numerator + denominator) // (2 * denominator)

    def unrealised_pnl(self, mark_price: Ticks, tick_value: MinorUnits) -> MinorUnits:
        """Open P&L against the entry prices."""
        return (self.quantity * mark_price - self.cost) * tick_value

    def pending_variation_margin(self, mark_price: Ticks, tick_value: MinorUnits) -> MinorUnits:
        """The variation margin a marking at ``mark_price`` would pay now."""
        moved = (self.quantity * mark_price - self.reference_cost) * tick_value
        return self.realised_unsettled + moved


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


def _fill_lots(
    lots: tuple[Lot, ...], signed_quantity: Lots, price: Ticks
) -> tuple[tuple[Lot, ...], int, int]:
    """New lots, cash ticks (vs reference) and trade ticks (vs entry) realised by a fill."""
    remaining = signed_quantity
    cash_ticks = trade_ticks = 0
    index = 0
    head: Lot | None = None
    while remaining != 0 and index < len(lots) and _sign(lots[index].quantity) != _sign(remaining):
        lot = lots[index]
        closed = min(abs(remaining), abs(lot.quantity)) * _sign(lot.quantity)
        cash_ticks += closed * (price - lot.reference_price)
        trade_ticks += closed * (price - lot.entry_price)
        remaining += closed
        index += 1
        if closed != lot.quantity:
            head = replace(lot, quantity=lot.quantity - closed)
    kept = ((head,) if head is not None else ()) + lots[index:]
    if remaining != 0:
        last = kept[-1] if kept else None
        if last is not None and last.entry_price == price and last.reference_price == price:
            kept = (*kept[:-1], Lot(last.quantity + remaining, price, price))
        else:
            kept = (*kept, Lot(remaining, price, price))
    return kept, cash_ticks, trade_ticks


def _require_positive(name: str, value: int) -> None:
    if type(value) is not int or value <= 0:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


class Positions:
    """All positions, indexed by symbol then account."""

    def __init__(self) -> None:
        self._by_symbol: dict[str, dict[str, Position]] = {}
        self._by_account: dict[str, dict[str, Position]] = {}  # the same records, by account

    def _store(self, position: Position) -> None:
        self._by_symbol.setdefault(position.symbol, {})[position.account] = position
        self._by_account.setdefault(position.account, {})[position.symbol] = position

    def position(self, account: str, symbol: str) -> Position:
        found = self._by_symbol.get(symbol, {}).get(account)
        return found if found is not None else Position(account, symbol)

    def positions_in(self, symbol: str) -> list[Position]:
        """Every open position in ``symbol``, sorted by account."""
        held = self._by_symbol.get(symbol, {})
        return [held[a] for a in sorted(held) if held[a].quantity != 0]

    def positions_of(self, account: str) -> list[Position]:
        """Every open position of ``account``, sorted by symbol."""
        held = self._by_account.get(account, {})
        return [held[symbol] for symbol in sorted(held) if held[symbol].quantity != 0]

    def held_by(self, account: str) -> list[Position]:
        """Every position of ``account``, flat ones with unpaid realised P&L included."""
        held = self._by_account.get(account, {})
        return [held[symbol] for symbol in sorted(held)]

    def accounts_in(self, symbol: str) -> list[str]:
        """Every account with a position record in ``symbol`` (flat ones too), sorted."""
        return sorted(self._by_symbol.get(symbol, {}))

    def symbols(self) -> list[str]:
        return sorted(self._by_symbol)

    def apply_fill(
        self,
        account: str,
        symbol: str,
        side: Side,
        quantity: Lots,
        price: Ticks,
        tick_value: MinorUnits,
    ) -> MinorUnits:
        """Apply one side of a trade; return the P&L it realises against reference prices.

        The realised amount is paid with the next ``mark_to_market`` of ``symbol``.
        """
        _require_positive("quantity", quantity)
        _require_positive("price", price)
        _require_positive("tick_value", tick_value)
        signed = quantity if side is Side.BUY else -quantity
        current = self.position(account, symbol)
        lots, cash_ticks, trade_ticks = _fill_lots(current.lots, signed, price)
        realised = cash_ticks * tick_value
        self._store(
            Position(
                account,
                symbol,
                lots,
                current.realised_pnl + realised,
                current.trade_realised_pnl + trade_ticks * tick_value,
                current.realised_unsettled + realised,
                current.variation_margin,
            )
        )
        return realised

    def apply_trade(
        self,
        symbol: str,
        buyer: str,
        seller: str,
        quantity: Lots,
        price: Ticks,
        tick_value: MinorUnits,
    ) -> tuple[MinorUnits, MinorUnits]:
        """Apply both sides of a trade; return (buyer's, seller's) realised cash P&L."""
        bought = self.apply_fill(buyer, symbol, Side.BUY, quantity, price, tick_value)
        sold = self.apply_fill(seller, symbol, Side.SELL, quantity, price, tick_value)
        return bought, sold

    def open_interest(self, symbol: str) -> Lots:
        """Total long lots in ``symbol``."""
        held = self._by_symbol.get(symbol, {}).values()
        return sum(p.quantity for p in held if p.quantity > 0)

    def short_interest(self, symbol: str) -> Lots:
        """Total short lots in ``symbol``, as a positive number."""
        held = self._by_symbol.get(symbol, {}).values()
        return -sum(p.quantity for p in held if p.quantity < 0)

    def mark_to_market(
        self, symbol: str, settlement_price: Ticks, tick_value: MinorUnits
    ) -> dict[str, MinorUnits]:
        """Variation margin per account with an open position or unpaid realised P&L.

        Each amount is the realised P&L since the previous marking plus the move of the open
        lots from their reference price to ``settlement_price`` (zero amounts included);
        positive amounts are paid to the account, negative ones collected from it. The amounts
        sum to zero; every lot's reference price becomes ``settlement_price``.
        """
        _require_positive("settlement_price", settlement_price)
        _require_positive("tick_value", tick_value)
        amounts: dict[str, MinorUnits] = {}
        held = self._by_symbol.get(symbol, {})
        for account in sorted(held):
            position = held[account]
            if position.quantity == 0 and position.realised_unsettled == 0:
                continue
            amounts[account] = self._settle(position, settlement_price, tick_value)
        return amounts

    def _settle(self, position: Position, price: Ticks, tick_value: MinorUnits) -> MinorUnits:
        """Mark ``position`` at ``price``: its lots reference ``price``; the amount it is paid."""
        amount = position.pending_variation_margin(price, tick_value)
        lots = tuple(Lot(lot.quantity, lot.entry_price, price) for lot in position.lots)
        self._store(
            Position(
                position.account,
                position.symbol,
                lots,
                position.realised_pnl,
                position.trade_realised_pnl,
                0,
                position.variation_margin + amount,
            )
        )
        return amount

    def settle_account(
        self, account: str, symbol: str, price: Ticks, tick_value: MinorUnits
    ) -> MinorUnits:
        """Mark one account's position in ``symbol`` at ``price`` now (a default's close-out).

        Returns the amount to pay (positive) or collect; the counterparties are paid at the
        next full marking, so the settlement account carries the difference until then.
        """
        _require_positive("price", price)
        position = self._by_symbol.get(symbol, {}).get(account)
        if position is None:
            return 0
        return self._settle(position, price, tick_value)

    def transfer(
        self, symbol: str, from_account: str, to_account: str, price: Ticks, tick_value: MinorUnits
    ) -> Lots:
        """Move ``from_account``'s whole position to ``to_account`` at ``price``; the lots
        moved (signed). Settle the position at ``price`` first, so nothing is realised."""
        quantity = self.position(from_account, symbol).quantity
        if quantity > 0:
            self.apply_trade(symbol, to_account, from_account, quantity, price, tick_value)
        elif quantity < 0:
            self.apply_trade(symbol, from_account, to_account, -quantity, price, tick_value)
        return quantity

    def close_symbol(self, symbol: str) -> None:
        """Forget a delisted contract; every position must have been settled to zero."""
        for position in self._by_symbol.get(symbol, {}).values():
            if position.realised_unsettled != 0:
                raise InvariantViolation(f"{symbol} {position.account}: unsettled P&L at delisting")
        for account in self._by_symbol.pop(symbol, {}):
            del self._by_account[account][symbol]

    def check(self) -> None:
        """Raise ``InvariantViolation`` if a symbol's positions are inconsistent."""
        for symbol in self.symbols():
            if self.open_interest(symbol) != self.short_interest(symbol):
                raise InvariantViolation(f"{symbol}: total long differs from total short")
            for position in self._by_symbol[symbol].values():
                if self._by_account[position.account][symbol] is not position:
                    raise InvariantViolation(f"{symbol} {position.account}: the indexes differ")
                quantities = [lot.quantity for lot in position.lots]
                if any(q == 0 for q in quantities) or len({_sign(q) for q in quantities}) > 1:
                    raise InvariantViolation(f"{symbol} {position.account}: lots mix sides")
