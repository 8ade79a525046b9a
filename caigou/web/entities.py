"""Buyer, supplier and brand pages (the dossiers, linked from notices and facets) and the region × year view with
its SVG charts, drilling down from province to prefecture to county. No script anywhere: the charts are images."""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from caigou.models.errors import CaigouError
from caigou.pipelines.regions import region_by_code
from caigou.reports.dossier import Dossier, dossier, find_organisation
from caigou.reports.regions import MEASURES, chart, has_children, region_years, series
from caigou.reports.render import as_csv, as_json, html, html_body
from caigou.web.pages import database_of, page
from caigou.web.security import require_reader

DOWNLOADS = {"html": ("text/html; charset=utf-8", html), "csv": ("text/csv; charset=utf-8", as_csv),
             "json": ("application/json", as_json)}


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"not a date like 2024-01-31: {value!r}") from None


router = APIRouter(include_in_schema=False, dependencies=[Depends(require_reader)])


def show(request: Request, kind: str, wanted: str) -> Response:
    fmt = request.query_params.get("format", "")
    with database_of(request).session() as session:
        try:
            found: Dossier = dossier(session, kind, wanted)
        except CaigouError as exc:
            raise HTTPException(404, str(exc)) from None
    if fmt in DOWNLOADS:
        media, render = DOWNLOADS[fmt]
        name = f"{kind}-{found.subject_id or quote(found.subject)}.{fmt}"
        return Response(render(found), media_type=media,
                        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})
    return page(request, "entity.html", dossier=found, body=html_body(found))


@router.get("/buyers/{organisation_id}", response_class=HTMLResponse)
def buyer_page(request: Request, organisation_id: int) -> Response:
    return show(request, "buyer", str(organisation_id))


@router.get("/suppliers/{organisation_id}", response_class=HTMLResponse)
def supplier_page(request: Request, organisation_id: int) -> Response:
    return show(request, "supplier", str(organisation_id))


@router.get("/brands/{name}", response_class=HTMLResponse)
def brand_page(request: Request, name: str) -> Response:
    return show(request, "brand", name)


@router.get("/organisations")
def by_name(request: Request, kind: str = "buyer", name: str = "") -> Response:
    """A name as a notice writes it → its organisation's page (links from notices and facets)."""
    if kind not in ("buyer", "supplier"):
        raise HTTPException(404, "no such kind of organisation")
    with database_of(request).session() as session:
        try:
            organisation = find_organisation(session, kind, name)
        except CaigouError as exc:
            raise HTTPException(404, str(exc)) from None
        return RedirectResponse(f"/{kind}s/{organisation.id}", status_code=303)


def view_of(request: Request, code: str | None) -> Any:
    if code is not None and region_by_code(code) is None:
        raise HTTPException(404, f"no region has the code {code!r}")
    since, until = _date(request.query_params.get("since")), _date(request.query_params.get("until"))
    with database_of(request).session() as session:
        return region_years(session, code, since, until), since, until


def regions_page(request: Request, code: str | None) -> HTMLResponse:
    view, since, until = view_of(request, code)
    query = urlencode({k: v for k, v in (("since", since), ("until", until)) if v})
    return page(request, "regions.html", view=view, measures=MEASURES, query=query, has_children=has_children,
                chart_base=f"/regions/{code}" if code else "/regions/all", since=since, until=until)


@router.get("/regions", response_class=HTMLResponse)
def all_regions(request: Request) -> HTMLResponse:
    return regions_page(request, None)


@router.get("/regions/{code}", response_class=HTMLResponse)
def one_region(request: Request, code: str) -> HTMLResponse:
    return regions_page(request, code)


@router.get("/regions/{code}/{measure}.svg")
def region_chart(request: Request, code: str, measure: str) -> Response:
    if measure not in MEASURES:
        raise HTTPException(404, f"no chart {measure!r}")
    view, _, _ = view_of(request, None if code == "all" else code)
    return Response(chart(view, measure), media_type="image/svg+xml")


@router.get("/api/regions/{code}/years", tags=["regions"], include_in_schema=True,
            summary="A region's purchases, money and capacity by year, as its charts draw them")
def region_numbers(request: Request, code: str) -> dict[str, Any]:
    view, _, _ = view_of(request, None if code == "all" else code)
    return {"years": view.years, **{measure: series(view, measure) for measure in MEASURES}}

