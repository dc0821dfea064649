"""The default waterfall: who bears a defaulter's deficit, in order (pure, integers).

After the defaulter's own margin (its cash, already spent when the deficit is measured):

1. ``guaranty_fund``: the defaulting member's own guaranty-fund contribution;
2. ``house_capital``: the clearing house's own capital committed to the waterfall;
3. ``other_guaranty_funds``: the other members' contributions, pro rata to their size;
4. ``assessments``: calls on the other members, pro rata to what each may still be assessed
   (its cap: a multiple of its contribution, less what earlier defaults assessed).

What is left after the last step is unallocated. Pro-rata shares are whole minor units: each
member gets the floor of its share, and the remainder goes one unit at a time to the largest
fractional parts (ties by member name), so the shares add up exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Allocation:
    step: str
    source: str  # "house" or a member
    amount: int


def pro_rata(amount: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Split ``amount`` (at most the sum of the weights) by weight, largest remainder."""
    total = sum(weights.values())
    if amount <= 0 or total <= 0:
        return {}
    amount = min(amount, total)
    shares = {name: amount * weight // total for name, weight in weights.items()}
    remainders = sorted(weights, key=lambda name: (-(amount * weights[name] % total), name))
    for name in remainders[: amount - sum(shares.values())]:
        shares[name] += 1
    return {name: share for name, share in sorted(shares.items()) if share}


def allocate(
    deficit: int,
    member: str,
    funds: Mapping[str, int],
    house_capital: int,
    assessable: Mapping[str, int],
) -> tuple[list[Allocation], int]:
    """The waterfall's allocations for ``member``'s ``deficit`` and what stays unallocated.

    ``funds``: every member's guaranty-fund balance; ``assessable``: what each member may
    still be assessed (the defaulting member's own entry is ignored).
    """
    steps: list[Allocation] = []
    remaining = deficit

    def take(step: str, source: str, available: int) -> None:
        nonlocal remaining
        amount = min(remaining, max(0, available))
        if amount > 0:
            steps.append(Allocation(step, source, amount))
            remaining -= amount

    take("guaranty_fund", member, funds.get(member, 0))
    take("house_capital", "house", house_capital)
    others = {name: balance for name, balance in funds.items() if name != member and balance > 0}
    for name, share in pro_rata(remaining, others).items():
        steps.append(Allocation("other_guaranty_funds", name, share))
        remaining -= share
    caps = {name: cap for name, cap in assessable.items() if name != member and cap > 0}
    for name, share in pro_rata(remaining, caps).items():
        steps.append(Allocation("assessments", name, share))
        remaining -= share
    return steps, remaining
