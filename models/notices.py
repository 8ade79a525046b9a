"""Notices as parsed from the portals, their suppliers, attachments and earlier parsed states."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caigou.models.base import Base
from caigou.models.crawl import Source
from caigou.models.types import AwareDateTime, Money, now

# Normalised notice types. The site's own label is kept beside it in ``notice_type_label``.
NOTICE_TYPES = (
    "intention",         # 采购意向
    "tender",            # 公开招标
    "invitation",        # 邀请招标
    "prequalification",  # 资格预审
    "consultation",      # 竞争性磋商
    "negotiation",       # 竞争性谈判
    "inquiry",           # 询价
    "single_source",     # 单一来源
    "award",             # 中标 / 成交
    "correction",        # 更正
    "termination",       # 终止 / 废标
    "contract",          # 合同
    "other",             # 其他
)


class Notice(Base):
    """One notice of one source, as last parsed. Its raw pages are in ``pages``; earlier parses in ``revisions``."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("source_id", "source_key"),
        Index("ix_notices_published_at", "published_at"),
        Index("ix_notices_project_code", "project_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    source_key: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    notice_type: Mapped[str] = mapped_column(String(20), index=True)
    notice_type_label: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(Text)
    published_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime())
    region_code: Mapped[str | None] = mapped_column(String(12), index=True)
    region_name: Mapped[str] = mapped_column(String(100), default="")
    buyer: Mapped[str] = mapped_column(Text, default="")
    agency: Mapped[str] = mapped_column(Text, default="")
    project_code: Mapped[str] = mapped_column(String(200), default="")
    budget_cny: Mapped[Decimal | None] = mapped_column(Money())
    award_cny: Mapped[Decimal | None] = mapped_column(Money())
    body_text: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    line_items: Mapped[list[Any]] = mapped_column(default=list)
    warnings: Mapped[list[Any]] = mapped_column(default=list)
    raw_sha256: Mapped[str] = mapped_column(String(64), default="")
    first_seen_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
    last_seen_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)

    source: Mapped[Source] = relationship()
    suppliers: Mapped[list[Supplier]] = relationship(
        back_populates="notice", cascade="all, delete-orphan", order_by="Supplier.position")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="notice", cascade="all, delete-orphan", order_by="Attachment.position")


class Supplier(Base):
    """A winning supplier, one row each, with its lot (标包) and amount."""

    __tablename__ = "notice_suppliers"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    lot: Mapped[str] = mapped_column(String(100), default="")
    name: Mapped[str] = mapped_column(Text, index=True)
    address: Mapped[str] = mapped_column(Text, default="")
    amount_cny: Mapped[Decimal | None] = mapped_column(Money())
    amount_text: Mapped[str] = mapped_column(Text, default="")

    notice: Mapped[Notice] = relationship(back_populates="suppliers")


# What became of an attachment's download: "" (not tried yet), ok, too_large (over the download size cap),
# failed (HTTP or network error: tried again next time), blocked (block pages: tried again next time).
DOWNLOAD_STATUSES = ("", "ok", "too_large", "failed", "blocked")
# What became of its text: ok, truncated (page or character cap reached; the text so far is kept), no_text (e.g. a
# scanned PDF: no OCR here), too_large / zip_bomb (archive limits), unsupported, encrypted, corrupt, no_converter.
EXTRACTION_STATUSES = ("", "ok", "truncated", "no_text", "too_large", "zip_bomb", "unsupported", "encrypted",
                       "corrupt", "no_converter")


class Attachment(Base):
    """An attachment link found on a notice page, and — once downloaded — its archived bytes and extracted text.

    The downloaded bytes are a ``RawPage`` (``kind="attachment"``, append-only like every page); ``raw_page_id``
    links the version this row's text was extracted from. Every failure is a status here, never an exception.
    """

    __tablename__ = "notice_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(Text)
    download_status: Mapped[str] = mapped_column(String(20), default="", index=True)
    raw_page_id: Mapped[int | None] = mapped_column(ForeignKey("raw_pages.id"))
    raw_sha256: Mapped[str] = mapped_column(String(64), default="")
    size: Mapped[int | None]
    content_type: Mapped[str] = mapped_column(String(20), default="")   # sniffed from the bytes: pdf, docx, …
    extraction_status: Mapped[str] = mapped_column(String(20), default="")
    message: Mapped[str] = mapped_column(Text, default="")               # why, in words, when not plain ok
    text: Mapped[str] = mapped_column(Text, default="")
    members: Mapped[list[Any]] = mapped_column(default=list)           # an archive's members: name, type, status
    fetched_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime())

    notice: Mapped[Notice] = relationship(back_populates="attachments")


class NoticeRevision(Base):
    """A notice's parsed fields as they were before a changed page replaced them: nothing parsed is lost."""

    __tablename__ = "notice_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    raw_sha256: Mapped[str] = mapped_column(String(64), default="")
    snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    replaced_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
