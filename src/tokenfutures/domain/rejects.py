"""Why a command was refused or an order ended: stable reason codes, grouped by stage."""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    # parsing and validation at the edge (the command never reached the core)
    MALFORMED_COMMAND = "malformed_command"
    UNKNOWN_COMMAND = "unknown_command"
    MISSING_FIELD = "missing_field"
    INVALID_FIELD = "invalid_field"
    PRICE_NOT_ON_TICK = "price_not_on_tick"
    # static checks against the instrument
    UNKNOWN_SYMBOL = "unknown_symbol"
    INVALID_QUANTITY = "invalid_quantity"
    QUANTITY_ABOVE_MAXIMUM = "quantity_above_maximum"
    INVALID_PRICE = "invalid_price"
    PRICE_REQUIRED = "price_required"
    PRICE_NOT_ALLOWED = "price_not_allowed"
    STOP_PRICE_REQUIRED = "stop_price_required"
    STOP_PRICE_NOT_ALLOWED = "stop_price_not_allowed"
    PRICE_OUTSIDE_LIMIT = "price_outside_limit"
    STOP_PRICE_OUTSIDE_LIMIT = "stop_price_outside_limit"
    POST_ONLY_NOT_ALLOWED = "post_only_not_allowed"
    # order state
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    UNKNOWN_ORDER = "unknown_order"
    NOTHING_TO_AMEND = "nothing_to_amend"
    # trading phase
    MARKET_CLOSED = "market_closed"
    INSTRUMENT_HALTED = "instrument_halted"
    NOT_ALLOWED_IN_AUCTION = "not_allowed_in_auction"
    INVALID_PHASE_TRANSITION = "invalid_phase_transition"
    # execution
    POST_ONLY_WOULD_TRADE = "post_only_would_trade"
    STOP_ALREADY_TRIGGERED = "stop_already_triggered"
    # money
    INVALID_AMOUNT = "invalid_amount"
    # accounts and pre-trade risk (the clearing house)
    UNKNOWN_ACCOUNT = "unknown_account"
    UNKNOWN_MEMBER = "unknown_member"
    ALREADY_EXISTS = "already_exists"
    ACCOUNT_CANCEL_ONLY = "account_cancel_only"
    CONTRACT_DELISTED = "contract_delisted"
    INSUFFICIENT_MARGIN = "insufficient_margin"
    POSITION_LIMIT = "position_limit"
    GROUP_POSITION_LIMIT = "group_position_limit"
    INTRADAY_OPEN_CAP = "intraday_open_cap"
    REDUCE_ONLY_WOULD_OPEN = "reduce_only_would_open"
    EXCEEDS_FREE_COLLATERAL = "exceeds_free_collateral"
    # clearing operations
    DATE_NOT_AFTER_PREVIOUS = "date_not_after_previous"
    FINAL_SETTLEMENT_NOT_DUE = "final_settlement_not_due"
    # sequencing
    TS_BEFORE_PREVIOUS = "ts_before_previous"


class CancelReason(StrEnum):
    REQUESTED = "requested"
    CANCEL_ALL = "cancel_all"
    IOC_REMAINDER = "ioc_remainder"
    FOK_NOT_FILLABLE = "fok_not_fillable"
    SELF_TRADE_PREVENTED = "self_trade_prevented"
    AMENDED_TO_FILLED = "amended_to_filled"
    NO_LIQUIDITY = "no_liquidity"
    CIRCUIT_BREAKER = "circuit_breaker"
    OUTSIDE_PRICE_LIMITS = "outside_price_limits"
    REDUCE_ONLY = "reduce_only"
    LIQUIDATION = "liquidation"
    DELISTED = "delisted"
