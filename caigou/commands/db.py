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
    """Apply every migration the database lacks, then bring the derived data up to the new schema: link the
    notices stored before linking existed (0006), re-index the archive when search learnt to split mixed words
    (0007) and re-score it when scores gained capacities and their change history (0008). Any command that opens
    an older database does the same."""
    database = app.db  # opening migrates and catches up
    click.echo(f"{database.display_url}: schema at revision {current_revision(database.engine)}")
    if database.upgraded_from is None:  # already at the newest schema: only notices left unlinked
        catch_up(database, None)


def catch_up(database: Database, before: str | None) -> None:
    """Bring links, index and scores up to the schema a database was just migrated to from ``before`` ("" for a
    database created just now; None when no migration ran, which leaves only unlinked notices to link)."""
    from sqlalchemy import exists, func, select

    from models import Notice, NoticeLink

    with database.session() as session:
        stored = session.scalar(select(func.count(Notice.id))) or 0
        unlinked = 0
        if stored:
            unlinked = session.scalar(select(func.count(Notice.id)).where(
                ~exists().where(NoticeLink.notice_id == Notice.id))) or 0
    if unlinked:
        click.echo(f"{unlinked} notices stored before linking existed: relinking the archive", err=True)
        _relink(database, err=True)
    elif stored and before and before < "0011":
        click.echo(f"{stored} notices stored before organisations existed (0011): relinking the archive", err=True)
        _relink(database, err=True)
    if not stored or not before:
        return
    # Revision IDs are zero-padded numbers, so they compare as strings.
    if before < "0007":
        click.echo(f"{stored} notices indexed before schema 0007: re-indexing the archive", err=True)
        _reindex(database)
    if before < "0008":
        import sys

        from pipelines.matching.store import configured_scorer, rematch

        click.echo(f"{stored} notices scored before schema 0008: re-scoring the archive", err=True)
        with click.progressbar(length=stored, label="re-matching", file=sys.stderr) as bar:
            counts = rematch(database, configured_scorer(), progress=bar.update)
        click.echo(f"re-scored {counts.notices} notices: {counts.review_first} score 50+ (review first)", err=True)


def _relink(database: Database, err: bool = False) -> None:
    """Relink the archive; ``err`` puts the summary on stderr (catching up under a command whose stdout is data)."""
    from pipelines.linking import relink as relink_all

    def progress(done: int, total: int) -> None:
        click.echo(f"\rrelink: {done}/{total} notices read", err=True, nl=done >= total)

    with database.session() as session:
        counts = relink_all(session, progress=progress)
    click.echo(counts.line(), err=err)


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
    _reindex(app.db)


def _reindex(database: Database) -> None:
    import sys

    from sqlalchemy import func, select

    from models import Notice
    from pipelines.search_index import index_notice

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
    click.echo(f"indexed {done} notices", err=True)


@db.command()
@pass_app
def relink(app: AppContext) -> None:
    """Recompute every link between notices: copies of one notice on several sources (one publication) and the
    notices of one project (one procurement). Links are derived data: this changes no notice and can be run any
    time (``db upgrade`` runs it for a database stored before linking existed). Progress goes to stderr."""
    _relink(app.db)


COMMANDS = [db]
