"""The clearing house's double-entry ledger, in integer minor units.

Every posting moves a positive amount from one account (the debit side) to another (the
credit side); balances are credit-normal, so a member's ``cash`` balance is what the clearing
house owes it. Postings are appended to the journal and never changed.

Invariants, checked by ``check``:

- the balances over all accounts, ``external`` included, always sum to zero;
- money is conserved: only deposits (external -> inside) and withdrawals (inside -> external)
  cross the boundary, so ``total()`` equals deposits minus withdrawals;
- the balances equal a replay of the journal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from tokenfutures.domain.invariants import InvariantViolation
from tokenfutures.domain.values import MinorUnits

CLEARING_HOUSE = "clearing_house"
OUTSIDE_WORLD = "outside_world"


class AccountKind(StrEnum):
    CASH = "cash"
    FEES = "fees"
    SETTLEMENT = "settlement"
    GUARANTY_FUND = "guaranty_fund"
    HOUSE_CAPITAL = "house_capital"
    ASSESSMENT = "assessment"  # negative: what a member owes after a waterfall assessment
    EXTERNAL = "external"


class PostingReason(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    FEE = "fee"
    VARIATION_MARGIN = "variation_margin"
    REALISED_PNL = "realised_pnl"
    FINAL_SETTLEMENT = "final_settlement"
    DEFAULT_TRANSFER = "default_transfer"


class WithdrawalRejectReason(StrEnum):
    NON_POSITIVE_AMOUNT = "non_positive_amount"
    EXCEEDS_FREE_COLLATERAL = "exceeds_free_collateral"
    EXCEEDS_CASH = "exceeds_cash"


@dataclass(frozen=True, slots=True)
class LedgerAccount:
    owner: str
    kind: AccountKind

    @property
    def is_external(self) -> bool:
        return self.kind is AccountKind.EXTERNAL


def cash_account(owner: str) -> LedgerAccount:
    return LedgerAccount(owner, AccountKind.CASH)


def guaranty_fund_account(member: str) -> LedgerAccount:
    return LedgerAccount(member, AccountKind.GUARANTY_FUND)


def assessment_account(member: str) -> LedgerAccount:
    return LedgerAccount(member, AccountKind.ASSESSMENT)


EXTERNAL = LedgerAccount(OUTSIDE_WORLD, AccountKind.EXTERNAL)
FEES = LedgerAccount(CLEARING_HOUSE, AccountKind.FEES)
SETTLEMENT = LedgerAccount(CLEARING_HOUSE, AccountKind.SETTLEMENT)
HOUSE_CAPITAL = LedgerAccount(CLEARING_HOUSE, AccountKind.HOUSE_CAPITAL)


@dataclass(frozen=True, slots=True)
class Posting:
    """One balanced transfer: ``amount`` leaves ``debit`` and arrives in ``credit``."""

    sequence: int
    debit: LedgerAccount
    credit: LedgerAccount
    amount: MinorUnits
    reason: PostingReason
    reference: str


@dataclass(frozen=True, slots=True)
class WithdrawalRejected:
    """An expected refusal of a withdrawal; the ledger is unchanged."""

    owner: str
    amount: MinorUnits
    reason: WithdrawalRejectReason


def _check_boundary(debit: LedgerAccount, credit: LedgerAccount, reason: PostingReason) -> None:
    if reason is PostingReason.DEPOSIT:
        valid = debit.is_external and not credit.is_external
    elif reason is PostingReason.WITHDRAWAL:
        valid = credit.is_external and not debit.is_external
    else:
        valid = not debit.is_external and not credit.is_external
    if not valid:
        raise ValueError(f"a {reason} posting cannot move money from {debit} to {credit}")


class Ledger:
    """Balances by account and the append-only journal of postings."""

    def __init__(self) -> None:
        self._balances: dict[LedgerAccount, MinorUnits] = {}
        self._journal: list[Posting] = []
        self._deposited: MinorUnits = 0
        self._withdrawn: MinorUnits = 0

    @property
    def journal(self) -> Sequence[Posting]:
        return self._journal

    @property
    def deposited(self) -> MinorUnits:
        return self._deposited

    @property
    def withdrawn(self) -> MinorUnits:
        return self._withdrawn

    def balance(self, account: LedgerAccount) -> MinorUnits:
        return self._balances.get(account, 0)

    def cash(self, owner: str) -> MinorUnits:
        return self.balance(cash_account(owner))

    def balances(self) -> dict[LedgerAccount, MinorUnits]:
        return dict(self._balances)

    def total(self) -> MinorUnits:
        """The money inside the exchange: the sum over all non-external accounts."""
        return sum(v for account, v in self._balances.items() if not account.is_external)

    def transfer(
        self,
        debit: LedgerAccount,
        credit: LedgerAccount,
        amount: MinorUnits,
        reason: PostingReason,
        reference: str,
    ) -> Posting:
        """Post ``amount`` from ``debit`` to ``credit``; a malformed posting is a bug."""
        if type(amount) is not int or amount <= 0:
            raise ValueError(f"a posting amount must be a positive int, got {amount!r}")
        if debit == credit:
            raise ValueError(f"a posting needs two different accounts, got {debit} twice")
        _check_boundary(debit, credit, reason)
        posting = Posting(len(self._journal) + 1, debit, credit, amount, reason, reference)
        self._journal.append(posting)
        self._balances[debit] = self.balance(debit) - amount
        self._balances[credit] = self.balance(credit) + amount
        if reason is PostingReason.DEPOSIT:
            self._deposited += amount
        elif reason is PostingReason.WITHDRAWAL:
            self._withdrawn += amount
        return posting

    def deposit(self, owner: str, amount: MinorUnits, reference: str) -> Posting:
        return self.transfer(
            EXTERNAL, cash_account(owner), amount, PostingReason.DEPOSIT, reference
        )

    def withdraw(
        self, owner: str, amount: MinorUnits, free_collateral: MinorUnits, reference: str = ""
    ) -> Posting | WithdrawalRejected:
        """Pay out free collateral only; a refusal is returned and changes nothing."""
        if amount <= 0:
            return WithdrawalRejected(owner, amount, WithdrawalRejectReason.NON_POSITIVE_AMOUNT)
        if amount > free_collateral:
            return WithdrawalRejected(owner, amount, WithdrawalRejectReason.EXCEEDS_FREE_COLLATERAL)
        if amount > self.cash(owner):
            return WithdrawalRejected(owner, amount, WithdrawalRejectReason.EXCEEDS_CASH)
        return self.transfer(
            cash_account(owner), EXTERNAL, amount, PostingReason.WITHDRAWAL, reference
        )

    def charge_fee(self, owner: str, amount: MinorUnits, reference: str) -> Posting:
        return self.transfer(cash_account(owner), FEES, amount, PostingReason.FEE, reference)

    def settle_cash(
        self, owner: str, amount: MinorUnits, reason: PostingReason, reference: str
    ) -> Posting | None:
        """Pay a signed P&L amount between ``owner``'s cash and the settlement account.

        Positive amounts are paid to the owner, negative ones collected; zero posts nothing.
        """
        if amount > 0:
            return self.transfer(SETTLEMENT, cash_account(owner), amount, reason, reference)
        if amount < 0:
            return self.transfer(cash_account(owner), SETTLEMENT, -amount, reason, reference)
        return None

    def post_variation_margin(
        self, amounts: Mapping[str, MinorUnits], reference: str
    ) -> list[Posting]:
        """Post each owner's variation margin, in sorted owner order for determinism."""
        postings: list[Posting] = []
        for owner in sorted(amounts):
            posting = self.settle_cash(
                owner, amounts[owner], PostingReason.VARIATION_MARGIN, reference
            )
            if posting is not None:
                postings.append(posting)
        return postings

    def check(self) -> None:
        """Raise ``InvariantViolation`` if any ledger invariant is broken."""
        if sum(self._balances.values()) != 0:
            raise InvariantViolation("ledger balances do not sum to zero")
        if self.total() != self._deposited - self._withdrawn:
            raise InvariantViolation("money inside the exchange is not deposits - withdrawals")
        replayed: dict[LedgerAccount, MinorUnits] = {}
        for posting in self._journal:
            replayed[posting.debit] = replayed.get(posting.debit, 0) - posting.amount
            replayed[posting.credit] = replayed.get(posting.credit, 0) + posting.amount
        if replayed != self._balances:
            raise InvariantViolation("ledger balances differ from a replay of the journal")
