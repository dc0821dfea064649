"""ISO-8601 UTC timestamps at the edge, integer microseconds inside."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_ts(text: str) -> int:
    """Microseconds since the epoch from an ISO-8601 timestamp with an offset (``Z`` for UTC)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("must carry a UTC offset, e.g. 2026-11-23T01:30:00Z")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def format_ts(micros: int) -> str:
    """ISO-8601 UTC with a ``Z``; the fraction only when there is one."""
    moment = _EPOCH + timedelta(microseconds=micros)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}"
    return text + "Z"


def ts_date(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)
