"""``caigou serve``: the investigators' web interface and JSON API (FastAPI, server-rendered Jinja2, no build step).

This module only assembles the app (Datasette's app + views shape): the session-and-headers middleware, the
templates, the static files, the error handlers and the routers of ``caigou.web.views`` (accounts, search,
notices, review, exports, subscriptions, api) and ``caigou.web.entities``, which find the database, settings and
templates on ``app.state``.

Security model, because every scraped string and page is hostile and the readers are human-rights investigators:

* every value is escaped by Jinja2's autoescape; archived pages are shown only after nh3's allow-list cleaning, and
  the original bytes are served only as a download; a strict Content-Security-Policy forbids any script at all,
  inline or remote, and images from anywhere but this server (so a notice cannot make a reader's browser call home);
* reviewers log in; passwords are Argon2id hashes; the session is a signed, HttpOnly, SameSite=Lax cookie; every
  form carries a CSRF token bound to the session; failed logins are throttled per name and address, per address
  and server-wide, counted before the password is checked; over HTTPS (or behind a trusted proxy that says so)
  cookies are Secure and HSTS is sent. All of it lives in caigou.web.security, where ``require_reader``,
  ``require_login``, ``reviewer(action)`` and ``csrf_checked`` are FastAPI dependencies the routes declare;
* without ``[web] anonymous_read = true`` nothing but the login page is shown to anonymous visitors; even with it,
  only reading notices is open — reviewing and the subscriptions (their recipients' addresses, feed tokens) always
  need a login;
* queries reach the database only as bound parameters (SQLAlchemy);
* links to the portals carry ``rel=noreferrer`` and the Referrer-Policy is ``no-referrer``.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from caigou import __version__
from caigou.labels import notice_type_label
from caigou.models import NOTICE_TYPES, REVIEW_FIRST_SCORE, REVIEW_STATUSES
from caigou.models.db import Database
from caigou.notice_view import NotFound
from caigou.safe_text import http_url
from caigou.search import highlight
from caigou.web import entities
from caigou.web.pages import page
from caigou.web.security import LoginRequired, LoginThrottle, WebSettings, session_and_headers
from caigou.web.views import accounts, api, exports, notices, review, search, subscriptions

HERE = Path(__file__).parent
ROUTERS = (accounts.router, search.router, notices.router, review.router, exports.router, subscriptions.router,
           api.router, entities.router)


def create_app(database: Database, settings: WebSettings) -> FastAPI:
    app = FastAPI(title="caigou", version=__version__, docs_url=None, redoc_url=None,
                  description="Search and read the caigou archive of procurement notices (read-only API).")
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["http_url"] = http_url
    templates.env.globals.update(highlight=highlight, statuses=REVIEW_STATUSES, notice_types=NOTICE_TYPES,
                                 type_label=notice_type_label,
                                 review_first=REVIEW_FIRST_SCORE, version=__version__)
    # What the views share, one per app (tests build several apps in one process).
    app.state.database, app.state.settings, app.state.templates = database, settings, templates
    app.state.throttle = LoginThrottle()
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    app.middleware("http")(session_and_headers(settings))

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

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

    for router in ROUTERS:
        app.include_router(router)
    return app
