"""Contract months listed after the exchange opened: the roll onto the next month.

``list_contract`` takes a ``ListContract`` whose contract, trading rules and clearing terms
were worked out at the edge (from the products file and the trading calendar) and lists it:
an empty instrument in the core, in the command's phase, at its product's reference price;
its clearing terms; its settlement price (the reference price, until an end of day sets
one). A symbol the exchange holds already, traded or finally settled, is refused.

The clearing house keeps the contracts listed so in ``listings``, in the order they were
listed, and those listed since the last end of day in ``day.listed`` (they have no
settlement price from an end of day yet).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenfutures.domain.clearing.commands import ListContract
from tokenfutures.domain.clearing.events import ContractListed
from tokenfutures.domain.clearing.terms import ContractTerms
from tokenfutures.domain.instrument import Instrument
from tokenfutures.domain.listing import ListedContract
from tokenfutures.domain.rejects import RejectReason
from tokenfutures.domain.rules import InstrumentRules
from tokenfutures.domain.validation import Problem
from tokenfutures.domain.values import Phase

if TYPE_CHECKING:
    from tokenfutures.domain.clearing.house import ClearingHouse


def listing_problem(house: ClearingHouse, cmd: ListContract) -> Problem | None:
    symbol = cmd.contract.symbol
    if symbol in house.exchange.instruments:
        held = "has been finally settled" if symbol in house.delisted else "is listed already"
        return Problem(RejectReason.ALREADY_EXISTS, "symbol", f"{symbol} {held}")
    if cmd.terms.product not in house.margin_parameters:
        return Problem(
            RejectReason.INVALID_FIELD,
            "symbol",
            f"the clearing house has no margin parameters for product {cmd.terms.product}",
        )
    return None


def list_contract(house: ClearingHouse, cmd: ListContract, out: list[Any]) -> None:
    problem = listing_problem(house, cmd)
    if problem is not None:
        house.reject(cmd, problem, out)
        return
    contract = cmd.contract
    inst = add_contract(house, contract, cmd.rules, cmd.terms, cmd.phase)
    house.day.listed.append(contract.symbol)
    out.append(
        ContractListed(
            cmd.ts,
            contract.symbol,
            contract.product.code,
            contract.first_trading_day,
            contract.last_trading_day,
            inst.phase.value,
            inst.reference,
            inst.lower_limit,
            inst.upper_limit,
        )  # fmt: skip
    )


def add_contract(
    house: ClearingHouse,
    contract: ListedContract,
    rules: InstrumentRules,
    terms: ContractTerms,
    phase: Phase,
) -> Instrument:
    """List ``contract`` in the core and the clearing house (no checks: see
    ``listing_problem``); the new instrument."""
    inst = house.exchange.add_instrument(rules, phase)
    house.terms[contract.symbol] = terms
    house.settlement_prices[contract.symbol] = rules.reference_price
    house.listings[contract.symbol] = contract
    return inst


def remove_listings(house: ClearingHouse) -> None:
    """Take every contract listed later out again, whatever it holds (a snapshot being
    restored replaces the whole state, listings included)."""
    for symbol in house.listings:
        del house.exchange.instruments[symbol]
        del house.terms[symbol]
        house.settlement_prices.pop(symbol, None)
    house.listings.clear()
