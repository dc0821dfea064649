"""The default waterfall (docs/clearing.md, "Margin-call deadline, liquidation, default"): who
bears a defaulter's deficit and in what order, and pro-rata shares in whole cents."""

from __future__ import annotations

import pytest

from tokenfutures.domain.clearing.waterfall import Allocation, allocate, pro_rata

CAP_BP = 27_500  # assessments capped at 275 % of each member's contribution

# --- pro rata: floor of each share, the remainder to the largest fractions, ties by name -----

PRO_RATA: dict[str, tuple[int, dict[str, int], dict[str, int]]] = {
    "exact": (60, {"a": 100, "b": 200}, {"a": 20, "b": 40}),
    # 10 x 1/7 = 1.43, 10 x 2/7 = 2.86, 10 x 4/7 = 5.71: floors 1 + 2 + 5 = 8, the two cents
    # left go to b (.86) then c (.71)
    "largest-remainder": (10, {"a": 100, "b": 200, "c": 400}, {"a": 1, "b": 3, "c": 6}),
    # 100 / 3 = 33.33 each: the one cent left goes to the first name
    "tie-by-name": (100, {"c": 100, "a": 100, "b": 100}, {"a": 34, "b": 33, "c": 33}),
    # 2 cents over 3 equal members: a and b
    "two-ties-by-name": (2, {"b": 5, "c": 5, "a": 5}, {"a": 1, "b": 1}),
    # more than the weights: each gives at most its weight
    "above-the-total": (500, {"a": 100, "b": 200}, {"a": 100, "b": 200}),
    "equal-to-the-total": (300, {"a": 100, "b": 200}, {"a": 100, "b": 200}),
    # 7 x 3/10 = 2.1, 7 x 7/10 = 4.9: floors 2 + 4, the cent goes to b (.9), not a
    "remainder-not-weight": (7, {"a": 30, "b": 70}, {"a": 2, "b": 5}),
    # 5 x 9/10 = 4.5 and 5 x 1/10 = 0.5: a tie of fractions, by name
    "tie-of-fractions": (5, {"z": 90, "y": 10}, {"y": 1, "z": 4}),
}  # fmt: skip


@pytest.mark.parametrize(("amount", "weights", "shares"), PRO_RATA.values(), ids=PRO_RATA)
def test_pro_rata(amount: int, weights: dict[str, int], shares: dict[str, int]) -> None:
    result = pro_rata(amount, weights)
    assert {name: share for name, share in result.items() if share} == shares
    assert sum(result.values()) == min(amount, sum(weights.values()))


@pytest.mark.parametrize("amount", [1, 2, 3, 99, 100, 101, 997, 33_999, 34_000, 1_000_003])
def test_pro_rata_sums_exactly_and_each_share_is_within_a_cent(amount: int) -> None:
    weights = {"a": 3_000, "b": 7_000, "c": 11_000, "d": 13_000}
    total = sum(weights.values())
    result = pro_rata(amount, weights)
    assert sum(result.values()) == min(amount, total)
    capped = min(amount, total)
    for name, weight in weights.items():
        exact = capped * weight / total
        assert exact - 1 < result.get(name, 0) < exact + 1


@pytest.mark.parametrize(("amount", "weights"), [(0, {"a": 1}), (-5, {"a": 1}), (5, {}),
                                                 (5, {"a": 0})])  # fmt: skip
def test_pro_rata_of_nothing_is_nothing(amount: int, weights: dict[str, int]) -> None:
    assert sum(pro_rata(amount, weights).values()) == 0


# --- allocate: the steps in order ------------------------------------------------------------

# M1 defaults. Funds: M1 100, M2 200, M3 100; house capital 50. Assessment caps: 275 % of
# M2's 200 = 550 and of M3's 100 = 275.
FUNDS = {"M1": 100, "M2": 200, "M3": 100}
HOUSE = 50


def caps(contributions: dict[str, int]) -> dict[str, int]:
    """What each member may be assessed when nothing has been assessed yet: 275 %."""
    return {name: amount * CAP_BP // 10_000 for name, amount in contributions.items()}


def test_a_small_deficit_takes_only_the_defaulters_own_fund() -> None:
    assert allocate(60, "M1", FUNDS, HOUSE, caps(FUNDS)) == (
        [Allocation("guaranty_fund", "M1", 60)],
        0,
    )


def test_the_house_capital_comes_after_the_defaulters_fund() -> None:
    assert allocate(130, "M1", FUNDS, HOUSE, caps(FUNDS)) == (
        [Allocation("guaranty_fund", "M1", 100), Allocation("house_capital", "house", 30)],
        0,
    )


def test_other_funds_pro_rata_after_the_house_capital() -> None:
    # 150 goes to the first two steps; the 90 left is split 200 : 100 -> 60 and 30
    assert allocate(240, "M1", FUNDS, HOUSE, caps(FUNDS)) == (
        [
            Allocation("guaranty_fund", "M1", 100),
            Allocation("house_capital", "house", 50),
            Allocation("other_guaranty_funds", "M2", 60),
            Allocation("other_guaranty_funds", "M3", 30),
        ],
        0,
    )


def test_every_step_in_order_with_the_assessments_last() -> None:
    # 1,000: own fund 100, house 50, the other funds in full 200 + 100, then 550 assessed
    # against caps 550 : 275: 366.67 and 183.33 -> floors 366 + 183, the cent to M2 (.67)
    steps, unallocated = allocate(1_000, "M1", FUNDS, HOUSE, caps(FUNDS))
    assert steps == [
        Allocation("guaranty_fund", "M1", 100),
        Allocation("house_capital", "house", 50),
        Allocation("other_guaranty_funds", "M2", 200),
        Allocation("other_guaranty_funds", "M3", 100),
        Allocation("assessments", "M2", 367),
        Allocation("assessments", "M3", 183),
    ]
    assert unallocated == 0


def test_assessments_are_capped_and_the_rest_is_unallocated() -> None:
    # 2,000: 100 + 50 + 300 + caps 550 + 275 = 1,275 allocated, 725 left
    steps, unallocated = allocate(2_000, "M1", FUNDS, HOUSE, caps(FUNDS))
    assessed = {s.source: s.amount for s in steps if s.step == "assessments"}
    assert assessed == {"M2": 550, "M3": 275}
    assert unallocated == 725
    assert sum(s.amount for s in steps) + unallocated == 2_000


def test_the_defaulter_is_never_among_the_others() -> None:
    steps, _ = allocate(5_000, "M1", FUNDS, HOUSE, caps(FUNDS))
    assert [(s.step, s.source) for s in steps if s.source == "M1"] == [("guaranty_fund", "M1")]


def test_a_defaulter_without_a_fund_starts_at_the_house_capital() -> None:
    steps, unallocated = allocate(80, "M9", FUNDS, HOUSE, caps(FUNDS))
    # 50 from the house, 30 split 200 : 100 : 100 among M1, M2, M3 -> 7.5, 15, 7.5:
    # floors 7 + 15 + 7 = 29, the cent to the tie M1 before M3
    assert steps == [
        Allocation("house_capital", "house", 50),
        Allocation("other_guaranty_funds", "M1", 8),
        Allocation("other_guaranty_funds", "M2", 15),
        Allocation("other_guaranty_funds", "M3", 7),
    ]
    assert unallocated == 0


def test_no_house_capital_skips_that_step() -> None:
    steps, _ = allocate(130, "M1", FUNDS, 0, caps(FUNDS))
    assert [s.step for s in steps] == ["guaranty_fund", "other_guaranty_funds",
                                       "other_guaranty_funds"]  # fmt: skip
    assert sum(s.amount for s in steps) == 130


def test_members_with_empty_funds_bear_nothing() -> None:
    steps, unallocated = allocate(
        500, "M1", {"M1": 0, "M2": 0, "M3": 100}, 0, caps({"M1": 0, "M2": 0, "M3": 100})
    )
    # M3 alone: its fund 100, then assessed up to 275; 125 left
    assert steps == [
        Allocation("other_guaranty_funds", "M3", 100),
        Allocation("assessments", "M3", 275),
    ]
    assert unallocated == 125


def test_nothing_to_cover_allocates_nothing() -> None:
    assert allocate(0, "M1", FUNDS, HOUSE, caps(FUNDS)) == ([], 0)


def test_nothing_to_draw_on_leaves_it_all_unallocated() -> None:
    assert allocate(700, "M1", {}, 0, caps({})) == ([], 700)


def test_assessments_follow_what_is_left_of_each_cap_not_the_fund_balance() -> None:
    # M2's fund was drained by an earlier default, yet it may still be assessed: 550 of its
    # cap is left; M3 had 100 assessed already, so 175 of its 275 is left
    steps, unallocated = allocate(1_000, "M1", {"M1": 0, "M2": 0, "M3": 0}, 0,
                                  {"M2": 550, "M3": 175})  # fmt: skip
    assert steps == [Allocation("assessments", "M2", 550), Allocation("assessments", "M3", 175)]
    assert unallocated == 275
