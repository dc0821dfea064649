"""A small Python client of the tokenfutures API: signs every private request.

    from tokenfutures.client import Client

    with Client("http://127.0.0.1:8000", key, secret) as client:
        placed = client.place_order("TKN2612", "buy", 5, "2.505", client_order_id="h1")
        client.amend_order(order_id=placed["order_id"], quantity=3)
        client.cancel_all()

Each call returns the API's JSON (an order, a list, ...). A refusal raises ``ApiError`` with
the HTTP status and the error's ``reason``, ``field`` and ``detail``; a ``429`` carries
``retry_after``. Retrying ``place_order`` with the same ``client_order_id`` is safe: the
exchange returns the original order instead of placing a second one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tokenfutures.service.auth import sign, signed_headers


class ApiError(Exception):
    def __init__(self, status: int, error: dict[str, Any], retry_after: float | None) -> None:
        self.status = status
        self.reason = str(error.get("reason", "error"))
        self.field = error.get("field")
        self.detail = str(error.get("detail", ""))
        self.retry_after = retry_after
        super().__init__(f"{status} {self.reason}: {self.detail}")


class Client:
    def __init__(
        self, base_url: str, key: str | None = None, secret: str | None = None,
        *, timeout: float = 10.0,
    ) -> None:  # fmt: skip
        self._base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self._base_url, timeout=timeout)
        self._credentials = None if key is None or secret is None else (key, secret)

    # --- plumbing --------------------------------------------------------------------------

    def request(
        self, method: str, path: str, body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None, *, signed: bool = True,
    ) -> Any:  # fmt: skip
        query = {k: v for k, v in (params or {}).items() if v is not None}
        target = path + (f"?{urlencode(query)}" if query else "")
        content = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        headers = {"content-type": "application/json"} if body is not None else {}
        if signed:
            if self._credentials is None:
                raise ValueError("this call needs an API key and secret")
            now_ms = int(time.time() * 1000)
            headers |= signed_headers(self._credentials, now_ms, method, target, content)
        response = self._http.request(method, target, content=content, headers=headers)
        if response.status_code >= 400:
            try:
                error = response.json().get("error", {})
            except ValueError:
                error = {"reason": "http_error", "detail": response.text[:200]}
            retry = response.headers.get("retry-after")
            raise ApiError(response.status_code, error, float(retry) if retry else None)
        return response.json()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:  # fmt: skip
        self.close()

    # --- market data (public) --------------------------------------------------------------

    def instruments(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/v1/instruments", signed=False)
        return result

    def book(self, symbol: str, depth: int = 20) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "GET", f"/v1/book/{symbol}", params={"depth": depth}, signed=False
        )
        return result

    def trades(self, symbol: str, limit: int = 100) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request(
            "GET", f"/v1/trades/{symbol}", params={"limit": limit}, signed=False
        )
        return result

    # --- orders ----------------------------------------------------------------------------

    def place_order(
        self, symbol: str, side: str, quantity: int, price: str | None = None,
        time_in_force: str = "GTC", client_order_id: str | None = None, *,
        order_type: str = "limit", stop_price: str | None = None, post_only: bool = False,
        reduce_only: bool = False,
    ) -> dict[str, Any]:  # fmt: skip
        """Place an order; the order as the exchange recorded it (``duplicate`` on a retry)."""
        body = {
            "symbol": symbol, "side": side, "quantity": quantity, "price": price,
            "order_type": order_type, "time_in_force": time_in_force,
            "stop_price": stop_price, "client_order_id": client_order_id,
            "post_only": post_only, "reduce_only": reduce_only,
        }  # fmt: skip
        answer = self.request(
            "POST", "/v1/orders", {k: v for k, v in body.items() if v is not None}
        )
        order: dict[str, Any] = answer["order"]
        return order | {"duplicate": answer.get("duplicate", False)}

    def _order_path(self, order_id: int | None, client_order_id: str | None) -> str:
        if (order_id is None) == (client_order_id is None):
            raise ValueError("give exactly one of order_id and client_order_id")
        if order_id is not None:
            return f"/v1/orders/{order_id}"
        return f"/v1/orders/by-client-id/{quote(str(client_order_id), safe='')}"

    def amend_order(
        self, order_id: int | None = None, client_order_id: str | None = None, *,
        price: str | None = None, quantity: int | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        body = {k: v for k, v in (("price", price), ("quantity", quantity)) if v is not None}
        answer = self.request("PATCH", self._order_path(order_id, client_order_id), body)
        order: dict[str, Any] = answer["order"]
        return order

    def cancel_order(
        self, order_id: int | None = None, client_order_id: str | None = None
    ) -> dict[str, Any]:
        answer = self.request("DELETE", self._order_path(order_id, client_order_id))
        order: dict[str, Any] = answer["order"]
        return order

    def cancel_all(self, symbol: str | None = None) -> list[int]:
        body = {} if symbol is None else {"symbol": symbol}
        cancelled: list[int] = self.request("POST", "/v1/orders/cancel-all", body)["cancelled"]
        return cancelled

    def cancel_all_after(self, timeout_ms: int) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST", "/v1/cancel-all-after", {"timeout_ms": timeout_ms}
        )
        return result

    def get_order(
        self, order_id: int | None = None, client_order_id: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", self._order_path(order_id, client_order_id))
        return result

    def orders(self, status: str = "open") -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/v1/orders", params={"status": status})
        return result

    # --- streaming -------------------------------------------------------------------------

    def stream(
        self, channels: list[str], *, since: int | None = None, timeout: float | None = None
    ) -> Iterator[dict[str, Any]]:
        """Messages of the WebSocket channels (``book:SYMBOL``, ``trades:SYMBOL``, ``orders``)
        as they come; ``orders`` needs a key and resumes after account sequence ``since``.
        Stops when the server closes the socket, or after ``timeout`` seconds of silence."""
        url = self._base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        with connect(f"{url}/v1/ws", max_size=2**22) as socket:
            if self._credentials is not None:
                key, secret = self._credentials
                now_ms = int(time.time() * 1000)
                signature = sign(secret, now_ms, "GET", "/v1/ws", b"")
                auth = {"op": "auth", "key": key, "timestamp": now_ms, "signature": signature}
                socket.send(json.dumps(auth))
            request: dict[str, Any] = {"op": "subscribe", "channels": channels}
            if since is not None:
                request["since"] = since
            socket.send(json.dumps(request))
            while True:
                try:
                    text = socket.recv(timeout=timeout)
                except (TimeoutError, ConnectionClosed):
                    return
                yield json.loads(text)

    # --- the account -----------------------------------------------------------------------

    def fills(self, limit: int = 100) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/v1/fills", params={"limit": limit})
        return result

    def positions(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.request("GET", "/v1/positions")
        return result

    def whoami(self) -> dict[str, Any]:
        """The key's account and scopes."""
        result: dict[str, Any] = self.request("GET", "/v1/whoami")
        return result

    def balances(self) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", "/v1/balances")
        return result

    def statement(self, day: str) -> dict[str, Any]:
        result: dict[str, Any] = self.request("GET", f"/v1/statements/{day}")
        return result
