"""ISO-8601 UTC timestamps at the edge, integer microseconds inside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# the range of times the exchange accepts: 1970 to the end of 2999, UTC
LATEST_TS = (datetime(3000, 1, 1, tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1) - 1


def parse_ts(text: str) -> int:
    """Microseconds since the epoch from an ISO-8601 timestamp with an offset (``Z`` for UTC)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("must carry a UTC offset, e.g. 2026-11-23T01:30:00Z")
    delta = moment - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if not 0 <= micros <= LATEST_TS:
        raise ValueError("must lie between 1970 and 2999 (UTC)")
    return micros


def format_ts(micros: int) -> str:
    """ISO-8601 UTC with a ``Z``; the fraction only when there is one."""
    moment = _EPOCH + timedelta(microseconds=micros)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def ts_date(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)
