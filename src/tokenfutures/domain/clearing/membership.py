"""Money, members and accounts: deposits, withdrawals, members and their guaranty funds,
account opening and halts, the clearing house's capital.

Each handler takes the clearing house, the command and the event list, like the rest of the
pipeline; a refusal is one ``CommandRejected`` and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenfutures.domain.clearing.accounts import Account, AccountStatus
from tokenfutures.domain.clearing.commands import (
    AddMember,
    FundHouseCapital,
    OpenAccount,
    SetAccountStatus,
    Withdraw,
)
from tokenfutures.domain.clearing.events import (
    AccountOpened,
    FundsWithdrawn,
    HouseCapitalFunded,
    MemberAdded,
)
from tokenfutures.domain.clearing.ledger import (
    EXTERNAL,
    HOUSE_CAPITAL,
    PostingReason,
    cash_account,
    guaranty_fund_account,
)
from tokenfutures.domain.commands import Deposit
from tokenfutures.domain.events import FundsDeposited
from tokenfutures.domain.rejects import RejectReason
from tokenfutures.domain.validation import Problem

if TYPE_CHECKING:
    from tokenfutures.domain.clearing.house import ClearingHouse


def known_account(
    house: ClearingHouse, cmd: Deposit | Withdraw | SetAccountStatus, out: list[Any]
) -> bool:
    if cmd.account in house.accounts.accounts or not house.risk:
        return True
    problem = Problem(
        RejectReason.UNKNOWN_ACCOUNT, "account", f"{cmd.account!r} has not been opened"
    )
    house.reject(cmd, problem, out)
    return False


def positive_amount(
    house: ClearingHouse, cmd: Deposit | Withdraw | FundHouseCapital, out: list[Any]
) -> bool:
    if cmd.amount >= 1:
        return True
    house.reject(cmd, Problem(RejectReason.INVALID_AMOUNT, "amount", "must be positive"), out)
    return False


def deposit(house: ClearingHouse, cmd: Deposit, out: list[Any]) -> None:
    if known_account(house, cmd, out) and positive_amount(house, cmd, out):
        house.ledger.deposit(cmd.account, cmd.amount, f"deposit {cmd.ts}")
        out.append(FundsDeposited(cmd.ts, cmd.account, cmd.amount, house.ledger.cash(cmd.account)))


def withdraw(house: ClearingHouse, cmd: Withdraw, out: list[Any]) -> None:
    if not (known_account(house, cmd, out) and positive_amount(house, cmd, out)):
        return
    known = house.accounts.get(cmd.account)
    if known is not None and known.status in (
        AccountStatus.LIQUIDATING,
        AccountStatus.DEFAULTED,
    ):
        problem = Problem(
            RejectReason.ACCOUNT_CANCEL_ONLY,
            "account",
            f"{cmd.account!r} is {known.status}: its cash stays with the clearing house",
        )
        house.reject(cmd, problem, out)
        return
    free = house.free_collateral(cmd.account)
    if cmd.amount > free:
        problem = Problem(
            RejectReason.EXCEEDS_FREE_COLLATERAL,
            "amount",
            f"exceeds the free collateral of {cmd.account!r}, "
            f"{house.parameters.money(max(free, 0))}",
        )
        house.reject(cmd, problem, out)
        return
    house.ledger.transfer(
        cash_account(cmd.account), EXTERNAL, cmd.amount, PostingReason.WITHDRAWAL,
        f"withdrawal {cmd.ts}",
    )  # fmt: skip
    out.append(FundsWithdrawn(cmd.ts, cmd.account, cmd.amount, house.ledger.cash(cmd.account)))


def add_member(house: ClearingHouse, cmd: AddMember, out: list[Any]) -> None:
    if cmd.member in house.accounts.members:
        problem = Problem(RejectReason.ALREADY_EXISTS, "member", f"{cmd.member!r} exists")
        house.reject(cmd, problem, out)
        return
    if cmd.guaranty_fund < 0:
        problem = Problem(RejectReason.INVALID_AMOUNT, "guaranty_fund", "must not be negative")
        house.reject(cmd, problem, out)
        return
    house.accounts.add_member(cmd.member)
    house.contributions[cmd.member] = cmd.guaranty_fund
    if cmd.guaranty_fund:
        house.ledger.transfer(
            EXTERNAL, guaranty_fund_account(cmd.member), cmd.guaranty_fund,
            PostingReason.DEPOSIT, f"guaranty fund {cmd.member}",
        )  # fmt: skip
    out.append(MemberAdded(cmd.ts, cmd.member, cmd.guaranty_fund))


def open_account(house: ClearingHouse, cmd: OpenAccount, out: list[Any]) -> None:
    if cmd.account in house.accounts.accounts or cmd.account == house.parameters.house_account:
        problem = Problem(RejectReason.ALREADY_EXISTS, "account", f"{cmd.account!r} exists")
        house.reject(cmd, problem, out)
        return
    if cmd.member not in house.accounts.members:
        problem = Problem(RejectReason.UNKNOWN_MEMBER, "member", f"{cmd.member!r} is not a member")
        house.reject(cmd, problem, out)
        return
    group = cmd.group or cmd.account
    house.accounts.open(Account(cmd.account, cmd.member, group, cmd.opening_cap_exempt))
    out.append(AccountOpened(cmd.ts, cmd.account, cmd.member, group, cmd.opening_cap_exempt))


def set_account_status(house: ClearingHouse, cmd: SetAccountStatus, out: list[Any]) -> None:
    if cmd.account not in house.accounts.accounts:  # refused even without risk checks
        problem = Problem(
            RejectReason.UNKNOWN_ACCOUNT, "account", f"{cmd.account!r} has not been opened"
        )
        house.reject(cmd, problem, out)
        return
    current = house.accounts.accounts[cmd.account].status
    allowed = (AccountStatus.ACTIVE, AccountStatus.CANCEL_ONLY)
    if cmd.status not in allowed or current not in allowed:
        problem = Problem(
            RejectReason.INVALID_FIELD,
            "status",
            f"only active <-> cancel_only can be set; {cmd.account!r} is {current}",
        )
        house.reject(cmd, problem, out)
        return
    house.set_status(cmd.account, cmd.status, "requested", cmd.ts, out)


def fund_house_capital(house: ClearingHouse, cmd: FundHouseCapital, out: list[Any]) -> None:
    if positive_amount(house, cmd, out):
        house.ledger.transfer(
            EXTERNAL, HOUSE_CAPITAL, cmd.amount, PostingReason.DEPOSIT, f"capital {cmd.ts}"
        )
        out.append(HouseCapitalFunded(cmd.ts, cmd.amount, house.ledger.balance(HOUSE_CAPITAL)))
