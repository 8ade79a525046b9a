"""Matches and scores in the database: computed when a notice is stored, recomputed when the watchlist changes.

Only ``notice_matches`` and ``notice_scores`` are written; the notice and its evidence are read, never changed.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import Notice, NoticeMatch, NoticeScore
from models.config import load_config
from models.db import Database
from models.types import now
from pipelines.matching.scoring import MatchInput, MatchResult, Scorer
from pipelines.matching.watchlist import configured_paths, load_watchlist


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
    for member, body in zip(pieces[1::2], pieces[2::2]):
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


def apply_matches(session: Session, notice: Notice, origin: str, scorer: Scorer | None = None) -> Change:
    """Replace ``notice``'s matches and score. ``origin`` (crawl, rematch, import) is recorded when it first
    matches, so a digest can say "newly matched after a watchlist change"."""
    result: MatchResult = (scorer or configured_scorer()).score(input_from_notice(notice))
    session.execute(delete(NoticeMatch).where(NoticeMatch.notice_id == notice.id))
    session.add_all(NoticeMatch(notice_id=notice.id, term=m.term, matched_text=m.matched_text[:200],
                                category=m.category, tier=m.tier, field=m.field[:200], start=m.start, end=m.end,
                                snippet=m.snippet, quantity=m.quantity) for m in result.matches)
    score = session.get(NoticeScore, notice.id)
    was_matched = score is not None and score.first_matched_at is not None
    is_matched = bool(result.matches)
    if score is None:
        score = NoticeScore(notice_id=notice.id)
        session.add(score)
    score.score, score.reasons, score.buyer_type = result.score, result.reasons, result.buyer_type
    score.watchlist_version, score.scored_at = result.watchlist_version, now()
    if is_matched and not was_matched:
        score.first_matched_at, score.match_origin = now(), origin
    elif was_matched and not is_matched:
        score.first_matched_at, score.match_origin = None, ""
    return Change(is_matched and not was_matched, was_matched and not is_matched, result.score)


@dataclass
class RematchCounts:
    notices: int = 0
    newly_matched: int = 0
    no_longer_matching: int = 0
    review_first: int = 0


def rematch(database: Database, scorer: Scorer | None = None, batch: int = 500,
            progress: Callable[[int], None] | None = None) -> RematchCounts:
    """Re-score the whole archive in batches (memory stays flat), recording what newly matches and what no
    longer does."""
    scorer = scorer or configured_scorer()
    counts = RematchCounts()
    last_id = 0
    while True:
        with database.session() as session:
            notices = session.scalars(select(Notice).where(Notice.id > last_id).order_by(Notice.id)
                                      .limit(batch)).all()
            if not notices:
                break
            for notice in notices:
                change = apply_matches(session, notice, "rematch", scorer)
                counts.notices += 1
                counts.newly_matched += change.newly_matched
                counts.no_longer_matching += change.no_longer_matches
                counts.review_first += change.score >= 50
            last_id = notices[-1].id
            session.flush()
            session.expunge_all()
        if progress:
            progress(len(notices))
    return counts
