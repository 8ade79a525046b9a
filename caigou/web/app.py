"""``caigou serve``: the investigators' web interface and JSON API (FastAPI, server-rendered Jinja2, no build step).

Security model, because every scraped string and page is hostile and the readers are human-rights investigators:

* every value is escaped by Jinja2's autoescape; archived pages are shown only after nh3's allow-list cleaning, and
  the original bytes are served only as a download; a strict Content-Security-Policy forbids any script at all,
  inline or remote, and images from anywhere but this server (so a notice cannot make a reader's browser call home);
* reviewers log in; passwords are Argon2id hashes; the session is a signed, HttpOnly, SameSite=Lax cookie; every
  form carries a CSRF token bound to the session; failed logins are throttled per name and address, per address
  and server-wide, counted before the password is checked (caigou.web.security); over HTTPS (or behind a trusted
  proxy that says so) cookies are Secure and HSTS is sent;
* without ``[web] anonymous_read = true`` nothing but the login page is shown to anonymous visitors; even with it,
  only reading notices is open — reviewing and the subscriptions (their recipients' addresses, feed tokens) always
  need a login;
* queries reach the database only as bound parameters (SQLAlchemy);
* links to the portals carry ``rel=noreferrer`` and the Referrer-Policy is ``no-referrer``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import re
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException

from caigou import __version__
from caigou.accounts import authenticate, end_sessions, get_user, session_user
from caigou.digest.feed import atom_feed
from caigou.digest.subscriptions import (DEFAULT_TIME, DEFAULT_ZONE, SubscriptionInput, add_subscription,
                                         delivered_count, delivery_count, history, last_sent, recent_deliveries,
                                         removals, remove_subscription, web_actor)
from caigou.export.naming import export_filename
from caigou.export.rows import COLUMNS, COMPACT_COLUMNS, Selection
from caigou.export.writers import csv_chunks, write_xlsx
from caigou.labels import HTML_LANG, LANGUAGES, notice_type_label, translate
from caigou.filters import (MATCH_CATEGORIES, TIBETAN_AREAS, FilterError, NoticeFilters, filters_from_params,
                            filters_to_params, known_sources)
from caigou.notice_view import (NotFound, archived_page, notice_detail, notice_dict, sanitised_html,
                               valid_id)
from caigou.review import ReviewError, ReviewInput, add_review, parse_tags, review_dict
from caigou.safe_text import http_url
from caigou.search import SORTS, QueryError, highlight, search
from caigou.web.entities import entities_router
from caigou.web.security import HSTS, LoginThrottle, ProxyTrust, same_text
from models import NOTICE_TYPES, REVIEW_FIRST_SCORE, REVIEW_STATUSES, Subscription
from models.config import Config
from models.db import Database
from models.errors import CaigouError
from models.types import SHANGHAI
from pipelines.normalise import regions

HERE = Path(__file__).parent
SESSION_COOKIE = "caigou_session"
SESSION_AGE = 12 * 3600          # seconds a login lasts
PAGE_SIZE = 20
CONTEXT_WINDOW = 200             # hits read around a notice for previous / next / next unreviewed
MAX_PAGE = 500                   # deep paging is what exports are for
LOGIN_FAILURES = 5               # failures of a name from one address within 15 minutes before that pair waits

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; "
       "base-uri 'none'")


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


def feed_token(secret_key: str, name: str) -> str:
    """The capability in a subscription's feed address: feed readers cannot log in."""
    return hmac.new(secret_key.encode(), f"feed:{name}".encode(), hashlib.sha256).hexdigest()[:32]


def feed_path(secret_key: str, name: str) -> str:
    return f"/feeds/{quote(name, safe='')}.atom?token={feed_token(secret_key, name)}"


# The search's single-valued parameters the add form takes over from "Subscribe to this search".
SEARCH_FIELDS = ("q", "since", "until", "buyer", "supplier", "min_score")
# The add form's fields that take several values: checkboxes, or text split at commas (、，; and new lines too).
LIST_FIELDS = ("region", "source", "type", "term", "category", "status")
_SEPARATORS = re.compile(r"[,，、;；\r\n]+")
# A short list to pick from; any IANA name may be typed.
TIME_ZONES = ("Asia/Shanghai", "UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "America/New_York",
              "America/Los_Angeles", "Asia/Kolkata", "Asia/Tokyo", "Australia/Sydney")
FORM_DEFAULTS = {"min_score": [str(REVIEW_FIRST_SCORE)], "delivery_time": [DEFAULT_TIME],
                 "time_zone": [DEFAULT_ZONE], "skip_when_empty": ["yes"]}


@dataclass
class SubscriptionForm:
    """The add form as sent (or its defaults): read into a ``SubscriptionInput``, and shown again as it was sent
    when it is refused. Checking is ``add_subscription``'s and the filters' business, not this class's."""
    fields: dict[str, list[str]] = field(default_factory=lambda: dict(FORM_DEFAULTS))

    def text(self, name: str) -> str:
        values = self.fields.get(name) or [""]
        return values[-1]

    def values(self, name: str) -> list[str]:
        return [part.strip() for value in self.fields.get(name, []) for part in _SEPARATORS.split(value)
                if part.strip()]

    def checked(self, name: str, value: str = "yes") -> bool:
        return value in self.values(name)

    def region_text(self) -> str:
        """The regions typed in, without the Tibetan areas (that is the checkbox)."""
        return ", ".join(v for v in self.values("region") if v != TIBETAN_AREAS)

    def subscription(self) -> SubscriptionInput:
        """Raises ``FilterError`` (a ``CaigouError``) for a filter that cannot be read."""
        params = {name: self.values(name) for name in LIST_FIELDS}
        params.update({name: self.fields[name] for name in ("since", "until", "buyer", "supplier", "min_score")
                       if name in self.fields})
        # As on the search page: min_score sent empty means every score; not sent at all, the default 50.
        filters = filters_from_params(params, default_min_score=REVIEW_FIRST_SCORE)
        return SubscriptionInput(
            self.text("name"), [line for line in self.text("recipients").splitlines() if line.strip()], filters,
            query=self.text("q"),
            delivery_time=self.text("delivery_time"), time_zone=self.text("time_zone"),
            skip_when_empty=self.checked("skip_when_empty"), attach_csv=self.checked("attach_csv"),
            backfill=self.checked("backfill"))


async def posted_form(request: Request) -> dict[str, list[str]]:
    """Every field of a posted form with all its values (checkbox groups send one name many times)."""
    form = await request.form()
    return {key: [value for value in form.getlist(key) if isinstance(value, str)] for key in form.keys()}


FILTER_LABELS = {"regions": "Regions", "sources": "Sources", "notice_types": "Notice types",
                 "terms": "Watchlist terms", "categories": "Categories", "buyer": "Buyer contains",
                 "supplier": "Supplier contains", "review_statuses": "Review status", "since": "Published from",
                 "until": "Published until", "min_score": "Minimum score"}


def describe_filters(filters: dict[str, Any]) -> list[tuple[str, str]]:
    """A subscription's stored filters as (label, text) lines; regions with their names."""
    names = {region.code: region.name for region in regions()}
    lines: list[tuple[str, str]] = []
    for key, label in FILTER_LABELS.items():
        value = filters.get(key)
        if key == "regions" and value:
            value = [("Tibetan areas 藏区" if v == TIBETAN_AREAS else f"{v} {names.get(v, '')}".strip())
                     for v in value]
        if key == "min_score" and value is None:
            lines.append((label, "none: every score"))
        elif value not in (None, "", []):
            lines.append((label, ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    return lines


PREVIEW_DAYS = (7, 30)


def recent_counts(database: Database, query: str, filters: NoticeFilters,
                  today: dt.date | None = None) -> dict[int, int]:
    """How many notices the search found among those published in the last 7 and 30 days: what a subscription to
    it would have sent, as a preview beside "Subscribe to this search"."""
    today = today or dt.datetime.now(SHANGHAI).date()
    counts = {}
    for days in PREVIEW_DAYS:
        start = today - dt.timedelta(days=days - 1)
        since = max(start, filters.since) if filters.since else start
        counts[days] = Selection(replace(filters, since=since), query=query).count(database)
    return counts


def create_app(database: Database, settings: WebSettings) -> FastAPI:
    app = FastAPI(title="caigou", version=__version__, docs_url=None, redoc_url=None,
                  description="Search and read the caigou archive of procurement notices (read-only API).")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["http_url"] = http_url
    templates.env.globals.update(highlight=highlight, statuses=REVIEW_STATUSES, notice_types=NOTICE_TYPES,
                                 type_label=notice_type_label,
                                 review_first=REVIEW_FIRST_SCORE, version=__version__)
    serializer = URLSafeTimedSerializer(settings.secret_key, salt="caigou-session")
    throttle = LoginThrottle()
    app.state.throttle = throttle
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # ------------------------------------------------------------------------------------------ plumbing

    @app.middleware("http")
    async def session_and_headers(request: Request, call_next: Any) -> Response:
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

    def user_of(request: Request) -> str | None:
        """The logged-in user, checked against the database once per request: a signed cookie proves who logged
        in, not that they still may (disabled, logged out elsewhere, password changed). A revoked session is
        replaced by an anonymous one."""
        if getattr(request.state, "user_checked", False):
            return request.state.user
        name = request.state.session.get("user")
        if name is not None:
            with database.session() as session:
                still_good = session_user(session, str(name), request.state.session.get("generation"))
            if not still_good:
                request.state.session = {"csrf": secrets.token_urlsafe(32)}
                name = None
        request.state.user, request.state.user_checked = name, True
        return name

    def require_reader(request: Request) -> str | None:
        user = user_of(request)
        if user is None and not settings.anonymous_read:
            raise LoginRequired()
        return user

    def require_login(request: Request) -> str:
        """A logged-in reviewer, even with anonymous reading on: for pages that show recipients' addresses and
        feed tokens (the subscriptions)."""
        user = user_of(request)
        if user is None:
            raise LoginRequired()
        return user

    def require_reviewer(request: Request, action: str) -> str:
        user = user_of(request)
        if user is None:
            raise HTTPException(403, f"Only a logged-in reviewer can {action}.")
        return user

    def check_csrf(request: Request, token: str) -> None:
        if not same_text(token, str(request.state.session.get("csrf", ""))):
            raise HTTPException(403, "The form's security token did not match (CSRF check). Reload the page "
                                     "and send it again.")

    def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        language = str(request.state.session.get("lang", "en"))
        context.update(request=request, user=user_of(request), csrf=request.state.session["csrf"],
                       anonymous_read=settings.anonymous_read, lang=language, html_lang=HTML_LANG[language],
                       _=lambda word: translate(word, language),
                       here=request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return templates.TemplateResponse(request, template, context, status_code=status_code)

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    class LoginRequired(Exception):
        pass

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, _exc: LoginRequired) -> Response:
        if wants_json(request):
            return JSONResponse({"error": "log in first (or switch on [web] anonymous_read)"}, status_code=401)
        return RedirectResponse(f"/login?{urlencode({'next': request.url.path + '?' + request.url.query})}",
                                status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_json(request):
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        return page(request, "error.html", status_code=exc.status_code, message=exc.detail)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        return await http_error(request, StarletteHTTPException(404, str(exc)))

    def params_of(request: Request) -> dict[str, list[str]]:
        return {key: request.query_params.getlist(key) for key in request.query_params}

    def read_selection(request: Request) -> tuple[str, NoticeFilters, str]:
        """The query, filters and sort of a request; a bad filter or sort is a ``FilterError`` naming its field."""
        params = params_of(request)
        filters = filters_from_params(params, default_min_score=REVIEW_FIRST_SCORE)
        sort = (params.get("sort") or ["relevance"])[-1]
        if sort not in SORTS:
            raise FilterError(f"sort must be one of {', '.join(SORTS)}", "sort")
        return (params.get("q") or [""])[-1].strip(), filters, sort

    def selection(request: Request) -> tuple[str, NoticeFilters, str]:
        try:
            return read_selection(request)
        except FilterError as exc:
            raise HTTPException(400, str(exc)) from exc

    def page_number(request: Request) -> int:
        raw = request.query_params.get("page", "1")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
            raise HTTPException(400, f"page must be a number from 1 to {MAX_PAGE}")
        return int(raw)

    # ------------------------------------------------------------------------------------------ accounts

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/search") -> HTMLResponse:  # noqa: A002
        return page(request, "login.html", next=safe_next(next), error="")

    @app.post("/login", include_in_schema=False)
    def login(request: Request, name: str = Form(""), password: str = Form(""), csrf_token: str = Form(""),
              next: str = Form("/search")) -> Response:  # noqa: A002
        check_csrf(request, csrf_token)
        address = settings.trusted_proxies.client(request)
        with throttle.attempt(name, address) as refusal:  # counted before the hash is checked
            if refusal:
                return page(request, "login.html", status_code=429, next=safe_next(next), error=refusal)
            with database.session() as session:
                user = authenticate(session, name, password)
                found = (user.name, user.session_generation) if user is not None else None
        if found is None:
            return page(request, "login.html", status_code=401, next=safe_next(next),
                        error="Unknown name or wrong password.")
        throttle.succeeded(name, address)
        # A new session (and CSRF token) at login: a token planted before login is worthless after it.
        request.state.session = {"csrf": secrets.token_urlsafe(32), "user": found[0], "generation": found[1]}
        request.state.user, request.state.user_checked = found[0], True
        return RedirectResponse(safe_next(next), status_code=303)

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf_token: str = Form("")) -> Response:
        check_csrf(request, csrf_token)
        name = user_of(request)
        if name is not None:
            # Logging out ends this user's sessions everywhere: a copy of the cookie is worthless after it.
            with database.session() as session:
                end_sessions(get_user(session, name))
        request.state.session = {"csrf": secrets.token_urlsafe(32)}
        request.state.user = None
        return RedirectResponse("/login", status_code=303)

    # ------------------------------------------------------------------------------------------ pages

    @app.get("/lang/{language}", include_in_schema=False)
    def switch_language(request: Request, language: str, next: str = "/search") -> Response:  # noqa: A002
        """The interface language (zh or en), kept in the session; back to the page it was chosen on."""
        if language not in LANGUAGES:
            raise HTTPException(404, f"no interface language {language!r}; one of {', '.join(LANGUAGES)}")
        request.state.session = {**request.state.session, "lang": language}
        return RedirectResponse(safe_next(next), status_code=303)

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/search", status_code=303)

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request) -> HTMLResponse:
        require_reader(request)
        number = page_number(request)
        field_errors: dict[str, str] = {}
        try:
            query, filters, sort = read_selection(request)
        except FilterError as exc:
            # The query and the other values stay as sent; the message goes beside the field it is about.
            query, filters, sort = (request.query_params.get("q", "").strip(), NoticeFilters(min_score=None),
                                    "relevance")
            field_errors[exc.field or "q"] = str(exc)
        results, error = None, ""
        if not field_errors:
            try:
                results = search(database, query, filters, sort=sort, limit=PAGE_SIZE,
                                 offset=(number - 1) * PAGE_SIZE)
            except FilterError as exc:
                field_errors[exc.field or "q"] = str(exc)
            except QueryError as exc:
                error = str(exc)
        pages = math.ceil(results.total / PAGE_SIZE) if results else 0
        base = [("q", query), ("sort", sort), *filters_to_params(filters)]
        if field_errors:
            # Keep every parameter as sent (the bad one too), so nothing typed is lost.
            base = [(key, value) for key, values in params_of(request).items() for value in values if key != "page"]
            error = next(iter(field_errors.values()))
        came_from = urlencode([*[(k, v) for k, v in base if k != "page"], ("page", str(number))])
        return page(request, "search.html", status_code=400 if error else 200, query=query, filters=filters,
                    came_from=came_from, from_query=urlencode({"from": came_from}), field_errors=field_errors, raw=request.query_params,
                    past_end=bool(results and results.total and number > pages),
                    preview=recent_counts(database, query, filters) if results else {},
                    subscribe_link="/subscriptions?" + urlencode([(k, v) for k, v in base if k != "sort"]) + "#add",
                    sort=sort, sorts=SORTS, results=results, error=error, page_number=number,
                    pages=pages,
                    link=lambda **changes: "/search?" + urlencode(with_changes(base, changes)),
                    export_link="/export.csv?" + urlencode([(k, v) for k, v in base if k != "sort"]),
                    xlsx_link="/export.xlsx?" + urlencode([(k, v) for k, v in base if k != "sort"]),
                    facet_names=FACET_PARAMS, hidden=[(k, v) for k, v in base if k != "q"])

    def search_context(came_from: str, notice_id: int) -> dict[str, Any]:
        """Where a notice opened from a result list sits in it: the way back to the same results, the previous and
        next hits, and the next hit not reviewed yet (within ``CONTEXT_WINDOW`` hits of its page)."""
        params = parse_qs(came_from, keep_blank_values=True)
        context: dict[str, Any] = {"back": "/search?" + came_from + f"#n{notice_id}", "previous": None,
                                   "next": None, "next_unreviewed": None}
        try:
            filters = filters_from_params(params, default_min_score=REVIEW_FIRST_SCORE)
            sort = (params.get("sort") or ["relevance"])[-1]
            raw_page = (params.get("page") or ["1"])[-1]
            start = max(0, ((int(raw_page) if raw_page.isdigit() else 1) - 1) * PAGE_SIZE - 1)
            results = search(database, (params.get("q") or [""])[-1].strip(), filters,
                             sort=sort if sort in SORTS else "relevance", limit=CONTEXT_WINDOW, offset=start,
                             facets=False)
        except CaigouError:  # a hand-edited address: only the way back
            return context
        ids = [hit.notice.id for hit in results.hits]
        here = ids.index(notice_id) if notice_id in ids else None
        if here is not None:
            context["previous"] = ids[here - 1] if here > 0 else None
            context["next"] = ids[here + 1] if here + 1 < len(ids) else None
        after = results.hits[here + 1:] if here is not None else results.hits
        context["next_unreviewed"] = next((hit.notice.id for hit in after
                                           if hit.status == "new" and hit.notice.id != notice_id), None)
        return context

    @app.get("/notices/{notice_id}", response_class=HTMLResponse, include_in_schema=False)
    def notice_page(request: Request, notice_id: int) -> HTMLResponse:
        require_reader(request)
        came_from = request.query_params.get("from", "")
        context = search_context(came_from, notice_id) if came_from else None
        with database.session() as session:
            detail = notice_detail(session, notice_id)
            return page(request, "notice.html", detail=detail, notice=detail.notice, needles=detail.needles,
                        error=request.query_params.get("error", ""), came_from=came_from, context=context,
                        from_query=urlencode({"from": came_from}) if came_from else "")

    @app.post("/notices/{notice_id}/review", include_in_schema=False)
    def review(request: Request, notice_id: int, status: str = Form(""), note: str = Form(""),
               tags: str = Form(""), csrf_token: str = Form(""), came_from: str = Form("", alias="from")
               ) -> Response:
        check_csrf(request, csrf_token)
        user = require_reviewer(request, "record a judgement")
        if not valid_id(notice_id):
            raise NotFound(f"no notice with ID {notice_id}")
        keep = {"from": came_from} if came_from else {}   # the search the notice was opened from
        try:
            with database.session() as session:
                add_review(session, notice_id, user, ReviewInput(status, note, parse_tags(tags)))
        except ReviewError as exc:
            return RedirectResponse(f"/notices/{notice_id}?{urlencode({**keep, 'error': str(exc)})}#review",
                                    status_code=303)
        return RedirectResponse(f"/notices/{notice_id}{'?' + urlencode(keep) if keep else ''}#review",
                                status_code=303)

    @app.post("/review", include_in_schema=False)
    def bulk_review(request: Request, form: dict[str, list[str]] = Depends(posted_form)) -> Response:
        """The checked results judged at once (all or none), then back to the same results."""
        check_csrf(request, (form.get("csrf_token") or [""])[-1])
        user = require_reviewer(request, "record a judgement")
        came_from = (form.get("from") or [""])[-1]
        raw_ids = form.get("notice") or []
        if not raw_ids:
            raise HTTPException(400, "Tick at least one notice to judge.")
        if not all(value.isdigit() and valid_id(int(value)) for value in raw_ids):
            raise HTTPException(400, "A notice ID is not a number.")
        try:
            with database.session() as session:
                judgement = ReviewInput((form.get("status") or [""])[-1], (form.get("note") or [""])[-1])
                for notice_id in dict.fromkeys(int(value) for value in raw_ids):
                    add_review(session, notice_id, user, judgement)
        except ReviewError as exc:
            raise HTTPException(400, str(exc)) from exc
        return RedirectResponse("/search?" + came_from, status_code=303)

    @app.get("/notices/{notice_id}/pages/{page_id}", response_class=HTMLResponse, include_in_schema=False)
    def archived(request: Request, notice_id: int, page_id: int) -> HTMLResponse:
        require_reader(request)
        with database.session() as session:
            detail = notice_detail(session, notice_id)
            raw = archived_page(session, page_id)
            if raw.id not in {p.id for p in detail.pages}:
                raise HTTPException(404, f"page {page_id} is not evidence of notice {notice_id}")
            return page(request, "archived.html", notice=detail.notice, raw=raw, content=sanitised_html(raw))

    @app.get("/raw/{page_id}", include_in_schema=False)
    def raw_download(request: Request, page_id: int) -> Response:
        """The archived bytes exactly as fetched, as a download: evidence, never rendered here."""
        require_reader(request)
        with database.session() as session:
            raw = archived_page(session, page_id)
            body, sha = raw.body, raw.sha256
        return Response(body, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="page-{page_id}-{sha[:12]}.bin"',
                                 "X-Content-SHA256": sha})

    def export_selection(request: Request) -> tuple[Selection, tuple[str, ...], str]:
        """The result set (query and filters), its columns (compact unless ``columns=all``) and a file name stem
        that says what it holds."""
        query, filters, _sort = selection(request)
        chosen = Selection(filters, query=query)
        try:
            chosen.count(database)  # a malformed query or filter is a 400 here, not a broken download later
        except CaigouError as exc:  # QueryError, FilterError
            raise HTTPException(400, str(exc)) from exc
        columns = COLUMNS if request.query_params.get("columns") == "all" else COMPACT_COLUMNS
        return chosen, columns, export_filename(filters, query, "", dt.datetime.now(SHANGHAI).date())[:-1]

    def attachment_header(filename: str) -> str:
        # RFC 6266: an ASCII fallback, and the real (Chinese) name as UTF-8 for every current browser.
        return f"attachment; filename=\"caigou-export{filename[filename.rfind('.'):]}\"; filename*=UTF-8''{quote(filename)}"

    @app.get("/export.csv", include_in_schema=False)
    def export_csv(request: Request) -> Response:
        """The current result set (query and filters) as CSV, streamed, with a byte-order mark for Excel."""
        require_reader(request)
        chosen, columns, stem = export_selection(request)

        def stream() -> Iterator[bytes]:
            yield "\ufeff".encode()
            for chunk in csv_chunks(chosen.rows(database), columns):
                yield chunk.encode("utf-8")

        return StreamingResponse(stream(), media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": attachment_header(stem + ".csv")})

    @app.get("/export.xlsx", include_in_schema=False)
    def export_xlsx(request: Request) -> Response:
        """The current result set as XLSX (widths, autofilter, frozen header, real dates)."""
        require_reader(request)
        chosen, columns, stem = export_selection(request)
        with tempfile.NamedTemporaryFile(suffix=".xlsx") as file:
            write_xlsx(chosen.rows(database), columns, file.name)
            body = Path(file.name).read_bytes()
        return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": attachment_header(stem + ".xlsx")})

    def feed_link(name: str) -> str:
        return feed_path(settings.secret_key, name)

    def subscriptions_listing(request: Request, form: SubscriptionForm, error: str = "", message: str = "",
                              status_code: int = 200) -> HTMLResponse:
        with database.session() as session:
            rows = list(session.scalars(select(Subscription).order_by(Subscription.name)))
            return page(request, "subscriptions.html", status_code=status_code, subscriptions=rows, feed=feed_link,
                        last_sent={s.id: last_sent(session, s) for s in rows}, describe=describe_filters,
                        removals=removals(session),
                        form=form, error=error, message=message, sources=known_sources(session),
                        categories=MATCH_CATEGORIES, time_zones=TIME_ZONES, shanghai=lambda t: t.astimezone(ZoneInfo(DEFAULT_ZONE)))

    @app.get("/subscriptions", response_class=HTMLResponse, include_in_schema=False)
    def subscriptions_page(request: Request) -> HTMLResponse:
        require_login(request)
        removed = request.query_params.get("removed", "")
        # "Subscribe to this search" arrives with the search's query and filters: the add form starts from them.
        form = SubscriptionForm({**FORM_DEFAULTS, **{key: values for key, values in params_of(request).items()
                                                     if key in (*LIST_FIELDS, *SEARCH_FIELDS)}})
        return subscriptions_listing(request, form,
                                     message=f"Removed the subscription {removed!r} and its delivery log."
                                     if removed else "")

    @app.post("/subscriptions", include_in_schema=False)
    def subscription_add(request: Request, form: dict[str, list[str]] = Depends(posted_form)) -> Response:
        check_csrf(request, (form.get("csrf_token") or [""])[-1])
        reviewer = require_reviewer(request, "add a subscription")
        sent = SubscriptionForm(form)
        try:
            with database.session() as session:
                added = add_subscription(session, sent.subscription(), web_actor(reviewer))
                added_id = added.id
        except CaigouError as exc:  # FilterError too: one line on the page, the form as it was sent
            return subscriptions_listing(request, sent, error=str(exc), status_code=400)
        return RedirectResponse(f"/subscriptions/{added_id}?added=1", status_code=303)

    def subscription_of(session: Any, subscription_id: int) -> Subscription:
        found = session.get(Subscription, subscription_id) if valid_id(subscription_id) else None
        if found is None:
            raise HTTPException(404, f"no subscription {subscription_id} (removed?)")
        return found

    @app.get("/subscriptions/{subscription_id}", response_class=HTMLResponse, include_in_schema=False)
    def subscription_page(request: Request, subscription_id: int) -> HTMLResponse:
        require_login(request)
        with database.session() as session:
            sub = subscription_of(session, subscription_id)
            zone = ZoneInfo(sub.time_zone)
            return page(request, "subscription.html", sub=sub, filters=describe_filters(sub.filters),
                        feed=feed_link(sub.name), last=last_sent(session, sub), delivered=delivered_count(session, sub),
                        deliveries=recent_deliveries(session, sub, 20), added=request.query_params.get("added"),
                        history=history(session, sub),
                        local=lambda t: t.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z"))

    @app.post("/subscriptions/{subscription_id}/remove", include_in_schema=False)
    def subscription_remove(request: Request, subscription_id: int, csrf_token: str = Form(""),
                            confirm: str = Form("")) -> Response:
        """Two steps without a script: the first post asks, the second (confirm=yes) removes."""
        check_csrf(request, csrf_token)
        reviewer = require_reviewer(request, "remove a subscription")
        with database.session() as session:
            sub = subscription_of(session, subscription_id)
            name = sub.name
            if confirm != "yes":
                return page(request, "subscription_remove.html", sub=sub,
                            deliveries=delivery_count(session, sub),
                            delivered=delivered_count(session, sub))
            remove_subscription(session, sub, web_actor(reviewer))
        return RedirectResponse(f"/subscriptions?{urlencode({'removed': name})}", status_code=303)

    @app.get("/feeds/{name:path}.atom", include_in_schema=False)  # :path: a name may hold a slash
    def feed(request: Request, name: str, token: str = "") -> Response:
        if not same_text(token, feed_token(settings.secret_key, name)):
            require_reader(request)
        with database.session() as session:
            subscription = session.scalars(select(Subscription).where(Subscription.name == name)).first()
            if subscription is None:
                raise HTTPException(404, f"no subscription {name!r}")
            base = settings.base_url or str(request.base_url).rstrip("/")
            body = atom_feed(session, subscription, base, self_url=base + request.url.path
                             + (f"?{request.url.query}" if request.url.query else ""))
        return Response(body, media_type="application/atom+xml; charset=utf-8")

    # ------------------------------------------------------------------------------------------ JSON API

    @app.get("/api/search", summary="Search notices", tags=["notices"])
    def api_search(
            request: Request,
            q: str = Query("", description='Full-text query: words (all must occur; AND may be written), "exact '
                                           'phrases", -excluded, OR. A watchlist alias also finds its term\'s other '
                                           "spellings; traditional characters match simplified."),
            sort: str = Query("relevance", description=f"One of {', '.join(SORTS)}."),
            page: int = Query(1, description=f"Page, 1–{MAX_PAGE}."),
            size: int = Query(PAGE_SIZE, description="Results per page, 1–100."),
            since: str = Query("", description="Published on or after this date (YYYY-MM-DD)."),
            until: str = Query("", description="Published on or before this date (YYYY-MM-DD)."),
            region: list[str] = Query([], description="Region code (54 or 540000 = TAR, 540600 = 那曲), a name, or "
                                                      "`tibetan` for every Tibetan area; repeatable."),
            source: list[str] = Query([], description="Source name (ccgp, xizang, ggzy, qinghai, sichuan); "
                                                      "repeatable."),
            type_: list[str] = Query([], alias="type", description=f"Notice type: {', '.join(NOTICE_TYPES)}; "
                                                                   "repeatable."),
            buyer: str = Query("", description="The buyer's name contains this text."),
            supplier: str = Query("", description="A supplier's name contains this text."),
            term: list[str] = Query([], description="Matched this watchlist term or alias; repeatable."),
            category: list[str] = Query([], description=f"Matched a term of this category: "
                                                        f"{', '.join(MATCH_CATEGORIES)}; repeatable."),
            min_score: str = Query(str(REVIEW_FIRST_SCORE), description="Score at least this, 0–100; empty for "
                                                                        "every notice, scored or not."),
            status: list[str] = Query([], description=f"Current review status: {', '.join(REVIEW_STATUSES)}; "
                                                      "repeatable."),
    ) -> dict[str, Any]:
        """Full-text query and filters as query parameters (each documented below; a misspelt filter value is a
        400 with a suggestion, never an empty result). Facet counts come with the results."""
        require_reader(request)
        query, filters, sort = selection(request)
        if not 1 <= size <= 100 or not 1 <= page <= MAX_PAGE:
            raise HTTPException(400, f"size must be 1–100 and page 1–{MAX_PAGE}")
        try:
            results = search(database, query, filters, sort=sort, limit=size, offset=(page - 1) * size)
        except CaigouError as exc:  # QueryError, or a FilterError with its "did you mean"
            raise HTTPException(400, str(exc)) from exc
        base = settings.base_url or str(request.base_url).rstrip("/")
        return {"total": results.total, "page": page, "size": size,
                "results": [{"id": h.notice.id, "source": h.notice.source.name, "title": h.notice.title,
                             "url": h.notice.url, "archive_url": f"{base}/notices/{h.notice.id}",
                             "published_at": h.notice.published_at.isoformat() if h.notice.published_at else None,
                             "buyer": h.notice.buyer, "region_name": h.notice.region_name,
                             "notice_type": h.notice.notice_type, "score": h.score, "reasons": h.reasons,
                             "terms": h.terms, "review_status": h.status} for h in results.hits],
                "facets": {name: [{"value": v, "label": label, "count": n} for v, label, n in values]
                           for name, values in results.facets.items()},
                "facets_estimated": results.facets_estimated}

    @app.get("/api/notices/{notice_id}", summary="One notice with its matches, score, reviews and evidence",
             tags=["notices"])
    def api_notice(request: Request, notice_id: int) -> dict[str, Any]:
        require_reader(request)
        with database.session() as session:
            detail = notice_detail(session, notice_id)
            return notice_dict(detail, settings.base_url or str(request.base_url).rstrip("/"))

    @app.get("/api/notices/{notice_id}/reviews", summary="The review history of a notice, oldest first",
             tags=["reviews"])
    def api_reviews(request: Request, notice_id: int) -> list[dict[str, Any]]:
        require_reader(request)
        with database.session() as session:
            detail = notice_detail(session, notice_id)
            return [review_dict(r) for r in detail.reviews]

    app.include_router(entities_router(database, page, require_reader))  # buyers, suppliers, brands, regions
    return app


# Query parameters the facets set, by facet name.
FACET_PARAMS = {"region": "region", "source": "source", "type": "type", "buyer": "buyer", "supplier": "supplier",
                "term": "term", "category": "category", "score": "min_score", "review": "status"}


def with_changes(base: list[tuple[str, str]], changes: dict[str, Any]) -> list[tuple[str, str]]:
    """The query string ``base`` changed: ``NAME=value`` replaces, ``add_NAME`` adds a value, ``drop_NAME`` removes
    one. Any change but an explicit ``page`` goes back to the first page."""
    pairs = [(k, v) for k, v in base if k != "page"]
    for key, value in changes.items():
        if key.startswith("add_") and (key[4:], str(value)) not in pairs:
            pairs.append((key[4:], str(value)))
        elif key.startswith("drop_"):
            pairs = [(k, v) for k, v in pairs if (k, v) != (key[5:], str(value))]
        elif not key.startswith(("add_", "drop_")):
            pairs = [(k, v) for k, v in pairs if k != key] + [(key, str(value))]
    # min_score="" is meaningful (every score); other empty values are noise.
    return [(k, v) for k, v in pairs if v != "" or k == "min_score"]


def safe_next(target: str) -> str:
    """Only a path on this site: never an open redirect."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/search"

