"""Request signing: HMAC-SHA256 over the timestamp, method, path and body.

A signed request carries three headers:

- ``TF-API-KEY``: the key id (``tfk_...``);
- ``TF-API-TIMESTAMP``: the client's time, integer Unix milliseconds;
- ``TF-API-SIGNATURE``: lowercase hex HMAC-SHA256, keyed by the key's secret, of
  ``f"{timestamp}\\n{METHOD}\\n{path}\\n".encode() + body``, where ``METHOD`` is upper case,
  ``path`` is the request target exactly as sent, query string included
  (``/v1/orders?symbol=TKN2612``), and ``body`` the raw body bytes (empty for a GET).

The server accepts a request only if, in this order: all three headers are present (header
names are case-insensitive); the timestamp is an integer within ``RECV_WINDOW_MS`` (5 s) of
the server's clock, either way, inclusive; the key is active; the signature matches (compared
in constant time); and the key's scopes cover the endpoint's (``admin`` implies ``trade`` and
``read``; ``trade`` implies ``read``). The first four failures are 401, the last 403. The
window bounds replay of a captured request to 5 s; idempotency by client order id covers the
rest.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from tokenfutures.service.keys import SCOPES, ApiKey, ApiKeyStore

KEY_HEADER = "TF-API-KEY"
TIMESTAMP_HEADER = "TF-API-TIMESTAMP"
SIGNATURE_HEADER = "TF-API-SIGNATURE"
RECV_WINDOW_MS = 5_000

# Scope required by an endpoint -> the key scopes that grant it.
GRANTED_BY: Mapping[str, frozenset[str]] = {
    "read": frozenset({"read", "trade", "admin"}),
    "trade": frozenset({"trade", "admin"}),
    "admin": frozenset({"admin"}),
}
_TIMESTAMP = re.compile(r"[0-9]{1,16}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


class AuthError(Exception):
    """A request refused: ``status`` 401 (who are you?) or 403 (not allowed), a stable
    ``code`` for clients, and a ``detail`` naming the header and the rule."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.status = status
        self.code = code
        self.detail = detail


def signature_payload(timestamp_ms: int, method: str, path: str, body: bytes) -> bytes:
    """The bytes signed: ``"{timestamp_ms}\\n{METHOD}\\n{path}\\n"`` then the body."""
    return f"{timestamp_ms}\n{method.upper()}\n{path}\n".encode() + body


def sign(secret: str, timestamp_ms: int, method: str, path: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of the payload, keyed by ``secret``."""
    payload = signature_payload(timestamp_ms, method, path, body)
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def signed_headers(
    api_key: ApiKey | tuple[str, str], timestamp_ms: int, method: str, path: str, body: bytes
) -> dict[str, str]:
    """The three headers for a request, from an ``ApiKey`` or a ``(key, secret)`` pair."""
    key, secret = (api_key.key, api_key.secret) if isinstance(api_key, ApiKey) else api_key
    return {
        KEY_HEADER: key,
        TIMESTAMP_HEADER: str(timestamp_ms),
        SIGNATURE_HEADER: sign(secret, timestamp_ms, method, path, body),
    }


def authenticate(
    store: ApiKeyStore,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    now_ms: int,
    scope: str,
) -> ApiKey:
    """The key that signed this request, if it may use an endpoint needing ``scope``;
    raises :class:`AuthError` otherwise. ``path`` is the request target as sent, query
    string included; ``now_ms`` is the server's clock."""
    if scope not in GRANTED_BY:
        raise ValueError(f"scope: {scope!r} is not one of {', '.join(SCOPES)}")
    key = _header(headers, KEY_HEADER)
    timestamp_text = _header(headers, TIMESTAMP_HEADER)
    signature = _header(headers, SIGNATURE_HEADER)
    timestamp_ms = _timestamp(timestamp_text, now_ms)
    api_key = store.get(key)
    if api_key is None:
        raise AuthError(401, "unknown_key", f"{KEY_HEADER}: no active API key with this id")
    expected = sign(api_key.secret, timestamp_ms, method, path, body)
    if not _SIGNATURE.fullmatch(signature) or not hmac.compare_digest(
        expected.encode("ascii"), signature.lower().encode("ascii")
    ):
        raise AuthError(
            401,
            "bad_signature",
            f"{SIGNATURE_HEADER}: must be the hex HMAC-SHA256 of "
            "'{timestamp}\\n{METHOD}\\n{path}\\n' + body, keyed by the key's secret",
        )
    if not api_key.scopes & GRANTED_BY[scope]:
        raise AuthError(
            403,
            "insufficient_scope",
            f"{KEY_HEADER}: this endpoint needs scope {scope!r}; the key has "
            f"{', '.join(s for s in SCOPES if s in api_key.scopes)}",
        )
    return api_key


def _header(headers: Mapping[str, str], name: str) -> str:
    """The header ``name``, matched case-insensitively; AuthError if missing or empty."""
    value = headers.get(name)
    if value is None:
        wanted = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if not value:
        raise AuthError(401, "missing_header", f"{name}: required header is missing or empty")
    return value


def _timestamp(text: str, now_ms: int) -> int:
    if not _TIMESTAMP.fullmatch(text):
        raise AuthError(
            401, "bad_timestamp", f"{TIMESTAMP_HEADER}: must be an integer of Unix milliseconds"
        )
    timestamp_ms = int(text)
    if abs(timestamp_ms - now_ms) > RECV_WINDOW_MS:
        raise AuthError(
            401,
            "stale_timestamp",
            f"{TIMESTAMP_HEADER}: must be within {RECV_WINDOW_MS} ms of the server's clock "
            f"(server {now_ms}, request {timestamp_ms})",
        )
    return timestamp_ms
