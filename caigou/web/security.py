"""Who may do what on the web interface: the settings (signing key, anonymous reading, proxies), the signed session
cookie and the security headers (``session_and_headers``), the current user and ``require_reader``,
``require_login``, ``reviewer(action)`` and ``csrf_checked`` as FastAPI dependencies (``Depends``), the login
throttle, constant-time comparison of any string, and what a trusted reverse proxy may say (the client's address,
that the request came over HTTPS).

The throttle is one lock-guarded table in the serving process (``caigou serve`` is one process): an attempt is
counted *before* the password hash is checked, so simultaneous guesses cannot all slip in between the check and
the count. Limits, each within ``window`` seconds (15 minutes):

* ``per_pair`` failures (5) of one name from one client address: that address must wait for that name. The same
  name from an address with no failures is still checked, so a guesser cannot lock the real user out;
* ``per_address`` failures (20) from one address, whatever the names: spraying many names;
* ``ceiling`` failures (200) on the whole server: a guess campaign from many addresses; every login then waits.

A success clears the failures of its name and address. Argon2 is memory-hard (64 MiB a check): at most
``concurrent_checks`` (4) run at once, the others are told to retry (HTTP 429) rather than queue up.
"""
from __future__ import annotations

import hmac
import ipaddress
import secrets
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Depends, HTTPException
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from caigou.accounts import session_user
from caigou.models.config import Config

HSTS = "max-age=31536000; includeSubDomains"
SESSION_COOKIE = "caigou_session"
SESSION_AGE = 12 * 3600          # seconds a login lasts
LOGIN_FAILURES = 5               # failures of a name from one address within 15 minutes before that pair waits
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")


def same_text(given: object, expected: str) -> bool:
    """Constant-time equality of a submitted value with ``expected``: any string (non-ASCII too, which
    ``hmac.compare_digest`` refuses as ``str``) or None compares as bytes, never raises. Nothing equals an
    empty ``expected``: a missing secret is never matched by a missing answer."""
    if not expected:
        return False
    raw = given if isinstance(given, str) else ""
    return hmac.compare_digest(raw.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


@dataclass
class ProxyTrust:
    """Reverse proxies whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed (``[web] trusted_proxies``,
    addresses or networks); nobody else's are."""

    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def parse(cls, values: list[str] | tuple[str, ...] | str | None) -> ProxyTrust:
        items = [values] if isinstance(values, str) else list(values or [])
        return cls(tuple(ipaddress.ip_network(str(item).strip(), strict=False) for item in items if str(item).strip()))

    def trusts(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client(self, request: Request) -> str:
        """The client's address: the peer, or — through trusted proxies — the nearest untrusted address they
        forwarded for (the rightmost, since a client can put anything at the left of the header)."""
        peer = request.client.host if request.client else ""
        if not self.trusts(peer):
            return peer
        forwarded = [part.strip() for part in request.headers.get("x-forwarded-for", "").split(",") if part.strip()]
        for address in reversed(forwarded):
            if not self.trusts(address):
                return address
        return forwarded[0] if forwarded else peer

    def https(self, request: Request) -> bool:
        """Whether the reader's browser reached us over HTTPS: directly, or as a trusted proxy says."""
        if request.url.scheme == "https":
            return True
        peer = request.client.host if request.client else ""
        proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        return self.trusts(peer) and proto == "https"


_K = TypeVar("_K")  # a throttle table's key: a (name, address) pair or an address


@dataclass
class LoginThrottle:
    per_pair: int = 5
    per_address: int = 20
    ceiling: int = 200
    window: float = 15 * 60
    concurrent_checks: int = 4
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _pairs: dict[tuple[str, str], deque[float]] = field(default_factory=dict, repr=False)
    _addresses: dict[str, deque[float]] = field(default_factory=dict, repr=False)
    _all: deque[float] = field(default_factory=deque, repr=False)
    _checking: int = 0
    checked: int = 0  # password checks let through, for the operator and the tests

    def _recent(self, times: deque[float], moment: float) -> int:
        while times and times[0] <= moment - self.window:
            times.popleft()
        return len(times)

    @contextmanager
    def attempt(self, name: str, address: str) -> Iterator[str]:
        """Reserve a password check for ``name`` from ``address``: yields "" when it may go ahead (counted as a
        failure until ``succeeded``), else why not. The reservation is made under the lock, before any hashing."""
        moment = time.monotonic()
        with self._lock:
            pair = self._pairs.setdefault((name, address), deque())
            per_address = self._addresses.setdefault(address, deque())
            if self._recent(pair, moment) >= self.per_pair:
                refusal = "Too many failed attempts for this name from your address; wait 15 minutes."
            elif self._recent(per_address, moment) >= self.per_address:
                refusal = "Too many failed attempts from your address; wait 15 minutes."
            elif self._recent(self._all, moment) >= self.ceiling:
                refusal = "Too many failed logins on this server just now; wait a few minutes."
            elif self._checking >= self.concurrent_checks:
                refusal = "The server is busy checking other logins; try again in a moment."
            else:
                refusal = ""
                for times in (pair, per_address, self._all):
                    times.append(moment)
                self._checking += 1
                self.checked += 1
        try:
            yield refusal
        finally:
            if not refusal:
                with self._lock:
                    self._checking -= 1

    def succeeded(self, name: str, address: str) -> None:
        """The right password: this name's failures from this address, and the address's, are forgotten (not
        those from other addresses, which may be a guesser's, nor the server's)."""
        with self._lock:
            self._pairs.pop((name, address), None)
            self._addresses.pop(address, None)
            if self._all:  # the reservation this success made is no failure (which one goes hardly matters)
                self._all.pop()
            if len(self._pairs) > 10_000:  # names and addresses that failed long ago take no memory for ever
                moment = time.monotonic()
                self._forget_stale(self._pairs, moment)
                self._forget_stale(self._addresses, moment)

    def _forget_stale(self, table: dict[_K, deque[float]], moment: float) -> None:
        for key in [key for key, times in table.items() if not self._recent(times, moment)]:
            del table[key]


@dataclass
class WebSettings:
    secret_key: str
    anonymous_read: bool = False
    base_url: str = ""
    secure_cookies: bool = False   # set when served over HTTPS (behind a proxy)
    trusted_proxies: ProxyTrust = field(default_factory=ProxyTrust)  # whose X-Forwarded-* headers count

    @classmethod
    def from_config(cls, config: Config, anonymous_read: bool | None = None) -> WebSettings:
        return cls(secret_key=config.get("web", "secret_key", "") or persistent_secret(config.data_dir),
                   anonymous_read=bool(config.get("web", "anonymous_read", False)) if anonymous_read is None
                   else anonymous_read,
                   base_url=str(config.get("web", "base_url", "") or ""),
                   secure_cookies=bool(config.get("web", "secure_cookies", False)),
                   trusted_proxies=ProxyTrust.parse(config.get("web", "trusted_proxies", [])))


def persistent_secret(data_dir: Path) -> str:
    """A random signing key kept in the data folder (mode 0600), so logins survive a restart."""
    path = data_dir / "web-secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


def session_and_headers(settings: WebSettings) -> Callable[[Request, Any], Awaitable[Response]]:
    """The HTTP middleware: the signed session cookie in (``request.state.session``, always with a CSRF token) and
    out (when it is new or changed), and the security headers on every response."""
    serializer = URLSafeTimedSerializer(settings.secret_key, salt="caigou-session")

    async def middleware(request: Request, call_next: Any) -> Response:
        session: dict[str, Any] = {}
        raw = request.cookies.get(SESSION_COOKIE)
        if raw:
            try:
                session = serializer.loads(raw, max_age=SESSION_AGE)
            except BadSignature:
                session = {}
        fresh = "csrf" not in session
        if fresh:
            session = {"csrf": secrets.token_urlsafe(32)}
        request.state.session = session
        response: Response = await call_next(request)
        https = settings.trusted_proxies.https(request)
        if fresh or request.state.session is not session or getattr(request.state, "session_changed", False):
            response.set_cookie(SESSION_COOKIE, serializer.dumps(request.state.session), max_age=SESSION_AGE,
                                httponly=True, samesite="lax", secure=settings.secure_cookies or https)
        if https:
            response.headers["Strict-Transport-Security"] = HSTS
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return middleware


class LoginRequired(Exception):
    """Raised by ``require_reader`` / ``require_login``; the app answers 401 (API) or a redirect to the login page."""


def user_of(request: Request) -> str | None:
    """The logged-in user, checked against the database once per request: a signed cookie proves who logged
    in, not that they still may (disabled, logged out elsewhere, password changed). A revoked session is
    replaced by an anonymous one."""
    if getattr(request.state, "user_checked", False):
        checked: str | None = request.state.user
        return checked
    raw = request.state.session.get("user")
    name = None if raw is None else str(raw)
    if name is not None:
        with request.app.state.database.session() as session:
            still_good = session_user(session, name, request.state.session.get("generation"))
        if not still_good:
            request.state.session = {"csrf": secrets.token_urlsafe(32)}
            name = None
    request.state.user, request.state.user_checked = name, True
    return name


def current_user(request: Request) -> str | None:
    """Dependency: the logged-in user or None (anonymous)."""
    return user_of(request)


def require_reader(request: Request) -> str | None:
    """Dependency: anyone allowed to read notices (a logged-in user, or anyone with ``anonymous_read``)."""
    user = user_of(request)
    if user is None and not request.app.state.settings.anonymous_read:
        raise LoginRequired()
    return user


def require_login(request: Request) -> str:
    """Dependency: a logged-in reviewer, even with anonymous reading on: for pages that show recipients' addresses
    and feed tokens (the subscriptions)."""
    user = user_of(request)
    if user is None:
        raise LoginRequired()
    return user


def reviewer(action: str) -> Any:
    """Dependency: the logged-in reviewer who may ``action`` (a 403 naming it otherwise)."""
    def require_reviewer(request: Request) -> str:
        user = user_of(request)
        if user is None:
            raise HTTPException(403, f"Only a logged-in reviewer can {action}.")
        return user
    return Depends(require_reviewer)


async def posted_form(request: Request) -> dict[str, list[str]]:
    """Every field of a posted form with all its values (checkbox groups send one name many times)."""
    form = await request.form()
    return {key: [value for value in form.getlist(key) if isinstance(value, str)] for key in form.keys()}


def check_csrf(request: Request, token: object) -> None:
    if not same_text(token, str(request.state.session.get("csrf", ""))):
        raise HTTPException(403, "The form's security token did not match (CSRF check). Reload the page "
                                 "and send it again.")


def csrf_checked(request: Request, form: dict[str, list[str]] = Depends(posted_form)) -> None:
    """Dependency (first on every form post): the form's ``csrf_token`` is this session's."""
    check_csrf(request, (form.get("csrf_token") or [""])[-1])
