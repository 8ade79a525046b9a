"""Reviewers and their judgements. Reviews are an append-only history: who said what about which notice, when.
The evidence (raw pages, parsed fields) is never touched by a review."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from caigou.models.base import Base
from caigou.models.types import AwareDateTime, now

REVIEW_STATUSES = ("new", "relevant", "not_relevant", "unsure")


class User(Base):
    """A reviewer who can log in to the web interface. The password is kept only as an Argon2 hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # Carried in the signed session cookie; bumped on logout, disable and password change, so every session issued
    # before (a copied cookie too) stops working: a signature alone cannot be revoked.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)


# The database itself refuses to change or remove a review (migration 0007: triggers on SQLite and PostgreSQL), so
# the history stays append-only whatever code or hand-typed SQL runs; tests/test_migrations.py checks these exist.
# (A notice with reviews therefore cannot be deleted either: its reviews would cascade.)
REVIEW_TRIGGERS = ("reviews_no_update", "reviews_no_delete")


class Review(Base):
    """One judgement; the newest per notice is its current status. Rows are only ever added."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_notice_id_id", "notice_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"))
    reviewer: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(20), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
