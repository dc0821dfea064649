"""JSON Lines <-> commands and events: the only place prices become ticks and back.

Commands arrive as JSON objects with a ``type`` and a ``ts``; decimal prices and amounts
may be strings or JSON numbers (read exactly, never through floats). Anything malformed
raises ``CommandError`` naming the field and the rule; nothing reaches the core then.
Formats are documented in docs/commands-and-events.md.

``list_contract`` names a contract month by its symbol; the codec's ``ContractSource`` (the
market's catalog of products on the trading calendar) works out its dates, and the codec its
trading rules and clearing terms, so the command that reaches the core carries them all and
decodes to the same command whenever the journal is replayed. A symbol of no product, or of
a month the listing calendar does not list on the command's trading day, stops here.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from decimal import Decimal
from enum import Enum
from fractions import Fraction
from typing import Any, Protocol, TypeVar

from tokenfutures.domain.clearing.accounts import AccountStatus
from tokenfutures.domain.clearing.commands import (
    AddMember,
    ClearingCommand,
    EndOfDay,
    FinalSettlement,
    FundHouseCapital,
    ListContract,
    MarginCallDeadline,
    OpenAccount,
    SetAccountStatus,
    Withdraw,
)
from tokenfutures.domain.clearing.terms import contract_terms
from tokenfutures.domain.commands import (
    AmendOrder,
    CancelAll,
    CancelOrder,
    Command,
    Deposit,
    NewOrder,
    SetPhase,
    SetReferencePrice,
)
from tokenfutures.domain.listing import ListedContract, to_instrument_rules
from tokenfutures.domain.rejects import RejectReason
from tokenfutures.domain.values import OrderType, Phase, SelfTradePrevention, Side, TimeInForce
from tokenfutures.engine.timestamps import parse_ts

AnyCommand = Command | ClearingCommand
MAX_ID_LENGTH = 64
MAX_LINE_LENGTH = 4096
MAX_DECIMAL_DIGITS = 30
_DECIMAL_TEXT = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
# decimals are compared exactly (as fractions); this bounds their size first
MAX_DECIMAL_EXPONENT = 18
E = TypeVar("E", bound=Enum)


class CommandError(ValueError):
    """A command that cannot be read; it names the field and the rule."""

    def __init__(self, reason: RejectReason, field: str | None, detail: str) -> None:
        super().__init__(f"{field}: {detail}" if field else detail)
        self.reason = reason
        self.field = field
        self.detail = detail


_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # type: (required fields, optional fields) besides "type" and "ts"
    "new_order": (
        frozenset({"account", "client_order_id", "symbol", "side", "quantity"}),
        frozenset(
            {
                "order_type",
                "price",
                "stop_price",
                "time_in_force",
                "post_only",
                "self_trade_prevention",
                "reduce_only",
            }
        ),  # fmt: skip
    ),
    "cancel_order": (frozenset({"account", "client_order_id", "symbol"}), frozenset()),
    "amend_order": (
        frozenset({"account", "client_order_id", "symbol"}),
        frozenset({"price", "quantity"}),
    ),
    "cancel_all": (frozenset({"account"}), frozenset({"symbol"})),
    "set_phase": (frozenset({"symbol", "phase"}), frozenset()),
    "set_reference_price": (frozenset({"symbol", "price"}), frozenset()),
    "deposit": (frozenset({"account", "amount"}), frozenset()),
    "withdraw": (frozenset({"account", "amount"}), frozenset()),
    "add_member": (frozenset({"member"}), frozenset({"guaranty_fund"})),
    "open_account": (
        frozenset({"account", "member"}),
        frozenset({"group", "opening_cap_exempt"}),
    ),
    "set_account_status": (frozenset({"account", "status"}), frozenset()),
    "fund_house_capital": (frozenset({"amount"}), frozenset()),
    "end_of_day": (frozenset({"date"}), frozenset({"index"})),
    "margin_call_deadline": (frozenset(), frozenset()),
    "final_settlement": (frozenset({"symbol"}), frozenset({"price", "fixings"})),
    "list_contract": (frozenset({"symbol"}), frozenset({"phase"})),
}
MAX_INDEX_ENTRIES = 64
MICROS_PER_UNIT = Fraction(1_000_000)

COMMAND_TYPES = tuple(_FIELDS)


class ContractSource(Protocol):
    """Where ``list_contract`` finds a contract month (``engine/market.py``'s catalog)."""

    def listable(self, symbol: str, ts: int) -> ListedContract:
        """The month ``symbol`` names, if listed on the trading day of ``ts``; otherwise
        ``CommandError`` naming the rule."""
        ...


class TickSizes(Mapping[str, Decimal]):
    """Tick sizes by symbol: those of the market's first contracts, then those of the
    contracts in ``listed`` (the clearing house's listings, read as they grow)."""

    __slots__ = ("_first", "_listed")

    def __init__(self, first: Mapping[str, Decimal], listed: Mapping[str, ListedContract]) -> None:
        self._first = dict(first)
        self._listed = listed

    def __getitem__(self, symbol: str) -> Decimal:
        tick = self._first.get(symbol)
        if tick is None:
            return self._listed[symbol].product.tick_size
        return tick

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._first or symbol in self._listed

    def __iter__(self) -> Iterator[str]:
        yield from self._first
        yield from (symbol for symbol in self._listed if symbol not in self._first)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Codec:
    """Reads commands and writes events for a set of instruments with known tick sizes
    (a ``TickSizes`` follows contracts listed later); ``contracts`` lists new months."""

    def __init__(
        self,
        tick_sizes: Mapping[str, Decimal],
        minor_units: int = 2,
        contracts: ContractSource | None = None,
    ) -> None:
        self.tick_sizes: Mapping[str, Decimal] = (
            tick_sizes if isinstance(tick_sizes, TickSizes) else dict(tick_sizes)
        )
        self.contracts = contracts
        self.minor_unit = Decimal(1).scaleb(-minor_units)
        self._readers: dict[str, Callable[[Mapping[str, Any], int], AnyCommand]] = {
            "new_order": self._new_order,
            "cancel_order": self._cancel_order,
            "amend_order": self._amend_order,
            "cancel_all": self._cancel_all,
            "set_phase": self._set_phase,
            "set_reference_price": self._set_reference_price,
            "deposit": self._deposit,
            "withdraw": self._withdraw,
            "add_member": self._add_member,
            "open_account": self._open_account,
            "set_account_status": self._set_account_status,
            "fund_house_capital": self._fund_house_capital,
            "end_of_day": self._end_of_day,
            "margin_call_deadline": lambda data, ts: MarginCallDeadline(ts),
            "final_settlement": self._final_settlement,
            "list_contract": self._list_contract,
        }

    # --- reading commands ----------------------------------------------------------------

    def decode_line(self, line: str) -> AnyCommand:
        if len(line) > MAX_LINE_LENGTH:
            raise CommandError(
                RejectReason.MALFORMED_COMMAND, None, f"longer than {MAX_LINE_LENGTH} characters"
            )
        try:
            data = json.loads(line, parse_float=Decimal, object_pairs_hook=_unique_keys)
        except CommandError:
            raise
        except (ValueError, RecursionError) as exc:
            # JSONDecodeError, integers too long to convert, absurd nesting
            raise CommandError(RejectReason.MALFORMED_COMMAND, None, f"not JSON: {exc}") from exc
        return self.decode(data)

    def decode(self, data: Any) -> AnyCommand:
        if not isinstance(data, dict):
            raise CommandError(RejectReason.MALFORMED_COMMAND, None, "must be a JSON object")
        kind = data.get("type")
        if kind is None:
            raise CommandError(RejectReason.MISSING_FIELD, "type", "is required")
        if not isinstance(kind, str) or kind not in self._readers:
            raise CommandError(
                RejectReason.UNKNOWN_COMMAND, "type", f"must be one of {', '.join(_FIELDS)}"
            )
        required, optional = _FIELDS[kind]
        for name in sorted(required | {"ts"}):
            if data.get(name) is None:
                raise CommandError(RejectReason.MISSING_FIELD, name, f"is required for {kind}")
        unknown = sorted(set(data) - required - optional - {"type", "ts"})
        if unknown:
            raise CommandError(RejectReason.INVALID_FIELD, unknown[0], f"is not a field of {kind}")
        ts = self._ts(data["ts"])
        return self._readers[kind](data, ts)

    def _new_order(self, data: Mapping[str, Any], ts: int) -> Command:
        symbol = _identifier(data, "symbol")
        return NewOrder(
            ts=ts,
            account=_identifier(data, "account"),
            client_order_id=_identifier(data, "client_order_id"),
            symbol=symbol,
            side=_enum(data, "side", Side),
            order_type=_enum(data, "order_type", OrderType, OrderType.LIMIT),
            quantity=_integer(data, "quantity"),
            price=self._price(data, "price", symbol),
            stop_price=self._price(data, "stop_price", symbol),
            time_in_force=_enum(data, "time_in_force", TimeInForce, TimeInForce.GFD),
            post_only=_boolean(data, "post_only"),
            self_trade_prevention=_optional_enum(
                data, "self_trade_prevention", SelfTradePrevention
            ),
            reduce_only=_boolean(data, "reduce_only"),
        )

    def _cancel_order(self, data: Mapping[str, Any], ts: int) -> Command:
        return CancelOrder(
            ts,
            _identifier(data, "account"),
            _identifier(data, "client_order_id"),
            _identifier(data, "symbol"),
        )

    def _amend_order(self, data: Mapping[str, Any], ts: int) -> Command:
        symbol = _identifier(data, "symbol")
        quantity = None if data.get("quantity") is None else _integer(data, "quantity")
        price = self._price(data, "price", symbol)
        if price is None and quantity is None:
            raise CommandError(
                RejectReason.MISSING_FIELD, "price", "an amend needs a price or a quantity"
            )
        return AmendOrder(
            ts,
            _identifier(data, "account"),
            _identifier(data, "client_order_id"),
            symbol,
            price=price,
            quantity=quantity,
        )

    def _cancel_all(self, data: Mapping[str, Any], ts: int) -> Command:
        symbol = None if data.get("symbol") is None else _identifier(data, "symbol")
        return CancelAll(ts, _identifier(data, "account"), symbol)

    def _set_phase(self, data: Mapping[str, Any], ts: int) -> Command:
        return SetPhase(ts, _identifier(data, "symbol"), _enum(data, "phase", Phase))

    def _set_reference_price(self, data: Mapping[str, Any], ts: int) -> Command:
        symbol = _identifier(data, "symbol")
        price = self._price(data, "price", symbol)
        if price is None:
            raise CommandError(RejectReason.MISSING_FIELD, "price", "is required")
        return SetReferencePrice(ts, symbol, price)

    def _deposit(self, data: Mapping[str, Any], ts: int) -> Command:
        return Deposit(ts, _identifier(data, "account"), self._money(data, "amount"))

    def _withdraw(self, data: Mapping[str, Any], ts: int) -> AnyCommand:
        return Withdraw(ts, _identifier(data, "account"), self._money(data, "amount"))

    def _add_member(self, data: Mapping[str, Any], ts: int) -> AnyCommand:
        fund = 0 if data.get("guaranty_fund") is None else self._money(data, "guaranty_fund")
        return AddMember(ts, _identifier(data, "member"), fund)

    def _open_account(self, data: Mapping[str, Any], ts: int) -> AnyCommand:
        group = None if data.get("group") is None else _identifier(data, "group")
        return OpenAccount(
            ts,
            _identifier(data, "account"),
            _identifier(data, "member"),
            group,
            _boolean(data, "opening_cap_exempt"),
        )

    def _set_account_status(self, data: Mapping[str, Any], ts: int) -> AnyCommand:
        status = _enum(data, "status", AccountStatus)
        return SetAccountStatus(ts, _identifier(data, "account"), status)

    def _fund_house_capital(self, data: Mapping[str, Any], ts: int) -> AnyCommand:
        return FundHouseCapital(ts, self._money(data, "amount"))

    def _end_of_day(self, data: Mapping[str, Any], ts: int) -> AnyCommand:
        raw = data.get("date")
        try:
            day = date.fromisoformat(raw) if isinstance(raw, str) and len(raw) == 10 else None
        except ValueError:
            day = None
        if day is None:
            raise CommandError(RejectReason.INVALID_FIELD, "date", "must be a date as YYYY-MM-DD")
        index = data.get("index", {})
        if not isinstance(index, dict) or len(index) > MAX_INDEX_ENTRIES:
            raise CommandError(
                RejectReason.INVALID_FIELD,
                "index",
                f"must be an object of at most {MAX_INDEX_ENTRIES} index codes to fixings",
            )
        values = tuple((code, _micros(index, code, f"index.{code}")) for code in sorted(index))
        return EndOfDay(ts, day, values)

    def _final_settlement(self, data: Mapping[str, Any], ts: int) -> AnyCommand:
        symbol = _identifier(data, "symbol")
        price = self._price(data, "price", symbol)
        raw = data.get("fixings")
        if (price is None) == (raw is None):
            raise CommandError(
                RejectReason.INVALID_FIELD, "price", "give either price or fixings, not both"
            )
        fixings: tuple[int, ...] = ()
        if raw is not None:
            if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_INDEX_ENTRIES:
                raise CommandError(
                    RejectReason.INVALID_FIELD,
                    "fixings",
                    f"must be a list of 1 to {MAX_INDEX_ENTRIES} index values",
                )
            values = {str(i): v for i, v in enumerate(raw)}
            fixings = tuple(_micros(values, str(i), f"fixings[{i}]") for i in range(len(raw)))
        return FinalSettlement(ts, symbol, price, fixings)

    def _list_contract(self, data: Mapping[str, Any], ts: int) -> AnyCommand:
        symbol = _identifier(data, "symbol")
        phase = _enum(data, "phase", Phase, Phase.CLOSED)
        if self.contracts is None:
            raise CommandError(
                RejectReason.UNKNOWN_SYMBOL, "symbol", "this market lists no contracts later"
            )
        contract = self.contracts.listable(symbol, ts)
        rules, terms = to_instrument_rules(contract), contract_terms(contract)
        return ListContract(ts, contract, rules, terms, phase)

    def _money(self, data: Mapping[str, Any], field: str) -> int:
        amount = _decimal(data, field)
        units = Fraction(amount) / Fraction(self.minor_unit)
        if units.denominator != 1:
            raise CommandError(
                RejectReason.INVALID_FIELD, field, f"must be a multiple of {self.minor_unit}"
            )
        return int(units)

    def _ts(self, raw: Any) -> int:
        if not isinstance(raw, str):
            raise CommandError(RejectReason.INVALID_FIELD, "ts", "must be an ISO-8601 string")
        try:
            return parse_ts(raw)
        except ValueError as exc:
            raise CommandError(
                RejectReason.INVALID_FIELD, "ts", f"not ISO-8601 UTC: {exc}"
            ) from exc

    def _price(self, data: Mapping[str, Any], field: str, symbol: str) -> int | None:
        if data.get(field) is None:
            return None
        value = _decimal(data, field)
        tick = self.tick_sizes.get(symbol)
        if tick is None:
            raise CommandError(RejectReason.UNKNOWN_SYMBOL, "symbol", f"{symbol!r} is not listed")
        ticks = Fraction(value) / Fraction(tick)
        if ticks.denominator != 1:
            raise CommandError(
                RejectReason.PRICE_NOT_ON_TICK, field, f"{value} is not a multiple of tick {tick}"
            )
        return int(ticks)

    # --- writing events and prices --------------------------------------------------------

    def price_text(self, symbol: str, ticks: int) -> str:
        return str(ticks * self.tick_sizes[symbol])

    def money_text(self, minor: int) -> str:
        return str(minor * self.minor_unit)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are all different: a repeated key is refused, not overwritten."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise CommandError(RejectReason.INVALID_FIELD, key, "appears twice")
        data[key] = value
    return data


def _identifier(data: Mapping[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str) or not value.strip():
        raise CommandError(RejectReason.INVALID_FIELD, field, "must be a non-empty string")
    if value != value.strip():
        raise CommandError(RejectReason.INVALID_FIELD, field, "must not start or end with spaces")
    if len(value) > MAX_ID_LENGTH or not value.isprintable():
        raise CommandError(
            RejectReason.INVALID_FIELD, field, f"must be printable, at most {MAX_ID_LENGTH} chars"
        )
    return value


def _micros(data: Mapping[str, Any], key: str, field: str) -> int:
    """An index value as whole micro-units (6 decimals at most), positive."""
    value = _decimal({field: data.get(key)}, field)
    micros = Fraction(value) * MICROS_PER_UNIT
    if micros.denominator != 1 or micros <= 0:
        raise CommandError(
            RejectReason.INVALID_FIELD, field, "must be a positive value with at most 6 decimals"
        )
    return int(micros)


def _integer(data: Mapping[str, Any], field: str) -> int:
    value = data.get(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CommandError(RejectReason.INVALID_FIELD, field, "must be a whole number of lots")
    return value


def _boolean(data: Mapping[str, Any], field: str) -> bool:
    value = data.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise CommandError(RejectReason.INVALID_FIELD, field, "must be true or false")
    return value


def _decimal(data: Mapping[str, Any], field: str) -> Decimal:
    value = data.get(field)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise CommandError(RejectReason.INVALID_FIELD, field, "must be a decimal string")
    if isinstance(value, str) and not (
        len(value) <= MAX_DECIMAL_DIGITS + 2 and _DECIMAL_TEXT.fullmatch(value)
    ):
        raise CommandError(
            RejectReason.INVALID_FIELD, field, f'{value[:40]!r} is not a decimal like "2.505"'
        )
    number = Decimal(value)
    if not number.is_finite() or len(number.as_tuple().digits) > MAX_DECIMAL_DIGITS:
        raise CommandError(
            RejectReason.INVALID_FIELD,
            field,
            f"must be a decimal of at most {MAX_DECIMAL_DIGITS} digits",
        )
    if not -MAX_DECIMAL_EXPONENT <= number.adjusted() <= MAX_DECIMAL_EXPONENT:
        raise CommandError(RejectReason.INVALID_FIELD, field, f"{value!r} is out of range")
    return number


def _enum(data: Mapping[str, Any], field: str, kind: type[E], default: E | None = None) -> E:
    value = data.get(field)
    if value is None and default is not None:
        return default
    for member in kind:
        if value == member.value:
            return member
    allowed = ", ".join(str(member.value) for member in kind)
    raise CommandError(RejectReason.INVALID_FIELD, field, f"must be one of {allowed}")


def _optional_enum(data: Mapping[str, Any], field: str, kind: type[E]) -> E | None:
    if data.get(field) is None:
        return None
    return _enum(data, field, kind)
