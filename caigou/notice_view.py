"""Everything a reader needs about one notice — fields, matches, score and reasons, reviews, the archived pages it
was parsed from, and the other notices of its project — for the web page, the JSON API and ``caigou show``.
Read-only: nothing here writes."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import nh3
from bs4.dammit import UnicodeDammit
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from caigou.models import Notice, NoticeMatch, NoticePage, NoticeRevision, NoticeScore, RawPage, Review
from caigou.models.errors import CaigouError
from caigou.pipelines.linking import other_copies, procurement_notices
from caigou.review import history


class NotFound(CaigouError):
    """No such notice or page."""


# IDs are PostgreSQL ``integer`` keys. A larger number from a URL or the command line cannot name a row, and binding
# it fails in the driver (OverflowError on SQLite, out of range on PostgreSQL): it is "not found", checked first.
MAX_ID = 2**31 - 1


def valid_id(value: int) -> bool:
    return 1 <= value <= MAX_ID


@dataclass
class NoticeDetail:
    notice: Notice
    score: NoticeScore | None
    matches: list[NoticeMatch]
    reviews: list[Review]
    pages: list[RawPage]          # the archived versions it was parsed from, newest first
    revisions: int                # how many earlier parsed versions are kept
    project: list[Notice]         # every notice of the same project, oldest first (this one included)
    copies: list[tuple[int, str]]  # the same notice stored from other sources: (notice ID, source name)

    @property
    def status(self) -> str:
        return self.reviews[-1].status if self.reviews else "new"

    @property
    def needles(self) -> list[str]:
        """What to highlight: every watchlist alias as it occurred."""
        return sorted({m.matched_text for m in self.matches if m.matched_text}, key=len, reverse=True)


def notice_detail(session: Session, notice_id: int) -> NoticeDetail:
    if not valid_id(notice_id):
        raise NotFound(f"no notice with ID {notice_id}")
    notice = session.scalars(select(Notice).where(Notice.id == notice_id).options(
        selectinload(Notice.source), selectinload(Notice.suppliers), selectinload(Notice.attachments))).first()
    if notice is None:
        raise NotFound(f"no notice with ID {notice_id}")
    matches = list(session.scalars(select(NoticeMatch).where(NoticeMatch.notice_id == notice_id)
                                   .order_by(NoticeMatch.field, NoticeMatch.start)))
    pages = list(session.scalars(select(RawPage).join(NoticePage, NoticePage.raw_page_id == RawPage.id)
                                 .where(NoticePage.notice_id == notice_id).order_by(NoticePage.id.desc())))
    revisions = len(session.scalars(select(NoticeRevision.id).where(NoticeRevision.notice_id == notice_id)).all())
    return NoticeDetail(notice, session.get(NoticeScore, notice_id), matches, history(session, notice_id),
                        list(dict.fromkeys(pages)), revisions, project_notices(session, notice),
                        other_copies(session, [notice_id]).get(notice_id, []))


def project_notices(session: Session, notice: Notice) -> list[Notice]:
    """The notices of the same procurement (intention → tender → correction → award), linked by
    ``pipelines.linking`` (normalised project code and buyer), each publication once; the notice alone when it
    belongs to none."""
    return procurement_notices(session, notice.id) or [notice]


def archived_page(session: Session, page_id: int) -> RawPage:
    page = session.get(RawPage, page_id) if valid_id(page_id) else None
    if page is None:
        raise NotFound(f"no archived page with ID {page_id}")
    return page


# Tags kept in the sanitised copy: structure and text only. No images (they would load from the portal and tell it
# who is reading), no forms, no scripts, no styles.
SAFE_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "div", "dl", "dt", "em", "font", "h1",
             "h2", "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub",
             "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"}
SAFE_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}


def sanitised_html(page: RawPage) -> str:
    """The archived page as inert HTML: decoded by its declared or sniffed encoding, then cleaned by nh3 (an
    allow-list: every script, event handler, style, frame and image is gone; links open nothing automatically)."""
    decoded = UnicodeDammit(page.body, is_html=True).unicode_markup or ""
    return nh3.clean(decoded, tags=SAFE_TAGS, attributes=SAFE_ATTRIBUTES, url_schemes={"http", "https"},
                     link_rel="noopener noreferrer nofollow", strip_comments=True)


def notice_dict(detail: NoticeDetail, base_url: str = "") -> dict[str, Any]:
    """The JSON form of a notice, as the API serves it."""
    notice = detail.notice

    def money(value: Any) -> str | None:
        return None if value is None else str(value)

    return {
        "id": notice.id, "source": notice.source.name, "source_key": notice.source_key, "url": notice.url,
        "archive_url": f"{base_url}/notices/{notice.id}", "notice_type": notice.notice_type,
        "notice_type_label": notice.notice_type_label, "title": notice.title,
        "published_at": notice.published_at.isoformat() if notice.published_at else None,
        "region_code": notice.region_code, "region_name": notice.region_name, "buyer": notice.buyer,
        "agency": notice.agency, "project_code": notice.project_code, "budget_cny": money(notice.budget_cny),
        "award_cny": money(notice.award_cny),
        "suppliers": [{"name": s.name, "lot": s.lot, "amount_cny": money(s.amount_cny)} for s in notice.suppliers],
        "line_items": notice.line_items, "fields": notice.fields, "body_text": notice.body_text,
        "attachments": [{"name": a.name, "url": a.url, "download_status": a.download_status,
                         "content_type": a.content_type, "size": a.size, "raw_sha256": a.raw_sha256,
                         "extraction_status": a.extraction_status, "message": a.message}
                        for a in notice.attachments],
        "score": detail.score.score if detail.score else 0,
        "reasons": list(detail.score.reasons) if detail.score else [],
        "matches": [{"term": m.term, "matched_text": m.matched_text, "category": m.category, "tier": m.tier,
                     "field": m.field, "snippet": m.snippet} for m in detail.matches],
        "review_status": detail.status,
        "reviews": [{"reviewer": r.reviewer, "status": r.status, "note": r.note, "tags": list(r.tags or []),
                     "created_at": r.created_at.isoformat()} for r in detail.reviews],
        "archived_pages": [{"id": p.id, "url": p.url, "version": p.version, "sha256": p.sha256,
                            "http_status": p.http_status, "fetched_at": p.first_fetched_at.isoformat()}
                           for p in detail.pages],
        "also_on": [{"id": copy_id, "source": source} for copy_id, source in detail.copies],
        "project_notices": [{"id": n.id, "notice_type": n.notice_type, "title": n.title,
                             "published_at": n.published_at.isoformat() if n.published_at else None}
                            for n in detail.project],
        "first_seen_at": notice.first_seen_at.isoformat(), "last_seen_at": notice.last_seen_at.isoformat(),
    }
