"""``caigou db``: the database schema."""
from __future__ import annotations

import click

from caigou.context import AppContext, pass_app
from models.db import Database, current_revision, head_revision


@click.group()
def db() -> None:
    """Create or upgrade the database schema (also applied automatically on first use)."""


@db.command()
@pass_app
def upgrade(app: AppContext) -> None:
    """Apply every migration the database lacks; then link the notices stored before linking existed (migration
    0006), which would otherwise count as alone."""
    from sqlalchemy import exists, func, select

    from models import Notice, NoticeLink

    database = Database(app.database_url)  # opening migrates
    click.echo(f"{database.display_url}: schema at revision {current_revision(database.engine)}")
    with database.session() as session:
        unlinked = session.scalar(select(func.count(Notice.id)).where(
            ~exists().where(NoticeLink.notice_id == Notice.id))) or 0
    if unlinked:
        click.echo(f"{unlinked} notices stored before linking existed: relinking the archive")
        _relink(database)


def _relink(database: Database) -> None:
    from pipelines.linking import relink as relink_all

    def progress(done: int, total: int) -> None:
        click.echo(f"\rrelink: {done}/{total} notices read", err=True, nl=done >= total)

    with database.session() as session:
        counts = relink_all(session, progress=progress)
    click.echo(counts.line())


@db.command()
@pass_app
def status(app: AppContext) -> None:
    """Show the database URL and its schema revision against the newest one."""
    database = Database(app.database_url, migrate=False)
    click.echo(f"database: {database.display_url}\nrevision: {current_revision(database.engine) or 'empty'}"
               f"\nnewest:   {head_revision()}")


@db.command()
@pass_app
def reindex(app: AppContext) -> None:
    """Rebuild the full-text index of every notice (after a watchlist or tokenizer change)."""
    import sys

    from sqlalchemy import func, select

    from models import Notice
    from pipelines.search_index import index_notice

    database = app.db
    with database.session() as session:
        total = session.scalar(select(func.count(Notice.id))) or 0
    done, last_id = 0, 0
    with click.progressbar(length=total, label="indexing", file=sys.stderr) as bar:
        while True:
            with database.session() as session:  # one short transaction per batch
                batch = list(session.scalars(select(Notice).where(Notice.id > last_id).order_by(Notice.id)
                                             .limit(1000)))
                if not batch:
                    break
                for notice in batch:
                    index_notice(session, notice)
                last_id = batch[-1].id
            done += len(batch)
            bar.update(len(batch))
    click.echo(f"indexed {done} notices")


@db.command()
@pass_app
def relink(app: AppContext) -> None:
    """Recompute every link between notices: copies of one notice on several sources (one publication) and the
    notices of one project (one procurement). Links are derived data: this changes no notice and can be run any
    time (``db upgrade`` runs it for a database stored before linking existed). Progress goes to stderr."""
    _relink(app.db)


COMMANDS = [db]
