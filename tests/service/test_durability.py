"""Durability and recovery of a real server process on a real SQLite journal.

- a graceful restart rebuilds exactly what clients saw (every order, fill, position, balance,
  book and trade), and ``tokenfutures replay --db`` prints the state hash the restarted
  server prints;
- a second writer on the same file is refused;
- the crash test: two accounts send signed orders (and some cancels) while the server is
  killed with SIGKILL at seeded random points, then restarted on the same file. Every order
  a client was told about is there after the restart, with what it was told; every
  acknowledged cancel too; nothing refused by the rate limit or never sent is; an order whose
  answer was lost in the crash is placed at most once when retried with its client order id;
  and the state hash the restarted server prints equals ``tokenfutures replay --db``.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tokenfutures.client import ApiError

from .harness import Contract, Exchange, Trader, contracts, with_backoff

# uvicorn shuts down gracefully on SIGTERM, then re-raises the signal: exit status -15
GRACEFUL = {0, -signal.SIGTERM}


def _views(traders: list[Trader], listed: list[Contract], exchange: Exchange) -> dict[str, Any]:
    """Everything the API shows about these accounts and contracts."""
    public = exchange.client()
    seen: dict[str, Any] = {
        "instruments": public.instruments(),
        "settlements": public.request("GET", "/v1/settlements", signed=False),
    }
    for c in listed:
        seen[f"book {c.symbol}"] = public.book(c.symbol, depth=500)
        seen[f"trades {c.symbol}"] = public.trades(c.symbol, limit=1000)
    for t in traders:
        client = t.client
        seen[t.account] = {
            "orders": client.orders("all"),
            "open": client.orders("open"),
            "fills": client.fills(limit=1000),
            "positions": client.positions(),
            "balances": client.balances(),
        }
    return seen


def _without_seq(seen: dict[str, Any]) -> dict[str, Any]:
    return {k: ({**v, "seq": None} if k.startswith("book ") else v) for k, v in seen.items()}


def _reconnect(exchange: Exchange, traders: list[Trader]) -> list[Trader]:
    """The same keys, with clients of the server's new address."""
    return [
        Trader(t.account, t.key, t.secret, exchange.client(t.key, t.secret, timeout=5.0))
        for t in traders
    ]


def test_restart_recovers_the_same_state(exchange: Exchange) -> None:
    assert exchange.last_start is not None
    assert exchange.last_start.commands == 0
    empty_hash = exchange.last_start.state_hash
    listed = contracts(exchange.url)[:2]
    one, two = listed
    alice, bob = exchange.account("alice"), exchange.account("bob")
    a, b = alice.client, bob.client
    a.place_order(one.symbol, "buy", 5, one.price(-1), client_order_id="a1")
    a.place_order(one.symbol, "buy", 3, one.price(-2), client_order_id="a2")
    a.amend_order(client_order_id="a2", quantity=2)
    a.place_order(two.symbol, "sell", 4, two.price(2), client_order_id="a3")
    b.place_order(one.symbol, "sell", 6, one.price(-2), client_order_id="b1")  # trades 5 + 1
    b.place_order(two.symbol, "buy", 1, two.price(2), client_order_id="b2", time_in_force="IOC")
    b.place_order(two.symbol, "buy", 2, two.price(-3), client_order_id="b3")
    b.cancel_order(client_order_id="b3")
    with pytest.raises(ApiError) as refused:
        b.place_order(one.symbol, "buy", 1, one.above_limit(), client_order_id="b4")
    before = _views([alice, bob], listed, exchange)
    assert before["alice"]["fills"]
    assert before["bob"]["positions"]

    assert exchange.stop() in GRACEFUL
    replayed = exchange.replay()
    assert replayed["money_conserved"] is True
    assert replayed["commands"] == replayed["last_seq"] > 0
    started = exchange.start()
    assert started.state_hash == replayed["state_hash"] != empty_hash
    assert started.commands == replayed["commands"]

    alice, bob = _reconnect(exchange, [alice, bob])
    after = _views([alice, bob], listed, exchange)
    assert after == before

    # idempotency by client order id survives the restart
    again = alice.client.place_order(one.symbol, "buy", 5, one.price(-1), client_order_id="a1")
    assert again["duplicate"] is True
    assert again["order_id"] == before["alice"]["orders"][0]["order_id"]
    with pytest.raises(ApiError) as refused_again:
        bob.client.place_order(one.symbol, "buy", 1, one.price(0), client_order_id="b4")
    assert (refused_again.value.status, refused_again.value.reason) == (
        refused.value.status,
        refused.value.reason,
    )
    # the retries are journaled (so the books' seq moves on) but change nothing else
    assert _without_seq(_views([alice, bob], listed, exchange)) == _without_seq(after)


def test_restart_from_a_snapshot_equals_the_full_replay(exchange: Exchange) -> None:
    listed = contracts(exchange.url)[:1]
    (c,) = listed
    traders = [exchange.account(), exchange.account()]
    admin_key = exchange.create_key(traders[0].account, "admin")
    admin = exchange.client(admin_key["key"], admin_key["secret"])
    for i in range(6):
        traders[i % 2].client.place_order(c.symbol, "buy", 2, c.price(-(i % 3)))
        traders[(i + 1) % 2].client.place_order(c.symbol, "sell", 1, c.price(-2))
    taken = admin.request("POST", "/v1/admin/snapshot")
    traders[0].client.place_order(c.symbol, "sell", 3, c.price(2))  # after the snapshot
    before = _views(traders, listed, exchange)
    assert exchange.stop() in GRACEFUL
    full = exchange.replay()  # the whole journal, from the first command
    started = exchange.start()
    assert f"the snapshot at {taken['seq']} restored" in exchange.log_text()
    assert started.commands == full["commands"] - taken["seq"]
    assert started.state_hash == full["state_hash"]
    assert _views(_reconnect(exchange, traders), listed, exchange) == before


def test_a_second_writer_on_the_same_journal_is_refused(exchange: Exchange) -> None:
    trader = exchange.account()
    seq = exchange.journal_last_seq()
    proc, log = exchange.spawn()
    try:
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert code != 0
    assert "being written by another process" in log.read_text()
    assert exchange.journal_last_seq() == seq
    assert trader.client.balances()["account"] == trader.account  # the first one still serves


def test_sigkill_when_idle_loses_nothing(exchange: Exchange) -> None:
    listed = contracts(exchange.url)[:1]
    (c,) = listed
    traders = [exchange.account(), exchange.account()]
    for i in range(10):
        maker, taker = traders[i % 2], traders[(i + 1) % 2]
        maker.client.place_order(c.symbol, "buy", 2, c.price(-(i % 3)))
        taker.client.place_order(c.symbol, "sell", 1, c.price(-2))
    before = _views(traders, listed, exchange)
    exchange.kill()
    started = exchange.start()
    assert started.state_hash == exchange.replay()["state_hash"]
    assert _views(_reconnect(exchange, traders), listed, exchange) == before


# --- the crash test --------------------------------------------------------------------------


@dataclass
class Told:
    """What one account's client was told, and what it does not know."""

    acked: dict[str, dict[str, Any]] = field(default_factory=dict)  # client id -> the order
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # client id -> request
    cancelled: set[str] = field(default_factory=set)  # cancels acknowledged
    rate_limited: set[str] = field(default_factory=set)  # 429: never sequenced
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)  # no answer: the server died


MAX_ORDERS_PER_CYCLE = 80  # per account; under the orders burst of 100
CYCLE_SECONDS = 10.0


def _sender(
    trader: Trader,
    told: Told,
    contract: Contract,
    cycle: int,
    rng: random.Random,
    stop: threading.Event,
    acks: list[int],
) -> None:
    deadline = time.monotonic() + CYCLE_SECONDS
    for i in range(MAX_ORDERS_PER_CYCLE):
        if stop.is_set() or time.monotonic() > deadline:
            return
        cid = f"c{cycle}-{i}"
        params = {
            "symbol": contract.symbol,
            "side": rng.choice(["buy", "sell"]),
            "quantity": rng.randint(1, 5),
            "price": contract.price(rng.randint(-3, 3)),
            "client_order_id": cid,
        }
        told.params[cid] = params
        try:
            order = trader.client.place_order(**params)
        except ApiError as error:
            if error.status == 429:
                told.rate_limited.add(cid)
                time.sleep(min(error.retry_after or 0.1, 1.0))
            else:
                told.refused[cid] = (error.status, error.reason)
            continue
        except httpx.HTTPError:
            told.unknown.add(cid)
            return
        told.acked[cid] = order
        acks.append(1)
        if rng.random() < 0.2:  # cancel one of this account's acknowledged orders
            target = rng.choice(sorted(told.acked))
            try:
                trader.client.cancel_order(client_order_id=target)
            except ApiError:
                pass  # filled or cancelled already, or rate limited: no acknowledgement
            except httpx.HTTPError:
                return
            else:
                told.cancelled.add(target)


def _check_after_restart(trader: Trader, told: Told, cycle: int) -> None:
    client = trader.client
    found = {o["client_order_id"]: o for o in with_backoff(lambda: client.orders("all"))}
    for cid, ack in told.acked.items():
        assert cid in found, f"{trader.account}: acknowledged order {cid} lost"
        now = found[cid]
        for name in ("order_id", "symbol", "side", "price", "quantity", "created"):
            assert now[name] == ack[name], (trader.account, cid, name)
        assert now["filled_quantity"] >= ack["filled_quantity"], (trader.account, cid)
    for cid in told.cancelled:
        assert found[cid]["status"] == "cancelled", (trader.account, cid, found[cid])
    for cid in told.rate_limited | set(told.refused):
        assert cid not in found, f"{trader.account}: refused order {cid} exists"
    invented = set(found) - set(told.params)
    assert not invented, f"{trader.account}: orders never sent: {sorted(invented)}"
    for cid, ack in told.acked.items():
        if cid.startswith(f"c{cycle}-"):
            by_id = with_backoff(lambda c=cid: client.get_order(client_order_id=c))
            assert by_id["order_id"] == ack["order_id"], (trader.account, cid)

    # answers lost in the crash: a retry with the same client order id places it at most once
    for cid in sorted(told.unknown):
        retry = with_backoff(lambda c=cid: client.place_order(**told.params[c]))
        if cid in found:
            assert retry["duplicate"] is True, (trader.account, cid)
            assert retry["order_id"] == found[cid]["order_id"]
        else:
            assert retry["duplicate"] is False, (trader.account, cid)
        told.acked[cid] = found.get(cid, retry)
    told.unknown.clear()
    orders = with_backoff(lambda: client.orders("all"))
    ids = [o["client_order_id"] for o in orders]
    assert len(ids) == len(set(ids)), f"{trader.account}: a client order id used twice"


def _crash_cycles(exchange: Exchange, cycles: int, seed: int, budget_s: float) -> None:
    rng = random.Random(seed)
    deadline = time.monotonic() + budget_s
    contract = contracts(exchange.url)[0]
    traders = [exchange.account("crash-a"), exchange.account("crash-b")]
    told = {t.account: Told() for t in traders}
    for cycle in range(cycles):
        assert time.monotonic() < deadline, f"seed {seed}: out of time after {cycle} cycles"
        traders = _reconnect(exchange, traders)
        stop, acks = threading.Event(), []
        threads = [
            threading.Thread(
                target=_sender,
                args=(t, told[t.account], contract, cycle, random.Random(rng.random()), stop, acks),
                daemon=True,
            )
            for t in traders
        ]
        target = rng.randint(1, 60)
        for thread in threads:
            thread.start()
        wait_until = time.monotonic() + CYCLE_SECONDS
        while len(acks) < target and time.monotonic() < wait_until:
            if not any(t.is_alive() for t in threads):
                break
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.01))
        exchange.kill()
        stop.set()
        for thread in threads:
            thread.join(timeout=CYCLE_SECONDS)
            assert not thread.is_alive(), "a sender did not stop"

        replayed = exchange.replay()
        assert replayed["money_conserved"] is True, f"seed {seed} cycle {cycle}"
        started = exchange.start()
        assert started.state_hash == replayed["state_hash"], f"seed {seed} cycle {cycle}"
        assert started.commands == replayed["commands"], f"seed {seed} cycle {cycle}"
        traders = _reconnect(exchange, traders)
        assert traders[0].client.book(contract.symbol)["seq"] == replayed["last_seq"]
        for t in traders:
            _check_after_restart(t, told[t.account], cycle)
    assert sum(len(t.acked) for t in told.values()) > cycles, "the load never got going"


def test_crash_recovery_three_sigkills(exchange: Exchange) -> None:
    _crash_cycles(exchange, cycles=3, seed=20260101, budget_s=60.0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7])
def test_crash_recovery_twenty_five_sigkills(exchange: Exchange, seed: int) -> None:
    _crash_cycles(exchange, cycles=25, seed=seed, budget_s=300.0)
