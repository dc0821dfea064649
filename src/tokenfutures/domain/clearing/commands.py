"""Commands of the clearing house: money, members and accounts, and the daily cycle.

Like the trading commands (``domain/commands.py``) each is immutable and carries its own
``ts``. Amounts are integer minor units, prices integer ticks, index values integer
micro-units (USD x 10^-6).

``ListContract`` carries everything the new contract month needs (its dates, the core's
trading rules, the clearing terms), worked out at the edge from the products file and the
trading calendar: the domain reads neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tokenfutures.domain.clearing.accounts import AccountStatus
from tokenfutures.domain.clearing.terms import ContractTerms
from tokenfutures.domain.listing import ListedContract
from tokenfutures.domain.rules import InstrumentRules
from tokenfutures.domain.values import Micros, MinorUnits, Phase, Ticks


@dataclass(frozen=True, slots=True)
class Withdraw:
    ts: Micros
    account: str
    amount: MinorUnits


@dataclass(frozen=True, slots=True)
class AddMember:
    """Admit a clearing member with its guaranty-fund contribution (paid in from outside)."""

    ts: Micros
    member: str
    guaranty_fund: MinorUnits = 0


@dataclass(frozen=True, slots=True)
class OpenAccount:
    ts: Micros
    account: str
    member: str
    group: str | None = None  # accounts under common control share a group
    opening_cap_exempt: bool = False


@dataclass(frozen=True, slots=True)
class SetAccountStatus:
    """Halt an account (``cancel_only``) or let it trade again (``active``)."""

    ts: Micros
    account: str
    status: AccountStatus


@dataclass(frozen=True, slots=True)
class FundHouseCapital:
    """The clearing house's own capital committed to the default waterfall."""

    ts: Micros
    amount: MinorUnits


@dataclass(frozen=True, slots=True)
class EndOfDay:
    """Settle the trading day ``date``; ``index`` gives the day's fixings by underlying."""

    ts: Micros
    date: date
    index: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class MarginCallDeadline:
    """Calls not met by now are liquidated."""

    ts: Micros


@dataclass(frozen=True, slots=True)
class FinalSettlement:
    """Close ``symbol`` at ``price``, or at the average of the window's index ``fixings``."""

    ts: Micros
    symbol: str
    price: Ticks | None = None
    fixings: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ListContract:
    """List one more contract month, in ``phase``, at its product's reference price."""

    ts: Micros
    contract: ListedContract
    rules: InstrumentRules
    terms: ContractTerms
    phase: Phase = Phase.CLOSED

    def __post_init__(self) -> None:
        symbol = self.contract.symbol
        if self.rules.symbol != symbol or self.terms.symbol != symbol:
            raise ValueError(f"{symbol}: the rules or terms given are another contract's")

    @property
    def symbol(self) -> str:
        return self.contract.symbol


ClearingCommand = (
    Withdraw
    | AddMember
    | OpenAccount
    | SetAccountStatus
    | FundHouseCapital
    | EndOfDay
    | MarginCallDeadline
    | FinalSettlement
    | ListContract
)
