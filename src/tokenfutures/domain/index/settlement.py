"""Final settlement price: the average of the daily fixings over the settlement window.

The window (its days) comes from the contract specification. Rules:

- every day of the window needs a published fixing of the one index; a missing or
  unpublished day is refused (``SettlementError``): there is no silent fallback, the exchange
  applies its emergency procedure (rulebook) instead;
- when a day has several versions (corrections), the highest version is used; two different
  fixings with the same day and version are refused;
- the average is the sum of the values divided by the number of days, rounded half to even to
  the micro-USD. Rounding to the contract's tick is the clearing house's step, not this one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from tokenfutures.domain.index.aggregation import round_half_even
from tokenfutures.domain.index.fixing import Fixing


class SettlementError(ValueError):
    """The fixings cannot settle the window; the message says which day and why."""


def latest_versions(fixings: Iterable[Fixing]) -> dict[date, Fixing]:
    """One fixing per day: the highest version; conflicting equal versions are refused."""
    chosen: dict[date, Fixing] = {}
    for fixing in fixings:
        current = chosen.get(fixing.day)
        if current is None or fixing.version > current.version:
            chosen[fixing.day] = fixing
        elif fixing.version == current.version and fixing != current:
            raise SettlementError(
                f"{fixing.day.isoformat()}: two different fixings with version {fixing.version}"
            )
    return chosen


def final_settlement_price(fixings: Iterable[Fixing], window: Sequence[date]) -> int:
    """The average of the window's daily fixing values, micro-USD, rounded half to even."""
    if not window:
        raise SettlementError("window: must contain at least one day")
    if len(set(window)) != len(window):
        raise SettlementError("window: must not repeat a day")
    chosen = latest_versions(fixings)
    indices = {fixing.index for fixing in chosen.values()}
    if len(indices) > 1:
        raise SettlementError(f"fixings: must all be of one index, got {sorted(indices)}")
    total = 0
    for day in sorted(window):
        fixing = chosen.get(day)
        if fixing is None:
            raise SettlementError(f"{day.isoformat()}: no fixing for this day of the window")
        if fixing.value is None:
            raise SettlementError(
                f"{day.isoformat()}: the fixing was not published ({fixing.quality.value})"
            )
        total += fixing.value
    return round_half_even(total, len(window))
