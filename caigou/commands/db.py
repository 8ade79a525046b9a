"""``caigou db``: the database schema."""
from __future__ import annotations

import click

from caigou.context import AppContext, pass_app
from models.db import Database, current_revision, head_revision


@click.group()
def db() -> None:
    """Create or upgrade the database schema (also applied automatically on first use)."""


@db.command()
@click.pass_context
@pass_app
def upgrade(app: AppContext, ctx: click.Context) -> None:
    """Apply every migration the database lacks, then bring the derived data up to the new schema: link the
    notices stored before linking existed (0006), re-index the archive when search learnt to split mixed words
    (0007) and re-score it when scores gained capacities and their change history (0008)."""
    from sqlalchemy import exists, func, select

    from models import Notice, NoticeLink

    before = current_revision(Database(app.database_url, migrate=False).engine) or ""
    database = Database(app.database_url)  # opening migrates
    click.echo(f"{database.display_url}: schema at revision {current_revision(database.engine)}")
    with database.session() as session:
        stored = session.scalar(select(func.count(Notice.id))) or 0
        unlinked = session.scalar(select(func.count(Notice.id)).where(
            ~exists().where(NoticeLink.notice_id == Notice.id))) or 0
    if unlinked:
        click.echo(f"{unlinked} notices stored before linking existed: relinking the archive")
        _relink(database)
    # Revision IDs are zero-padded numbers, so they compare as strings; "" is a database created just now.
    if stored and before and before < "0007":
        click.echo(f"{stored} notices indexed before schema 0007: re-indexing the archive")
        ctx.invoke(reindex)
    if stored and before and before < "0008":
        from caigou.commands.matching import rematch

        click.echo(f"{stored} notices scored before schema 0008: re-scoring the archive")
        ctx.invoke(rematch, batch=500, report=False)


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
