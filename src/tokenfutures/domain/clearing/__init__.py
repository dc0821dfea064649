"""Clearing: positions, margin and settlement of cleared contracts (pure, no I/O)."""
