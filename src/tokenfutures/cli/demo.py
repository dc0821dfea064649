"""`tokenfutures demo`: a scripted trading session through the core."""

from __future__ import annotations


def demo() -> None:
    """Run a scripted trading session and print the book and trades."""
    raise SystemExit("demo not written yet")
