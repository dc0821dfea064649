"""Value types of the core: sides, order types, phases and the integer units.

Prices are integer ticks, quantities integer lots, money integer minor units
(cents for USD) and time integer microseconds since the Unix epoch (UTC).
Conversions from and to decimal strings live at the edges (``engine/codec.py``).
Enum values are stable wire names: they appear in JSON and never change.
"""

from __future__ import annotations

from enum import StrEnum

Ticks = int
Lots = int
MinorUnits = int
Micros = int

MICROS_PER_SECOND = 1_000_000
BASIS_POINTS = 10_000


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"


class TimeInForce(StrEnum):
    GFD = "GFD"
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class Phase(StrEnum):
    CLOSED = "closed"
    PRE_OPEN = "pre_open"
    CONTINUOUS = "continuous"
    HALTED = "halted"


class SelfTradePrevention(StrEnum):
    CANCEL_INCOMING = "cancel_incoming"
    CANCEL_RESTING = "cancel_resting"
    CANCEL_BOTH = "cancel_both"
