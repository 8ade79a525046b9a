"""Raw evidence: every fetched page, compressed, append-only."""
from __future__ import annotations

import datetime as dt
import hashlib
import zlib
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from caigou.models.base import Base
from caigou.models.types import AwareDateTime, now


class RawPage(Base):
    """One version of one fetched URL.

    The body and its SHA-256 never change once written. A page fetched again with the same bytes only moves
    ``last_fetched_at``; a page whose bytes changed becomes a new row with the next ``version``.
    """

    __tablename__ = "raw_pages"
    __table_args__ = (UniqueConstraint("url", "sha256"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    http_status: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(200), default="")
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body_zlib: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int]
    # page | blocked | error: a block page is kept as evidence of the block, never parsed as a notice.
    kind: Mapped[str] = mapped_column(String(20), default="page")
    first_fetched_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
    last_fetched_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))

    @staticmethod
    def digest(body: bytes) -> str:
        return hashlib.sha256(body).hexdigest()

    @property
    def body(self) -> bytes:
        return zlib.decompress(self.body_zlib)


class NoticePage(Base):
    """Which raw page versions a notice was parsed from."""

    __tablename__ = "notice_pages"
    __table_args__ = (UniqueConstraint("notice_id", "raw_page_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    raw_page_id: Mapped[int] = mapped_column(ForeignKey("raw_pages.id"))
    parsed_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
