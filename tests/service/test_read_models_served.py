"""The read models as tables of the served exchange's own database: what the API shows is in
the SQLite file shortly after, and stays there across a restart."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from .harness import Exchange, contracts


def _rows(exchange: Exchange, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{exchange.db}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def _eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the read store did not catch up in time"
        time.sleep(0.05)


def test_orders_trades_and_positions_reach_the_tables(exchange: Exchange) -> None:
    listed = contracts(exchange.url)[0]
    alice, bob = exchange.account(), exchange.account()
    placed = alice.client.place_order(
        listed.symbol, "buy", 3, listed.price(0), client_order_id="t1"
    )
    bob.client.place_order(listed.symbol, "sell", 2, listed.price(0))

    def written() -> bool:
        return _rows(exchange, "SELECT quantity, price FROM trades") == [(2, listed.price(0))]

    _eventually(written)
    order = _rows(
        exchange,
        f"SELECT client_order_id, status, filled_quantity, leaves_quantity FROM orders "
        f"WHERE order_id = {placed['order_id']}",
    )
    assert order == [("t1", "partially_filled", 2, 1)]
    positions = dict(_rows(exchange, "SELECT account, quantity FROM positions"))
    assert positions == {alice.account: 2, bob.account: -2}

    exchange.stop()
    exchange.start()  # the store resumes from its position: nothing is written twice
    assert "read models" in exchange.log_text()
    assert _rows(exchange, "SELECT count(*) FROM trades") == [(1,)]
    (seq,) = _rows(exchange, "SELECT seq FROM read_store_position")[0]
    assert seq == exchange.journal_last_seq()
