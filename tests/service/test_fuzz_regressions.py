"""What the OpenAPI fuzzer (``test_fuzz.py``) found, each pinned against a real server.

- A body FastAPI could not parse (not UTF-8, an integer of thousands of digits, nesting
  deeper than the JSON reader allows) was answered ``400 {"detail": "There was an error
  parsing the body"}``: not the API's error shape. It is now ``422 invalid_field``, as for
  any other body that is not JSON, and changes nothing.
- A path no route serves and a method a route does not take answered ``{"detail": ...}``;
  they are now ``404 not_found`` and ``405 method_not_allowed`` in the error shape.
- The OpenAPI schema documented refusals as FastAPI's ``HTTPValidationError`` (422 only);
  every operation now documents ``4XX`` with the body the API sends.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .harness import Exchange, Trader, error_of, raw_request

UNREADABLE_BODIES = {
    "not UTF-8": b"\xe9\xc8Se",
    "an integer of 5000 digits": b'{"symbol":"TKN2612","side":"buy","quantity":'
    + b"9" * 5000
    + b',"price":"2.5"}',
    "nested 5000 deep": b'{"symbol":' + b"[" * 5000 + b"]" * 5000 + b"}",
}


@pytest.fixture(scope="module")
def trader(shared_exchange: Exchange) -> Trader:
    return shared_exchange.account()


@pytest.mark.parametrize("body", UNREADABLE_BODIES.values(), ids=list(UNREADABLE_BODIES))
def test_an_unreadable_body_is_a_422_naming_the_rule(
    shared_exchange: Exchange, trader: Trader, body: bytes
) -> None:
    before = shared_exchange.journal_last_seq()
    response = raw_request(
        shared_exchange.url,
        "POST",
        "/v1/orders",
        content=body,
        key=trader.key,
        secret=trader.secret,
    )
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["reason"] == "invalid_field"
    assert error["field"] is None  # the whole body, not one field
    assert error["detail"].startswith("the body is not UTF-8 JSON"), error
    assert shared_exchange.journal_last_seq() == before
    assert trader.client.orders() == []


def test_an_unreadable_body_on_a_public_route_is_a_422(shared_exchange: Exchange) -> None:
    response = raw_request(shared_exchange.url, "POST", "/v1/sandbox/accounts", content=b"\xff")
    assert response.status_code == 422, response.text
    assert error_of(response)["reason"] == "invalid_field"


def test_an_unknown_path_is_a_404_in_the_error_shape(shared_exchange: Exchange) -> None:
    response = httpx.get(shared_exchange.url + "/v1/no-such-thing", timeout=10)
    assert response.status_code == 404
    error = error_of(response)
    assert error["reason"] == "not_found"
    assert error["field"] is None


def test_a_wrong_method_is_a_405_naming_the_allowed_ones(shared_exchange: Exchange) -> None:
    response = httpx.put(shared_exchange.url + "/v1/orders", timeout=10)
    assert response.status_code == 405
    assert error_of(response)["reason"] == "method_not_allowed"
    assert "POST" in response.headers["allow"]  # the framework's Allow header is kept


def test_every_operation_documents_the_error_body(shared_exchange: Exchange) -> None:
    spec: dict[str, Any] = httpx.get(shared_exchange.url + "/openapi.json", timeout=10).json()
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert schemas["ErrorBody"]["required"] == ["error"]
    assert set(schemas["ErrorDetail"]["required"]) == {"reason", "field", "detail"}
    undocumented = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            refusal = operation["responses"].get("4XX", {})
            schema = refusal.get("content", {}).get("application/json", {}).get("schema")
            if schema != {"$ref": "#/components/schemas/ErrorBody"}:
                undocumented.append(f"{method.upper()} {path}")
            assert "422" not in operation["responses"], f"{method} {path}"
    assert not undocumented


def test_a_body_over_the_limit_is_refused_before_it_is_read(shared_exchange: Exchange) -> None:
    response = httpx.post(
        shared_exchange.url + "/v1/sandbox/accounts",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert error_of(response)["reason"] == "body_too_large"
