"""Login hardening against a real uvicorn server on loopback: simultaneous guesses, a guesser who cannot lock the
real user out, any string as a CSRF or feed token, HSTS and Secure cookies behind a trusted HTTPS proxy."""
from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from caigou.models.db import Database
from caigou.web.app import create_app
from caigou.web.security import HSTS, LOGIN_FAILURES, LoginThrottle, ProxyTrust, WebSettings, same_text
from tests.digest_data import free_port
from tests.web_data import PASSWORD, build_archive

SECRET = "test-secret-key-0123456789"
GUESSER, READER = "198.51.100.7", "203.0.113.9"  # client addresses as the trusted proxy (loopback) forwards them


@dataclass
class Served:
    app: FastAPI
    url: str


@pytest.fixture
def served(sqlite_db: Database) -> Iterator[Served]:
    build_archive(sqlite_db)
    app = create_app(sqlite_db, WebSettings(secret_key=SECRET, trusted_proxies=ProxyTrust.parse(["127.0.0.1"])))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           proxy_headers=False))  # as `caigou serve`: the app decides whom to trust
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    yield Served(app, f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(10)


def login_form(client: httpx.Client) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found
    return found.group(1)


def test_sixty_simultaneous_guesses_get_at_most_five_checked(served: Served) -> None:
    with httpx.Client(base_url=served.url, headers={"X-Forwarded-For": GUESSER}) as guesser:
        token = login_form(guesser)
        cookies = dict(guesser.cookies)

        def guess(i: int) -> int:
            with httpx.Client(base_url=served.url, cookies=cookies, headers={"X-Forwarded-For": GUESSER}) as one:
                return one.post("/login", data={"name": "anna", "password": f"guess {i}", "csrf_token": token},
                                timeout=120).status_code

        with ThreadPoolExecutor(60) as pool:
            statuses = Counter(pool.map(guess, range(60)))
        assert set(statuses) <= {401, 429} and statuses[401] <= LOGIN_FAILURES, statuses
        assert served.app.state.throttle.checked <= LOGIN_FAILURES
        # The guesser's address stays locked out of this name, even with the right password...
        right = guesser.post("/login", data={"name": "anna", "password": PASSWORD, "csrf_token": token})
        assert right.status_code == 429 and "wait 15 minutes" in right.text
    # ... but the real user, from an address with no failures, logs in.
    with httpx.Client(base_url=served.url, headers={"X-Forwarded-For": READER}) as reader:
        answer = reader.post("/login", data={"name": "anna", "password": PASSWORD, "csrf_token": login_form(reader)})
        assert answer.status_code == 303 and answer.headers["location"] == "/search"


def test_one_address_spraying_names_and_the_server_wide_ceiling() -> None:
    throttle = LoginThrottle(per_pair=5, per_address=8, ceiling=12)
    for i in range(8):
        with throttle.attempt(f"name{i}", GUESSER) as refusal:
            assert refusal == ""
    with throttle.attempt("anna", GUESSER) as refusal:
        assert refusal.startswith("Too many failed attempts from your address")
    for i in range(4):
        with throttle.attempt(f"other{i}", f"192.0.2.{i}") as refusal:
            assert refusal == ""
    with throttle.attempt("anna", READER) as refusal:  # 12 failures server-wide: everyone waits
        assert refusal.startswith("Too many failed logins on this server")
    assert throttle.checked == 12
    throttle = LoginThrottle(per_pair=5, per_address=100, ceiling=3)
    for _ in range(10):  # successes are not failures: they never reach the ceiling
        with throttle.attempt("anna", READER) as refusal:
            assert refusal == ""
        throttle.succeeded("anna", READER)


def test_any_string_as_a_csrf_or_feed_token_is_refused_not_a_crash(served: Served) -> None:
    assert same_text("令牌", "abc") is False and same_text(None, "") is False and same_text("ab", "ab")
    with httpx.Client(base_url=served.url) as client:
        login_form(client)
        for token in ("令牌", "é" * 43):
            answer = client.post("/login", data={"name": "anna", "password": PASSWORD, "csrf_token": token})
            assert answer.status_code == 403 and "CSRF" in answer.text
        raw = client.post("/login", content=b"name=anna&password=x&csrf_token=%FF%FE%ED%B3%BF",  # not UTF-8
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert raw.status_code == 403 and "CSRF" in raw.text
        for token in ("令牌", "%FF%FE", "ü" * 32):
            answer = client.get(f"/feeds/nosuch.atom?token={token}")
            assert answer.status_code in {303, 404}, answer.status_code  # the login page, as for any wrong token
        assert client.get("/feeds/nosuch.atom?token=wrong").status_code == answer.status_code


def test_hsts_and_secure_cookies_over_https_through_a_trusted_proxy(served: Served, sqlite_db: Database) -> None:
    plain = httpx.get(f"{served.url}/login")
    assert "strict-transport-security" not in plain.headers
    assert "secure" not in plain.headers["set-cookie"].lower()
    proxied = httpx.get(f"{served.url}/login", headers={"X-Forwarded-Proto": "https"})
    assert proxied.headers["strict-transport-security"] == HSTS
    assert "; secure" in proxied.headers["set-cookie"].lower()
    # A peer that is not a trusted proxy cannot claim HTTPS (nor another client address).
    untrusted = create_app(sqlite_db, WebSettings(secret_key=SECRET))
    with TestClient(untrusted, base_url="https://caigou.example.org") as direct:  # served over HTTPS itself
        answer = direct.get("/login")
        assert answer.headers["strict-transport-security"] == HSTS and "; secure" in answer.headers[
            "set-cookie"].lower()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(untrusted, host="127.0.0.1", port=port, log_level="warning",
                                           proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.05)
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/login", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in answer.headers and "secure" not in answer.headers[
            "set-cookie"].lower()
    finally:
        server.should_exit = True
        thread.join(10)
