"""The current result set (query and filters) as a CSV or XLSX download."""
from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from caigou.export.naming import export_filename
from caigou.export.rows import COLUMNS, COMPACT_COLUMNS, Selection
from caigou.export.writers import csv_chunks, write_xlsx
from caigou.models.db import Database
from caigou.models.errors import CaigouError
from caigou.models.types import SHANGHAI
from caigou.web.pages import database_of, selection
from caigou.web.security import require_reader

router = APIRouter(include_in_schema=False, dependencies=[Depends(require_reader)])


def export_selection(request: Request, database: Database) -> tuple[Selection, tuple[str, ...], str]:
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


@router.get("/export.csv")
def export_csv(request: Request, database: Database = Depends(database_of)) -> Response:
    """The current result set (query and filters) as CSV, streamed, with a byte-order mark for Excel."""
    chosen, columns, stem = export_selection(request, database)

    def stream() -> Iterator[bytes]:
        yield "\ufeff".encode()
        for chunk in csv_chunks(chosen.rows(database), columns):
            yield chunk.encode("utf-8")

    return StreamingResponse(stream(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": attachment_header(stem + ".csv")})


@router.get("/export.xlsx")
def export_xlsx(request: Request, database: Database = Depends(database_of)) -> Response:
    """The current result set as XLSX (widths, autofilter, frozen header, real dates)."""
    chosen, columns, stem = export_selection(request, database)
    with tempfile.NamedTemporaryFile(suffix=".xlsx") as file:
        write_xlsx(chosen.rows(database), columns, file.name)
        body = Path(file.name).read_bytes()
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": attachment_header(stem + ".xlsx")})
