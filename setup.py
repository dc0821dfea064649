"""Build hook: compile the hot modules of the core with mypyc, from the same sources.

The pure-Python modules stay the reference and the fallback: without a C compiler, or
with TOKENFUTURES_COMPILE=0, nothing is compiled and the package runs as plain Python.
Set TOKENFUTURES_PURE_PYTHON=1 at run time to ignore compiled modules that are present.
"""

from __future__ import annotations

import os

from setuptools import setup

COMPILED_MODULES = [
    "src/tokenfutures/domain/values.py",
    "src/tokenfutures/domain/rejects.py",
    "src/tokenfutures/domain/commands.py",
    "src/tokenfutures/domain/events.py",
    "src/tokenfutures/domain/rules.py",
    "src/tokenfutures/domain/book/order.py",
    "src/tokenfutures/domain/book/level.py",
    "src/tokenfutures/domain/book/side.py",
    "src/tokenfutures/domain/book/auction.py",
    "src/tokenfutures/domain/breaker.py",
    "src/tokenfutures/domain/stops.py",
    "src/tokenfutures/domain/registry.py",
    "src/tokenfutures/domain/validation.py",
    "src/tokenfutures/domain/matching.py",
    "src/tokenfutures/domain/call_auction.py",
    "src/tokenfutures/domain/instrument.py",
    "src/tokenfutures/domain/exchange.py",
]


def extensions() -> list[object]:
    if os.environ.get("TOKENFUTURES_COMPILE", "1") == "0":
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    return list(mypycify(COMPILED_MODULES, opt_level="3"))


setup(ext_modules=extensions())
