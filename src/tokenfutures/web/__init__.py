"""The browser page of the exchange: plain HTML, CSS and JavaScript modules in ``static/``
(no build step), served by the service at ``/`` and ``/static/...``.

The chart library (uPlot) is vendored in ``static/vendor/`` with its licence.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
