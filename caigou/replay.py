"""A local HTTP server that replays recorded or sample responses, for the demo and the tests.

It answers both as an ordinary server and as a forward proxy: with ``http_proxy=http://127.0.0.1:PORT`` a spider
keeps the real portal URLs (``http://www.ccgp.gov.cn/…``) and gets the replayed pages, so the spider under test is
exactly the one that runs against the real site. Query strings match whatever their parameters' order, and
cache-busters (``_t``) are ignored.
A route may hold several responses, served in turn (the last repeats): a block page, then the real page.

POST routes: a route may also match on the method and the request body — form fields (sorted, so their order does
not matter) or a JSON body (keys sorted) — so the list POSTs of different pages and date windows get different
replies. A POST whose body matches no body route falls back to the route of its URL alone (GET behaviour).
Anything not routed is a 404 and is logged in ``misses`` (POSTs with their body key).

https: as a proxy it accepts ``CONNECT`` and speaks TLS inside the tunnel with a self-signed certificate made on
the spot (Scrapy, like most crawlers, does not verify certificates), so https portals keep their real URLs too.
"""
from __future__ import annotations

import datetime as dt
import json
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NotRequired, TypedDict
from urllib.parse import parse_qsl, urlencode, urlsplit


@dataclass
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering: a slow portal, for timeout tests


# Cache-busters the portals' own pages add (the time in ms): no part of what a request asks for.
VOLATILE = frozenset({"_t"})


def route_key(url: str, host: str = "") -> str:
    """host + path + sorted query: the identity of a request whatever its parameters' order (cache-busters
    left out)."""
    parts = urlsplit(url)
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in VOLATILE))
    return f"{(parts.hostname or host).lower()}{parts.path or '/'}" + (f"?{query}" if query else "")


def body_key(body: bytes, content_type: str = "") -> str:
    """A request body's identity: JSON with sorted keys, or form fields sorted; other bodies as text."""
    text = body.decode("utf-8", errors="replace")
    if "json" in content_type or text.lstrip().startswith(("{", "[")):
        try:
            value = json.loads(text)
            if isinstance(value, dict):
                value = {k: v for k, v in value.items() if k not in VOLATILE}
            return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            pass
    if "=" in text or not text:
        return urlencode(sorted((k, v) for k, v in parse_qsl(text, keep_blank_values=True) if k not in VOLATILE))
    return text


def post_key(url: str, form: Mapping[str, object] | None = None, json_body: object = None) -> str:
    """The route key of a POST of ``form`` fields or a ``json_body`` to ``url``."""
    if json_body is not None:
        body = json.dumps(json_body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    else:
        body = urlencode(sorted((str(k), str(v)) for k, v in (form or {}).items()))
    return f"POST {route_key(url)} {body}"


@cache
def tls_context(host: str) -> ssl.SSLContext:
    """A server context with a throwaway self-signed certificate for ``host`` (made once per host and process;
    naming the host keeps Scrapy from warning that the certificate is for another name)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "caigou replay")])
    now = dt.datetime.now(dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=30))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
                   .sign(key, hashes.SHA256()))
    folder = Path(tempfile.mkdtemp(prefix="caigou-replay-"))
    (folder / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return context


class ReplySpec(TypedDict):
    """One reply of a manifest, as its JSON gives it."""
    file: str
    status: NotRequired[int]
    content_type: NotRequired[str]


class ReplayServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.served: dict[str, int] = {}
        self.requests: list[str] = []
        self.headers: list[dict[str, str]] = []  # each of ``requests``' headers (names lower-cased)
        self.times: list[float] = []  # when each of ``requests`` arrived (time.monotonic), for back-off tests
        self.misses: list[str] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def add(self, url: str, *replies: Reply, form: Mapping[str, object] | None = None,
            json_body: object = None) -> None:
        """Route ``url`` (any method) to ``replies``; with ``form`` or ``json_body``, only a POST of that body."""
        if form is not None or json_body is not None:
            self.routes[post_key(url, form, json_body)] = list(replies)
        else:
            self.routes[route_key(url)] = list(replies)

    def add_manifest(self, manifest: Path) -> None:
        """Routes from a manifest: ``{"url": {"file": "a.html", "content_type": "...", "status": 200}}``; a list
        of such entries is served in turn. A manifest may instead be a list of routes, for POSTs:
        ``[{"url": …, "form": {…} | "json": {…}, "replies": [{"file": …}, …]}, …]``."""
        entries = json.loads(manifest.read_text(encoding="utf-8"))

        def replies(specs: list[ReplySpec]) -> list[Reply]:
            return [Reply(body=(manifest.parent / str(s["file"])).read_bytes(), status=int(s.get("status", 200)),
                          content_type=str(s.get("content_type", "text/html; charset=utf-8"))) for s in specs]

        if isinstance(entries, list):
            for route in entries:
                specs = route.get("replies") or [route]
                self.add(route["url"], *replies(specs), form=route.get("form"), json_body=route.get("json"))
            return
        for url, spec in entries.items():
            self.add(url, *replies(spec if isinstance(spec, list) else [spec]))

    def reply_for(self, url: str, host: str, method: str = "GET", body: bytes = b"",
                  content_type: str = "", headers: Mapping[str, str] | None = None) -> Reply | None:
        key = route_key(url, host)
        with self._lock:
            self.times.append(time.monotonic())
            self.headers.append({name.lower(): value for name, value in (headers or {}).items()})
            if method == "POST":
                keyed = f"POST {key} {body_key(body, content_type)}"
                self.requests.append(keyed)
                if keyed in self.routes:
                    key = keyed
            else:
                self.requests.append(key)
            replies = self.routes.get(key)
            if not replies:
                self.misses.append(keyed if method == "POST" else key)
                return None
            count = self.served.get(key, 0)
            self.served[key] = count + 1
            return replies[min(count, len(replies) - 1)]

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # an AF_INET server's address: (str, int), never a Unix socket's bytes
        return f"http://{host}:{port}"

    def start(self) -> ReplayServer:
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                reply = replay.reply_for(self.path, self.headers.get("Host", "").split(":")[0], self.command,
                                         body, self.headers.get("Content-Type", ""), dict(self.headers.items()))
                if reply is None:
                    reply = Reply(b"not found", status=404, content_type="text/plain")
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    # The client went away while a delayed reply waited (a crawl killed by its timeout).
                    self.close_connection = True

            do_POST = do_GET  # list APIs of some portals are POSTs; reply_for routes on the body

            def do_CONNECT(self) -> None:  # an https request through the proxy: TLS in the tunnel
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()
                try:
                    host = self.path.rsplit(":", 1)[0]  # CONNECT host:port
                    tunnel = tls_context(host).wrap_socket(self.connection, server_side=True)
                except (ssl.SSLError, OSError):
                    self.close_connection = True
                    return
                self.connection = tunnel
                # Buffered, as StreamRequestHandler.setup's makefile("rb", rbufsize) with its rbufsize of -1.
                self.rfile = tunnel.makefile("rb")
                self.wfile = tunnel.makefile("wb")
                self.close_connection = False  # handle() goes on with the request inside the tunnel

            def log_message(self, format: str, *args: object) -> None:  # silence per-request logs
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@contextmanager
def serving(*manifests: Path) -> Iterator[ReplayServer]:
    server = ReplayServer()
    for manifest in manifests:
        server.add_manifest(manifest)
    server.start()
    try:
        yield server
    finally:
        server.stop()
