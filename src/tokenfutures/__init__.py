"""tokenfutures: an exchange for futures on AI tokens and GPU compute."""

import os
import sys

__version__ = "0.1.0"


def _choose_core_build() -> None:
    """Use the pure-Python sources when asked to, or when compiled modules are out of date."""
    from tokenfutures._pure import prefer_sources, stale_compiled_modules

    if os.environ.get("TOKENFUTURES_PURE_PYTHON") == "1":
        prefer_sources()
        return
    stale = stale_compiled_modules()
    if stale:
        print(
            f"tokenfutures: compiled core older than {stale[0]}; running the pure-Python "
            "sources (run `make` to recompile)",
            file=sys.stderr,
        )
        prefer_sources()


_choose_core_build()
