"""OpenAPI fuzzing of a running exchange with schemathesis, for ``test_fuzz.py``.

- :class:`HmacAuth` signs the request exactly as it is sent (method, path with the query
  string as encoded, body bytes), so generated requests get past authentication and reach
  the handlers; with a wrong secret or a skewed clock it forges refused ones.
- :class:`Known` collects what the exchange has shown (listed symbols and their prices,
  order ids, client order ids, accounts, statement days), and :func:`cases` puts those values
  into part of the generated requests: random strings almost never name a listed contract or
  a live order, so without them the fuzzer would test little more than ``404``.
- :func:`fuzz` runs every operation of the schema with hypothesis, in an order that keeps the
  market open as long as possible (the kill switch last), and returns what failed, one
  :class:`Finding` per operation and generation mode, with hypothesis' shrunk example.

Every generated request must get an answer that is not a 5xx, that conforms to the schema
where it declares one (a 4xx is ``{"error": {"reason", "field", "detail"}}``), and that is
JSON with the documented error shape when it is a refusal.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tokenfutures.engine.codec import COMMAND_TYPES
from tokenfutures.service.auth import signed_headers

Operation = APIOperation[Any, Any, Any, Any]
AnyCase = Case[Any]
REQUEST_TIMEOUT_S = 10.0
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
]
# refused for the signature: the data is not judged, only the answer's status and shape
REFUSAL_CHECKS = [not_a_server_error, response_schema_conformance]
# operations that make orders and accounts run first; those that shut the market after the
# others, the kill switch the very last
OPENING = ("POST /v1/sandbox/accounts", "POST /v1/orders")
CLOSING = ("/v1/admin/commands", "/v1/admin/end-of-day", "/v1/admin/halt")
LAST = "/v1/admin/kill-switch"
PUBLIC_TAGS = frozenset({"market data"})
PUBLIC_OPERATIONS = frozenset({"POST /v1/sandbox/accounts"})


# --- signing ----------------------------------------------------------------------------------


class HmacAuth(requests.auth.AuthBase):
    """Signs the prepared request as sent; ``secret`` and ``skew_ms`` can be wrong on purpose."""

    def __init__(self, key: str, secret: str, *, skew_ms: int = 0) -> None:
        self.key, self.secret, self.skew_ms = key, secret, skew_ms

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        now_ms = int(time.time() * 1000) + self.skew_ms
        method, target = str(request.method), request.path_url
        request.headers.update(
            signed_headers((self.key, self.secret), now_ms, method, target, body)
        )
        return request


def session(auth: HmacAuth | None) -> requests.Session:
    made = requests.Session()
    made.auth = auth
    return made


# --- what the exchange has shown ----------------------------------------------------------------


@dataclass
class Known:
    """Values the exchange has shown, offered to the generator next to random ones."""

    symbols: list[str] = field(default_factory=list)
    prices: dict[str, list[str]] = field(default_factory=dict)
    order_ids: list[int] = field(default_factory=list)
    client_order_ids: list[str] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    days: list[str] = field(default_factory=list)

    def learn_instruments(self, instruments: list[dict[str, Any]]) -> None:
        for instrument in instruments:
            symbol = instrument["symbol"]
            tick = Decimal(instrument["tick_size"])
            reference = Decimal(instrument["settlement_price"])
            lower, upper = Decimal(instrument["lower_limit"]), Decimal(instrument["upper_limit"])
            near = [str((reference + n * tick).quantize(tick)) for n in (-3, -1, 0, 1, 3)]
            edges = [str(lower), str(upper), str(upper + tick), str(reference + tick / 10)]
            if symbol not in self.symbols:
                self.symbols.append(symbol)
            self.prices[symbol] = near + edges
            for day in (instrument["first_trading_day"], instrument["last_trading_day"]):
                _add(self.days, day, str)

    def learn(self, body: Any, depth: int = 0) -> None:
        """Ids, accounts and days found anywhere in a JSON answer."""
        if depth > 4:
            return
        if isinstance(body, list):
            for item in body[:50]:
                self.learn(item, depth + 1)
        elif isinstance(body, dict):
            _add(self.order_ids, body.get("order_id"), int)
            _add(self.client_order_ids, body.get("client_order_id"), str)
            _add(self.accounts, body.get("account"), str)
            _add(self.days, body.get("date"), str)
            for value in body.values():
                if isinstance(value, dict | list):
                    self.learn(value, depth + 1)


def _add(values: list[Any], value: Any, kind: type) -> None:
    if isinstance(value, kind) and not isinstance(value, bool) and value not in values:
        values.append(value)
        del values[:-200]  # the most recent 200 are plenty


def _pick(draw: st.DrawFn, values: Sequence[Any], fallback: Any) -> Any:
    """One of ``values`` (which grow during a run: drawn by index, not sampled_from)."""
    if not values:
        return fallback
    return values[draw(st.integers(0, 10**6)) % len(values)]


# --- generation ---------------------------------------------------------------------------------


def _price(draw: st.DrawFn, known: Known, symbol: Any) -> str:
    prices = known.prices.get(symbol) if isinstance(symbol, str) else None
    return str(_pick(draw, prices or [], "1.000"))


def _hint_body(draw: st.DrawFn, known: Known, body: dict[str, Any]) -> None:
    """Replace some fields of a generated body by values the exchange knows."""
    if "symbol" in body:
        body["symbol"] = _pick(draw, known.symbols, "TKN2612")
    for name in ("price", "stop_price"):
        if name in body and draw(st.integers(0, 3)):
            body[name] = _price(draw, known, body.get("symbol"))
    if "client_order_id" in body and draw(st.booleans()):
        body["client_order_id"] = _pick(draw, known.client_order_ids, "c-1")
    if "quantity" in body and draw(st.booleans()):
        body["quantity"] = draw(st.integers(1, 5))
    if "date" in body and draw(st.booleans()):
        body["date"] = _pick(draw, known.days, "2026-01-05")


def _order(draw: st.DrawFn, known: Known) -> dict[str, Any]:
    """A well-formed order: a limit order near the reference price, or a market order."""
    symbol = _pick(draw, known.symbols, "TKN2612")
    order: dict[str, Any] = {
        "symbol": symbol,
        "side": draw(st.sampled_from(["buy", "sell"])),
        "quantity": draw(st.integers(1, 5)),
        "time_in_force": draw(st.sampled_from(["GTC", "GTC", "GFD", "IOC", "FOK"])),
    }
    if draw(st.integers(0, 3)):
        order["price"] = _price(draw, known, symbol)
    else:
        order["order_type"] = "market"
        order["time_in_force"] = "IOC"
    if draw(st.booleans()):
        order["client_order_id"] = draw(
            st.sampled_from(known.client_order_ids[-5:] or ["c-1"]) | _WORDS.filter(bool)
        )
    return order


_PATH_HINTS: dict[str, Callable[[st.DrawFn, Known], Any]] = {
    "symbol": lambda draw, known: _pick(draw, known.symbols, "TKN2612"),
    "order_id": lambda draw, known: _pick(draw, known.order_ids[-20:], 1),
    "client_order_id": lambda draw, known: _pick(draw, known.client_order_ids[-20:], "c-1"),
    "day": lambda draw, known: _pick(draw, known.days, "2026-01-05"),
}

_DECIMALS = st.sampled_from(["1", "0", "-1", "0.5", "2.505", "1000000", "1e3", "99999999.99"])
_WORDS = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=12)

# the fields each command needs (as docs/commands-and-events.md lists them) and the others
_COMMANDS: dict[str, tuple[str, ...]] = {
    "new_order": ("account", "client_order_id", "symbol", "side", "quantity", "price"),
    "cancel_order": ("account", "client_order_id", "symbol"),
    "amend_order": ("account", "client_order_id", "symbol", "quantity"),
    "cancel_all": ("account",),
    "set_phase": ("symbol", "phase"),
    "set_reference_price": ("symbol", "price"),
    "list_contract": ("symbol",),
    "deposit": ("account", "amount"),
    "withdraw": ("account", "amount"),
    "add_member": ("member",),
    "open_account": ("account", "member"),
    "set_account_status": ("account", "status"),
    "fund_house_capital": ("amount",),
    "end_of_day": ("date",),
    "margin_call_deadline": (),
    "final_settlement": ("symbol",),
}
_OTHER_FIELDS = (
    "order_type", "stop_price", "time_in_force", "self_trade_prevention", "reduce_only",
    "post_only", "guaranty_fund", "group", "opening_cap_exempt", "index", "fixings",
)  # fmt: skip


def _command_value(draw: st.DrawFn, known: Known, name: str, command: dict[str, Any]) -> Any:
    """A plausible (often valid, sometimes not) value for a command field."""
    choices: dict[str, Callable[[], Any]] = {
        "account": lambda: _pick(draw, known.accounts, "acct-1"),
        "client_order_id": lambda: _pick(draw, known.client_order_ids, "c-1"),
        "symbol": lambda: _pick(draw, known.symbols, "TKN2612"),
        "side": lambda: draw(st.sampled_from(["buy", "sell", "hold"])),
        "quantity": lambda: draw(st.integers(-1, 1200)),
        "order_type": lambda: draw(st.sampled_from(["limit", "market", "stop", "stop_limit"])),
        "price": lambda: _price(draw, known, command.get("symbol")),
        "stop_price": lambda: _price(draw, known, command.get("symbol")),
        "time_in_force": lambda: draw(st.sampled_from(["GFD", "GTC", "IOC", "FOK"])),
        "self_trade_prevention": lambda: draw(
            st.sampled_from(["cancel_incoming", "cancel_resting", "cancel_both", "none"])
        ),
        "phase": lambda: draw(st.sampled_from(["closed", "pre_open", "continuous", "halted"])),
        "amount": lambda: draw(_DECIMALS),
        "guaranty_fund": lambda: draw(_DECIMALS),
        "member": lambda: draw(st.sampled_from(["SANDBOX", "M1"]) | _WORDS),
        "group": lambda: draw(_WORDS),
        "status": lambda: draw(
            st.sampled_from(["active", "cancel_only", "liquidating", "defaulted", "gone"])
        ),
        "date": lambda: _pick(draw, known.days, "2026-01-05"),
        "index": lambda: {"TKN": draw(_DECIMALS), "GPU": draw(_DECIMALS)},
        "fixings": lambda: [draw(_DECIMALS) for _ in range(draw(st.integers(0, 3)))],
    }
    choose = choices.get(name)
    return draw(st.booleans() | st.integers()) if choose is None else choose()


def _command(draw: st.DrawFn, known: Known) -> dict[str, Any]:
    """A command of the JSON Lines format: mostly with the fields it needs, some others, and
    now and then one of them left out."""
    kind = draw(st.sampled_from(COMMAND_TYPES))
    names = list(_COMMANDS.get(kind, ()))
    names += draw(st.lists(st.sampled_from(_OTHER_FIELDS), max_size=3, unique=True))
    if names and not draw(st.integers(0, 4)):
        names.pop(draw(st.integers(0, len(names) - 1)))
    command: dict[str, Any] = {"type": kind}
    for name in names:
        command[name] = _command_value(draw, known, name, command)
    return command


def cases(operation: Operation, mode: GenerationMode, known: Known) -> st.SearchStrategy[AnyCase]:
    """Cases of ``operation``; half the positive ones carry values the exchange knows."""

    @st.composite
    def hinted(draw: st.DrawFn) -> AnyCase:
        case: AnyCase = draw(operation.as_strategy(generation_mode=mode))
        if mode is not GenerationMode.POSITIVE or not draw(st.booleans()):
            return case
        for name in list(case.path_parameters or {}):
            hint = _PATH_HINTS.get(name)
            if hint is not None:
                case.path_parameters[name] = hint(draw, known)
        if operation.label == "POST /v1/admin/commands":
            case.body = _command(draw, known)
        elif operation.label == "POST /v1/orders" and draw(st.booleans()):
            case.body = _order(draw, known)
        elif isinstance(case.body, dict):
            _hint_body(draw, known, case.body)
        return case

    return hinted()


# --- running ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    operation: str
    mode: str
    error: str

    def __str__(self) -> str:
        return f"--- {self.operation} ({self.mode})\n{self.error}"


def is_private(operation: Operation) -> bool:
    tags = set(operation.definition.raw.get("tags", ()))
    return operation.label not in PUBLIC_OPERATIONS and not tags <= PUBLIC_TAGS


def operations(schema: schemathesis.BaseSchema) -> list[Operation]:
    """Every operation: those that make orders first, those that shut the market after the
    others, the kill switch last."""
    found: list[Operation] = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"the schema has an invalid operation: {result.err()}"
        found.append(result.ok())

    def rank(operation: Operation) -> tuple[int, str]:
        if operation.label in OPENING:
            return (0, str(OPENING.index(operation.label)))
        if operation.path == LAST:
            return (3, operation.label)
        return (2 if operation.path in CLOSING else 1, operation.label)

    return sorted(found, key=rank)


def error_shape(response: schemathesis.Response) -> None:
    """A refusal is JSON ``{"error": {"reason", "field", "detail"}}`` with a reason."""
    if response.status_code < 400:
        return
    try:
        body = json.loads(response.content or b"")
    except ValueError:
        shown = response.content[:200]
        raise AssertionError(f"{response.status_code}: not JSON: {shown!r}") from None
    assert isinstance(body, dict), f"not an error body: {body}"
    assert set(body) == {"error"}, f"not an error body: {body}"
    error = body["error"]
    assert isinstance(error, dict), f"not an error body: {body}"
    assert set(error) == {"reason", "field", "detail"}, f"error fields: {sorted(error)}"
    assert isinstance(error["reason"], str), body
    assert error["reason"], body


Expect = Callable[[Operation, AnyCase, schemathesis.Response], None]


def fuzz(
    schema: schemathesis.BaseSchema,
    http: requests.Session,
    known: Known,
    *,
    examples: int,
    derandomize: bool,
    modes: Iterable[GenerationMode] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    only: Callable[[Operation], bool] = lambda _: True,
    expect: Expect | None = None,
    checks: Sequence[Any] = CHECKS,
    tally: Counter[tuple[str, int]] | None = None,
) -> list[Finding]:
    """Run each selected operation in each mode; the failures, one per operation and mode.
    ``tally`` counts the answers by operation and status."""
    findings: list[Finding] = []
    config = settings(
        max_examples=examples,
        derandomize=derandomize,
        database=None,
        deadline=5_000,  # ms: a request that hangs fails, a slow fsync does not
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
        report_multiple_bugs=False,
    )
    for operation in filter(only, operations(schema)):
        for mode in modes:
            test = _example_test(operation, mode, http, known, checks, expect, tally)
            try:
                config(test)()
            except Unsatisfiable:
                pass  # nothing to vary: an operation without parameters has no negative case
            except (Exception, BaseExceptionGroup) as error:  # report it, go on to the next
                findings.append(Finding(operation.label, mode.value, _describe(error)))
    return findings


def _example_test(
    operation: Operation,
    mode: GenerationMode,
    http: requests.Session,
    known: Known,
    checks: Sequence[Any],
    expect: Expect | None,
    tally: Counter[tuple[str, int]] | None,
) -> Callable[[], None]:
    """The hypothesis test of one operation in one mode: one request per example."""

    @given(case=cases(operation, mode, known))
    def example(case: AnyCase) -> None:
        note(f"request: {case.method} {case.formatted_path} query={case.query!r}")
        note(f"body: {case.body!r}"[:2000])
        response = case.call(session=http, timeout=REQUEST_TIMEOUT_S)
        note(f"answer: {response.status_code} {response.content[:500]!r}")
        if tally is not None:
            tally[operation.label, response.status_code] += 1
        if response.status_code < 300:
            known.learn(_json(response))
        case.validate_response(response, checks=list(checks))
        error_shape(response)
        if expect is not None:
            expect(operation, case, response)

    return example


def integral_floats(value: Any) -> bool:
    """Whether a JSON value holds a float like ``5.0``: an integer to JSON Schema, not to the
    API's strict models (which refuse it with 422 ``invalid_field``)."""
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(integral_floats(v) for v in value.values())
    if isinstance(value, list):
        return any(integral_floats(v) for v in value)
    return False


def _json(response: schemathesis.Response) -> Any:
    try:
        return json.loads(response.content or b"null")
    except ValueError:
        return None


def _describe(error: BaseException) -> str:
    notes = "\n".join(getattr(error, "__notes__", []))
    return f"{type(error).__name__}: {error}\n{notes}".strip()
