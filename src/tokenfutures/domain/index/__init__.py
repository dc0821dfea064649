"""The benchmark: token and GPU-hour price indices over price observations (pure, no I/O)."""
