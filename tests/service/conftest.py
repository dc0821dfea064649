"""Fixtures of the service tests: a real ``tokenfutures serve --sandbox`` process bound to
127.0.0.1 on a free port, its SQLite file under the test's temporary directory.

- ``exchange``: a fresh server for one test (restart it, kill it, replay its journal);
- ``shared_exchange``: one server for a whole module, for tests that only need their own
  accounts; ``contract`` hands each test a contract no other test of the module trades;
- ``make_trader``: a new sandbox account (USD 1,000,000) with a read/trade key and client.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from .harness import Contract, Exchange, Trader, contracts


@pytest.fixture
def exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    started = Exchange(tmp_path_factory.mktemp("exchange"))
    started.start()
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def shared_exchange(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exchange]:
    started = Exchange(tmp_path_factory.mktemp("shared"))
    started.start()
    try:
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def contract_pool(shared_exchange: Exchange) -> list[Contract]:
    return contracts(shared_exchange.url)


@pytest.fixture(scope="module")
def shared_contract(contract_pool: list[Contract]) -> Contract:
    """A contract that many tests of the module trade in (none asserts its whole book)."""
    return contract_pool.pop()


@pytest.fixture
def contract(contract_pool: list[Contract]) -> Contract:
    """A contract of the shared exchange that no other test of the module uses."""
    if not contract_pool:
        pytest.fail("the shared exchange ran out of contracts: use fewer tests per module")
    return contract_pool.pop(0)


@pytest.fixture
def make_trader(shared_exchange: Exchange) -> Callable[[], Trader]:
    def make() -> Trader:
        return shared_exchange.account()

    return make
