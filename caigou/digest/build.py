"""What a digest holds: the notices newly matched for a subscription, as entries grouped by score band.

"Newly matched" means: the notice fits the subscription's filters now, its score was set (or it first matched)
after the subscription's watermark, and it never reached this recipient before (the delivery log). The watermark
is looked at with an overlap, because a crawl may commit a score stamped a moment before the last digest read;
the delivery log makes the overlap harmless.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from caigou.digest.subscriptions import filters_from_json
from caigou.filters import apply_filters
from models import REVIEW_FIRST_SCORE, DeliveredNotice, Delivery, Notice, NoticeMatch, NoticeScore, Subscription
from models.types import SHANGHAI

WATERMARK_OVERLAP = dt.timedelta(hours=6)
BANDS: tuple[tuple[int, str], ...] = (
    (80, "Strong signal (score 80–100)"),
    (REVIEW_FIRST_SCORE, f"Review first (score {REVIEW_FIRST_SCORE}–79)"),
    (0, f"Weaker signal (score below {REVIEW_FIRST_SCORE})"),
)
UPDATES = "Updates to projects already reported"
_TIER_ORDER = {"strong": 0, "medium": 1, "weak": 2}
SNIPPETS_PER_TERM = 2


@dataclass
class Term:
    term: str
    category: str
    tier: str
    snippets: list[str]


@dataclass
class UpdateOf:
    notice_id: int
    title: str
    when: str   # "reported 2024-06-05" or "in this digest"


@dataclass
class Entry:
    notice_id: int
    title: str
    buyer: str
    region: str
    published: dt.date | None
    notice_type: str
    notice_type_label: str
    amount: Decimal | None
    amount_label: str            # "award" | "budget"
    suppliers: list[str]
    project_code: str
    source: str
    url: str
    archive_url: str
    score: int
    reasons: list[str]
    terms: list[Term]
    rematched: bool              # newly matched after a watchlist change
    matched_at: dt.datetime
    update_of: UpdateOf | None = None


@dataclass
class Digest:
    subscription: str
    generated_at: dt.datetime
    entries: list[Entry]
    sections: list[tuple[str, list[Entry]]] = field(default_factory=list)
    high_water: dt.datetime | None = None   # the newest score time among the entries: the next watermark

    @property
    def empty(self) -> bool:
        return not self.entries


def band(score: int) -> str:
    return next(label for floor, label in BANDS if score >= floor)


def reason_text(reason: Any) -> str:
    """Reasons are written by the scorer: words, or a mapping with the words in ``text``/``reason``."""
    if isinstance(reason, dict):
        for key in ("text", "reason", "why", "description"):
            if reason.get(key):
                return str(reason[key])
        return "; ".join(f"{k}: {v}" for k, v in reason.items())
    if isinstance(reason, list | tuple):
        return " ".join(str(part) for part in reason)
    return str(reason)


def archive_url(base_url: str, notice_id: int) -> str:
    return f"{base_url.rstrip('/')}/notices/{notice_id}" if base_url else ""


def candidates(session: Session, subscription: Subscription) -> list[tuple[Notice, NoticeScore]]:
    """Notices fitting the filters whose score moved after the watermark (less the overlap), oldest first."""
    score = aliased(NoticeScore)  # apply_filters' own score test (min_score) must not correlate with this join
    statement = (select(Notice, score).join(score, score.notice_id == Notice.id)
                 .where(score.first_matched_at.is_not(None))
                 .options(selectinload(Notice.suppliers), selectinload(Notice.source)))
    if subscription.watermark is not None:
        since = subscription.watermark - WATERMARK_OVERLAP
        statement = statement.where(or_(score.scored_at > since, score.first_matched_at > since))
    statement = apply_filters(statement, filters_from_json(subscription.filters))
    rows = session.execute(statement.order_by(Notice.published_at, Notice.id)).all()
    return [(notice, score) for notice, score in rows]


def delivered_ids(session: Session, subscription_id: int, recipient: str, notice_ids: Iterable[int]) -> set[int]:
    ids = list(notice_ids)
    if not ids:
        return set()
    return set(session.scalars(select(DeliveredNotice.notice_id).where(
        DeliveredNotice.subscription_id == subscription_id, DeliveredNotice.recipient == recipient,
        DeliveredNotice.notice_id.in_(ids))))


def _terms(matches: Sequence[NoticeMatch]) -> list[Term]:
    by_term: dict[str, Term] = {}
    for match in sorted(matches, key=lambda m: (_TIER_ORDER.get(m.tier, 9), m.term, m.field != "title", m.start)):
        term = by_term.setdefault(match.term, Term(match.term, match.category, match.tier, []))
        snippet = " ".join(match.snippet.split())
        if snippet and snippet not in term.snippets and len(term.snippets) < SNIPPETS_PER_TERM:
            term.snippets.append(snippet)
    return list(by_term.values())


def _reported_projects(session: Session, subscription_id: int, codes: set[str],
                       exclude: set[int]) -> dict[str, UpdateOf]:
    """The first notice of each project (by project code) this subscription already delivered."""
    if not codes:
        return {}
    rows = session.execute(
        select(Notice.project_code, Notice.id, Notice.title, Delivery.attempted_at)
        .join(DeliveredNotice, DeliveredNotice.notice_id == Notice.id)
        .join(Delivery, Delivery.id == DeliveredNotice.delivery_id)
        .where(DeliveredNotice.subscription_id == subscription_id, Notice.project_code.in_(codes),
               Notice.id.not_in(exclude))
        .order_by(Delivery.attempted_at, Notice.id)).all()
    reported: dict[str, UpdateOf] = {}
    for code, notice_id, title, sent_at in rows:
        reported.setdefault(code, UpdateOf(notice_id, title, f"reported {sent_at.astimezone(SHANGHAI):%Y-%m-%d}"))
    return reported


def build_digest(session: Session, subscription: Subscription, rows: Sequence[tuple[Notice, NoticeScore]],
                 base_url: str, now: dt.datetime) -> Digest:
    """Entries for ``rows`` (the candidates not yet delivered to this recipient), sectioned."""
    ids = [notice.id for notice, _ in rows]
    matches: dict[int, list[NoticeMatch]] = {}
    if ids:
        for match in session.scalars(select(NoticeMatch).where(NoticeMatch.notice_id.in_(ids))):
            matches.setdefault(match.notice_id, []).append(match)
    reported = _reported_projects(session, subscription.id,
                                  {n.project_code for n, _ in rows if n.project_code}, set(ids))
    entries: list[Entry] = []
    for notice, score in rows:
        amount, amount_label = ((notice.award_cny, "award") if notice.award_cny is not None
                                else (notice.budget_cny, "budget"))
        entry = Entry(
            notice_id=notice.id, title=notice.title, buyer=notice.buyer,
            region=notice.region_name or (notice.region_code or ""),
            published=notice.published_at.astimezone(SHANGHAI).date() if notice.published_at else None,
            notice_type=notice.notice_type, notice_type_label=notice.notice_type_label,
            amount=amount, amount_label=amount_label, suppliers=[s.name for s in notice.suppliers],
            project_code=notice.project_code, source=notice.source.name, url=notice.url,
            archive_url=archive_url(base_url, notice.id), score=score.score,
            reasons=[reason_text(r) for r in score.reasons or []], terms=_terms(matches.get(notice.id, [])),
            rematched=score.match_origin == "rematch",
            matched_at=max(t for t in (score.scored_at, score.first_matched_at) if t is not None))
        code = notice.project_code
        if code:
            if code in reported:
                entry.update_of = reported[code]
            else:  # a later notice of the same project in this very digest is an update of this one
                reported[code] = UpdateOf(notice.id, notice.title, "in this digest")
        entries.append(entry)
    return Digest(subscription=subscription.name, generated_at=now, entries=entries,
                  sections=sections(entries),
                  high_water=max((e.matched_at for e in entries), default=None))


def sections(entries: list[Entry]) -> list[tuple[str, list[Entry]]]:
    """Updates first (the reader knows the project), then the score bands, highest first; empty ones left out."""
    out: list[tuple[str, list[Entry]]] = [(UPDATES, [e for e in entries if e.update_of])]
    fresh = [e for e in entries if not e.update_of]
    for floor, label in BANDS:
        out.append((label, sorted((e for e in fresh if band(e.score) == label),
                                  key=lambda e: (-e.score, e.published or dt.date.min))))
    return [(label, group) for label, group in out if group]
