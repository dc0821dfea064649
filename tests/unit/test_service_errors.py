"""The API's answer when something below it breaks: JSON in the error shape, never a text page.

The app runs in process on a real SQLite journal and key store. Closing the journal under the
running sequencer makes its next write fail, as a full or lost disk would: the sequencer
stops, and every route that writes answers ``503 unavailable`` (the kill switch, which submits
to the sequencer itself, used to answer a ``500`` text page). A route that raises answers
``500 internal`` as JSON, without the exception's text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tokenfutures.service.app import create_app
from tokenfutures.service.auth import signed_headers
from tokenfutures.service.context import Service
from tokenfutures.service.journal import SqliteJournal
from tokenfutures.service.keys import ApiKey, KeyStore
from tokenfutures.service.sequencer import Sequencer, market_for_journal

LISTING = date(2026, 11, 23)


class Running:
    def __init__(self, app: FastAPI, http: TestClient, journal: SqliteJournal, key: ApiKey):
        self.app, self.http, self.journal, self.key = app, http, journal, key

    def signed(self, method: str, path: str, body: Any = None) -> Any:
        content = b"" if body is None else json.dumps(body).encode()
        headers = signed_headers(self.key, int(time.time() * 1000), method, path, content)
        if content:
            headers["content-type"] = "application/json"
        return self.http.request(method, path, content=content, headers=headers)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    db = tmp_path / "ex.db"
    journal = SqliteJournal(db)
    keys = KeyStore(db)
    try:
        sequencer = Sequencer(journal, market_for_journal(journal, LISTING))
        sequencer.recover()
        app = create_app(Service(sequencer, keys))
        key = keys.create("ops", ("admin",))
        with TestClient(app, raise_server_exceptions=False) as http:
            yield Running(app, http, journal, key)
    finally:
        keys.close()
        journal.close()


def _error(response: Any) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"reason", "field", "detail"}
    error: dict[str, Any] = body["error"]
    return error


def test_a_failed_journal_makes_every_write_a_503_json(running: Running) -> None:
    added = running.signed("POST", "/v1/admin/commands", {"type": "add_member", "member": "M1"})
    assert added.status_code == 200, added.text
    running.journal.close()  # the next append fails: the sequencer stops

    kill = running.signed("POST", "/v1/admin/kill-switch")
    assert kill.status_code == 503, kill.text
    assert _error(kill)["reason"] == "unavailable"

    command = running.signed("POST", "/v1/admin/commands", {"type": "add_member", "member": "M2"})
    assert command.status_code == 503, command.text
    assert _error(command)["reason"] == "unavailable"


def test_a_bug_in_a_route_is_a_500_json_without_its_message(running: Running) -> None:
    async def broken() -> None:
        raise RuntimeError("secret internals")

    running.app.add_api_route("/v1/broken", broken)
    response = running.http.get("/v1/broken")
    assert response.status_code == 500
    error = _error(response)
    assert error["reason"] == "internal"
    assert "secret internals" not in error["detail"]
    assert "RuntimeError" in error["detail"]
