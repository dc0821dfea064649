"""The demo's bots, their accounts and their parameters (docs/demo.md has them as tables).

Every bot is an account of the member ``DEMO`` named after the bot, opened exempt from the
intraday opening cap (the demo trades around the clock, without ends of day) and funded
once. Months are counted from each product's front month (0). Prices are in ticks of the
contract, sizes in lots.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from tokenfutures.demo.quoting import MakerParams
from tokenfutures.demo.taking import SpeculatorParams

Role = Literal["maker", "hedger", "gpu_operator", "speculator"]

DEMO_MEMBER = "DEMO"
ADMIN_ACCOUNT = "demo-admin"  # holds the printed admin key (no money)
TRADER_ACCOUNT = "demo-trader"  # holds the printed read/trade key: a person trying the market
TRADER_DEPOSIT = "1000000.00"


@dataclass(frozen=True, slots=True)
class BotSpec:
    name: str  # the bot's account too
    role: Role
    deposit: str  # USD, paid in once when the account is opened
    what: str


BOTS: tuple[BotSpec, ...] = (
    BotSpec("mm-1", "maker", "10000000.00", "market maker: tightest quotes, every month"),
    BotSpec("mm-2", "maker", "10000000.00", "market maker: wider and larger, every month"),
    BotSpec("mm-3", "maker", "10000000.00", "market maker: widest and largest, first 6 months"),
    BotSpec("hedger", "hedger", "5000000.00", "AI company buying a strip of TKN months"),
    BotSpec("gpu-operator", "gpu_operator", "2000000.00", "GPU operator selling GPU months"),
    BotSpec("speculator", "speculator", "2000000.00", "random-walk view, takes liquidity"),
)

# --- market makers ---------------------------------------------------------------------------

MAKER_ORDER_RATE = 5.0  # orders (places, amends, cancels) a second, each maker
MAKER_ORDER_BURST = 80  # saved up: the first quotes of the whole curve go out at once
MAKER_STEP_SECONDS = (0.3, 0.7)  # between two looks at its orders (uniform jitter)

_MAKERS: Mapping[str, Mapping[str, MakerParams]] = {
    "mm-1": {
        "TKN": MakerParams(2, 2, 3, 4, 60, 10, 6, tolerance=2),
        "GPU": MakerParams(1, 1, 3, 5, 80, 20, 1),
    },
    "mm-2": {
        "TKN": MakerParams(4, 3, 3, 6, 60, 8, 8, tolerance=2),
        "GPU": MakerParams(1, 1, 2, 8, 80, 20, 1),
    },
    "mm-3": {
        "TKN": MakerParams(7, 5, 2, 10, 80, 10, 8, tolerance=3),
        "GPU": MakerParams(2, 1, 2, 12, 100, 25, 1),
    },
}
_MAKER_MONTHS = {"mm-1": 12, "mm-2": 12, "mm-3": 6}  # months quoted, from the front
_ANY_PRODUCT = MakerParams(1, 1, 2, 2, 20, 10, 1)


def maker_params(bot: str, product: str) -> MakerParams:
    return _MAKERS.get(bot, {}).get(product, _ANY_PRODUCT)


def maker_months(bot: str) -> int:
    return _MAKER_MONTHS.get(bot, 12)


# --- takers ----------------------------------------------------------------------------------

TAKER_ORDER_RATE = 2.0
TAKER_ORDER_BURST = 5


@dataclass(frozen=True, slots=True)
class StripSpec:
    product: str
    side: Literal["buy", "sell"]
    months: range  # counted from the front month
    target: int  # lots per month
    max_clip: int
    max_premium: int  # ticks
    step_seconds: tuple[float, float]


HEDGER = StripSpec("TKN", "buy", range(1, 7), 30, 4, 8, (2.0, 4.0))
GPU_OPERATOR = StripSpec("GPU", "sell", range(1, 7), 40, 5, 2, (2.0, 4.0))


@dataclass(frozen=True, slots=True)
class ViewSpec:
    """The speculator's view: fair value plus a walk within ``bound``, ``step`` at a time."""

    bound: int
    step: int


SPECULATOR: Mapping[str, SpeculatorParams] = {
    "TKN": SpeculatorParams(position_limit=20, max_clip=3, edge=0),
    "GPU": SpeculatorParams(position_limit=30, max_clip=4, edge=0),
}
SPECULATOR_VIEW: Mapping[str, ViewSpec] = {"TKN": ViewSpec(10, 2), "GPU": ViewSpec(2, 1)}
SPECULATOR_STEP_SECONDS = (0.4, 1.0)
_ANY_SPECULATOR = SpeculatorParams(position_limit=10, max_clip=2, edge=0)


def speculator_params(product: str) -> SpeculatorParams:
    return SPECULATOR.get(product, _ANY_SPECULATOR)


def speculator_view(product: str) -> ViewSpec:
    return SPECULATOR_VIEW.get(product, ViewSpec(1, 1))


# --- the market's own clock ------------------------------------------------------------------

FAIR_STEP_SECONDS = (0.5, 1.5)  # between two moves of the fair values
FAIR_MOVES_PER_STEP = 3  # contracts whose own walk moves at each step
COMMON_MOVE_ODDS = 0.3  # odds that a product's months move together at a step
DEADMAN_MS = 15_000  # cancel_all_after: every bot's orders go if it is silent this long
DEADMAN_REFRESH_SECONDS = 5.0
