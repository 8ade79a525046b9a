"""Watchlist matches and scores, recomputed whenever a notice or the watchlist changes.

They are derived data: re-matching replaces a notice's matches, but never touches the evidence (raw pages, parsed
fields) or the reviewers' judgements. ``first_matched_at`` and ``match_origin`` say when and why a notice first
matched, so digests can tell "new notice" from "newly matched after a watchlist change".
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from caigou.models.base import Base
from caigou.models.constants import REVIEW_FIRST_SCORE  # noqa: F401  (re-exported)
from caigou.models.types import AwareDateTime, now


class NoticeMatch(Base):
    """One occurrence of a watchlist term in one field of one notice."""

    __tablename__ = "notice_matches"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    term: Mapped[str] = mapped_column(String(200), index=True)      # the watchlist's canonical term
    matched_text: Mapped[str] = mapped_column(String(200))           # the alias as it occurred (original text)
    category: Mapped[str] = mapped_column(String(40), index=True)
    tier: Mapped[str] = mapped_column(String(10))                    # strong | medium | weak
    # title | body | buyer | suppliers | items | attachment:NAME
    field: Mapped[str] = mapped_column(String(200))
    # Offsets into the field's original text (as published: full width, case and spaces kept), and the snippet
    # cut from it; matching itself runs on the normalised text (pipelines/matching/text.py maps back).
    start: Mapped[int] = mapped_column(Integer)
    end: Mapped[int] = mapped_column(Integer)
    snippet: Mapped[str] = mapped_column(Text)
    # e.g. {"count": 15, "unit": "盒", "per_unit": 200, "per_unit_unit": "人份/盒"}
    quantity: Mapped[dict[str, Any] | None] = mapped_column()


class NoticeScore(Base):
    """A notice's score (0–100) and the reasons for it in words, under one watchlist version."""

    __tablename__ = "notice_scores"

    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True)
    score: Mapped[int] = mapped_column(Integer, index=True)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    buyer_type: Mapped[str] = mapped_column(String(40), default="")
    watchlist_version: Mapped[str] = mapped_column(String(64))
    scored_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
    first_matched_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime(), index=True)
    # crawl | rematch: what first made it match, or what last raised it to 50+ ("newly matched after a watchlist
    # change" in digests)
    match_origin: Mapped[str] = mapped_column(String(20), default="")
    capacity: Mapped[dict[str, Any] | None] = mapped_column()  # reactions, cards, instruments, amount_cny (scoring)


class NoticeScoreChange(Base):
    """What one re-match changed for one notice (only notices whose score or matched state changed): the history
    that ``notice_scores``, holding only the present, would lose — a notice that no longer matches, and why."""

    __tablename__ = "notice_score_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    changed_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now, index=True)  # the run's start
    origin: Mapped[str] = mapped_column(String(20))                   # rematch (so far the only one recorded)
    old_score: Mapped[int | None] = mapped_column(Integer)            # None: never scored before
    new_score: Mapped[int] = mapped_column(Integer)
    old_version: Mapped[str] = mapped_column(String(64), default="")  # watchlist versions
    new_version: Mapped[str] = mapped_column(String(64))
    newly_matched: Mapped[bool] = mapped_column(default=False)
    no_longer_matching: Mapped[bool] = mapped_column(default=False)
    now_review_first: Mapped[bool] = mapped_column(default=False)     # rose from below 50 to 50 or more
    no_longer_review_first: Mapped[bool] = mapped_column(default=False)
