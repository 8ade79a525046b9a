"""The search page: results, facets, paging, and the preview of what a subscription to the search would send."""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from caigou.export.rows import Selection
from caigou.filters import FilterError, NoticeFilters, filters_to_params
from caigou.models.db import Database
from caigou.models.types import SHANGHAI
from caigou.search import SORTS, QueryError, search
from caigou.web.pages import PAGE_SIZE, database_of, page, page_number, params_of, read_selection
from caigou.web.security import require_reader

router = APIRouter(include_in_schema=False)

# Query parameters the facets set, by facet name.
FACET_PARAMS = {"region": "region", "source": "source", "type": "type", "buyer": "buyer", "supplier": "supplier",
                "term": "term", "category": "category", "score": "min_score", "review": "status"}
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


@router.get("/search", response_class=HTMLResponse, dependencies=[Depends(require_reader)])
def search_page(request: Request, database: Database = Depends(database_of)) -> HTMLResponse:
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
                came_from=came_from, from_query=urlencode({"from": came_from}), field_errors=field_errors,
                raw=request.query_params,
                past_end=bool(results and results.total and number > pages),
                preview=recent_counts(database, query, filters) if results else {},
                subscribe_link="/subscriptions?" + urlencode([(k, v) for k, v in base if k != "sort"]) + "#add",
                sort=sort, sorts=SORTS, results=results, error=error, page_number=number,
                pages=pages,
                link=lambda **changes: "/search?" + urlencode(with_changes(base, changes)),
                export_link="/export.csv?" + urlencode([(k, v) for k, v in base if k != "sort"]),
                xlsx_link="/export.xlsx?" + urlencode([(k, v) for k, v in base if k != "sort"]),
                facet_names=FACET_PARAMS, hidden=[(k, v) for k, v in base if k != "q"])
