"""Shared pytest set-up for the whole test suite.

Its presence puts ``tests/`` on ``sys.path`` (pytest's rootdir-conftest import mode), so
test modules can import the helper layer as ``from support.books import ...``.
"""

from __future__ import annotations

import pytest

from support.books import Venue


@pytest.fixture
def venue() -> Venue:
    """An exchange listing TKN2612 (reference 2.500, limits 2.300-2.700) in continuous trading."""
    return Venue()
