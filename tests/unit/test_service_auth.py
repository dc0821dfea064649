"""API keys, request signatures and rate limits: the key store on a real SQLite file, every
refusal of ``authenticate`` with its status and code, and the token buckets."""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenfutures.service.auth import (
    KEY_HEADER,
    RECV_WINDOW_MS,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    AuthError,
    authenticate,
    sign,
    signature_payload,
    signed_headers,
)
from tokenfutures.service.journal import SqliteJournal
from tokenfutures.service.keys import SCOPES, ApiKey, KeyStore
from tokenfutures.service.ratelimit import RateLimiter, TokenBucket

NOW = 1_795_000_000_000
PATH = "/v1/orders?symbol=TKN2612"
BODY = b'{"symbol":"TKN2612","side":"buy","price":"2.505","quantity":5}'


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "exchange.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[KeyStore]:
    keys = KeyStore(db_path)
    yield keys
    keys.close()


@pytest.fixture
def trader(store: KeyStore) -> ApiKey:
    return store.create("A", ("read", "trade"), now_ms=NOW)


def _auth(
    store: KeyStore,
    headers: dict[str, str],
    *,
    method: str = "POST",
    path: str = PATH,
    body: bytes = BODY,
    now_ms: int = NOW,
    scope: str = "trade",
) -> ApiKey:
    return authenticate(store, headers, method, path, body, now_ms, scope)


def _refused(
    store: KeyStore,
    headers: dict[str, str],
    *,
    method: str = "POST",
    path: str = PATH,
    body: bytes = BODY,
    scope: str = "trade",
) -> AuthError:
    with pytest.raises(AuthError) as caught:
        _auth(store, headers, method=method, path=path, body=body, scope=scope)
    return caught.value


# --- signatures ----------------------------------------------------------------------------


def test_payload_is_timestamp_method_path_and_body_on_lines() -> None:
    payload = signature_payload(NOW, "post", PATH, BODY)
    assert payload == f"{NOW}\nPOST\n{PATH}\n".encode() + BODY


def test_sign_is_hex_hmac_sha256_of_the_payload() -> None:
    expected = hmac.new(
        b"s3cret", f"{NOW}\nGET\n/v1/account\n".encode(), hashlib.sha256
    ).hexdigest()
    assert sign("s3cret", NOW, "get", "/v1/account", b"") == expected
    assert len(expected) == 64


def test_a_signed_request_authenticates_as_its_key(store: KeyStore, trader: ApiKey) -> None:
    headers = signed_headers(trader, NOW, "POST", PATH, BODY)
    assert _auth(store, headers) == trader
    pair = signed_headers((trader.key, trader.secret), NOW, "POST", PATH, BODY)
    assert pair == headers


def test_header_names_are_case_insensitive(store: KeyStore, trader: ApiKey) -> None:
    headers = {k.lower(): v for k, v in signed_headers(trader, NOW, "POST", PATH, BODY).items()}
    assert _auth(store, headers) == trader
    upper_hex = dict(headers)
    upper_hex[SIGNATURE_HEADER.lower()] = headers[SIGNATURE_HEADER.lower()].upper()
    assert _auth(store, upper_hex) == trader


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", PATH, BODY.replace(b"5}", b"50}")),
        ("POST", PATH, b""),
        ("POST", "/v1/orders?symbol=TKN2703", BODY),
        ("POST", "/v1/orders", BODY),
        ("DELETE", PATH, BODY),
    ],
)
def test_a_tampered_request_is_refused(
    store: KeyStore, trader: ApiKey, method: str, path: str, body: bytes
) -> None:
    headers = signed_headers(trader, NOW, "POST", PATH, BODY)
    error = _refused(store, headers, method=method, path=path, body=body)
    assert (error.status, error.code) == (401, "bad_signature")
    assert SIGNATURE_HEADER in error.detail


def test_a_signature_with_another_secret_is_refused(store: KeyStore, trader: ApiKey) -> None:
    other = store.create("B", ("trade",), now_ms=NOW)
    headers = signed_headers((trader.key, other.secret), NOW, "POST", PATH, BODY)
    assert _refused(store, headers).code == "bad_signature"


@pytest.mark.parametrize("signature", ["", "zz" * 32, "ab" * 31, "é" * 64, "ab" * 33])
def test_a_malformed_signature_is_refused(store: KeyStore, trader: ApiKey, signature: str) -> None:
    headers = signed_headers(trader, NOW, "POST", PATH, BODY)
    headers[SIGNATURE_HEADER] = signature
    error = _refused(store, headers)
    assert error.status == 401
    assert error.code == ("missing_header" if not signature else "bad_signature")


# --- each refusal ----------------------------------------------------------------------------


@pytest.mark.parametrize("missing", [KEY_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_a_missing_header_is_named(store: KeyStore, trader: ApiKey, missing: str) -> None:
    headers = signed_headers(trader, NOW, "POST", PATH, BODY)
    del headers[missing]
    error = _refused(store, headers)
    assert (error.status, error.code) == (401, "missing_header")
    assert error.detail.startswith(missing)


def test_an_unknown_key_is_refused(store: KeyStore, trader: ApiKey) -> None:
    headers = signed_headers(("tfk_" + "x" * 24, trader.secret), NOW, "POST", PATH, BODY)
    error = _refused(store, headers)
    assert (error.status, error.code) == (401, "unknown_key")
    assert KEY_HEADER in error.detail


@pytest.mark.parametrize("text", ["abc", "1.5e12", "-1", "+1795000000000", " 1795000000000", "١٢"])
def test_a_timestamp_that_is_not_integer_milliseconds_is_refused(
    store: KeyStore, trader: ApiKey, text: str
) -> None:
    headers = signed_headers(trader, NOW, "POST", PATH, BODY)
    headers[TIMESTAMP_HEADER] = text
    error = _refused(store, headers)
    assert (error.status, error.code) == (401, "bad_timestamp")
    assert TIMESTAMP_HEADER in error.detail


@pytest.mark.parametrize(
    ("skew", "allowed"),
    [(0, True), (RECV_WINDOW_MS, True), (-RECV_WINDOW_MS, True), (5_001, False), (-5_001, False)],
)
def test_the_receive_window_is_5000_ms_either_way_inclusive(
    store: KeyStore, trader: ApiKey, skew: int, allowed: bool
) -> None:
    """The request's timestamp is ``NOW + skew``; the server's clock is ``NOW``."""
    headers = signed_headers(trader, NOW + skew, "POST", PATH, BODY)
    if allowed:
        assert _auth(store, headers) == trader
    else:
        error = _refused(store, headers)
        assert (error.status, error.code) == (401, "stale_timestamp")
        assert TIMESTAMP_HEADER in error.detail
        assert "5000 ms" in error.detail


def test_a_revoked_key_is_refused_at_once(store: KeyStore, trader: ApiKey) -> None:
    headers = signed_headers(trader, NOW, "POST", PATH, BODY)
    assert store.revoke(trader.key)
    assert _refused(store, headers).code == "unknown_key"


@pytest.mark.parametrize(
    ("granted", "needed", "allowed"),
    [
        ("read", "read", True),
        ("read", "trade", False),
        ("read", "admin", False),
        ("trade", "read", True),
        ("trade", "trade", True),
        ("trade", "admin", False),
        ("admin", "read", True),
        ("admin", "trade", True),
        ("admin", "admin", True),
    ],
)
def test_scope_implication(store: KeyStore, granted: str, needed: str, allowed: bool) -> None:
    api_key = store.create("A", (granted,), now_ms=NOW)
    headers = signed_headers(api_key, NOW, "GET", "/v1/account", b"")
    if allowed:
        found = _auth(store, headers, method="GET", path="/v1/account", body=b"", scope=needed)
        assert found == api_key
    else:
        error = _refused(store, headers, method="GET", path="/v1/account", body=b"", scope=needed)
        assert (error.status, error.code) == (403, "insufficient_scope")
        assert repr(needed) in error.detail


def test_an_unknown_endpoint_scope_is_a_programming_error(store: KeyStore, trader: ApiKey) -> None:
    headers = signed_headers(trader, NOW, "POST", PATH, BODY)
    with pytest.raises(ValueError, match="scope: 'cancel'"):
        _auth(store, headers, scope="cancel")


def test_auth_error_carries_status_code_and_detail() -> None:
    error = AuthError(403, "insufficient_scope", "TF-API-KEY: needs 'admin'")
    assert str(error) == "insufficient_scope: TF-API-KEY: needs 'admin'"


# --- the key store ---------------------------------------------------------------------------


def test_new_keys_are_read_only_and_well_formed(store: KeyStore) -> None:
    api_key = store.create("A", now_ms=NOW)
    assert api_key.scopes == frozenset({"read"})
    assert api_key.key.startswith("tfk_")
    assert len(api_key.key) == 28
    assert len(api_key.secret) >= 43
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert set(api_key.key[4:]) <= allowed
    assert set(api_key.secret) <= allowed
    assert api_key.created_ts == NOW
    assert api_key.secret not in repr(api_key)


def test_keys_are_unique(store: KeyStore) -> None:
    made = [store.create("A") for _ in range(50)]
    assert len({k.key for k in made}) == len({k.secret for k in made}) == 50


@pytest.mark.parametrize(
    ("account", "scopes", "message"),
    [
        ("", ("read",), "account: must be a non-empty string"),
        ("  ", ("read",), "account: must be a non-empty string"),
        (" A", ("read",), "account: must not start or end with spaces"),
        ("A\n", ("read",), "account: must not start or end with spaces"),
        ("A" * 65, ("read",), "account: must be printable, at most 64"),
        ("A", ("read", "withdraw"), "scopes: unknown scope 'withdraw'; each must be one of"),
        ("A", (), "scopes: must name at least one of read, trade, admin"),
    ],
)
def test_create_names_the_field_and_the_rule(
    store: KeyStore, account: str, scopes: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        store.create(account, scopes)
    assert store.list() == []


def test_a_single_string_is_one_scope(store: KeyStore) -> None:
    assert store.create("A", "trade").scopes == frozenset({"trade"})


def test_keys_survive_reopening_the_file(db_path: Path) -> None:
    first = KeyStore(db_path)
    made = first.create("A", ("trade", "read"), now_ms=NOW)
    first.close()
    again = KeyStore(db_path)
    try:
        assert again.get(made.key) == made
        assert again.list() == [made]
    finally:
        again.close()


def test_a_new_database_file_is_mode_0600(db_path: Path) -> None:
    store = KeyStore(db_path)
    store.create("A")
    store.close()
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    for companion in (Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        if companion.exists():
            assert stat.S_IMODE(companion.stat().st_mode) & 0o077 == 0


def test_an_existing_readable_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "exchange.db"
    journal = SqliteJournal(path)
    journal.append(['{"type":"deposit"}'])
    os.chmod(path, 0o644)
    store = KeyStore(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        store.create("A")
        assert journal.last_seq() == 1  # the journal's tables are untouched, and it still works
        assert journal.append(['{"type":"withdraw"}']) == 2
    finally:
        store.close()
        journal.close()


def test_the_store_shares_the_journal_file_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "exchange.db"
    store = KeyStore(path)
    store.create("A")
    store.close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert "api_keys" in tables
    finally:
        db.close()


def test_revoke(store: KeyStore) -> None:
    kept = store.create("A", now_ms=NOW)
    gone = store.create("A", now_ms=NOW + 1)
    assert store.revoke(gone.key) is True
    assert store.revoke(gone.key) is False
    assert store.revoke("tfk_nothing") is False
    assert store.get(gone.key) is None
    assert store.list() == [kept]


def test_revoking_erases_the_secret(store: KeyStore, db_path: Path) -> None:
    gone = store.create("A")
    store.revoke(gone.key)
    db = sqlite3.connect(db_path)
    try:
        row = db.execute(
            "SELECT secret, revoked_ts FROM api_keys WHERE key = ?", (gone.key,)
        ).fetchone()
    finally:
        db.close()
    assert row[0] == ""
    assert row[1] is not None


def test_revocation_in_another_connection_is_seen_at_once(store: KeyStore, db_path: Path) -> None:
    api_key = store.create("A")
    other = KeyStore(db_path)
    try:
        assert other.revoke(api_key.key)
    finally:
        other.close()
    assert store.get(api_key.key) is None


def test_list_filters_by_account_oldest_first(store: KeyStore) -> None:
    a2 = store.create("A", now_ms=NOW + 2)
    b1 = store.create("B", now_ms=NOW + 1)
    a1 = store.create("A", now_ms=NOW)
    assert store.list() == [a1, b1, a2]
    assert store.list("A") == [a1, a2]
    assert store.list("C") == []


def test_concurrent_creates_from_threads(store: KeyStore) -> None:
    def make() -> None:
        for _ in range(20):
            store.create("A")

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(store.list("A")) == 80


def test_scopes_constant() -> None:
    assert SCOPES == ("read", "trade", "admin")


# --- token buckets ---------------------------------------------------------------------------


def test_a_bucket_starts_full_and_allows_its_burst() -> None:
    bucket = TokenBucket(rate_per_s=2.0, burst=4)
    assert [bucket.take(10.0) for _ in range(4)] == [0.0] * 4
    assert bucket.take(10.0) == pytest.approx(0.5)


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    bucket = TokenBucket(rate_per_s=4.0, burst=2)
    assert bucket.take(0.0, cost=2) == 0.0
    assert bucket.take(0.0) == pytest.approx(0.25)
    assert bucket.take(0.25) == 0.0  # one token back after 1/4 s
    assert bucket.take(0.25) == pytest.approx(0.25)
    assert bucket.available(100.0) == 2.0  # never more than the burst
    assert bucket.take(100.0, cost=2) == 0.0
    assert bucket.take(100.0) == pytest.approx(0.25)


def test_retry_after_is_the_time_until_enough_tokens() -> None:
    bucket = TokenBucket(rate_per_s=10.0, burst=10)
    assert bucket.take(0.0, cost=8) == 0.0
    assert bucket.take(0.0, cost=5) == pytest.approx(0.3)  # 2 there, 3 missing at 10/s
    assert bucket.take(0.1, cost=5) == pytest.approx(0.2)  # a refusal takes nothing
    assert bucket.take(0.3, cost=5) == 0.0


def test_float_refill_counts_a_whole_token() -> None:
    bucket = TokenBucket(rate_per_s=50.0, burst=1)
    now = 1_000.0
    assert bucket.take(now) == 0.0
    for _ in range(100):
        now += 0.02
        assert bucket.take(now) == 0.0


def test_a_clock_going_backwards_refills_nothing() -> None:
    bucket = TokenBucket(rate_per_s=1.0, burst=1)
    assert bucket.take(10.0) == 0.0
    assert bucket.take(5.0) == pytest.approx(1.0)
    assert bucket.take(10.5) == pytest.approx(0.5)
    assert bucket.take(11.0) == 0.0


@pytest.mark.parametrize(
    ("rate", "burst", "cost", "message"),
    [
        (0.0, 1, 1, "rate_per_s: must be a positive number"),
        (float("inf"), 1, 1, "rate_per_s: must be a positive number"),
        (1.0, 0, 1, "burst: must be at least 1"),
        (1.0, 2, 3, "cost: must be between 0 and the burst 2"),
        (1.0, 2, -1, "cost: must be between 0 and the burst 2"),
    ],
)
def test_bucket_arguments_are_checked(rate: float, burst: int, cost: float, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}"):
        TokenBucket(rate, burst).take(0.0, cost)


# --- the rate limiter ------------------------------------------------------------------------


def test_default_budgets_are_separate_per_key_and_budget() -> None:
    limiter = RateLimiter()
    assert [limiter.check("k1", "orders", 0.0) for _ in range(100)] == [0.0] * 100
    assert limiter.check("k1", "orders", 0.0) == pytest.approx(1 / 50)
    assert [limiter.check("k1", "queries", 0.0) for _ in range(40)] == [0.0] * 40
    assert limiter.check("k1", "queries", 0.0) == pytest.approx(1 / 20)
    assert limiter.check("k2", "orders", 0.0) == 0.0
    assert limiter.limit("orders") == 100
    assert limiter.limit("queries") == 40


def test_remaining_for_a_header() -> None:
    limiter = RateLimiter({"orders": (10.0, 5)})
    assert limiter.remaining("k", "orders", 0.0) == 5  # untracked: the full burst
    assert len(limiter) == 0  # and looking did not track it
    for _ in range(3):
        limiter.check("k", "orders", 0.0)
    assert limiter.remaining("k", "orders", 0.0) == 2
    assert limiter.remaining("k", "orders", 0.15) == 3  # 1.5 tokens back: whole ones count
    assert limiter.remaining("k", "orders", 60.0) == 5


def test_an_unknown_budget_is_named() -> None:
    limiter = RateLimiter()
    with pytest.raises(ValueError, match="^budget: 'withdrawals' is not one of orders, queries"):
        limiter.check("k", "withdrawals", 0.0)
    with pytest.raises(ValueError, match="^budget:"):
        limiter.remaining("k", "withdrawals", 0.0)


def test_the_least_recently_used_key_is_forgotten_beyond_the_bound() -> None:
    limiter = RateLimiter({"orders": (1.0, 1)}, max_keys=3)
    for key in ("a", "b", "c"):
        assert limiter.check(key, "orders", 0.0) == 0.0
    assert limiter.check("a", "orders", 0.0) > 0  # "a" is now the most recently used
    assert limiter.check("d", "orders", 0.0) == 0.0  # evicts "b"
    assert len(limiter) == 3
    assert limiter.remaining("b", "orders", 0.0) == 1  # forgotten: full again
    assert limiter.remaining("a", "orders", 0.0) == 0  # kept
    assert limiter.remaining("c", "orders", 0.0) == 0


def test_the_default_bound_is_10000_keys() -> None:
    limiter = RateLimiter()
    for index in range(10_050):
        limiter.check(f"k{index}", "queries", 0.0)
    assert len(limiter) == 10_000
    assert limiter.remaining("k0", "queries", 0.0) == 40  # the oldest were forgotten
    assert limiter.remaining("k10049", "queries", 0.0) == 39


def test_a_fresh_limiter_given_to_the_service_is_the_one_it_uses(tmp_path: Path) -> None:
    # a RateLimiter with no keys yet is falsy (it has a length): it must still be used
    from tokenfutures.service.context import Service

    limiter = RateLimiter({"orders": (500.0, 1000), "queries": (200.0, 400)})
    assert len(limiter) == 0
    service = Service(None, None, limiter=limiter)  # type: ignore[arg-type]
    assert service.limiter is limiter
