"""Every route the routers declare, walked from the app itself: a route added to any router without its
``require_reader`` / ``require_login`` dependency, or a form post without ``csrf_checked``, fails here (SQLite; the
permission code does not depend on the database, tests/test_web.py runs the flows on both)."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from caigou.models.db import Database
from caigou.web.app import ROUTERS, create_app
from caigou.web.security import WebSettings
from tests.test_web import csrf_of, log_in
from tests.web_data import build_archive

# Open to anyone: the login form, the language switch, the way in, and the feeds (their token is the capability).
OPEN = {"/login", "/lang/{language}", "/", "/feeds/{name:path}.atom", "/openapi.json"}
SAMPLE = {"notice_id": "1", "page_id": "1", "subscription_id": "1", "organisation_id": "1", "name": "x",
          "code": "54", "measure": "count", "language": "zh"}


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE[m.group(1)], path)


@pytest.fixture
def web(sqlite_db: Database) -> Iterator[TestClient]:
    build_archive(sqlite_db)
    app = create_app(sqlite_db, WebSettings(secret_key="routes-secret-0123456789"))
    with TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False) as client:
        yield client


def routes(method: str) -> list[str]:
    """The paths of every router ``create_app`` includes (what it serves, as declared)."""
    found = [route.path for router in ROUTERS for route in router.routes
             if isinstance(route, APIRoute) and method in (route.methods or ())]
    assert len(found) >= (15 if method == "GET" else 5), found  # the walk really sees the routers
    return found


def test_every_page_and_api_route_needs_a_reader(web: TestClient) -> None:
    for path in routes("GET"):
        if path in OPEN:
            continue
        answer = web.get(concrete(path))
        if path.startswith("/api/"):
            assert answer.status_code == 401 and "log in" in answer.json()["error"], path
        else:
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), path


def test_every_form_post_checks_its_csrf_token_even_logged_in(web: TestClient) -> None:
    for path in routes("POST"):
        log_in(web)  # again each time: /logout ends the session (and its token)
        token = csrf_of(web.get("/search").text)
        answer = web.post(concrete(path), data={"csrf_token": "forged", "notice": "1", "status": "relevant"})
        assert answer.status_code == 403 and "CSRF" in answer.text, path
        # The same post with the session's token gets past the check (whatever the form then says).
        answer = web.post(concrete(path), data={"csrf_token": token})
        assert "CSRF" not in answer.text, path
