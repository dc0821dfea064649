"""Unit tests of the double-entry ledger: postings, balances, withdrawals, invariants."""

from __future__ import annotations

import pytest

from tokenfutures.domain.clearing.ledger import (
    EXTERNAL,
    FEES,
    HOUSE_CAPITAL,
    SETTLEMENT,
    AccountKind,
    Ledger,
    LedgerAccount,
    Posting,
    PostingReason,
    WithdrawalRejected,
    WithdrawalRejectReason,
    cash_account,
)
from tokenfutures.domain.invariants import InvariantViolation


@pytest.fixture
def ledger() -> Ledger:
    book = Ledger()
    book.deposit("alice", 100_000, "dep-1")
    book.deposit("bob", 50_000, "dep-2")
    return book


def test_deposit_moves_money_from_outside_to_cash(ledger: Ledger) -> None:
    assert ledger.cash("alice") == 100_000
    assert ledger.cash("bob") == 50_000
    assert ledger.balance(EXTERNAL) == -150_000
    assert ledger.total() == 150_000
    assert ledger.journal[0] == Posting(
        1, EXTERNAL, cash_account("alice"), 100_000, PostingReason.DEPOSIT, "dep-1"
    )
    ledger.check()


def test_fee_goes_to_exchange_revenue_and_total_is_unchanged(ledger: Ledger) -> None:
    posting = ledger.charge_fee("alice", 250, "trade-7")
    assert (posting.debit, posting.credit, posting.amount) == (cash_account("alice"), FEES, 250)
    assert ledger.cash("alice") == 99_750
    assert ledger.balance(FEES) == 250
    assert ledger.total() == 150_000
    ledger.check()


def test_settle_cash_pays_gains_and_collects_losses_through_settlement(ledger: Ledger) -> None:
    paid = ledger.settle_cash("alice", 1_200, PostingReason.REALISED_PNL, "t1")
    collected = ledger.settle_cash("bob", -1_200, PostingReason.REALISED_PNL, "t1")
    assert paid is not None
    assert (paid.debit, paid.credit) == (SETTLEMENT, cash_account("alice"))
    assert collected is not None
    assert (collected.debit, collected.credit) == (cash_account("bob"), SETTLEMENT)
    assert ledger.settle_cash("bob", 0, PostingReason.REALISED_PNL, "t1") is None
    assert (ledger.cash("alice"), ledger.cash("bob")) == (101_200, 48_800)
    assert ledger.balance(SETTLEMENT) == 0
    ledger.check()


def test_variation_margin_postings_are_sorted_and_skip_zero(ledger: Ledger) -> None:
    postings = ledger.post_variation_margin({"bob": -500, "carol": 0, "alice": 500}, "eod")
    assert [p.credit.owner for p in postings] == ["alice", SETTLEMENT.owner]
    assert [p.reason for p in postings] == [PostingReason.VARIATION_MARGIN] * 2
    assert (ledger.cash("alice"), ledger.cash("bob"), ledger.balance(SETTLEMENT)) == (
        100_500,
        49_500,
        0,
    )


def test_withdrawal_of_free_collateral_pays_out(ledger: Ledger) -> None:
    result = ledger.withdraw("alice", 30_000, free_collateral=40_000, reference="wd-1")
    assert isinstance(result, Posting)
    assert (result.debit, result.credit) == (cash_account("alice"), EXTERNAL)
    assert ledger.cash("alice") == 70_000
    assert ledger.total() == 120_000
    assert (ledger.deposited, ledger.withdrawn) == (150_000, 30_000)
    ledger.check()


@pytest.mark.parametrize(
    ("amount", "free", "reason"),
    [
        (0, 10_000, WithdrawalRejectReason.NON_POSITIVE_AMOUNT),
        (-5, 10_000, WithdrawalRejectReason.NON_POSITIVE_AMOUNT),
        (40_001, 40_000, WithdrawalRejectReason.EXCEEDS_FREE_COLLATERAL),
        (100_001, 200_000, WithdrawalRejectReason.EXCEEDS_CASH),
    ],
)
def test_refused_withdrawal_changes_nothing(
    ledger: Ledger, amount: int, free: int, reason: WithdrawalRejectReason
) -> None:
    before = (ledger.balances(), len(ledger.journal), ledger.withdrawn)
    result = ledger.withdraw("alice", amount, free_collateral=free)
    assert result == WithdrawalRejected("alice", amount, reason)
    assert (ledger.balances(), len(ledger.journal), ledger.withdrawn) == before


def test_house_accounts_move_money_only_inside(ledger: Ledger) -> None:
    fund = LedgerAccount("bob", AccountKind.GUARANTY_FUND)
    ledger.transfer(cash_account("bob"), fund, 10_000, PostingReason.DEFAULT_TRANSFER, "gf")
    ledger.transfer(fund, HOUSE_CAPITAL, 4_000, PostingReason.DEFAULT_TRANSFER, "gf")
    assert (ledger.balance(fund), ledger.balance(HOUSE_CAPITAL)) == (6_000, 4_000)
    assert ledger.total() == 150_000
    ledger.check()


@pytest.mark.parametrize("amount", [0, -1])
def test_non_positive_transfer_is_a_bug(ledger: Ledger, amount: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        ledger.charge_fee("alice", amount, "x")


def test_transfer_to_the_same_account_is_a_bug(ledger: Ledger) -> None:
    alice = cash_account("alice")
    with pytest.raises(ValueError, match="two different"):
        ledger.transfer(alice, alice, 1, PostingReason.FEE, "x")


@pytest.mark.parametrize(
    ("debit", "credit", "reason"),
    [
        (EXTERNAL, cash_account("alice"), PostingReason.FEE),
        (cash_account("alice"), EXTERNAL, PostingReason.VARIATION_MARGIN),
        (cash_account("alice"), FEES, PostingReason.DEPOSIT),
        (EXTERNAL, cash_account("alice"), PostingReason.WITHDRAWAL),
    ],
)
def test_only_deposits_and_withdrawals_cross_the_boundary(
    ledger: Ledger, debit: LedgerAccount, credit: LedgerAccount, reason: PostingReason
) -> None:
    with pytest.raises(ValueError, match="cannot move money"):
        ledger.transfer(debit, credit, 1, reason, "x")
    assert len(ledger.journal) == 2


def test_check_detects_a_tampered_balance(ledger: Ledger) -> None:
    ledger._balances[cash_account("alice")] += 1
    with pytest.raises(InvariantViolation):
        ledger.check()


def test_postings_are_frozen(ledger: Ledger) -> None:
    with pytest.raises(AttributeError):
        ledger.journal[0].amount = 1  # type: ignore[misc]
