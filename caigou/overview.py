"""A short table of what an archive holds, highest scores first: what the demo and ``caigou status`` print."""
from __future__ import annotations

import click
from sqlalchemy import func, select

from caigou.models import Notice, NoticeScore, RawPage
from caigou.models.db import Database


def print_overview(database: Database, limit: int = 15) -> None:
    with database.session() as session:
        notices = session.scalar(select(func.count(Notice.id))) or 0
        pages = session.scalar(select(func.count(RawPage.id))) or 0
        rows = session.execute(
            select(Notice.id, Notice.title, Notice.buyer, Notice.award_cny, Notice.budget_cny, NoticeScore.score)
            .outerjoin(NoticeScore, NoticeScore.notice_id == Notice.id)
            .order_by(NoticeScore.score.desc().nulls_last(), Notice.published_at.desc())
            .limit(limit)).all()
    click.echo(f"\n{notices} notices stored, {pages} pages archived as evidence.")
    for notice_id, title, buyer, award, budget, score in rows:
        amount = award if award is not None else budget
        score_text = f"{score:>3}" if score is not None else "  -"
        amount_text = f"¥{amount:,.2f}" if amount is not None else ""
        click.echo(f"  [{score_text}] #{notice_id} {title[:60]}  {buyer[:30]}  {amount_text}")
