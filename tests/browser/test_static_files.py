"""The page's files as the running server serves them (no browser needed): the page at ``/``,
its scripts, styles and the vendored chart library under ``/static/``, with their content
types and entity tags; nothing outside the static folder; the API and its docs untouched.
"""

from __future__ import annotations

import re

import httpx
import pytest

from tokenfutures.web import STATIC_DIR

from .demo_server import DemoServer


def test_the_page_and_every_module_it_imports_are_served(demo: DemoServer) -> None:
    page = httpx.get(demo.url + "/", timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["cache-control"] == "no-cache"
    referenced = set(re.findall(r'(?:src|href)="/static/([^"]+)"', page.text))
    assert {"app.js", "style.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"} <= referenced
    pending, seen = list(referenced), set()
    while pending:  # follow the ES module imports from app.js
        name = pending.pop()
        seen.add(name)
        answer = httpx.get(f"{demo.url}/static/{name}", timeout=10)
        assert answer.status_code == 200, name
        if name.endswith(".js") and not name.startswith("vendor/"):
            assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
            imports = re.findall(r'from "\./([a-z-]+\.js)"', answer.text)
            pending += [i for i in imports if i not in seen]
    on_disk = {p.name for p in STATIC_DIR.glob("*.js")}
    assert on_disk <= seen, f"modules nothing imports: {on_disk - seen}"


@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("style.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
        ("vendor/LICENSE", "text/plain; charset=utf-8"),
        ("vendor/uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    ],
)
def test_static_files_carry_their_type_and_revalidate(
    demo: DemoServer, name: str, content_type: str
) -> None:
    first = httpx.get(f"{demo.url}/static/{name}", timeout=10)
    assert first.status_code == 200
    assert first.headers["content-type"] == content_type
    assert first.headers["cache-control"] == "public, max-age=300"
    assert first.content == (STATIC_DIR / name).read_bytes()
    again = httpx.get(
        f"{demo.url}/static/{name}", headers={"If-None-Match": first.headers["etag"]}, timeout=10
    )
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    "target",
    [
        "/static/../service/app.py",
        "/static/%2e%2e/__init__.py",
        "/static/..%2f__init__.py",
        "/static/",
        "/static/vendor",
        "/static/missing.js",
        "/static/%2fetc%2fpasswd",
        "/static/a%00b.js",
        "/static/" + "a" * 5000 + ".js",
    ],
    ids=["dots", "encoded-dots", "encoded-slash", "empty", "folder", "missing", "absolute",
         "nul", "long"],
)  # fmt: skip
def test_nothing_outside_the_static_folder_is_served(demo: DemoServer, target: str) -> None:
    answer = httpx.get(demo.url + target, timeout=10)
    assert answer.status_code == 404
    assert b"import" not in answer.content  # no source file leaked
    assert b"root:" not in answer.content


def test_the_api_and_its_docs_are_not_shadowed(demo: DemoServer) -> None:
    instruments = httpx.get(demo.url + "/v1/instruments", timeout=10)
    assert instruments.status_code == 200
    assert instruments.headers["content-type"] == "application/json"
    assert httpx.get(demo.url + "/docs", timeout=10).status_code == 200
    schema = httpx.get(demo.url + "/openapi.json", timeout=10).json()
    assert not [path for path in schema["paths"] if not path.startswith("/v1/")]
    unknown = httpx.get(demo.url + "/v1/no-such-route", timeout=10)
    assert unknown.status_code == 404
