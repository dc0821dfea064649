"""The scripted demo session: ``data/demo_session.jsonl`` made into dated command lines.

Each entry has a caption, a Shanghai wall-clock time ``at`` and a command whose symbol
may be ``$TKN`` or ``$GPU`` (the front month of each product). Given the same trading
date, the script gives the same commands, events and state hash.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from tokenfutures.engine.timestamps import format_ts, parse_ts

SHANGHAI = ZoneInfo("Asia/Shanghai")


def demo_commands(day: date, symbols: dict[str, str]) -> list[tuple[str, str]]:
    """(caption, JSON line) pairs for ``day``; ``symbols`` maps ``$TKN``/``$GPU`` to symbols."""
    text = resources.files("tokenfutures").joinpath("data/demo_session.jsonl").read_text("utf-8")
    script = []
    for line in text.splitlines():
        entry: dict[str, Any] = json.loads(line)
        moment = datetime.combine(day, time.fromisoformat(entry["at"]), tzinfo=SHANGHAI)
        command = {"type": entry["command"]["type"], "ts": format_ts(_micros(moment))}
        for key, value in entry["command"].items():
            command[key] = symbols.get(value, value) if isinstance(value, str) else value
        script.append((entry["caption"], json.dumps(command)))
    return script


def _micros(moment: datetime) -> int:
    return parse_ts(moment.isoformat())
