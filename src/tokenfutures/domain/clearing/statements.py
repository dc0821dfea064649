"""The daily statement of an account, as brokers' settlement statements show it.

Built at the end of day from the ledger's postings of the day, the day's trades and the
positions after marking. The balance always reconciles:
``closing = opening + deposits - withdrawals - fees + variation_margin + final_settlement
+ default_transfers``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from tokenfutures.domain.clearing.ledger import AccountKind, Posting, PostingReason


@dataclass(frozen=True, slots=True)
class StatementTrade:
    ts: int
    trade_id: int
    symbol: str
    side: str
    quantity: int
    price: int
    fee: int


@dataclass(frozen=True, slots=True)
class StatementPosition:
    symbol: str
    quantity: int  # net: long > 0, short < 0
    average_entry_price: int | None
    settlement_price: int
    unrealised_pnl: int  # against the entry prices, at the settlement price


@dataclass(frozen=True, slots=True)
class CashMovements:
    deposits: int = 0
    withdrawals: int = 0
    fees: int = 0
    variation_margin: int = 0  # includes P&L realised by the day's closing trades
    final_settlement: int = 0
    default_transfers: int = 0

    @property
    def net(self) -> int:
        return (
            self.deposits
            - self.withdrawals
            - self.fees
            + self.variation_margin
            + self.final_settlement
            + self.default_transfers
        )


@dataclass(frozen=True, slots=True)
class Statement:
    account: str
    date: date
    opening_balance: int
    movements: CashMovements
    closing_balance: int
    trades: tuple[StatementTrade, ...]
    positions: tuple[StatementPosition, ...]
    initial_margin: int
    maintenance_margin: int
    margin_call: int  # the amount called at this end of day, 0 if none

    @property
    def equity(self) -> int:
        """After the end of day every position is marked, so equity is the cash balance."""
        return self.closing_balance

    @property
    def free_collateral(self) -> int:
        return self.closing_balance - self.initial_margin


_FIELD_BY_REASON = {
    PostingReason.DEPOSIT: "deposits",
    PostingReason.WITHDRAWAL: "withdrawals",
    PostingReason.FEE: "fees",
    PostingReason.VARIATION_MARGIN: "variation_margin",
    PostingReason.REALISED_PNL: "variation_margin",
    PostingReason.FINAL_SETTLEMENT: "final_settlement",
    PostingReason.DEFAULT_TRANSFER: "default_transfers",
}
_OUTFLOWS = frozenset({"withdrawals", "fees"})


def cash_movements(postings: Iterable[Posting]) -> dict[str, CashMovements]:
    """The day's cash movements of every account whose cash a posting touched."""
    sums: dict[str, dict[str, int]] = {}
    for posting in postings:
        field = _FIELD_BY_REASON[posting.reason]
        for account, sign in ((posting.credit, 1), (posting.debit, -1)):
            if account.kind is not AccountKind.CASH:
                continue
            totals = sums.setdefault(account.owner, {})
            signed = -sign * posting.amount if field in _OUTFLOWS else sign * posting.amount
            totals[field] = totals.get(field, 0) + signed
    return {owner: CashMovements(**totals) for owner, totals in sums.items()}
