"""Sending a command through the sequencer on behalf of a request."""

from __future__ import annotations

from typing import Any

from tokenfutures.service.context import ApiError, Service
from tokenfutures.service.sequencer import Outcome, SequencerStopped

NOT_FOUND_REASONS = frozenset({"unknown_order", "unknown_symbol", "unknown_account"})


async def submit(service: Service, command: dict[str, Any]) -> Outcome:
    """The command's outcome once durable; a refusal becomes a 4xx ``ApiError``."""
    try:
        outcome = await service.sequencer.submit(command)
    except SequencerStopped as error:
        raise ApiError(503, "unavailable", f"not accepting commands: {error}") from None
    refusal = outcome.rejected
    if refusal is not None and len(outcome.events) == 1:
        raise refused(refusal)
    return outcome


def refused(event: dict[str, Any]) -> ApiError:
    reason = event["reason"]
    status = 404 if reason in NOT_FOUND_REASONS else 409 if reason == "already_exists" else 400
    return ApiError(status, event["reason"], event["detail"], event.get("field"))
