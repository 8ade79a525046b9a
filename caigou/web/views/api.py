"""The read-only JSON API (documented at /openapi.json): search with every filter as a query parameter, one
notice, and its review history. Errors are JSON too (``{"error": ...}``)."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from caigou.filters import MATCH_CATEGORIES
from caigou.models import NOTICE_TYPES, REVIEW_FIRST_SCORE, REVIEW_STATUSES
from caigou.models.db import Database
from caigou.models.errors import CaigouError
from caigou.notice_view import notice_detail, notice_dict
from caigou.review import review_dict
from caigou.search import SORTS, search
from caigou.web.pages import MAX_PAGE, PAGE_SIZE, base_url, database_of, selection
from caigou.web.security import require_reader

# The filters' help, as /openapi.json documents them.
TYPE_HELP = f"Notice type: {', '.join(NOTICE_TYPES)}; repeatable."
CATEGORY_HELP = f"Matched a term of this category: {', '.join(MATCH_CATEGORIES)}; repeatable."
STATUS_HELP = f"Current review status: {', '.join(REVIEW_STATUSES)}; repeatable."
DEFAULT_MIN_SCORE = str(REVIEW_FIRST_SCORE)

router = APIRouter(dependencies=[Depends(require_reader)])


@router.get("/api/search", summary="Search notices", tags=["notices"])
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
        type_: list[str] = Query([], alias="type", description=TYPE_HELP),
        buyer: str = Query("", description="The buyer's name contains this text."),
        supplier: str = Query("", description="A supplier's name contains this text."),
        term: list[str] = Query([], description="Matched this watchlist term or alias; repeatable."),
        category: list[str] = Query([], description=CATEGORY_HELP),
        min_score: str = Query(DEFAULT_MIN_SCORE, description="Score at least this, 0–100; empty for "
                                                                 "every notice, scored or not."),
        status: list[str] = Query([], description=STATUS_HELP),
        database: Database = Depends(database_of),
) -> dict[str, Any]:
    """Full-text query and filters as query parameters (each documented below; a misspelt filter value is a
    400 with a suggestion, never an empty result). Facet counts come with the results."""
    query, filters, sort = selection(request)
    if not 1 <= size <= 100 or not 1 <= page <= MAX_PAGE:
        raise HTTPException(400, f"size must be 1–100 and page 1–{MAX_PAGE}")
    try:
        results = search(database, query, filters, sort=sort, limit=size, offset=(page - 1) * size)
    except CaigouError as exc:  # QueryError, or a FilterError with its "did you mean"
        raise HTTPException(400, str(exc)) from exc
    base = base_url(request)
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

@router.get("/api/notices/{notice_id}", summary="One notice with its matches, score, reviews and evidence",
         tags=["notices"])
def api_notice(request: Request, notice_id: int, database: Database = Depends(database_of)) -> dict[str, Any]:
    with database.session() as session:
        detail = notice_detail(session, notice_id)
        return notice_dict(detail, base_url(request))

@router.get("/api/notices/{notice_id}/reviews", summary="The review history of a notice, oldest first",
         tags=["reviews"])
def api_reviews(notice_id: int, database: Database = Depends(database_of)) -> list[dict[str, Any]]:
    with database.session() as session:
        detail = notice_detail(session, notice_id)
        return [review_dict(r) for r in detail.reviews]
