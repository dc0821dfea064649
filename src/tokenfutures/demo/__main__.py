"""``python -m tokenfutures.demo``: the demo's bots (see ``tokenfutures.demo.runner``)."""

from __future__ import annotations

import sys

from tokenfutures.demo.runner import main

if __name__ == "__main__":
    sys.exit(main())
