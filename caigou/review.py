"""Reviewers' judgements: an append-only history per notice (who said what, when). Review never edits evidence:
it only adds ``Review`` rows; the notice, its raw pages and its parsed fields are read, never written."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caigou.models import REVIEW_STATUSES, Notice, Review
from caigou.models.errors import CaigouError

MAX_NOTE = 10_000
MAX_TAGS = 20


class ReviewError(CaigouError):
    """A judgement that cannot be recorded as given."""


@dataclass(frozen=True)
class ReviewInput:
    status: str
    note: str = ""
    tags: tuple[str, ...] = ()


def parse_tags(raw: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Tags from "a, b" or a list: trimmed, de-duplicated, order kept."""
    values = raw.replace("，", ",").split(",") if isinstance(raw, str) else list(raw)
    tags: list[str] = []
    for value in values:
        tag = value.strip()
        if tag and tag not in tags:
            tags.append(tag[:60])
    if len(tags) > MAX_TAGS:
        raise ReviewError(f"at most {MAX_TAGS} tags")
    return tuple(tags)


def add_review(session: Session, notice_id: int, reviewer: str, judgement: ReviewInput) -> Review:
    """Record one judgement on a notice; the caller commits."""
    if judgement.status not in REVIEW_STATUSES:
        raise ReviewError(f"unknown status {judgement.status!r}; one of {', '.join(REVIEW_STATUSES)}")
    if not reviewer.strip():
        raise ReviewError("a review needs a named reviewer")
    if len(judgement.note) > MAX_NOTE:
        raise ReviewError(f"the note is longer than {MAX_NOTE} characters")
    # Beyond an integer key no notice can exist, and the driver would fail binding it (OverflowError).
    if not 1 <= notice_id <= 2**31 - 1 or session.get(Notice, notice_id) is None:
        raise ReviewError(f"no notice with ID {notice_id}")
    review = Review(notice_id=notice_id, reviewer=reviewer.strip(), status=judgement.status,
                    note=judgement.note.strip(), tags=list(judgement.tags))
    session.add(review)
    session.flush()
    return review


def history(session: Session, notice_id: int) -> list[Review]:
    """Every judgement on the notice, oldest first; the last one is its current status."""
    if not 1 <= notice_id <= 2**31 - 1:
        return []
    return list(session.scalars(select(Review).where(Review.notice_id == notice_id).order_by(Review.id)))


def review_dict(review: Review) -> dict[str, Any]:
    return {"id": review.id, "notice_id": review.notice_id, "reviewer": review.reviewer, "status": review.status,
            "note": review.note, "tags": list(review.tags or []), "created_at": review.created_at.isoformat()}
