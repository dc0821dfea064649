"""Daily statements (docs/clearing.md, "Daily statement"): balances that reconcile, the day's
trades with fees, positions at the settlement price, margins and the margin call.

The day, worked out by hand (cents; a tick is USD 10 a lot; fees 0.005 % of turnover, half up):

- A and B deposit 5,000.00, C 10,000.00; D is opened and does nothing.
- A buys 2 from B at 2.500: turnover 50,000.00, fee 2.50 each side.
- A sells 1 to C at 2.650: turnover 26,500.00, fee 1.325 -> 1.33 each side.
- A withdraws 100.00.
- Settlement: VWAP (2 x 2.500 + 2.650) / 3 = 2.550.
- Variation margin: A realised 150 ticks on the lot sold and the lot kept moved 50 ticks:
  +2,000.00; B short 2 from 2.500: -1,000.00; C long 1 from 2.650: -1,000.00.
- Margin at 2.550: scan range 10 % = 255 ticks, 2,550.00 a lot; maintenance 80 % = 2,040.00.
  B holds 2 lots: initial 5,100.00, maintenance 4,080.00 and cash 3,997.50 -> called for
  5,100.00 - 3,997.50 = 1,102.50.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from support.clearing import DAY1, TKN, Clearing, only, usd
from tokenfutures.domain.clearing.events import MarginCallIssued
from tokenfutures.domain.clearing.statements import CashMovements, Statement, StatementPosition
from tokenfutures.domain.values import Side

DAY2 = DAY1 + timedelta(days=1)
LOT_AT_2550 = usd("2,550")


def _day_one() -> tuple[Clearing, list[object]]:
    clearing = Clearing()
    clearing.account("A", cash=usd("5,000"))
    clearing.account("B", cash=usd("5,000"))
    clearing.account("C", cash=usd("10,000"))
    clearing.account("D")
    clearing.trade("A", "B", 2, "2.500")
    clearing.trade("C", "A", 1, "2.650")
    clearing.withdraw("A", usd("100"))
    return clearing, clearing.end_of_day(DAY1)


def _statement(clearing: Clearing, account: str, day: object = DAY1) -> Statement:
    return clearing.house.statements[(account, day)]


MOVEMENTS: dict[str, tuple[CashMovements, int]] = {
    "A": (
        CashMovements(deposits=usd("5,000"), withdrawals=usd("100"), fees=250 + 133,
                      variation_margin=usd("2,000")),
        usd("5,000") - usd("100") - 383 + usd("2,000"),  # 6,896.17
    ),
    "B": (
        CashMovements(deposits=usd("5,000"), fees=250, variation_margin=-usd("1,000")),
        usd("3,997.50"),
    ),
    "C": (
        CashMovements(deposits=usd("10,000"), fees=133, variation_margin=-usd("1,000")),
        usd("8,998.67"),
    ),
    "D": (CashMovements(), 0),
}  # fmt: skip


@pytest.mark.parametrize(("account", "moved", "closing"),
                         [(a, m, c) for a, (m, c) in MOVEMENTS.items()], ids=MOVEMENTS)  # fmt: skip
def test_the_day_reconciles_from_opening_to_closing(
    account: str, moved: CashMovements, closing: int
) -> None:
    clearing, _ = _day_one()
    statement = _statement(clearing, account)
    assert statement.opening_balance == 0
    assert statement.movements == moved
    assert statement.closing_balance == closing == clearing.cash(account)
    assert statement.opening_balance + moved.net == closing


def test_trades_are_listed_with_their_fees() -> None:
    clearing, _ = _day_one()
    lines = [(t.symbol, t.side, t.quantity, t.price, t.fee)
             for t in _statement(clearing, "A").trades]  # fmt: skip
    assert lines == [(TKN, Side.BUY, 2, 2500, 250), (TKN, Side.SELL, 1, 2650, 133)]
    assert [t.trade_id for t in _statement(clearing, "A").trades] == [1, 2]
    assert [(t.side, t.quantity, t.fee) for t in _statement(clearing, "B").trades] == [
        (Side.SELL, 2, 250)
    ]
    assert _statement(clearing, "D").trades == ()


def test_positions_are_shown_at_the_settlement_price() -> None:
    clearing, _ = _day_one()
    # unrealised against the entry price: A's kept lot 2.500 -> 2.550, +500.00; C's 2.650 ->
    # 2.550, -1,000.00; B short 2 from 2.500, -1,000.00
    assert _statement(clearing, "A").positions == (
        StatementPosition(TKN, 1, 2500, 2550, usd("500")),
    )
    assert _statement(clearing, "B").positions == (
        StatementPosition(TKN, -2, 2500, 2550, -usd("1,000")),
    )
    assert _statement(clearing, "C").positions == (
        StatementPosition(TKN, 1, 2650, 2550, -usd("1,000")),
    )
    assert _statement(clearing, "D").positions == ()


def test_margins_and_the_margin_call() -> None:
    clearing, events = _day_one()
    b = _statement(clearing, "B")
    assert (b.initial_margin, b.maintenance_margin) == (2 * LOT_AT_2550, usd("4,080"))
    assert b.margin_call == usd("1,102.50")
    assert [(e.account, e.amount) for e in only(events, MarginCallIssued)] == [
        ("B", usd("1,102.50"))
    ]
    a = _statement(clearing, "A")
    assert (a.initial_margin, a.maintenance_margin, a.margin_call) == (LOT_AT_2550, usd("2,040"), 0)


def test_equity_and_free_collateral() -> None:
    clearing, _ = _day_one()
    b = _statement(clearing, "B")
    assert (b.equity, b.free_collateral) == (usd("3,997.50"), -usd("1,102.50"))
    a = _statement(clearing, "A")
    assert (a.equity, a.free_collateral) == (usd("6,896.17"), usd("6,896.17") - LOT_AT_2550)


def test_the_next_day_opens_at_the_previous_close() -> None:
    clearing, _ = _day_one()
    clearing.open_day(2)
    clearing.deposit("A", usd("10"))
    clearing.deposit("B", usd("1,102.50"))  # meets the call
    clearing.end_of_day(DAY2)  # no trade: the settlement stays 2.550, no variation margin
    for account in ("A", "B", "C", "D"):
        first, second = _statement(clearing, account, DAY1), _statement(clearing, account, DAY2)
        assert second.opening_balance == first.closing_balance
    a = _statement(clearing, "A", DAY2)
    assert a.movements == CashMovements(deposits=usd("10"))
    assert a.closing_balance == usd("6,906.17")
    assert a.trades == ()
    assert a.positions == (StatementPosition(TKN, 1, 2500, 2550, usd("500")),)
    b = _statement(clearing, "B", DAY2)
    assert (b.closing_balance, b.margin_call) == (2 * LOT_AT_2550, 0)


def test_every_statement_reconciles() -> None:
    clearing, _ = _day_one()
    clearing.open_day(2)
    clearing.trade("B", "C", 1, "2.560")
    clearing.withdraw("C", usd("50"))
    clearing.end_of_day(DAY2)
    statements = clearing.house.statements
    assert len(statements) == 8  # four accounts, two days
    for statement in statements.values():
        moved = statement.movements
        assert statement.closing_balance == (
            statement.opening_balance + moved.deposits - moved.withdrawals - moved.fees
            + moved.variation_margin + moved.final_settlement + moved.default_transfers
        )  # fmt: skip


# X buys 1 lot at 2.500, then Z buys 1 at 2.300: settlement (2.500 + 2.300) / 2 = 2.400, X pays
# 100 ticks = 1,000.00. At 2.400 a lot needs 240 ticks x 10 = 2,400.00 initial and
# 1,920.00 maintenance. (cash after the day, margin call)
CALLS: dict[str, tuple[int, int]] = {
    "below-maintenance": (usd("1,919.99"), usd("480.01")),  # called back up to initial
    "at-maintenance": (usd("1,920"), 0),
    "between-maintenance-and-initial": (usd("2,399.99"), 0),
    "well-above": (usd("5,000"), 0),
}


@pytest.mark.parametrize(("cash", "call"), CALLS.values(), ids=CALLS)
def test_a_call_below_maintenance_asks_back_up_to_initial(cash: int, call: int) -> None:
    clearing = Clearing()
    for name in ("Y", "Z", "W"):
        clearing.account(name, cash=usd("100,000"))
    clearing.account("X", cash=cash + usd("1,000") + 125)  # + the loss and the 1.25 fee
    clearing.trade("X", "Y", 1, "2.500")
    clearing.trade("Z", "W", 1, "2.300")
    events = clearing.end_of_day(DAY1)
    statement = _statement(clearing, "X")
    assert statement.closing_balance == cash
    assert (statement.initial_margin, statement.maintenance_margin) == (usd("2,400"), usd("1,920"))
    assert statement.margin_call == call
    assert [e.amount for e in only(events, MarginCallIssued) if e.account == "X"] == (
        [call] if call else []
    )
