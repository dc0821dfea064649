"""The clearing house in a snapshot: ledger, positions, accounts, the trading day, statements.

Written out explicitly as JSON-ready values, in the containers' own order (so whatever
iterates them later sees the same order):

- the ledger: its accounts once, as ``[owner, kind]`` (balances and postings refer to them
  by index), every balance, every posting of its journal (``[debit, credit, amount, reason,
  reference]``; a posting's sequence is its place), and the deposits and withdrawals;
- positions by contract (an object) then account, each with its FIFO lots ``[quantity, entry price,
  reference price]`` and its P&L sums;
- members, accounts (``[account, member, group, exempt, status]``) and groups;
- the day so far (prints, last prices, closes, lots opened per group, trades for the
  statements, contracts listed since the last end of day), settlement prices, limit locks,
  margin calls, guaranty-fund contributions, delisted contracts, reduce-only orders,
  statements and closing balances.

The contract terms and margin parameters are not written: they come from the market the
snapshot is restored into.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from tokenfutures.domain.clearing.accounts import Account, AccountStatus, Member
from tokenfutures.domain.clearing.house import ClearingHouse, TradingDay
from tokenfutures.domain.clearing.ledger import AccountKind, Ledger, LedgerAccount, Posting
from tokenfutures.domain.clearing.ledger import PostingReason as Reason
from tokenfutures.domain.clearing.positions import Lot, Position, Positions
from tokenfutures.domain.clearing.settlement_price import Print
from tokenfutures.domain.clearing.statements import (
    CashMovements,
    Statement,
    StatementPosition,
    StatementTrade,
)
from tokenfutures.domain.values import Side
from tokenfutures.engine.snapshot_values import (
    SnapshotError,
    integer,
    integers,
    margin_call,
    margin_call_row,
    optional_date,
    optional_integer,
)

# --- export ---------------------------------------------------------------------------------


def export_clearing(house: ClearingHouse) -> dict[str, Any]:
    last = house.last_end_of_day
    return {
        "ledger": _export_ledger(house.ledger),
        "positions": _export_positions(house.positions),
        "accounts": _export_accounts(house),
        "settlement_prices": dict(house.settlement_prices),
        "scan_overrides": dict(house.scan_overrides),
        "limit_locks": {s: [lock, step] for s, (lock, step) in house.limit_locks.items()},
        "index_values": dict(house.index_values),
        "margin_calls": [margin_call_row(call) for call in house.margin_calls.values()],
        "contributions": dict(house.contributions),
        "delisted": sorted(house.delisted),
        "reduce_only": [[order_id, account] for order_id, account in house.reduce_only.items()],
        "last_end_of_day": None if last is None else last.isoformat(),
        "statements": [_export_statement(key, s) for key, s in house.statements.items()],
        "closing_balances": dict(house.closing_balances),
        "statement_mark": house.statement_mark,
        "day": _export_day(house.day),
    }


def _export_ledger(ledger: Ledger) -> dict[str, Any]:
    index: dict[LedgerAccount, int] = {}
    for account in ledger.balances():
        index.setdefault(account, len(index))
    for posting in ledger.journal:
        index.setdefault(posting.debit, len(index))
        index.setdefault(posting.credit, len(index))
    return {
        "accounts": [[account.owner, account.kind.value] for account in index],
        "balances": [[index[account], amount] for account, amount in ledger.balances().items()],
        "postings": [
            [index[p.debit], index[p.credit], p.amount, p.reason.value, p.reference]
            for p in ledger.journal
        ],
        "deposited": ledger.deposited,
        "withdrawn": ledger.withdrawn,
    }


def _export_positions(positions: Positions) -> dict[str, list[list[Any]]]:
    return {
        symbol: [_position_row(position) for position in held.values()]
        for symbol, held in positions._by_symbol.items()
    }


def _position_row(p: Position) -> list[Any]:
    lots = [[lot.quantity, lot.entry_price, lot.reference_price] for lot in p.lots]
    return [p.account, lots, p.realised_pnl, p.trade_realised_pnl, p.realised_unsettled,
            p.variation_margin]  # fmt: skip


def _export_accounts(house: ClearingHouse) -> dict[str, Any]:
    accounts = house.accounts
    return {
        "members": list(accounts.members),
        "accounts": [
            [a.account, a.member, a.group, a.opening_cap_exempt, a.status.value]
            for a in accounts.accounts.values()
        ],
        "groups": [[group, list(names)] for group, names in accounts._groups.items()],
    }


def _trade_row(t: StatementTrade) -> list[Any]:
    return [t.ts, t.trade_id, t.symbol, Side(t.side).value, t.quantity, t.price, t.fee]


def _export_statement(key: tuple[str, date], s: Statement) -> list[Any]:
    if key != (s.account, s.date):
        raise SnapshotError(f"statement {key} is filed under another account or date")
    m = s.movements
    return [
        s.account, s.date.isoformat(), s.opening_balance,
        [m.deposits, m.withdrawals, m.fees, m.variation_margin, m.final_settlement,
         m.default_transfers],
        s.closing_balance, [_trade_row(t) for t in s.trades],
        [[p.symbol, p.quantity, p.average_entry_price, p.settlement_price, p.unrealised_pnl]
         for p in s.positions],
        s.initial_margin, s.maintenance_margin, s.margin_call,
    ]  # fmt: skip


def _export_day(day: TradingDay) -> dict[str, Any]:
    return {
        "prints": {s: [[p.ts, p.price, p.quantity] for p in ps] for s, ps in day.prints.items()},
        "last_price": dict(day.last_price),
        "closed_at": dict(day.closed_at),
        "opened": [[group, symbol, lots] for (group, symbol), lots in day.opened.items()],
        "trades": {a: [_trade_row(t) for t in ts] for a, ts in day.trades.items()},
        "listed": list(day.listed),
    }


# --- restore --------------------------------------------------------------------------------


def restore_clearing(house: ClearingHouse, data: dict[str, Any]) -> None:
    """Put ``data`` (from :func:`export_clearing`) into ``house``; its terms stay."""
    _restore_ledger(house.ledger, data["ledger"])
    _restore_positions(house.positions, data["positions"])
    _restore_accounts(house, data["accounts"])
    house.settlement_prices = integers(data["settlement_prices"], "settlement_prices")
    house.scan_overrides = integers(data["scan_overrides"], "scan_overrides")
    house.limit_locks = {
        str(s): (integer(lock, "limit_locks"), integer(step, "limit_locks"))
        for s, (lock, step) in data["limit_locks"].items()
    }
    house.index_values = integers(data["index_values"], "index_values")
    calls = (margin_call(row) for row in data["margin_calls"])
    house.margin_calls = {call.account: call for call in calls}
    house.contributions = integers(data["contributions"], "contributions")
    house.delisted = {str(symbol) for symbol in data["delisted"]}
    house.reduce_only = {
        integer(order_id, "reduce_only"): str(account) for order_id, account in data["reduce_only"]
    }
    house.last_end_of_day = optional_date(data["last_end_of_day"])
    statements = (_statement(row) for row in data["statements"])
    house.statements = {(s.account, s.date): s for s in statements}
    house.closing_balances = integers(data["closing_balances"], "closing_balances")
    house.statement_mark = integer(data["statement_mark"], "statement_mark")
    house.day = _day(data["day"])
    unknown = set(house.settlement_prices) ^ set(house.terms)
    if unknown:
        raise SnapshotError(f"settlement prices of contracts not listed: {sorted(unknown)}")


def _restore_ledger(ledger: Ledger, data: dict[str, Any]) -> None:
    accounts = [LedgerAccount(str(owner), AccountKind(kind)) for owner, kind in data["accounts"]]
    ledger._balances = {accounts[i]: integer(amount, "balance") for i, amount in data["balances"]}
    journal = []
    for sequence, (debit, credit, amount, reason, reference) in enumerate(data["postings"], 1):
        posting = Posting(sequence, accounts[debit], accounts[credit], integer(amount, "amount"),
                          Reason(reason), str(reference))  # fmt: skip
        journal.append(posting)
    ledger._journal = journal
    ledger._deposited = integer(data["deposited"], "deposited")
    ledger._withdrawn = integer(data["withdrawn"], "withdrawn")


def _restore_positions(positions: Positions, data: dict[str, list[list[Any]]]) -> None:
    positions._by_symbol, positions._by_account = {}, {}
    for symbol, held in data.items():
        for account, lots, realised, trade_realised, unsettled, variation in held:
            position = Position(
                str(account), str(symbol),
                tuple(Lot(integer(q, "lot"), integer(e, "lot"), integer(r, "lot"))
                      for q, e, r in lots),
                integer(realised, "realised_pnl"), integer(trade_realised, "trade_realised_pnl"),
                integer(unsettled, "realised_unsettled"), integer(variation, "variation_margin"),
            )  # fmt: skip
            positions._by_symbol.setdefault(position.symbol, {})[position.account] = position
            positions._by_account.setdefault(position.account, {})[position.symbol] = position


def _restore_accounts(house: ClearingHouse, data: dict[str, Any]) -> None:
    accounts = house.accounts
    accounts.members = {str(m): Member(str(m)) for m in data["members"]}
    accounts.accounts = {
        str(name): Account(str(name), str(member), str(group), bool(exempt), AccountStatus(status))
        for name, member, group, exempt, status in data["accounts"]
    }
    accounts._groups = {str(group): [str(n) for n in names] for group, names in data["groups"]}


def _statement_trade(row: list[Any]) -> StatementTrade:
    ts, trade_id, symbol, side, quantity, price, fee = row
    return StatementTrade(
        integer(ts, "ts"), integer(trade_id, "trade_id"), str(symbol), Side(side),
        integer(quantity, "quantity"), integer(price, "price"), integer(fee, "fee"),
    )  # fmt: skip


def _statement(row: list[Any]) -> Statement:
    (account, day, opening, moved, closing, trades, held, initial, maintenance,
     call) = row  # fmt: skip
    return Statement(
        str(account), date.fromisoformat(day), integer(opening, "opening_balance"),
        CashMovements(*(integer(amount, "movements") for amount in moved)),
        integer(closing, "closing_balance"), tuple(_statement_trade(t) for t in trades),
        tuple(
            StatementPosition(str(s), integer(q, "quantity"), optional_integer(a, "average"),
                              integer(p, "settlement_price"), integer(u, "unrealised_pnl"))
            for s, q, a, p, u in held
        ),
        integer(initial, "initial_margin"), integer(maintenance, "maintenance_margin"),
        integer(call, "margin_call"),
    )  # fmt: skip


def _day(data: dict[str, Any]) -> TradingDay:
    day = TradingDay()
    day.prints = {
        str(s): [Print(integer(t, "ts"), integer(p, "price"), integer(q, "quantity"))
                 for t, p, q in rows]
        for s, rows in data["prints"].items()
    }  # fmt: skip
    day.last_price = integers(data["last_price"], "last_price")
    day.closed_at = integers(data["closed_at"], "closed_at")
    day.opened = {(str(g), str(s)): integer(n, "opened") for g, s, n in data["opened"]}
    day.trades = {str(a): [_statement_trade(t) for t in rows] for a, rows in data["trades"].items()}
    day.listed = [str(symbol) for symbol in data.get("listed", [])]  # absent: none
    return day
