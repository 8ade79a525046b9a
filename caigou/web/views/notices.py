"""A notice with its matches, reviews and evidence, its place in the result list it was opened from, and its
archived pages (cleaned for reading, or the original bytes as a download)."""
from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from caigou.filters import filters_from_params
from caigou.models import REVIEW_FIRST_SCORE
from caigou.models.db import Database
from caigou.models.errors import CaigouError
from caigou.notice_view import archived_page, notice_detail, sanitised_html
from caigou.search import SORTS, search
from caigou.web.pages import PAGE_SIZE, database_of, page
from caigou.web.security import require_reader

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_reader)])
CONTEXT_WINDOW = 200             # hits read around a notice for previous / next / next unreviewed


def search_context(database: Database, came_from: str, notice_id: int) -> dict[str, Any]:
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


@router.get("/notices/{notice_id}", response_class=HTMLResponse)
def notice_page(request: Request, notice_id: int, database: Database = Depends(database_of)) -> HTMLResponse:
    came_from = request.query_params.get("from", "")
    context = search_context(database, came_from, notice_id) if came_from else None
    with database.session() as session:
        detail = notice_detail(session, notice_id)
        return page(request, "notice.html", detail=detail, notice=detail.notice, needles=detail.needles,
                    error=request.query_params.get("error", ""), came_from=came_from, context=context,
                    from_query=urlencode({"from": came_from}) if came_from else "")


@router.get("/notices/{notice_id}/pages/{page_id}", response_class=HTMLResponse)
def archived(request: Request, notice_id: int, page_id: int,
             database: Database = Depends(database_of)) -> HTMLResponse:
    with database.session() as session:
        detail = notice_detail(session, notice_id)
        raw = archived_page(session, page_id)
        if raw.id not in {p.id for p in detail.pages}:
            raise HTTPException(404, f"page {page_id} is not evidence of notice {notice_id}")
        return page(request, "archived.html", notice=detail.notice, raw=raw, content=sanitised_html(raw))


@router.get("/raw/{page_id}")
def raw_download(page_id: int, database: Database = Depends(database_of)) -> Response:
    """The archived bytes exactly as fetched, as a download: evidence, never rendered here."""
    with database.session() as session:
        raw = archived_page(session, page_id)
        body, sha = raw.body, raw.sha256
    return Response(body, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="page-{page_id}-{sha[:12]}.bin"',
                             "X-Content-SHA256": sha})
