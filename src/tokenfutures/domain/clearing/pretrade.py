"""Pre-trade checks of the clearing house, run in the sequencer before the matching core.

In the rulebook's order, after the core's own static checks (phase, quantity, price):

1. the contract is not delisted;
2. reduce-only: the order, with the account's other reduce-only orders on its side, may not
   exceed the position it reduces (checked even with risk off: it is the trader's own rule);
3. the account is known and may trade (not halted, liquidating or defaulted);
4. position limit per account, then per group of accounts under common control: the
   position if every working order on the order's side filled, this one included;
5. intraday opening cap (INE-style): lots opened today by the group plus what the account's
   working orders on that side could still open; exempt accounts skip it;
6. margin: the account's equity (losses counted at once, gains once paid) must cover the
   initial margin of its positions plus the worst case of its working orders with this
   order; an order that does not raise that margin is always accepted.

The clearing house's own account (holding positions a default left open) skips 3-6.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tokenfutures.domain.clearing.accounts import Account
from tokenfutures.domain.clearing.risk import Exposure, worst_case_margin
from tokenfutures.domain.commands import AmendOrder, NewOrder
from tokenfutures.domain.rejects import CancelReason, RejectReason
from tokenfutures.domain.validation import Problem, check_new_order
from tokenfutures.domain.validation import amend_problem as core_amend_problem

if TYPE_CHECKING:
    from tokenfutures.domain.clearing.house import ClearingHouse


def risk_price(house: ClearingHouse, symbol: str, is_buy: bool, price: int | None) -> int:
    """The price an order is valued at: its limit, or the day's limit on its side."""
    if price:
        return price
    inst = house.exchange.instruments[symbol]
    return inst.upper_limit if is_buy else inst.lower_limit


def new_order_problem(house: ClearingHouse, cmd: NewOrder) -> Problem | None:
    if cmd.symbol in house.delisted:
        return _delisted(cmd.symbol)
    inst = house.exchange.instruments.get(cmd.symbol)
    if inst is None:
        return None  # the core refuses an unknown symbol itself
    problem = check_new_order(inst, cmd)
    if problem is not None:
        return problem
    if house.exchange.registry.find(cmd.account, cmd.client_order_id) is not None:
        return None  # the core refuses the duplicate client order id itself
    is_buy = cmd.side.value == "buy"
    if cmd.reduce_only:
        problem = reduce_only_problem(house, cmd.account, cmd.symbol, is_buy, cmd.quantity, None)
        if problem is not None:
            return problem
    price = risk_price(house, cmd.symbol, is_buy, cmd.price)
    return _account_problem(
        house, cmd.account, cmd.symbol, is_buy, cmd.quantity, price, None, cmd.reduce_only
    )


def amend_problem(house: ClearingHouse, cmd: AmendOrder) -> Problem | None:
    if cmd.symbol in house.delisted:
        return _delisted(cmd.symbol)
    order = house.exchange.registry.find(cmd.account, cmd.client_order_id)
    if order is None or order.symbol != cmd.symbol:
        return None  # the core refuses an unknown order itself
    if core_amend_problem(house.exchange.instruments[cmd.symbol], order, cmd) is not None:
        return None  # the core's own checks come first, and it refuses the amend itself
    quantity = order.quantity if cmd.quantity is None else cmd.quantity
    leaves = quantity - order.filled
    if leaves <= 0:
        return None  # amended to filled: the core ends the order
    reduce_only = order.order_id in house.reduce_only
    if reduce_only:
        problem = reduce_only_problem(
            house, cmd.account, cmd.symbol, order.is_buy, leaves, order.order_id
        )
        if problem is not None:
            return problem
    price = risk_price(house, cmd.symbol, order.is_buy, cmd.price or order.price)
    return _account_problem(
        house, cmd.account, cmd.symbol, order.is_buy, leaves, price, order.order_id, reduce_only,
        check_limits=leaves > order.leaves,
    )  # fmt: skip


def _account_problem(
    house: ClearingHouse, name: str, symbol: str, is_buy: bool, quantity: int, price: int,
    skip_order: int | None, reduce_only: bool, check_limits: bool = True,
) -> Problem | None:  # fmt: skip
    """Checks 3-6 (module docstring), skipped with risk off and for the house's account."""
    if not house.risk or name == house.parameters.house_account:
        return None
    account = _trading_account(house, name)
    if not isinstance(account, Account):
        return account
    return limits_and_margin(
        house, account, symbol, is_buy, quantity, price, skip_order, reduce_only, check_limits
    )


def _delisted(symbol: str) -> Problem:
    return Problem(RejectReason.CONTRACT_DELISTED, "symbol", f"{symbol} has been finally settled")


def _trading_account(house: ClearingHouse, name: str) -> Account | Problem:
    account = house.accounts.get(name)
    if account is None:
        return Problem(RejectReason.UNKNOWN_ACCOUNT, "account", f"{name!r} has not been opened")
    if not account.may_trade:
        return Problem(
            RejectReason.ACCOUNT_CANCEL_ONLY,
            "account",
            f"{name!r} is {account.status}: it may only cancel orders",
        )
    return account


def reduce_only_problem(
    house: ClearingHouse, account: str, symbol: str, is_buy: bool, quantity: int,
    skip_order: int | None,
) -> Problem | None:  # fmt: skip
    net = house.positions.position(account, symbol).quantity
    closable = max(0, -net) if is_buy else max(0, net)
    working = sum(
        order.leaves
        for order in house.exchange.registry.orders_of(account)
        if order.order_id in house.reduce_only
        and order.order_id != skip_order
        and order.symbol == symbol
        and order.is_buy == is_buy
    )
    if working + quantity <= closable:
        return None
    return Problem(
        RejectReason.REDUCE_ONLY_WOULD_OPEN,
        "reduce_only",
        f"{quantity} lots with {working} already working would exceed the {closable} lots "
        f"the position in {symbol} allows to close",
    )


def limits_and_margin(
    house: ClearingHouse, account: Account, symbol: str, is_buy: bool, quantity: int,
    price: int, skip_order: int | None, reduce_only: bool, check_limits: bool = True,
) -> Problem | None:  # fmt: skip
    """Position limits and the opening cap (unless ``check_limits`` is off: an amend that
    does not add lots cannot make them worse), then margin."""
    exposures = house.exposures(account.account, skip_order)
    exposure = exposures.get(symbol) or Exposure()
    if check_limits:
        problem = _limits_problem(house, account, symbol, is_buy, quantity, exposure)
        if problem is not None:
            return problem
    if reduce_only:
        return None
    return _margin_problem(house, account, symbol, is_buy, quantity, price, skip_order, exposures)


def _limits_problem(
    house: ClearingHouse, account: Account, symbol: str, is_buy: bool, quantity: int,
    exposure: Exposure,
) -> Problem | None:  # fmt: skip
    terms = house.terms[symbol]
    potential = _potential(exposure, is_buy) + quantity
    limit = terms.position_limit
    if potential > limit:
        return Problem(
            RejectReason.POSITION_LIMIT,
            "quantity",
            f"the position in {symbol} could reach {potential} lots; the limit is {limit}",
        )
    group = house.accounts.group_of(account.account)
    if len(group) > 1:
        total = potential + sum(
            _potential(house.exposures(other).get(symbol) or Exposure(), is_buy)
            for other in group
            if other != account.account
        )
        if total > limit:
            return Problem(
                RejectReason.GROUP_POSITION_LIMIT,
                "quantity",
                f"group {account.group!r} could reach {total} lots in {symbol}; "
                f"the limit is {limit}",
            )
    cap = terms.intraday_open_cap
    if cap and not account.opening_cap_exempt:
        could_open = _could_open(exposure, is_buy, quantity) + sum(
            _could_open(house.exposures(other).get(symbol) or Exposure(), is_buy, 0)
            for other in group
            if other != account.account
        )
        opened = house.day.opened.get((account.group, symbol), 0)
        if opened + could_open > cap:
            return Problem(
                RejectReason.INTRADAY_OPEN_CAP,
                "quantity",
                f"{opened} lots opened today in {symbol} and {could_open} more could open; "
                f"the daily opening cap is {cap}",
            )
    return None


def _margin_problem(
    house: ClearingHouse, account: Account, symbol: str, is_buy: bool, quantity: int,
    price: int, skip_order: int | None, exposures: dict[str, Exposure],
) -> Problem | None:  # fmt: skip
    terms = house.terms[symbol]
    exposure = exposures.get(symbol) or Exposure()
    basis = house.margin_basis()
    with_order = dict(exposures)
    changed = Exposure(exposure.net, exposure.buys, exposure.sells,
                       exposure.buy_fill_loss, exposure.sell_fill_loss)  # fmt: skip
    changed.add_order(is_buy, quantity, price, house.mark(symbol), terms.tick_value)
    with_order[symbol] = changed
    needed = worst_case_margin(with_order, basis).initial
    equity = house.risk_equity(account.account)
    if equity >= needed:
        return None
    # before: with the order as it is (an amend) or without it (a new order)
    current = exposures if skip_order is None else house.exposures(account.account)
    if needed <= worst_case_margin(current, basis).initial:
        return None
    return Problem(
        RejectReason.INSUFFICIENT_MARGIN,
        "quantity",
        f"initial margin with this order would be {house.parameters.money(needed)}; "
        f"the equity of {account.account!r} is {house.parameters.money(equity)}",
    )


def _could_open(exposure: Exposure, is_buy: bool, quantity: int) -> int:
    """Lots the side's working orders (plus ``quantity``) could open beyond the position."""
    closable = max(0, -exposure.net) if is_buy else max(0, exposure.net)
    working = exposure.buys if is_buy else exposure.sells
    return max(0, working + quantity - closable)


def _potential(exposure: Exposure, is_buy: bool) -> int:
    """The position (long if buying, short if selling) if every working order of the side
    filled, as a positive number of lots on that side (negative if on the other side)."""
    return exposure.net + exposure.buys if is_buy else -(exposure.net - exposure.sells)


def trim_reduce_only(house: ClearingHouse, touched: set[str], ts: int, out: list[Any]) -> None:
    """Cancel reduce-only orders a fill has left too large, newest first."""
    from tokenfutures.domain.clearing.house import cancel_orders

    for account in sorted(touched):
        sides: dict[tuple[str, bool], list[Any]] = {}
        for order in house.exchange.registry.orders_of(account):
            if order.order_id in house.reduce_only:
                sides.setdefault((order.symbol, order.is_buy), []).append(order)
        for (symbol, is_buy), orders in sorted(sides.items()):
            net = house.positions.position(account, symbol).quantity
            closable = max(0, -net) if is_buy else max(0, net)
            total = sum(order.leaves for order in orders)
            excess = []
            for order in sorted(orders, key=lambda o: -o.order_id):
                if total <= closable:
                    break
                total -= order.leaves
                excess.append(order)
            cancel_orders(house, excess, ts, CancelReason.REDUCE_ONLY, out)
