"""Sources, crawl runs, their watermarks and the errors they met."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caigou.models.base import Base
from caigou.models.types import AwareDateTime, now


class Source(Base):
    """A portal, e.g. ``ccgp`` for www.ccgp.gov.cn."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    base_url: Mapped[str] = mapped_column(String(300), default="")


class CrawlRun(Base):
    """One run of one spider: its arguments, counts and how it ended.

    status: ``running`` while it goes; ``succeeded`` (every list and detail page read: only then does the
    watermark advance); ``partial`` (finished, but some list or detail pages gave HTTP or network errors or stayed
    blocked); ``failed`` (blocked, unreachable, captcha, no page read, crashed) or ``interrupted`` (stopped before
    the window was done, or its process died). Except ``succeeded``, the watermark stays where it was, so the next
    run completes the window.
    """

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
    finished_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime())
    arguments: Mapped[dict[str, Any]] = mapped_column(default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)
    message: Mapped[str] = mapped_column(Text, default="")

    source: Mapped[Source] = relationship()


class Watermark(Base):
    """Where the last successful run of one source and query ended: the next run starts there."""

    __tablename__ = "watermarks"
    __table_args__ = (UniqueConstraint("source_id", "query_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    query_key: Mapped[str] = mapped_column(String(500))
    until_date: Mapped[dt.date]
    updated_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)


class CrawlError(Base):
    """An expected failure recorded instead of raised: a page that did not parse, a block page, a dead link."""

    __tablename__ = "crawl_errors"

    id: Mapped[int] = mapped_column(primary_key=True)
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    raw_page_id: Mapped[int | None] = mapped_column(ForeignKey("raw_pages.id"))
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
