"""Clearing members, their client accounts and groups of accounts under common control.

Every account belongs to one member; accounts sharing a ``group`` count as one for position
limits, the intraday opening cap and surveillance (a lone account is its own group).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AccountStatus(StrEnum):
    ACTIVE = "active"
    CANCEL_ONLY = "cancel_only"  # halted by the exchange: may cancel, may not trade
    LIQUIDATING = "liquidating"  # a margin call went unmet: the exchange closes its positions
    DEFAULTED = "defaulted"  # closed out by the default procedure


@dataclass(frozen=True, slots=True)
class Member:
    member: str


@dataclass(frozen=True, slots=True)
class Account:
    account: str
    member: str
    group: str
    opening_cap_exempt: bool = False  # hedgers and market makers (INE practice)
    status: AccountStatus = AccountStatus.ACTIVE

    @property
    def may_trade(self) -> bool:
        return self.status is AccountStatus.ACTIVE


class Accounts:
    """The members and accounts the clearing house knows, and the groups they form."""

    def __init__(self) -> None:
        self.members: dict[str, Member] = {}
        self.accounts: dict[str, Account] = {}
        self._groups: dict[str, list[str]] = {}

    def add_member(self, member: str) -> Member:
        found = self.members[member] = Member(member)
        return found

    def open(self, account: Account) -> None:
        self.accounts[account.account] = account
        self._groups.setdefault(account.group, []).append(account.account)

    def get(self, account: str) -> Account | None:
        return self.accounts.get(account)

    def set_status(self, account: str, status: AccountStatus) -> Account:
        current = self.accounts[account]
        updated = self.accounts[account] = Account(
            current.account,
            current.member,
            current.group,
            current.opening_cap_exempt,
            status,
        )
        return updated

    def group_of(self, account: str) -> list[str]:
        """Every account in ``account``'s group (itself alone when it has no group)."""
        found = self.accounts.get(account)
        if found is None:
            return [account]
        return self._groups[found.group]

    def of_member(self, member: str) -> list[str]:
        return sorted(a.account for a in self.accounts.values() if a.member == member)

    def state(self) -> tuple[object, ...]:
        return (
            tuple(sorted(self.members)),
            tuple(
                (a.account, a.member, a.group, a.opening_cap_exempt, a.status.value)
                for _, a in sorted(self.accounts.items())
            ),
        )
