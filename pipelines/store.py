"""``NoticeStore``: the only writer of notices, evidence, runs and watermarks.

Everything that reaches the archive passes here — crawls (through the Scrapy pipelines) and imports alike — so
the rules live in one place:

* raw pages are append-only: the same bytes again only move ``last_fetched_at``; changed bytes are a new version;
* a notice is unique per source and the source's own ID; re-storing the same content changes nothing but
  ``last_seen_at``; changed content keeps the previous parse as a ``NoticeRevision`` before replacing it;
* after a notice is stored or changed, it is matched against the watchlist, (re)indexed for search and (re)linked
  to its copies on other sources and its project's other notices (``pipelines.linking``);
* attachments are downloaded once per URL and archived like pages; their extracted text joins the notice's
  matching and search, and a notice keeps its attachments' downloads when its page changes.
"""
from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from caigou.models import (
    Attachment,
    CrawlError,
    CrawlRun,
    Notice,
    NoticeLink,
    NoticePage,
    NoticeRevision,
    NoticeScore,
    RawPage,
    Source,
    Supplier,
    Watermark,
)
from caigou.models.db import Database
from caigou.models.types import now
from caigou.pipelines.attachments import Extraction
from caigou.pipelines.linking import link_notice
from caigou.pipelines.matching.store import apply_matches
from caigou.pipelines.record import AttachmentRecord, NoticeRecord, SupplierRecord
from caigou.pipelines.search_index import index_notice

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


# Download statuses tried again: never tried, failed (HTTP, network) and blocked. ok and too_large are final.
RETRIED_DOWNLOADS = ("", "failed", "blocked")


@dataclass(frozen=True)
class PendingDownload:
    """One attachment URL to download, and the attachment rows (of one or more notices) it fills."""

    url: str
    attachment_ids: list[int]
    source: str


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

    def archived_page_id(self, url: str, sha256: str) -> int | None:
        """The archived page an error is about (the crawl archived it when it arrived), so the error links to its
        evidence; the newest page with those bytes when none has that URL."""
        if not sha256:
            return None
        with self.db.session() as session:
            return session.scalar(select(RawPage.id).where(RawPage.sha256 == sha256)
                                  .order_by((RawPage.url == url).desc(), RawPage.id.desc()).limit(1))

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
            elif session.get(NoticeLink, notice.id) is None:  # stored before linking existed
                link_notice(session, notice)
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

    # ------------------------------------------------------------------------------------------ attachments

    def attachments_to_fetch(self, mode: str, notice_id: int | None = None,
                             source: str | None = None) -> list[PendingDownload]:
        """Attachments not downloaded yet (or whose download failed or was blocked), one entry per URL, of
        matched notices (``mode="matched"``) or of all (``"all"``); of one notice or one source if given."""
        if mode == "off":
            return []
        with self.db.session() as session:
            query = (select(Attachment.id, Attachment.url, Source.name)
                     .join(Notice, Attachment.notice_id == Notice.id).join(Source, Notice.source_id == Source.id)
                     .where(Attachment.download_status.in_(RETRIED_DOWNLOADS)).order_by(Attachment.id))
            if notice_id is not None:
                query = query.where(Attachment.notice_id == notice_id)
            if source is not None:
                query = query.where(Source.name == source)
            if mode == "matched":
                query = query.join(NoticeScore, NoticeScore.notice_id == Notice.id).where(
                    NoticeScore.first_matched_at.is_not(None))
            pending: dict[str, PendingDownload] = {}
            unusable: list[int] = []
            for attachment_id, url, source_name in session.execute(query):
                if not url.startswith(("http://", "https://")):
                    unusable.append(attachment_id)  # javascript:, mailto: … — nothing to download, ever
                    continue
                pending.setdefault(url, PendingDownload(url, [], source_name)).attachment_ids.append(attachment_id)
            for row in session.scalars(select(Attachment).where(Attachment.id.in_(unusable))):
                row.download_status, row.message = "failed", f"not a web address: {row.url[:200]}"
            return list(pending.values())

    def save_attachment(self, url: str, final_url: str, body: bytes, extraction: Extraction,
                        attachment_ids: list[int]) -> list[int]:
        """Record a downloaded attachment on its rows — ``attachment_ids`` and every other row with the same URL
        not yet downloaded — then re-match and re-index their notices. Returns those notices' IDs.

        The bytes are normally archived already (the crawl's recorder keeps every response); if not, here."""
        sha256 = RawPage.digest(body)
        with self.db.session() as session:
            page_id = session.scalar(select(RawPage.id).where(RawPage.url == final_url, RawPage.sha256 == sha256))
        if page_id is None:
            page_id = self.archive_page(final_url, 200, body, kind="attachment").id
        with self.db.session() as session:
            rows = session.scalars(select(Attachment).where(or_(
                Attachment.id.in_(attachment_ids),
                and_(Attachment.url == url, Attachment.download_status != "ok")))).all()
            fetched_at = now()
            for row in rows:
                row.download_status, row.raw_page_id, row.raw_sha256, row.size = "ok", page_id, sha256, len(body)
                row.content_type, row.extraction_status = extraction.content_type, extraction.status
                row.message, row.text, row.members = extraction.message, extraction.text, extraction.members
                row.fetched_at = fetched_at
            session.flush()
            notices = sorted({row.notice_id for row in rows})
            for notice_id in notices:
                self._after_change(session, session.get_one(Notice, notice_id))
            return notices

    def attachment_failed(self, attachment_ids: list[int], status: str, message: str) -> None:
        """A download that did not give the file: too_large (final), failed or blocked (tried again later)."""
        with self.db.session() as session:
            for row in session.scalars(select(Attachment).where(Attachment.id.in_(attachment_ids))):
                row.download_status, row.message, row.fetched_at = status, message[:2000], now()
                if status == "too_large":
                    row.extraction_status = "too_large"

    def _after_change(self, session: Session, notice: Notice) -> None:
        """What follows a new or changed notice: watchlist matching, search indexing and linking to its copies on
        other sources and to the other notices of its project."""
        apply_matches(session, notice, self.origin)
        index_notice(session, notice)
        link_notice(session, notice)


def _apply(notice: Notice, record: NoticeRecord) -> None:
    for name in ("url", "title", "notice_type", "notice_type_label", "published_at", "region_code", "region_name",
                 "buyer", "agency", "project_code", "budget_cny", "award_cny", "body_text", "fields", "line_items",
                 "warnings", "raw_sha256"):
        setattr(notice, name, getattr(record, name))
    notice.suppliers = [Supplier(position=i, lot=s.lot, name=s.name, address=s.address, amount_cny=s.amount_cny,
                                 amount_text=s.amount_text) for i, s in enumerate(record.suppliers)]
    # Rows are kept by URL: a changed page must not forget which of its attachments were downloaded.
    existing: dict[str, list[Attachment]] = {}
    for row in notice.attachments:
        existing.setdefault(row.url, []).append(row)
    attachments = []
    for position, attachment in enumerate(record.attachments):
        rows = existing.get(attachment.url)
        row = rows.pop(0) if rows else Attachment(url=attachment.url)
        row.position, row.name = position, attachment.name
        attachments.append(row)
    notice.attachments = attachments


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
