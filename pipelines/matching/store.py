"""Matches and scores in the database: computed when a notice is stored, recomputed when the watchlist changes.

Only ``notice_matches`` and ``notice_scores`` are written; the notice and its evidence are read, never changed.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from caigou.models import REVIEW_FIRST_SCORE, Notice, NoticeMatch, NoticeScore, NoticeScoreChange
from caigou.models.config import load_config
from caigou.models.db import Database
from caigou.models.types import now
from caigou.pipelines.matching.scoring import MatchInput, MatchResult, Scorer
from caigou.pipelines.matching.watchlist import configured_paths, load_watchlist


@cache
def scorer_for(paths: tuple[Path, ...]) -> Scorer:
    return Scorer(load_watchlist(paths))


def configured_scorer() -> Scorer:
    """The scorer for the configured watchlist (``[watchlist] path`` and ``extra``), built once per process."""
    config = load_config()
    return scorer_for(tuple(configured_paths(config.get("watchlist", "path"), config.get("watchlist", "extra"))))


def input_from_notice(notice: Notice) -> MatchInput:
    items = [" ".join(str(v) for k, v in row.items() if k in {"name", "brand", "model", "quantity"} and v)
             for row in notice.line_items]
    attachments: dict[str, str] = {}
    for attachment in notice.attachments:
        if attachment.text:
            name = attachment.name or attachment.url
            name = name if name not in attachments else f"{name} #{attachment.position + 1}"
            attachments.update(archive_parts(name, attachment.text, attachment.members or []))
    return MatchInput(title=notice.title, body=notice.body_text, buyer=notice.buyer,
                      suppliers="; ".join(s.name for s in notice.suppliers), items=items,
                      attachments=attachments, region_code=notice.region_code)


def archive_parts(name: str, text: str, members: list[dict[str, Any]]) -> dict[str, str]:
    """An archive's text split by member (pipelines.attachments heads each member's text with 【member】), so a
    match names the file inside the archive: ``招标文件.zip/设备清单.pdf``. Anything else is one part."""
    if not members:
        return {name: text}
    known = {str(member.get("name")) for member in members}
    pieces = _MEMBER_HEAD.split(text)
    parts: dict[str, str] = {name: pieces[0]} if pieces[0].strip() else {}
    current = name
    for member, body in zip(pieces[1::2], pieces[2::2], strict=False):
        if member in known:
            current = f"{name}/{member}"
            parts[current] = body
        else:  # 【…】 inside the text itself (or a nested archive's own head): part of the member it is in
            parts[current] = parts.get(current, "") + f"【{member}】\n{body}"
    return parts


_MEMBER_HEAD = re.compile(r"^【(.+?)】\n", re.MULTILINE)


@dataclass(frozen=True)
class Change:
    """What (re)matching did to a notice: for counts and for digests."""

    newly_matched: bool
    no_longer_matches: bool
    score: int
    now_review_first: bool = False


def apply_matches(session: Session, notice: Notice, origin: str, scorer: Scorer | None = None,
                  changed_at: dt.datetime | None = None) -> Change:
    """Replace ``notice``'s matches and score. ``origin`` (crawl, rematch, import) is recorded when it first
    matches, and when a re-match raises it to 50 or more, so a digest can say "newly matched after a watchlist
    change". A re-match that changes the score or the matched state also adds a ``NoticeScoreChange`` row (at
    ``changed_at``, the run's start), so what stopped matching is not forgotten."""
    result: MatchResult = (scorer or configured_scorer()).score(input_from_notice(notice))
    session.execute(delete(NoticeMatch).where(NoticeMatch.notice_id == notice.id))
    session.add_all(NoticeMatch(notice_id=notice.id, term=m.term, matched_text=m.matched_text[:200],
                                category=m.category, tier=m.tier, field=m.field[:200], start=m.start, end=m.end,
                                snippet=m.snippet, quantity=m.quantity) for m in result.matches)
    score = session.get(NoticeScore, notice.id)
    was_matched = score is not None and score.first_matched_at is not None
    old_score = score.score if score is not None else None
    old_version = score.watchlist_version if score is not None else ""
    is_matched = bool(result.matches)
    if score is None:
        score = NoticeScore(notice_id=notice.id)
        session.add(score)
    score.score, score.reasons, score.buyer_type = result.score, result.reasons, result.buyer_type
    score.watchlist_version, score.scored_at = result.watchlist_version, now()
    score.capacity = result.capacity or None
    if is_matched and not was_matched:
        score.first_matched_at, score.match_origin = now(), origin
    elif was_matched and not is_matched:
        score.first_matched_at, score.match_origin = None, ""
    was_review_first = old_score is not None and old_score >= REVIEW_FIRST_SCORE
    now_review_first = result.score >= REVIEW_FIRST_SCORE and not was_review_first
    if now_review_first and origin == "rematch":
        score.match_origin = origin  # digests: "newly matched after a watchlist change"
    change = Change(is_matched and not was_matched, was_matched and not is_matched, result.score,
                    now_review_first)
    if origin == "rematch" and (old_score != result.score or change.newly_matched or change.no_longer_matches):
        session.add(NoticeScoreChange(
            notice_id=notice.id, changed_at=changed_at or now(), origin=origin, old_score=old_score,
            new_score=result.score, old_version=old_version, new_version=result.watchlist_version,
            newly_matched=change.newly_matched, no_longer_matching=change.no_longer_matches,
            now_review_first=now_review_first,
            no_longer_review_first=was_review_first and result.score < REVIEW_FIRST_SCORE))
    return change


@dataclass
class RematchCounts:
    notices: int = 0
    newly_matched: int = 0
    no_longer_matching: int = 0
    review_first: int = 0
    now_review_first: int = 0
    changed: int = 0
    started: dt.datetime | None = None  # the changes of this run are the NoticeScoreChange rows at this time


def rematch(database: Database, scorer: Scorer | None = None, batch: int = 500,
            progress: Callable[[int], None] | None = None) -> RematchCounts:
    """Re-score the whole archive in batches (memory stays flat), recording what newly matches and what no
    longer does."""
    scorer = scorer or configured_scorer()
    counts = RematchCounts(started=now())
    last_id = 0
    while True:
        with database.session() as session:
            notices = session.scalars(select(Notice).where(Notice.id > last_id).order_by(Notice.id)
                                      .limit(batch)).all()
            if not notices:
                break
            for notice in notices:
                change = apply_matches(session, notice, "rematch", scorer, counts.started)
                counts.notices += 1
                counts.newly_matched += change.newly_matched
                counts.no_longer_matching += change.no_longer_matches
                counts.review_first += change.score >= REVIEW_FIRST_SCORE
                counts.now_review_first += change.now_review_first
            last_id = notices[-1].id
            session.flush()
            session.expunge_all()
        if progress:
            progress(len(notices))
    return counts


def changes_since(session: Session, since: dt.datetime | None = None,
                  notice_id: int | None = None) -> Sequence[NoticeScoreChange]:
    """The recorded re-match changes at or after ``since`` (of one notice, if given), oldest first."""
    statement = select(NoticeScoreChange)
    if since is not None:
        statement = statement.where(NoticeScoreChange.changed_at >= since)
    if notice_id is not None:
        statement = statement.where(NoticeScoreChange.notice_id == notice_id)
    return session.scalars(statement.order_by(NoticeScoreChange.changed_at, NoticeScoreChange.id)).all()


def describe_change(change: NoticeScoreChange) -> str:
    """One line: "#12 30 → 65 (watchlist ab12 → cd34): 50+ now"."""
    old = "unscored" if change.old_score is None else str(change.old_score)
    what = [label for flag, label in ((change.newly_matched, "newly matched"),
                                      (change.no_longer_matching, "no longer matching"),
                                      (change.now_review_first, "50+ now"),
                                      (change.no_longer_review_first, "below 50 now")) if flag]
    return (f"#{change.notice_id} {old} → {change.new_score} (watchlist {change.old_version or '-'} → "
            f"{change.new_version}, {change.changed_at.isoformat(timespec='seconds')})"
            + (f": {', '.join(what)}" if what else ""))
