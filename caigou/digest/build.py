"""What a digest holds: the notices newly matched for a subscription, as entries grouped by score band.

"Newly matched" means: the notice fits the subscription's filters now, its score was set (or it first matched)
after the subscription's watermark, and neither it nor a copy of it from another source (its publication group,
``pipelines.linking``) reached this recipient before (the delivery log). A notice seen on several sources is one
entry, the best-ranked copy (ccgp's, usually), saying where else it was published; a later notice of a project
(procurement) already reported is shown as an update. The watermark
is looked at with an overlap, because a crawl may commit a score stamped a moment before the last digest read;
the delivery log makes the overlap harmless.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from caigou.digest.subscriptions import subscription_notices
from caigou.models import (
    REVIEW_FIRST_SCORE,
    DeliveredNotice,
    Delivery,
    Notice,
    NoticeLink,
    NoticeMatch,
    NoticeScore,
    Subscription,
)
from caigou.models.config import Config
from caigou.models.types import SHANGHAI
from caigou.pipelines.linking import other_copies

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
    also_on: list[str] = field(default_factory=list)   # the other sources this notice was published on
    covers: list[int] = field(default_factory=list)    # the other copies' IDs among the candidates, folded in here
    published_at: dt.datetime | None = None            # the notice's own time of publication


@dataclass
class Digest:
    subscription: str
    generated_at: dt.datetime
    entries: list[Entry]
    sections: list[tuple[str, list[Entry]]] = field(default_factory=list)
    high_water: dt.datetime | None = None   # the newest score time among the entries: the next watermark
    full_limit: int = 50        # at most this many entries in full; the rest as summary lines and a link
    search_url: str = ""        # the subscription as a search on the web: where "N more" leads

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


def configured_base_url(config: Config) -> str:
    """The archive's address for links in digests and feeds: ``[web] base_url``, else where ``caigou serve``
    listens (``[web] host`` and ``port``, http://127.0.0.1:8000 by default), so a digest always links the archive."""
    base = str(config.get("web", "base_url", "") or "").strip()
    if base:
        return base.rstrip("/")
    host = str(config.get("web", "host", "127.0.0.1") or "127.0.0.1")
    return f"http://{'[' + host + ']' if ':' in host else host}:{int(config.get('web', 'port', 8000))}"


def search_url(base_url: str, subscription: Subscription) -> str:
    """The subscription's query and filters as a search on the archive's web interface, newest first."""
    from urllib.parse import urlencode

    from caigou.digest.subscriptions import filters_from_json
    from caigou.filters import filters_to_params

    if not base_url:
        return ""
    params = [("q", subscription.query), ("sort", "date"), *filters_to_params(filters_from_json(subscription.filters))]
    return f"{base_url.rstrip('/')}/search?{urlencode([(k, v) for k, v in params if v or k == 'min_score'])}"


def archive_url(base_url: str, notice_id: int) -> str:
    return f"{base_url.rstrip('/')}/notices/{notice_id}" if base_url else ""


def candidates(session: Session, subscription: Subscription) -> list[tuple[Notice, NoticeScore]]:
    """Notices fitting the filters whose score moved after the watermark (less the overlap), oldest first; and,
    whatever their score or terms, later notices of projects this subscription already delivered (a correction or
    an award often names no watchlist term, yet the reader of the first notice needs it)."""
    score = aliased(NoticeScore)  # apply_filters' own score test (min_score) must not correlate with this join
    statement = (select(Notice, score).join(score, score.notice_id == Notice.id)
                 .where(score.first_matched_at.is_not(None))
                 .options(selectinload(Notice.suppliers), selectinload(Notice.source)))
    if subscription.watermark is not None:
        since = subscription.watermark - WATERMARK_OVERLAP
        statement = statement.where(or_(score.scored_at > since, score.first_matched_at > since))
    statement = subscription_notices(statement, subscription, session.get_bind().dialect.name)
    rows = [(notice, score) for notice, score in session.execute(statement.order_by(Notice.published_at,
                                                                                     Notice.id)).all()]
    if subscription.watermark is None:  # nothing delivered yet, so no project to follow
        return rows
    seen = {notice.id for notice, _ in rows}
    updates = [(notice, score) for notice, score in session.execute(_later_notices_of_reported_projects(
        subscription, subscription.watermark - WATERMARK_OVERLAP)).all() if notice.id not in seen]
    if not updates:
        return rows
    return sorted(rows + updates, key=lambda row: (row[0].published_at is None, row[0].published_at or 0,
                                                   row[0].id))


def _later_notices_of_reported_projects(subscription: Subscription, since: dt.datetime) -> Select[Notice, NoticeScore]:
    """Notices scored after ``since`` of a procurement (``pipelines.linking``) or project code of a notice this
    subscription delivered; the delivered notices themselves are left to the delivery log."""
    delivered = select(DeliveredNotice.notice_id).where(DeliveredNotice.subscription_id == subscription.id)
    reported_link, link = aliased(NoticeLink), aliased(NoticeLink)
    reported_notice = aliased(Notice)
    procurements = (select(reported_link.procurement_id).where(reported_link.notice_id.in_(delivered),
                                                               reported_link.procurement_id.is_not(None)))
    codes = select(reported_notice.project_code).where(reported_notice.id.in_(delivered),
                                                       reported_notice.project_code != "")
    score = aliased(NoticeScore)
    return (select(Notice, score).join(score, score.notice_id == Notice.id)
            .outerjoin(link, link.notice_id == Notice.id)
            .where(score.scored_at > since, Notice.id.not_in(delivered),
                   or_(link.procurement_id.in_(procurements),
                       and_(Notice.project_code != "", Notice.project_code.in_(codes))))
            .options(selectinload(Notice.suppliers), selectinload(Notice.source)))


def delivered_ids(session: Session, subscription_id: int, recipient: str, notice_ids: Iterable[int]) -> set[int]:
    """Those of ``notice_ids`` this recipient already had: the notice itself, or a copy of it from another source."""
    ids = list(notice_ids)
    if not ids:
        return set()
    delivered = (select(DeliveredNotice.notice_id).where(DeliveredNotice.subscription_id == subscription_id,
                                                         DeliveredNotice.recipient == recipient))
    done = set(session.scalars(delivered.where(DeliveredNotice.notice_id.in_(ids))))
    copy, this = aliased(NoticeLink), aliased(NoticeLink)
    done |= set(session.scalars(
        select(this.notice_id).join(copy, copy.canonical_id == this.canonical_id)
        .where(this.notice_id.in_(ids), copy.notice_id != this.notice_id, copy.notice_id.in_(delivered))))
    return done


def _terms(matches: Sequence[NoticeMatch]) -> list[Term]:
    by_term: dict[str, Term] = {}
    for match in sorted(matches, key=lambda m: (_TIER_ORDER.get(m.tier, 9), m.term, m.field != "title", m.start)):
        term = by_term.setdefault(match.term, Term(match.term, match.category, match.tier, []))
        snippet = " ".join(match.snippet.split())
        if snippet and snippet not in term.snippets and len(term.snippets) < SNIPPETS_PER_TERM:
            term.snippets.append(snippet)
    return list(by_term.values())


ProjectKey = tuple[str, Any]


def _project_keys(procurement_id: int | None, project_code: str) -> list[ProjectKey]:
    """A notice's project: its procurement (``pipelines.linking``) and its project code. Both, because one notice
    may be linked and the other not (linking ran after the first was delivered, or one came by import)."""
    keys: list[ProjectKey] = []
    if procurement_id is not None:
        keys.append(("procurement", procurement_id))
    if project_code:
        keys.append(("code", project_code))
    return keys


def _reported_projects(session: Session, subscription_id: int, keys: set[ProjectKey],
                       exclude: set[int]) -> dict[ProjectKey, UpdateOf]:
    """The first notice of each project this subscription already delivered."""
    procurements = {value for kind, value in keys if kind == "procurement"}
    codes = {value for kind, value in keys if kind == "code"}
    if not keys:
        return {}
    rows = session.execute(
        select(NoticeLink.procurement_id, Notice.project_code, Notice.id, Notice.title, Delivery.attempted_at)
        .join(DeliveredNotice, DeliveredNotice.notice_id == Notice.id)
        .join(Delivery, Delivery.id == DeliveredNotice.delivery_id)
        .outerjoin(NoticeLink, NoticeLink.notice_id == Notice.id)
        .where(DeliveredNotice.subscription_id == subscription_id, Notice.id.not_in(exclude),
               or_(NoticeLink.procurement_id.in_(procurements), Notice.project_code.in_(codes)))
        .order_by(Delivery.attempted_at, Notice.id)).all()
    reported: dict[ProjectKey, UpdateOf] = {}
    for procurement_id, code, notice_id, title, sent_at in rows:
        update = UpdateOf(notice_id, title, f"reported {sent_at.astimezone(SHANGHAI):%Y-%m-%d}")
        for key in _project_keys(procurement_id, code):
            if key in keys:
                reported.setdefault(key, update)
    return reported


def _one_per_publication(session: Session, rows: Sequence[tuple[Notice, NoticeScore]]
                         ) -> tuple[list[tuple[Notice, NoticeScore]], dict[int, NoticeLink], dict[int, list[int]]]:
    """The rows with each publication once (its best-ranked copy among them), their links, and the folded copies."""
    ids = [notice.id for notice, _ in rows]
    links: dict[int, NoticeLink] = {}
    for start in range(0, len(ids), 500):
        links.update((link.notice_id, link) for link in session.scalars(
            select(NoticeLink).where(NoticeLink.notice_id.in_(ids[start:start + 500]))))
    best: dict[int, tuple[Notice, NoticeScore]] = {}
    folded: dict[int, list[int]] = {}
    for notice, score in rows:
        link = links.get(notice.id)
        group = link.canonical_id if link is not None and link.canonical_id is not None else notice.id
        kept = best.get(group)
        rank = link.group_rank if link is not None else 0
        if kept is None or rank < (links[kept[0].id].group_rank if kept[0].id in links else 0):
            best[group] = (notice, score)
        folded.setdefault(group, []).append(notice.id)
    kept_ids = {notice.id for notice, _ in best.values()}
    covers = {notice.id: [i for i in folded[group] if i != notice.id] for group, (notice, _) in best.items()}
    return [row for row in rows if row[0].id in kept_ids], links, covers


def build_digest(session: Session, subscription: Subscription, rows: Sequence[tuple[Notice, NoticeScore]],
                 base_url: str, now: dt.datetime) -> Digest:
    """Entries for ``rows`` (the candidates not yet delivered to this recipient), sectioned; a notice seen on
    several sources is one entry."""
    rows, links, covers = _one_per_publication(session, rows)
    copies = other_copies(session, [notice.id for notice, _ in rows])
    ids = [notice.id for notice, _ in rows]
    matches: dict[int, list[NoticeMatch]] = {}
    if ids:
        for match in session.scalars(select(NoticeMatch).where(NoticeMatch.notice_id.in_(ids))):
            matches.setdefault(match.notice_id, []).append(match)
    projects = {n.id: _project_keys(links[n.id].procurement_id if n.id in links else None, n.project_code)
                for n, _ in rows}
    folded = {i for notice_ids in covers.values() for i in notice_ids}
    reported = _reported_projects(session, subscription.id, {k for keys in projects.values() for k in keys},
                                  set(ids) | folded)
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
            matched_at=max(t for t in (score.scored_at, score.first_matched_at) if t is not None),
            also_on=list(dict.fromkeys(name for _, name in copies.get(notice.id, []))),
            covers=covers.get(notice.id, []), published_at=notice.published_at)
        keys = projects[notice.id]
        earlier = next((reported[key] for key in keys if key in reported), None)
        if earlier is not None:
            entry.update_of = earlier
        # A later notice of the same project in this very digest is an update of this one.
        for key in keys:
            reported.setdefault(key, UpdateOf(notice.id, notice.title, "in this digest"))
        entries.append(entry)
    return Digest(subscription=subscription.name, generated_at=now, entries=entries,
                  sections=sections(entries), search_url=search_url(base_url, subscription),
                  high_water=max((e.matched_at for e in entries), default=None))


def sections(entries: list[Entry]) -> list[tuple[str, list[Entry]]]:
    """Updates first (the reader knows the project), then the score bands, highest first; empty ones left out."""
    out: list[tuple[str, list[Entry]]] = [(UPDATES, [e for e in entries if e.update_of])]
    fresh = [e for e in entries if not e.update_of]
    for _floor, label in BANDS:
        out.append((label, sorted((e for e in fresh if band(e.score) == label),
                                  key=lambda e: (-e.score, e.published or dt.date.min))))
    return [(label, group) for label, group in out if group]
