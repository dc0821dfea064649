"""OpenAPI fuzzing with schemathesis against a real ``tokenfutures serve --sandbox``.

The server's own ``/openapi.json`` drives the generator: every operation gets valid and
invalid requests (types, ranges, patterns, missing and extra fields, bodies that are not
JSON), half the valid ones carrying symbols, prices, order ids and days the exchange has
shown (``fuzzing.py``).

- Signed with a key of scopes read, trade and admin, every answer must be below 500, conform
  to the schema (a refusal is a 4xx ``{"error": {"reason", "field", "detail"}}``) and reject
  invalid data with a 4xx.
- Unsigned, wrongly signed or stale, a private operation must answer 401 to a request whose
  data is valid (422 when the body itself is invalid) and change nothing: the journal does
  not move.
- Afterwards the sequencer still applies commands, the server's log holds no traceback, and
  ``tokenfutures replay`` finds money conserved.

The fast tier is derandomized (the same cases on every run); the slow tier draws new ones.
"""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import schemathesis
from schemathesis import GenerationMode

from . import fuzzing
from .harness import Exchange, contracts, raw_request

# a graceful stop on SIGTERM exits 0 (-15 where uvicorn raises the signal again once done)
GRACEFUL = {0, -signal.SIGTERM}
# the fuzzer is not a flood
UNLIMITED = ("--order-rate", "100000", "--query-rate", "100000", "--ip-rate", "100000")
FAST_EXAMPLES = 40
FAST_REFUSED_EXAMPLES = 10
SLOW_EXAMPLES = 200
SLOW_REFUSED_EXAMPLES = 30


@dataclass
class Fuzzed:
    exchange: Exchange
    schema: schemathesis.BaseSchema
    known: fuzzing.Known
    admin: fuzzing.HmacAuth


def _setup(exchange: Exchange) -> Fuzzed:
    """Start the server, open the fuzzer's account with an admin key, and have another
    account quote a few contracts, so that the fuzzer's orders can trade."""
    exchange.start()
    owner = exchange.account("fuzzer")
    made = exchange.create_key(owner.account, "read,trade,admin")
    maker = exchange.account("maker")
    for contract in contracts(exchange.url)[:4]:
        maker.client.place_order(contract.symbol, "buy", 50, contract.price(-1))
        maker.client.place_order(contract.symbol, "sell", 50, contract.price(1))
    today = datetime.now(UTC).date().isoformat()
    known = fuzzing.Known(accounts=[owner.account, maker.account], days=[today])
    known.learn_instruments(httpx.get(exchange.url + "/v1/instruments", timeout=10).json())
    schema = schemathesis.openapi.from_url(exchange.url + "/openapi.json")
    return Fuzzed(exchange, schema, known, fuzzing.HmacAuth(made["key"], made["secret"]))


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    exchange = Exchange(tmp_path_factory.mktemp("fuzz"), serve_args=UNLIMITED)
    try:
        yield _setup(exchange)
    finally:
        exchange.close()


def _report(findings: list[fuzzing.Finding]) -> str:
    return f"{len(findings)} operation(s) failed:\n\n" + "\n\n".join(map(str, findings))


# --- the phases ---------------------------------------------------------------------------------


# the fuzzer reaches the handlers: answers it must have had (one of each line at least)
REACHED = [
    [("POST /v1/orders", 201)],
    [("GET /v1/orders/{order_id}", 200), ("GET /v1/orders/by-client-id/{client_order_id}", 200)],
    [
        ("DELETE /v1/orders/{order_id}", 200),
        ("DELETE /v1/orders/by-client-id/{client_order_id}", 200),
        ("PATCH /v1/orders/{order_id}", 200),
        ("PATCH /v1/orders/by-client-id/{client_order_id}", 200),
    ],
    [("GET /v1/book/{symbol}", 200)],
    [("POST /v1/admin/commands", 200)],
]


def _signed(fuzzed: Fuzzed, examples: int, derandomize: bool) -> list[fuzzing.Finding]:
    """Every operation, signed by an admin key: never a 5xx, never refused for the signature."""
    tally: Counter[tuple[str, int]] = Counter()
    with fuzzing.session(fuzzed.admin) as http:
        findings = fuzzing.fuzz(
            fuzzed.schema,
            http,
            fuzzed.known,
            examples=examples,
            derandomize=derandomize,
            tally=tally,
        )
    refused = {k: n for k, n in tally.items() if k[1] in (401, 403)}
    assert not refused, f"signed requests refused: {refused}"
    missing = [line for line in REACHED if not any(tally[k] for k in line)]
    assert not missing, f"never answered: {missing}; answers: {sorted(tally.items())}"
    return findings


REFUSALS = {  # how the request is signed -> the 401 reason of a request with valid data
    "unsigned": "missing_header",
    "wrong_secret": "bad_signature",
    "stale": "stale_timestamp",
}


def _refused_as(how: str) -> fuzzing.Expect:
    """A private operation without a valid signature: 401 with the reason of ``how``, or 422
    when the request's own data is invalid (read before the signature)."""

    def expect(
        _: fuzzing.Operation, case: fuzzing.AnyCase, response: schemathesis.Response
    ) -> None:
        status, shown = response.status_code, response.content[:200]
        negative = case.meta is not None and case.meta.generation.mode.is_negative
        if negative or fuzzing.integral_floats(case.body):
            assert status in (401, 422), f"{how}: {status} {shown!r}"
            return
        assert status == 401, f"{how}: {status} {shown!r}"
        reason = json.loads(response.content)["error"]["reason"]
        assert reason == REFUSALS[how], f"{how}: reason {reason}"

    return expect


def _refused(fuzzed: Fuzzed, examples: int, derandomize: bool) -> list[fuzzing.Finding]:
    """Every private operation, without a valid signature: 401 (422 for an invalid body)."""
    key = fuzzed.admin.key
    signers = {
        "unsigned": None,
        "wrong_secret": fuzzing.HmacAuth(key, "not-the-secret"),
        "stale": fuzzing.HmacAuth(key, fuzzed.admin.secret, skew_ms=-60_000),
    }
    findings: list[fuzzing.Finding] = []
    for how, auth in signers.items():
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE][: 2 if auth is None else 1]
        with fuzzing.session(auth) as http:
            found = fuzzing.fuzz(
                fuzzed.schema,
                http,
                fuzzed.known,
                examples=examples,
                derandomize=derandomize,
                modes=modes,
                only=fuzzing.is_private,
                expect=_refused_as(how),
                checks=fuzzing.REFUSAL_CHECKS,
            )
        findings += [fuzzing.Finding(f.operation, f"{f.mode}, {how}", f.error) for f in found]
    return findings


def _survived(exchange: Exchange) -> None:
    """The sequencer still applies commands (a new sandbox account: three of them), the log
    holds no traceback, and the journal replays with money conserved."""
    trader = exchange.account()
    assert trader.client.balances()["cash"] == "1000000.00"
    assert httpx.get(exchange.url + "/v1/instruments", timeout=10).status_code == 200
    last_seq = exchange.journal_last_seq()
    assert exchange.stop() in GRACEFUL
    log = exchange.log_text()
    assert "Traceback" not in log, log[-4000:]
    replayed = exchange.replay()
    assert replayed["money_conserved"] is True, replayed
    assert replayed["last_seq"] == last_seq, replayed


# --- fast tier ----------------------------------------------------------------------------------


def test_signed_requests_never_get_a_server_error(fuzzed: Fuzzed) -> None:
    findings = _signed(fuzzed, FAST_EXAMPLES, derandomize=True)
    assert not findings, _report(findings)


def _disarm(fuzzed: Fuzzed) -> None:
    """Switch off the dead-man switch the fuzzer may have armed: it would journal a cancel."""
    auth = fuzzed.admin
    body = {"timeout_ms": 0}
    url, target = fuzzed.exchange.url, "/v1/cancel-all-after"
    answer = raw_request(url, "POST", target, body, key=auth.key, secret=auth.secret)
    assert answer.status_code == 200, answer.text


def test_unsigned_requests_are_refused_and_change_nothing(fuzzed: Fuzzed) -> None:
    _disarm(fuzzed)
    before = fuzzed.exchange.journal_last_seq()
    findings = _refused(fuzzed, FAST_REFUSED_EXAMPLES, derandomize=True)
    assert not findings, _report(findings)
    assert fuzzed.exchange.journal_last_seq() == before


def test_the_exchange_survives_the_fuzzing(fuzzed: Fuzzed) -> None:
    _survived(fuzzed.exchange)


# --- slow tier ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_long_random_fuzzing(tmp_path: Path) -> None:
    exchange = Exchange(tmp_path, serve_args=UNLIMITED)
    try:
        fuzzed = _setup(exchange)
        _disarm(fuzzed)
        before = exchange.journal_last_seq()
        refused = _refused(fuzzed, SLOW_REFUSED_EXAMPLES, derandomize=False)
        assert exchange.journal_last_seq() == before
        findings = refused + _signed(fuzzed, SLOW_EXAMPLES, derandomize=False)
        assert not findings, _report(findings)
        _survived(exchange)
    finally:
        exchange.close()
