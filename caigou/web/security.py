"""The web interface's login throttle, constant-time comparison of any string, and what a trusted reverse proxy
may say (the client's address, that the request came over HTTPS).

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
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from starlette.requests import Request

HSTS = "max-age=31536000; includeSubDomains"


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
                for table in (self._pairs, self._addresses):
                    for key in [key for key, times in table.items() if not self._recent(times, moment)]:
                        del table[key]  # type: ignore[arg-type]
