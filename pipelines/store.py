"""``NoticeStore``: the only writer of notices, evidence, runs and watermarks.

Everything that reaches the archive passes here — crawls (through the Scrapy pipelines) and imports alike — so
the rules live in one place:

* raw pages are append-only: the same bytes again only move ``last_fetched_at``; changed bytes are a new version;
* a notice is unique per source and the source's own ID; re-storing the same content changes nothing but
  ``last_seen_at``; changed content keeps the previous parse as a ``NoticeRevision`` before replacing it;
* after a notice is stored or changed, it is matched against the watchlist and (re)indexed for search.
"""
from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import (Attachment, CrawlError, CrawlRun, Notice, NoticePage, NoticeRevision, RawPage, Source,
                    Supplier, Watermark)
from models.db import Database
from models.types import now
from pipelines.matching.store import apply_matches
from pipelines.search_index import index_notice
from pipelines.record import AttachmentRecord, NoticeRecord, SupplierRecord

Outcome = Literal["new", "updated", "unchanged"]

# Sources caigou knows, with what they cover; a crawl of any of them registers it on first use.
SOURCE_TITLES = {
    "ccgp": ("中国政府采购网 China Government Procurement (national, every province)", "http://www.ccgp.gov.cn"),
    "xizang": ("西藏自治区政府采购网 Tibet Autonomous Region procurement portal", "http://www.ccgp-xizang.gov.cn"),
    "ggzy": ("全国公共资源交易平台 National Public Resources Trading Platform", "https://www.ggzy.gov.cn"),
    "qinghai": ("青海省政府采购网 Qinghai procurement portal (政采云)", "http://www.ccgp-qinghai.gov.cn"),
    "sichuan": ("四川政府采购网 Sichuan procurement portal (gpcms)", "https://www.ccgp-sichuan.gov.cn"),
}


@dataclass(frozen=True)
class SaveResult:
    notice_id: int
    outcome: Outcome


class NoticeStore:
    def __init__(self, database: Database, origin: str = "crawl") -> None:
        self.db = database
        self.origin = origin  # what stores here: crawl or import (recorded when a notice first matches)
        self._source_ids: dict[str, int] = {}

    # ------------------------------------------------------------------------------------------ sources, runs

    def source_id(self, session: Session, name: str) -> int:
        if name not in self._source_ids:
            source = session.scalar(select(Source).where(Source.name == name))
            if source is None:
                title, base_url = SOURCE_TITLES.get(name, (name, ""))
                source = Source(name=name, title=title, base_url=base_url)
                session.add(source)
                session.flush()
            self._source_ids[name] = source.id
        return self._source_ids[name]

    def start_run(self, source: str, arguments: dict[str, Any]) -> int:
        with self.db.session() as session:
            run = CrawlRun(source_id=self.source_id(session, source), arguments=arguments, status="running")
            session.add(run)
            session.flush()
            return run.id

    def finish_run(self, run_id: int, status: str, counts: dict[str, Any], message: str = "") -> None:
        with self.db.session() as session:
            run = session.get_one(CrawlRun, run_id)
            run.status, run.counts, run.message, run.finished_at = status, counts, message, now()

    def watermark(self, source: str, query_key: str) -> dt.date | None:
        with self.db.session() as session:
            return session.scalar(select(Watermark.until_date).where(
                Watermark.source_id == self.source_id(session, source), Watermark.query_key == query_key))

    def set_watermark(self, source: str, query_key: str, until: dt.date) -> None:
        """Advance (never move back) the point the next run of this source and query starts from."""
        with self.db.session() as session:
            source_id = self.source_id(session, source)
            mark = session.scalar(select(Watermark).where(Watermark.source_id == source_id,
                                                          Watermark.query_key == query_key))
            if mark is None:
                session.add(Watermark(source_id=source_id, query_key=query_key, until_date=until))
            elif until > mark.until_date:
                mark.until_date, mark.updated_at = until, now()

    def record_error(self, run_id: int | None, url: str, kind: str, message: str,
                     raw_page_id: int | None = None) -> None:
        with self.db.session() as session:
            session.add(CrawlError(crawl_run_id=run_id, url=url, kind=kind, message=message[:2000],
                                   raw_page_id=raw_page_id))

    # ------------------------------------------------------------------------------------------ evidence

    def archive_page(self, url: str, http_status: int, body: bytes, *, headers: dict[str, str] | None = None,
                     content_type: str = "", kind: str = "page", run_id: int | None = None) -> RawPage:
        """Keep a fetched page. Returns its row (a new version, or the existing one with the same bytes)."""
        sha256 = RawPage.digest(body)
        with self.db.session() as session:
            page = session.scalar(select(RawPage).where(RawPage.url == url, RawPage.sha256 == sha256))
            if page is not None:
                page.last_fetched_at = now()
                return page
            version = (session.scalar(select(func.max(RawPage.version)).where(RawPage.url == url)) or 0) + 1
            page = RawPage(url=url, version=version, sha256=sha256, http_status=http_status,
                           content_type=content_type[:200], headers=headers or {}, body_zlib=zlib.compress(body, 6),
                           size=len(body), kind=kind, crawl_run_id=run_id)
            session.add(page)
            session.flush()
            return page

    # ------------------------------------------------------------------------------------------ notices

    def has_notice(self, source: str, source_key: str) -> bool:
        with self.db.session() as session:
            return session.scalar(select(Notice.id).where(
                Notice.source_id == self.source_id(session, source), Notice.source_key == source_key)) is not None

    def save_notice(self, record: NoticeRecord) -> SaveResult:
        with self.db.session() as session:
            source_id = self.source_id(session, record.source)
            notice = session.scalar(select(Notice).where(Notice.source_id == source_id,
                                                         Notice.source_key == record.source_key))
            outcome: Outcome
            if notice is None:
                notice = Notice(source_id=source_id, source_key=record.source_key)
                if record.preferred_id and session.get(Notice, record.preferred_id) is None:
                    notice.id = record.preferred_id  # an imported archive keeps its IDs where they are free
                notice.first_seen_at = record.first_seen_at or now()
                notice.last_seen_at = record.last_seen_at or notice.first_seen_at
                _apply(notice, record)
                session.add(notice)
                outcome = "new"
            elif record_from_notice(notice).comparable() == record.comparable():
                notice.last_seen_at = now()
                outcome = "unchanged"
            else:
                session.add(NoticeRevision(notice_id=notice.id, raw_sha256=notice.raw_sha256,
                                           snapshot=record_from_notice(notice).comparable()))
                _apply(notice, record)
                notice.last_seen_at = now()
                outcome = "updated"
            session.flush()
            self._link_page(session, notice, record)
            if outcome != "unchanged":
                self._after_change(session, notice)
            return SaveResult(notice.id, outcome)

    def _link_page(self, session: Session, notice: Notice, record: NoticeRecord) -> None:
        if not record.raw_sha256:
            return
        page_id = session.scalar(select(RawPage.id).where(RawPage.sha256 == record.raw_sha256)
                                 .order_by(RawPage.id.desc()).limit(1))
        if page_id is None:
            return
        linked = session.scalar(select(NoticePage.id).where(NoticePage.notice_id == notice.id,
                                                            NoticePage.raw_page_id == page_id))
        if linked is None:
            session.add(NoticePage(notice_id=notice.id, raw_page_id=page_id))

    def _after_change(self, session: Session, notice: Notice) -> None:
        """What follows a new or changed notice: watchlist matching and search indexing."""
        apply_matches(session, notice, self.origin)
        index_notice(session, notice)


def _apply(notice: Notice, record: NoticeRecord) -> None:
    for name in ("url", "title", "notice_type", "notice_type_label", "published_at", "region_code", "region_name",
                 "buyer", "agency", "project_code", "budget_cny", "award_cny", "body_text", "fields", "line_items",
                 "warnings", "raw_sha256"):
        setattr(notice, name, getattr(record, name))
    notice.suppliers = [Supplier(position=i, lot=s.lot, name=s.name, address=s.address, amount_cny=s.amount_cny,
                                 amount_text=s.amount_text) for i, s in enumerate(record.suppliers)]
    notice.attachments = [Attachment(position=i, name=a.name, url=a.url) for i, a in enumerate(record.attachments)]


def record_from_notice(notice: Notice) -> NoticeRecord:
    """A stored notice as a record again (for comparison, exports and re-matching)."""
    return NoticeRecord(
        source=notice.source.name, source_key=notice.source_key, url=notice.url, title=notice.title,
        notice_type=notice.notice_type, notice_type_label=notice.notice_type_label,
        published_at=notice.published_at, region_code=notice.region_code, region_name=notice.region_name,
        buyer=notice.buyer, agency=notice.agency, project_code=notice.project_code, budget_cny=notice.budget_cny,
        award_cny=notice.award_cny,
        suppliers=[SupplierRecord(name=s.name, lot=s.lot, address=s.address, amount_cny=s.amount_cny,
                                  amount_text=s.amount_text) for s in notice.suppliers],
        line_items=list(notice.line_items), body_text=notice.body_text, fields=dict(notice.fields),
        attachments=[AttachmentRecord(url=a.url, name=a.name) for a in notice.attachments],
        raw_sha256=notice.raw_sha256, warnings=list(notice.warnings),
    )
