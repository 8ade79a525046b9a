"""Bring a database's derived data (links, search index, scores) up to the schema it was just migrated to.

``models.db.Database`` migrates the schema but knows no pipeline; whoever opens a database — the command line
(``caigou.context``, ``caigou db upgrade``) and a crawl (``crawler.crawl_context``) alike — calls ``catch_up``
with the revision it migrated from, and shows the work through callbacks of its own.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import exists, func, select

from caigou.models import Notice, NoticeLink
from caigou.models.db import Database

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""``progress(step, done, total)``: ``step`` is "relink", "reindex" or "rescore"; called with ``done`` 0 when the
step starts, then as notices are done."""


def catch_up(database: Database, before: str | None, progress: Progress | None = None,
             say: Callable[[str], None] = logger.info) -> None:
    """Link, index and score what the schema migrated from ``before`` lacks ("" for a database created just now;
    None when no migration ran, which leaves only unlinked notices to link). ``say`` gets a line before each step
    (why it runs) and after it (what it did); ``progress`` the counts in between."""
    with database.session() as session:
        stored = session.scalar(select(func.count(Notice.id))) or 0
        unlinked = 0
        if stored:
            unlinked = session.scalar(select(func.count(Notice.id)).where(
                ~exists().where(NoticeLink.notice_id == Notice.id))) or 0
    # Revision IDs are zero-padded numbers, so they compare as strings.
    relink_why = ""
    if unlinked:
        relink_why = f"{unlinked} notices stored before linking existed"
    elif stored and before and before < "0011":
        relink_why = f"{stored} notices stored before organisations existed (0011)"
    if relink_why:
        from caigou.pipelines.linking import relink

        say(f"{relink_why}: relinking the archive")
        with database.session() as session:
            counts = relink(session, progress=_step(progress, "relink"))
        say(counts.line())
    if stored and before and before < "0013":  # 0007 split mixed words; 0013 folds traditional to simplified
        from caigou.pipelines.search_index import reindex_archive

        say(f"{stored} notices indexed before schema {'0007' if before < '0007' else '0013'}: re-indexing the archive")
        indexed = reindex_archive(database, progress=_step(progress, "reindex"))
        say(f"indexed {indexed} notices")
    if stored and before and before < "0008":
        from caigou.pipelines.matching.store import configured_scorer, rematch

        say(f"{stored} notices scored before schema 0008: re-scoring the archive")
        report = _step(progress, "rescore")
        report(0, stored)
        so_far = 0

        def advance(count: int) -> None:
            nonlocal so_far
            so_far += count
            report(so_far, stored)

        rescored = rematch(database, configured_scorer(), progress=advance)
        say(f"re-scored {rescored.notices} notices: {rescored.review_first} score 50+ (review first)")


def _step(progress: Progress | None, step: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(step, done, total)

    return report
