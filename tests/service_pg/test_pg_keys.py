"""The key store's contract on both backends, and what only the PostgreSQL store has."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from tokenfutures.service.keys import KEY_PREFIX, ApiKey
from tokenfutures.service.pg_keys import PostgresKeyStore

from .conftest import Keys

OpenKeys = Callable[[], Keys]


def test_a_key_round_trips(open_keys: OpenKeys) -> None:
    store = open_keys()
    made: ApiKey = store.create("Alice", now_ms=1_000)
    assert made.key.startswith(KEY_PREFIX)
    assert len(made.key) == len(KEY_PREFIX) + 24
    assert len(made.secret) == 43
    assert made.scopes == frozenset({"read"})  # read-only unless granted more
    assert store.get(made.key) == made
    trader = store.create("Bob", ["trade", "read"], now_ms=2_000)
    assert store.get(trader.key) == trader
    assert store.get("tfk_missing") is None
    store.close()
    again = open_keys()  # durable: a new store (a new process) sees both
    assert again.list() == [made, trader]
    assert again.list("Bob") == [trader]
    assert again.list("Nobody") == []


def test_revoking_takes_effect_at_once_everywhere(open_keys: OpenKeys) -> None:
    one, other = open_keys(), open_keys()
    made = one.create("Alice", ("read", "trade", "admin"))
    assert other.get(made.key) == made
    assert other.revoke(made.key) is True
    assert one.get(made.key) is None  # nothing cached
    assert one.list() == []
    assert one.revoke(made.key) is False


def test_ties_list_by_key_bytewise(open_keys: OpenKeys) -> None:
    store = open_keys()
    made = [store.create("A", now_ms=5) for _ in range(12)]
    assert [k.key for k in store.list()] == sorted(k.key for k in made)


@pytest.mark.parametrize(
    ("account", "scopes", "message"),
    [
        ("", ("read",), "account"),
        (" A", ("read",), "account"),
        ("A", (), "scopes"),
        ("A", ("read", "withdraw"), "unknown scope 'withdraw'"),
    ],
)
def test_invalid_keys_are_refused_and_not_stored(
    open_keys: OpenKeys, account: str, scopes: tuple[str, ...], message: str
) -> None:
    store = open_keys()
    with pytest.raises(ValueError, match=message):
        store.create(account, scopes)
    assert store.list() == []


def test_a_revoked_key_keeps_its_row_without_its_secret(pg_url: str) -> None:
    store = PostgresKeyStore(pg_url)
    try:
        made = store.create("Alice", now_ms=1_000)
        assert store.revoke(made.key, now_ms=2_000)
    finally:
        store.close()
    with psycopg.connect(pg_url) as conn:
        row = conn.execute(
            "SELECT secret, account, revoked_ts FROM api_keys WHERE key = %s", (made.key,)
        ).fetchone()
    assert row == ("", "Alice", 2_000)


def test_a_dropped_connection_is_replaced_on_the_next_call(pg_url: str) -> None:
    store = PostgresKeyStore(pg_url)
    try:
        made = store.create("Alice")
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(psycopg.OperationalError):
            store.get(made.key)  # the call that meets the dead connection fails...
        assert store.get(made.key) == made  # ...and the next one reconnects
    finally:
        store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.get(made.key)


def test_listed_keys_do_not_print_their_secrets(pg_url: str) -> None:
    store = PostgresKeyStore(pg_url)
    try:
        made = store.create("Alice")
        assert made.secret not in repr(store.list())
        assert store.location == pg_url  # no password in this URL, nothing to hide
    finally:
        store.close()
