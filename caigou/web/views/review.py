"""Recording judgements: one notice from its page, or the ticked results of a search at once."""
from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, HTTPException
from fastapi.responses import RedirectResponse, Response

from caigou.models.db import Database
from caigou.notice_view import NotFound, valid_id
from caigou.review import ReviewError, ReviewInput, add_review, parse_tags
from caigou.web.pages import database_of
from caigou.web.security import csrf_checked, posted_form, reviewer

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_checked)])


@router.post("/notices/{notice_id}/review")
def review(notice_id: int, user: str = reviewer("record a judgement"), status: str = Form(""),
           note: str = Form(""), tags: str = Form(""), came_from: str = Form("", alias="from"),
           database: Database = Depends(database_of)) -> Response:
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


@router.post("/review")
def bulk_review(user: str = reviewer("record a judgement"), form: dict[str, list[str]] = Depends(posted_form),
                database: Database = Depends(database_of)) -> Response:
    """The checked results judged at once (all or none), then back to the same results."""
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
