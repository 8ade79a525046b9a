"""What every view shares: the app's state (database, settings, templates, set by ``create_app``), a page rendered
in the site's layout, and the query, filters and sort read from a request."""
from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse

from caigou.filters import FilterError, NoticeFilters, filters_from_params
from caigou.labels import HTML_LANG, translate
from caigou.models import REVIEW_FIRST_SCORE
from caigou.models.db import Database
from caigou.search import SORTS
from caigou.web.security import WebSettings, user_of

PAGE_SIZE = 20
MAX_PAGE = 500                   # deep paging is what exports are for


def database_of(request: Request) -> Database:
    """Dependency: the archive's database."""
    database: Database = request.app.state.database
    return database


def settings_of(request: Request) -> WebSettings:
    """Dependency: the web settings."""
    settings: WebSettings = request.app.state.settings
    return settings


def base_url(request: Request) -> str:
    """This site's address for links that leave it (feeds, the API): ``[web] base_url``, else as requested."""
    return settings_of(request).base_url or str(request.base_url).rstrip("/")


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered in the site's layout (user, CSRF token, language)."""
    language = str(request.state.session.get("lang", "en"))
    context.update(request=request, user=user_of(request), csrf=request.state.session["csrf"],
                   anonymous_read=settings_of(request).anonymous_read, lang=language, html_lang=HTML_LANG[language],
                   _=lambda word: translate(word, language),
                   here=request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    response: HTMLResponse = request.app.state.templates.TemplateResponse(request, template, context,
                                                                          status_code=status_code)
    return response


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
    """``read_selection`` for the API and exports: a bad value is a 400."""
    try:
        return read_selection(request)
    except FilterError as exc:
        raise HTTPException(400, str(exc)) from exc


def page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise HTTPException(400, f"page must be a number from 1 to {MAX_PAGE}")
    return int(raw)


def safe_next(target: str) -> str:
    """Only a path on this site: never an open redirect."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/search"
