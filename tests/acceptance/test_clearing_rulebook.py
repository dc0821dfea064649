"""The clearing rulebook (docs/clearing.md) as scenarios a clearing officer would recognise.

Every test runs the whole pipeline (pre-trade checks, the matching core, clearing) through
``support.clearing.Clearing``, which checks every invariant after every command. Expected
results are small tables worked out by hand from the rulebook; the comments show the
arithmetic.

Terms of the test contracts (``support/clearing.py``): TKN2612, TKN2701 and GPU2612, prices
in ticks of 0.001, USD 10 per tick per lot (a contract is 10,000 units), reference price
2.500, daily limit 8 %, margin (scan range) 10 % of the settlement price, maintenance 80 % of
initial, fees 0.005 % of turnover, rounded half up to a cent. TKN settles on the whole day's
VWAP, GPU on the last hour's. Day 1 is 2026-11-23, trading from 09:30 Shanghai.

Two numbers recur:

- a lot's turnover at 2.500 is 2,500 ticks x USD 10 = USD 25,000, so its fee is USD 1.25;
- a lot's initial margin at a settlement price P is the full scan range (the worst of the 16
  scenarios for a plain future): ceil(P x 10 %) ticks x USD 10, e.g. USD 2,500 at 2.500.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from support.clearing import DAY1, GPU, HOUR, T0, TKN, TKN_NEXT, Clearing, only, rejected, usd
from support.clearing_tables import money, price, render, table, timeline
from tokenfutures.domain.clearing.accounts import AccountStatus
from tokenfutures.domain.clearing.events import (
    DefaultLossAllocated,
    DefaultLossUnallocated,
    EndOfDayCompleted,
    LimitLocked,
    MarginCallIssued,
    SettlementPriceSet,
    VariationMarginPosted,
)
from tokenfutures.domain.clearing.ledger import (
    HOUSE_CAPITAL,
    SETTLEMENT,
    assessment_account,
    cash_account,
    guaranty_fund_account,
)
from tokenfutures.domain.events import OrderAccepted, TradeExecuted
from tokenfutures.domain.rejects import RejectReason
from tokenfutures.domain.values import Phase, TimeInForce

MINUTE = HOUR // 60
GFD = TimeInForce.GFD


def day(number: int) -> date:
    """The date of trading day ``number`` (1 = DAY1), as ``Clearing.open_day`` counts."""
    return DAY1 + timedelta(days=number - 1)


def deal(c: Clearing, buyer: str, seller: str, quantity: int, at: str, **kw: Any) -> None:
    """One trade of ``quantity`` lots: ``seller`` rests an offer, ``buyer`` lifts it."""
    trades = only(c.trade(buyer, seller, quantity, at, **kw), TradeExecuted)
    assert [(t.buy_account, t.sell_account, t.quantity) for t in trades] == [
        (buyer, seller, quantity)
    ], f"{buyer} did not buy {quantity} from {seller} at {at}"


def settlement(events: list[Any], symbol: str = TKN) -> SettlementPriceSet:
    (found,) = [e for e in only(events, SettlementPriceSet) if e.symbol == symbol]
    return found


# --- 1. a day of trading -------------------------------------------------------------------------


TradingDay = tuple[Clearing, list[Any]]


@pytest.fixture
def trading_day() -> TradingDay:
    """Four accounts trade TKN2612 through a rally and a fall; then the end of day."""
    c = Clearing()
    c.account("A", cash=usd("30,000"))
    c.account("B", cash=usd("50,000"))
    c.account("C", cash=usd("20,000"))
    # D deposits little more than its 5 lots need: 5 x USD 2,500 at the 2.500 settlement (it
    # buys at the last price, 2.600, so the fill itself costs nothing at once).
    c.account("D", cash=usd("13,000"))
    deal(c, "A", "B", 10, "2.500")  # the morning
    deal(c, "C", "A", 5, "2.600")  # the rally: A takes profit on half
    deal(c, "D", "B", 5, "2.600")  # D buys the top
    deal(c, "B", "C", 4, "2.481")  # the fall: B covers 4, C cuts 4 of its 5
    return c, c.end_of_day()


def test_the_settlement_price_is_the_whole_days_vwap_rounded_half_up(
    trading_day: TradingDay,
) -> None:
    _, events = trading_day
    # lots  price   price x lots
    #  10   2.500   25,000
    #   5   2.600   13,000
    #   5   2.600   13,000
    #   4   2.481    9,924
    #  24           60,924 ticks x lots  ->  60,924 / 24 = 2,538.5  ->  half up: 2.539
    # next day's limits: 2,539 x 8 % = 203.12 -> 203 ticks (inwards): 2.336 - 2.742
    # open interest: A 5 + C 1 + D 5 long = B 11 short
    tkn = settlement(events)
    assert render(
        [
            ("symbol", "method", "lots", "settlement", "open interest", "next day's limits"),
            (
                tkn.symbol,
                tkn.method,
                tkn.volume,
                price(tkn.price),
                tkn.open_interest,
                f"{price(tkn.lower_limit)} - {price(tkn.upper_limit)}",
            ),
        ]
    ) == table("""
        symbol  | method   | lots | settlement | open interest | next day's limits
        TKN2612 | vwap_day |   24 |      2.539 |            11 | 2.336 - 2.742
    """)
    # the other months did not trade: no index, no book, so the previous price stands
    assert [(e.symbol, e.method, price(e.price)) for e in only(events, SettlementPriceSet)] == [
        (GPU, "previous", "2.500"),
        (TKN, "vwap_day", "2.539"),
        (TKN_NEXT, "previous", "2.500"),
    ]
    (done,) = only(events, EndOfDayCompleted)
    assert (done.date, done.contracts, done.accounts, done.margin_calls) == (DAY1, 3, 4, 1)


def test_variation_margin_pays_the_move_to_settlement_and_the_days_realised_pnl(
    trading_day: TradingDay,
) -> None:
    c, events = trading_day
    # Settlement 2.539. Variation margin = realised P&L of the day + open lots moved from their
    # entry to 2.539, USD 10 per tick per lot:
    #   A: sold 5 of its 10 at 2.600: +5 x 100 = +500; open 5 from 2.500: +5 x 39 = +195
    #      -> +695 ticks = USD 6,950
    #   B: short 10 at 2.500 and 5 at 2.600; bought 4 back at 2.481 (FIFO, from the 2.500 lot):
    #      realised +4 x 19 = +76; open -6 x 39 = -234 and -5 x (2.539 - 2.600) = +305
    #      -> +147 ticks = USD 1,470 (entry (6 x 2.500 + 5 x 2.600) / 11 = 2.54545 -> 2.545)
    #   C: bought 5 at 2.600, sold 4 at 2.481: realised 4 x -119 = -476; open 1 x -61
    #      -> -537 ticks = USD -5,370
    #   D: 5 x (2.539 - 2.600) = -305 ticks = USD -3,050
    #   the four add up to zero: the settlement account is flat.
    # Cash = deposit - fees + variation margin, fees 0.005 % of turnover per side:
    #   10 @ 2.500: USD 250,000 -> 12.50;  5 @ 2.600: USD 130,000 -> 6.50;
    #   4 @ 2.481: USD 99,240 -> 4.962 -> 4.96
    #   A 30,000 - (12.50 + 6.50) + 6,950   = 36,931.00
    #   B 50,000 - (12.50 + 6.50 + 4.96) + 1,470 = 51,446.04
    #   C 20,000 - (6.50 + 4.96) - 5,370    = 14,618.54
    #   D 13,000 - 6.50 - 3,050             =  9,943.50
    rows: list[tuple[Any, ...]] = [
        ("account", "position", "entry", "settlement", "variation margin", "cash")
    ]
    for vm in only(events, VariationMarginPosted):
        position = c.house.positions.position(vm.account, TKN)
        rows.append(
            (
                vm.account,
                position.quantity,
                price(position.average_entry_price),
                price(c.house.settlement_prices[TKN]),
                money(vm.amount),
                money(vm.cash),
            )
        )
    assert render(rows) == table("""
        account | position | entry | settlement | variation margin | cash
        A       |        5 | 2.500 |      2.539 |         6,950.00 | 36,931.00
        B       |      -11 | 2.545 |      2.539 |         1,470.00 | 51,446.04
        C       |        1 | 2.600 |      2.539 |        -5,370.00 | 14,618.54
        D       |        5 | 2.600 |      2.539 |        -3,050.00 |  9,943.50
    """)


def test_the_daily_statement_reconciles_and_lists_trades_positions_and_margin(
    trading_day: TradingDay,
) -> None:
    c, _ = trading_day
    s = c.house.statements[("B", DAY1)]
    m = s.movements
    # closing = opening + deposits - withdrawals - fees + variation margin
    #         = 0 + 50,000 - 0 - 23.96 + 1,470 = 51,446.04
    assert render(
        [
            ("opening balance", money(s.opening_balance)),
            ("deposits", money(m.deposits)),
            ("withdrawals", money(m.withdrawals)),
            ("fees", money(m.fees)),
            ("variation margin", money(m.variation_margin)),
            ("final settlement", money(m.final_settlement)),
            ("default transfers", money(m.default_transfers)),
            ("closing balance", money(s.closing_balance)),
        ]
    ) == table("""
        opening balance   |      0.00
        deposits          | 50,000.00
        withdrawals       |      0.00
        fees              |     23.96
        variation margin  |  1,470.00
        final settlement  |      0.00
        default transfers |      0.00
        closing balance   | 51,446.04
    """)
    trades = [("side", "lots", "symbol", "price", "fee")]
    trades += [(t.side.value, t.quantity, t.symbol, price(t.price), money(t.fee)) for t in s.trades]
    assert render(trades) == table("""
        side | lots | symbol  | price | fee
        sell |   10 | TKN2612 | 2.500 | 12.50
        sell |    5 | TKN2612 | 2.600 |  6.50
        buy  |    4 | TKN2612 | 2.481 |  4.96
    """)
    # unrealised P&L against entry: -11 x 2.539 + (6 x 2.500 + 5 x 2.600) = 71 ticks = USD 710
    positions = [("symbol", "position", "average entry", "settlement", "unrealised P&L")]
    positions += [
        (
            p.symbol,
            p.quantity,
            price(p.average_entry_price),
            price(p.settlement_price),
            money(p.unrealised_pnl),
        )
        for p in s.positions
    ]
    assert render(positions) == table("""
        symbol  | position | average entry | settlement | unrealised P&L
        TKN2612 |      -11 |         2.545 |      2.539 |         710.00
    """)
    # scan range at 2.539: ceil(253.9) = 254 ticks = USD 2,540 a lot; 11 lots = 27,940;
    # maintenance 80 % = 22,352; free collateral = 51,446.04 - 27,940 = 23,506.04
    assert render(
        [
            ("initial margin", money(s.initial_margin)),
            ("maintenance margin", money(s.maintenance_margin)),
            ("equity", money(s.equity)),
            ("free collateral", money(s.free_collateral)),
            ("margin call", money(s.margin_call)),
        ]
    ) == table("""
        initial margin     | 27,940.00
        maintenance margin | 22,352.00
        equity             | 51,446.04
        free collateral    | 23,506.04
        margin call        |      0.00
    """)


def test_an_account_below_maintenance_is_called_back_to_initial(trading_day: TradingDay) -> None:
    c, events = trading_day
    # at 2.539 a lot needs USD 2,540 initial, 2,032 maintenance (80 %):
    #   A  5 lots: 12,700 / 10,160, cash 36,931.00   fine
    #   B 11 lots: 27,940 / 22,352, cash 51,446.04   fine
    #   C  1 lot:   2,540 /  2,032, cash 14,618.54   fine
    #   D  5 lots: 12,700 / 10,160, cash  9,943.50   below maintenance:
    #      called back up to initial, 12,700 - 9,943.50 = 2,756.50
    rows: list[tuple[Any, ...]] = [("account", "cash", "initial", "maintenance", "call")]
    rows += [
        (
            call.account,
            money(call.equity),
            money(call.initial_margin),
            money(call.maintenance_margin),
            money(call.amount),
        )
        for call in only(events, MarginCallIssued)
    ]
    assert render(rows) == table("""
        account | cash     | initial   | maintenance | call
        D       | 9,943.50 | 12,700.00 | 10,160.00   | 2,756.50
    """)
    assert c.house.statements[("D", DAY1)].margin_call == usd("2,756.50")


# --- 2. the settlement fallbacks -----------------------------------------------------------------


def test_settlement_fallbacks_and_the_last_hour_vwap() -> None:
    c = Clearing()
    c.account("MM", cash=usd("10,000"))
    c.account("G1", cash=usd("50,000"))
    c.account("G2", cash=usd("50,000"))
    # TKN2612: no trade, but a two-sided book that stays (GTC) overnight
    c.buy("MM", 1, "2.490", coid="bid")
    c.sell("MM", 1, "2.515", coid="offer")
    # GPU2612 trades all day; it closes at 15:00 (09:30 + 5h30)
    close = T0 + 5 * HOUR + 30 * MINUTE
    deal(c, "G1", "G2", 2, "2.450", symbol=GPU)  # 09:30
    c.at(close - 90 * MINUTE)
    deal(c, "G1", "G2", 1, "2.600", symbol=GPU)  # 13:30, an hour and a half before the close
    c.at(close - 30 * MINUTE)
    deal(c, "G1", "G2", 3, "2.520", symbol=GPU)  # 14:30
    c.at(close - 15 * MINUTE)
    deal(c, "G1", "G2", 1, "2.530", symbol=GPU)  # 14:45
    c.at(close)
    c.phase(GPU, Phase.CLOSED)
    # the index fixings (micro-units): TKN 2.400 on day 1, 2.496 on day 2 (+4 %); none for GPU
    first = c.end_of_day(day(1), index={"TKN": 2_400_000})
    c.open_day(2)
    second = c.end_of_day(day(2), index={"TKN": 2_496_000})
    # Day 1
    #   GPU2612 vwap_last_hour: from 14:00 on, 3 x 2.520 + 1 x 2.530 = 10,090 / 4 = 2,522.5
    #     -> half up 2.523 (the 09:30 and 13:30 trades are older than an hour and ignored; the
    #     whole day would give 17,590 / 7 = 2.513)
    #   TKN2612 traded nothing and the index has only one day: the mid of the book,
    #     (2.490 + 2.515) / 2 = 2.5025 -> half up 2.503
    #   TKN2701: nothing at all: the previous settlement, 2.500
    # Day 2 (no trades): the TKN index moved 2.400 -> 2.496, both days known
    #   TKN2612 index_moved (before the mid, which is still there): 2.503 x 2.496 / 2.400
    #     = 2.60312 -> 2.603
    #   TKN2701 index_moved: 2.500 x 1.04 = 2.600
    #   GPU2612: no GPU fixings, no book: previous, 2.523
    rows: list[tuple[Any, ...]] = [("date", "symbol", "method", "settlement")]
    rows += [
        (e.date.isoformat(), e.symbol, e.method, price(e.price))
        for e in only(first + second, SettlementPriceSet)
    ]
    assert render(rows) == table("""
        date       | symbol  | method         | settlement
        2026-11-23 | GPU2612 | vwap_last_hour | 2.523
        2026-11-23 | TKN2612 | mid            | 2.503
        2026-11-23 | TKN2701 | previous       | 2.500
        2026-11-24 | GPU2612 | previous       | 2.523
        2026-11-24 | TKN2612 | index_moved    | 2.603
        2026-11-24 | TKN2701 | index_moved    | 2.600
    """)


# --- 3. limit-locked closes ----------------------------------------------------------------------


def test_limit_locked_closes_widen_the_limit_and_raise_margin_step_by_step() -> None:
    c = Clearing()
    c.account("A", cash=usd("100,000"))
    c.account("B", cash=usd("100,000"))
    terms = c.house.terms[TKN]
    rows: list[tuple[Any, ...]] = [
        ("date", "settlement", "close", "step", "limit", "margin", "measures",
         "next day's limits", "A lots", "A initial"),
    ]  # fmt: skip
    # Each day A buys a lot at a price, and on days 1-3 then bids at the upper limit while
    # nobody offers: the close is locked limit-up.
    plan = [(1, "2.700", True), (2, "2.997", True), (3, "3.416", True), (4, "3.400", False)]
    for number, at, locked in plan:
        c.open_day(number)
        deal(c, "A", "B", 1, at)
        if locked:
            c.buy("A", 1, at, tif=GFD)
        events = c.end_of_day(day(number))
        s = settlement(events)
        locks = [e for e in only(events, LimitLocked) if e.symbol == TKN]
        lock = locks[0] if locks else None
        margin_bp = c.house.scan_overrides.get(TKN, terms.margin_bp)
        limit_bp = lock.price_limit_bp if lock else terms.price_limit_bp
        rows.append(
            (
                s.date.isoformat(),
                price(s.price),
                f"locked {lock.direction}" if lock else "normal",
                lock.step if lock else "-",
                f"{limit_bp / 100:g}%",
                f"{margin_bp / 100:g}%",
                ("yes" if lock.measures_required else "no") if lock else "-",
                f"{price(s.lower_limit)} - {price(s.upper_limit)}",
                c.position("A"),
                money(c.house.statements[("A", s.date)].initial_margin),
            )
        )
    # Day 1: settles at 2.700 (the day's only trade), locked up: first step, limit 8 + 3 = 11 %,
    #   scan range 11 + 2 = 13 %. Limits: 2,700 x 11 % = 297 -> 2.403 - 2.997. A's lot:
    #   ceil(2,700 x 13 %) = 351 ticks = USD 3,510 (it would be 270 ticks = USD 2,700 at 10 %).
    # Day 2: locked again at 2.997: second step, 14 % and 16 %. 2,997 x 14 % = 419.58 -> 419:
    #   2.578 - 3.416. Scan ceil(479.52) = 480 ticks; 2 lots = USD 9,600.
    # Day 3: locked a third time at 3.416: the limit stays at the second step and the rulebook's
    #   further measures are required. 3,416 x 14 % = 478.24 -> 478: 2.938 - 3.894.
    #   Scan ceil(546.56) = 547 ticks; 3 lots = USD 16,410.
    # Day 4: a normal close at 3.400 restores both: 3,400 x 8 % = 272: 3.128 - 3.672, and the
    #   scan range is 10 % again: 340 ticks; 4 lots = USD 13,600.
    assert render(rows) == table("""
        date       | settlement | close     | step | limit | margin | measures | next day's limits | A lots | A initial
        2026-11-23 | 2.700      | locked up | 1    | 11%   | 13%    | no       | 2.403 - 2.997     | 1      |  3,510.00
        2026-11-24 | 2.997      | locked up | 2    | 14%   | 16%    | no       | 2.578 - 3.416     | 2      |  9,600.00
        2026-11-25 | 3.416      | locked up | 3    | 14%   | 16%    | yes      | 2.938 - 3.894     | 3      | 16,410.00
        2026-11-26 | 3.400      | normal    | -    | 8%    | 10%    | -        | 3.128 - 3.672     | 4      | 13,600.00
    """)  # noqa: E501


# --- 4. liquidation ------------------------------------------------------------------------------


def margin_called(c: Clearing) -> Clearing:
    """L is long 10 from 2.500; TKN2612 settles at 2.440 and L is called for USD 5,412.50."""
    c.account("L", cash=usd("25,000"))  # exactly 10 x USD 2,500
    c.account("S", cash=usd("30,000"))
    c.account("X", cash=usd("50,000"))
    c.account("Y", cash=usd("60,000"))
    deal(c, "L", "S", 10, "2.500")
    deal(c, "X", "Y", 15, "2.400")
    events = c.end_of_day()
    # VWAP (10 x 2.500 + 15 x 2.400) / 25 = 61,000 / 25 = 2.440
    # L: 25,000 - 12.50 fee - 10 x 60 ticks x USD 10 = 18,987.50 cash;
    # at 2.440 a lot needs ceil(244) = 244 ticks = USD 2,440: 24,400 initial, 19,520
    # maintenance: called for 24,400 - 18,987.50 = 5,412.50
    calls = [(e.account, money(e.equity), money(e.amount)) for e in only(events, MarginCallIssued)]
    assert calls == [("L", "18,987.50", "5,412.50")]
    c.open_day(2)  # limits 2,440 -/+ 195: 2.245 - 2.635
    return c


@pytest.fixture
def called() -> Clearing:
    return margin_called(Clearing())


def test_an_unmet_margin_call_is_liquidated_into_the_book(called: Clearing) -> None:
    c = called
    c.sell("L", 5, "2.600", coid="take-profit")  # reduces the position: always accepted
    c.buy("X", 6, "2.430", coid="x-bid")
    c.buy("S", 4, "2.420", coid="s-bid")
    # At the deadline L has not paid: equity 18,987.50 < initial 24,400. Its offer is cancelled,
    # then an IOC sell of 10 at the day's lower limit (2.245) takes the bids best first.
    events = c.deadline()
    assert timeline(events, skip=frozenset({"trade_cleared"})) == table("""
        event                  | what happened
        account_status_changed | L liquidating (margin_call_not_met)
        liquidation_started    | L (margin_call_not_met)
        order_cancelled        | L take-profit: 5 lots, liquidation
        order_accepted         | L sells 10 TKN2612 @ 2.245 IOC
        trade                  | X buys 6 TKN2612 @ 2.430 from L
        trade                  | S buys 4 TKN2612 @ 2.420 from L
        liquidation_completed  | L: 0 open, cash 17,575.37
        account_status_changed | L active (liquidated)
    """)
    # P&L settled at once against the 2.440 settlement: 6 x -10 + 4 x -20 = -140 ticks = -1,400
    # fees: 6 @ 2.430 (USD 145,800) 7.29; 4 @ 2.420 (USD 96,800) 4.84
    # cash: 18,987.50 - 1,400 - 7.29 - 4.84 = 17,575.37
    assert c.position("L") == 0
    assert c.cash("L") == usd("17,575.37")
    assert c.house.accounts.accounts["L"].status is AccountStatus.ACTIVE
    assert only(c.buy("L", 1, "2.430"), OrderAccepted)  # it may trade again
    # the day's statement: the liquidation's P&L is the day's variation margin
    c.end_of_day(day(2))
    s = c.house.statements[("L", day(2))]
    assert render(
        [
            ("opening balance", money(s.opening_balance)),
            ("fees", money(s.movements.fees)),
            ("variation margin", money(s.movements.variation_margin)),
            ("closing balance", money(s.closing_balance)),
        ]
    ) == table("""
        opening balance  | 18,987.50
        fees             |     12.13
        variation margin | -1,400.00
        closing balance  | 17,575.37
    """)


def test_the_settlement_account_holds_what_a_liquidation_left_owed() -> None:
    c = margin_called(Clearing())
    c.buy("X", 6, "2.430")
    c.buy("S", 4, "2.420")
    c.deadline()  # L sells 6 to X and 4 to S and is settled at once, at the mark 2.420
    # the counterparties are owed: X 15 x -20 + 6 x -10 = -360 ticks, S 4 x 20 + 6 x 20 = +200,
    # Y 15 x 20 = +300: +140 ticks = USD 1,400 in all, which is exactly what L's settlement
    # (-1,400) left in the settlement account
    assert c.house.ledger.balance(SETTLEMENT) == c.house.pending_total() == usd("1,400")


def test_a_margin_call_met_by_a_deposit_before_the_deadline(called: Clearing) -> None:
    c = called
    c.buy("X", 6, "2.430")  # a bid in the book, which the deadline leaves alone
    c.deposit("L", usd("5,412.50"))  # 18,987.50 + 5,412.50 = 24,400 = initial: met
    events = c.deadline()
    assert timeline(events) == table("""
        event           | what happened
        margin_call_met | L: equity 24,400.00, initial 24,400.00
    """)
    assert c.position("L") == 10


# --- 5. final settlement -------------------------------------------------------------------------


def test_final_settlement_pays_the_move_to_the_final_price_and_delists() -> None:
    c = Clearing()
    c.account("A", cash=usd("30,000"))
    c.account("B", cash=usd("30,000"))
    c.account("C", cash=usd("10,000"))
    deal(c, "A", "B", 4, "2.500")
    c.end_of_day(day(1))
    last = date(2026, 12, 31)  # TKN2612's last trading day
    number = 2
    while day(number) < last:  # every weekday until then, nothing traded
        if day(number).weekday() < 5:
            c.open_day(number)
            c.end_of_day(day(number))
        number += 1
    c.open_day(number)
    assert day(number) == last
    deal(c, "A", "C", 1, "2.560")
    c.sell("B", 1, "2.600", coid="b-offer")  # still working when the contract expires
    # not before the end of day of the last trading day
    early = rejected(c.final_settlement(TKN, fixings=(2_574_000,)))
    assert early.reason is RejectReason.FINAL_SETTLEMENT_NOT_DUE
    assert settlement(c.end_of_day(last)).price == 2560  # the last daily settlement
    # The settlement window's fixings (micro-units) and their average:
    #   2.571 + 2.574 + 2.580 + 2.569 + 2.5785 = 12.8725 / 5 = 2.5745
    #   -> half to even: 2.574 (half up would give 2.575)
    fixings = (2_571_000, 2_574_000, 2_580_000, 2_569_000, 2_578_500)
    events = c.final_settlement(TKN, fixings=fixings)
    # every position is paid the move from the last settlement, 2.560, to 2.574: +14 ticks a lot
    #   A +5: +70 ticks = USD 700;  B -4: -56 = USD -560;  C -1: -14 = USD -140
    assert timeline(events) == table("""
        event                 | what happened
        order_cancelled       | B b-offer: 1 lots, delisted
        final_settlement_paid | A +5 TKN2612 @ 2.574: 700.00
        final_settlement_paid | B -4 TKN2612 @ 2.574: -560.00
        final_settlement_paid | C -1 TKN2612 @ 2.574: -140.00
        contract_settled      | TKN2612 @ 2.574, open interest 5
    """)
    assert [c.position(a) for a in "ABC"] == [0, 0, 0]
    late = rejected(c.buy("A", 1, "2.574"))
    assert late.reason is RejectReason.CONTRACT_DELISTED
    again = rejected(c.final_settlement(TKN, price="2.574"))
    assert again.reason is RejectReason.CONTRACT_DELISTED


# --- 6. defaults ---------------------------------------------------------------------------------


def test_a_default_runs_down_every_step_of_the_waterfall() -> None:
    c = Clearing()
    c.member("M1", usd("5,000"))
    c.member("M2", usd("8,000"))
    c.member("M3", usd("4,000"))
    c.house_capital(usd("10,000"))
    c.account("DF", "M1", cash=usd("250,000"))  # exactly 100 lots x USD 2,500
    c.account("SELLER", "M2", cash=usd("300,000"))
    c.account("P", "M2", cash=usd("10,000"))
    c.account("Q", "M3", cash=usd("10,000"))
    c.account("BIDDER", "M3", cash=usd("300,000"))
    # day 1: DF buys 100 at 2.500 (fee USD 125.00), settles at 2.500
    deal(c, "DF", "SELLER", 100, "2.500")
    c.end_of_day(day(1))
    # day 2: the market falls to the lower limit: settles at 2.300. DF pays 100 x 200 ticks
    # = USD 200,000: cash 249,875 - 200,000 = 49,875; initial 100 x 2,300 = 230,000, called
    c.open_day(2)
    deal(c, "P", "Q", 1, "2.300")
    calls = only(c.end_of_day(day(2)), MarginCallIssued)
    assert [(e.account, money(e.equity), money(e.amount)) for e in calls] == [
        ("DF", "49,875.00", "180,125.00")
    ]
    # day 3: limits 2,300 -/+ 184: 2.116 - 2.484; the only bid is at the lower limit
    c.open_day(3)
    c.buy("BIDDER", 100, "2.116")
    events = c.deadline()
    # Closing out: 100 x (2.116 - 2.300) = -18,400 ticks = USD -184,000, fee on USD 2,116,000
    # turnover 105.80: cash 49,875 - 184,000 - 105.80 = -134,230.80.
    # loss = 49,875 - (-134,230.80) = 184,105.80; deficit 134,230.80
    steps = frozenset({"trade_cleared", "default_loss_allocated"})  # the steps come below
    assert timeline(events, skip=steps) == table("""
        event                    | what happened
        account_status_changed   | DF liquidating (margin_call_not_met)
        liquidation_started      | DF (margin_call_not_met)
        order_accepted           | DF sells 100 TKN2612 @ 2.116 IOC
        trade                    | BIDDER buys 100 TKN2612 @ 2.116 from DF
        liquidation_completed    | DF: 0 open, cash -134,230.80
        account_status_changed   | DF defaulted (default)
        default_declared         | DF of M1: loss 184,105.80, deficit 134,230.80
        default_loss_unallocated | DF 74,230.80
    """)
    # The waterfall:
    #   defaulter's margin: its 49,875 cash went into the loss; 134,230.80 remains
    #   1. M1's guaranty fund  5,000       -> 129,230.80
    #   2. house capital      10,000       -> 119,230.80
    #   3. the other funds pro rata, all of them: M2 8,000, M3 4,000 -> 107,230.80
    #   4. assessments, capped at 275 % of each fund: M2 22,000, M3 11,000 -> 74,230.80
    #   5. unallocated: 74,230.80
    rows: list[tuple[Any, ...]] = [("step", "source", "amount", "remaining")]
    for e in events:
        if type(e) is DefaultLossAllocated:
            rows.append((e.step, e.source, money(e.amount), money(e.remaining)))
        elif type(e) is DefaultLossUnallocated:
            rows.append(("unallocated", "", money(e.amount), ""))
    assert render(rows) == table("""
        step                 | source | amount    | remaining
        defaulter_margin     | DF     | 49,875.00 | 134,230.80
        guaranty_fund        | M1     |  5,000.00 | 129,230.80
        house_capital        | house  | 10,000.00 | 119,230.80
        other_guaranty_funds | M2     |  8,000.00 | 111,230.80
        other_guaranty_funds | M3     |  4,000.00 | 107,230.80
        assessments          | M2     | 22,000.00 |  85,230.80
        assessments          | M3     | 11,000.00 |  74,230.80
        unallocated          |        | 74,230.80 |
    """)
    ledger = c.house.ledger
    balances = [
        ("DF cash", cash_account("DF")),
        ("M1 guaranty fund", guaranty_fund_account("M1")),
        ("M2 guaranty fund", guaranty_fund_account("M2")),
        ("M3 guaranty fund", guaranty_fund_account("M3")),
        ("M2 assessment", assessment_account("M2")),
        ("M3 assessment", assessment_account("M3")),
        ("house capital", HOUSE_CAPITAL),
    ]
    assert render((name, money(ledger.balance(entry))) for name, entry in balances) == table("""
        DF cash          | -74,230.80
        M1 guaranty fund |       0.00
        M2 guaranty fund |       0.00
        M3 guaranty fund |       0.00
        M2 assessment    | -22,000.00
        M3 assessment    | -11,000.00
        house capital    |       0.00
    """)
    # money conserved: deposits 250,000 + 300,000 + 10,000 + 10,000 + 300,000, funds 17,000
    # and capital 10,000 = 897,000 inside, however it has moved
    assert ledger.deposited - ledger.withdrawn == usd("897,000")
    assert ledger.total() == usd("897,000")
    assert c.house.accounts.accounts["DF"].status is AccountStatus.DEFAULTED


@pytest.mark.parametrize("market", ["empty book", "closed"])
def test_a_position_that_cannot_be_closed_goes_to_the_clearing_house(market: str) -> None:
    c = Clearing()
    c.member("M1", usd("5,000"))
    c.account("DF", "M1", cash=usd("25,000"))
    c.account("S", cash=usd("30,000"))
    c.account("P", cash=usd("10,000"))
    c.account("Q", cash=usd("10,000"))
    deal(c, "DF", "S", 10, "2.500")
    c.end_of_day(day(1))
    c.open_day(2)
    deal(c, "P", "Q", 1, "2.440")
    # settles at 2.440: DF 25,000 - 12.50 - 10 x 60 ticks x USD 10 = 18,987.50 < 19,520: called
    assert [e.account for e in only(c.end_of_day(day(2)), MarginCallIssued)] == ["DF"]
    c.open_day(3)
    if market == "closed":
        c.phase(TKN, Phase.CLOSED)
    events = c.deadline()
    # nothing to sell into: the position stays, nothing is lost (the mark is still 2.440), so
    # the default has no deficit and the 10 lots move to the clearing house at the mark; the
    # margin follows them: DF's cash up to their initial margin, 10 x 244 ticks (10 % of
    # 2.440) x USD 10 = 24,400, i.e. all of its 18,987.50
    skip = frozenset({"order_accepted", "trade_cleared", "order_cancelled"})
    assert timeline(events, skip=skip) == table("""
        event                      | what happened
        account_status_changed     | DF liquidating (margin_call_not_met)
        liquidation_started        | DF (margin_call_not_met)
        liquidation_completed      | DF: 1 open, cash 18,987.50
        account_status_changed     | DF defaulted (default)
        default_declared           | DF of M1: loss 0.00, deficit 0.00
        position_transferred       | 10 TKN2612 DF -> clearing_house @ 2.440
        default_margin_transferred | 18,987.50 DF -> clearing_house
    """)
    assert (c.position("DF"), c.position("clearing_house")) == (0, 10)
    assert (c.cash("DF"), c.cash("clearing_house")) == (0, usd("18,987.50"))
    assert c.house.ledger.balance(guaranty_fund_account("M1")) == usd("5,000")
