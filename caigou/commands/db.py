"""``caigou db``: the database schema."""
from __future__ import annotations

import click

from caigou.context import AppContext, catch_up_shown, pass_app, show_progress
from caigou.models.db import Database, current_revision, head_revision


@click.group()
def db() -> None:
    """Create or upgrade the database schema (also applied automatically on first use)."""


@db.command()
@pass_app
def upgrade(app: AppContext) -> None:
    """Apply every migration the database lacks, then bring the derived data up to the new schema: link the
    notices stored before linking existed (0006), re-index the archive when search learnt to split mixed words
    (0007) and folded traditional characters to simplified (0013), and re-score it when scores gained capacities
    and their change history (0008). Any command that opens an older database does the same."""
    database = app.db  # opening migrates and catches up
    click.echo(f"{database.display_url}: schema at revision {current_revision(database.engine)}")
    if database.upgraded_from is None:  # already at the newest schema: only notices left unlinked
        catch_up_shown(database, None)


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
    from caigou.pipelines.search_index import reindex_archive

    done = reindex_archive(app.db, progress=lambda done, total: show_progress("reindex", done, total))
    click.echo(f"indexed {done} notices", err=True)


@db.command()
@pass_app
def relink(app: AppContext) -> None:
    """Recompute every link between notices: copies of one notice on several sources (one publication) and the
    notices of one project (one procurement). Links are derived data: this changes no notice and can be run any
    time (``db upgrade`` runs it for a database stored before linking existed). Progress goes to stderr."""
    from caigou.pipelines.linking import relink as relink_all

    with app.db.session() as session:
        counts = relink_all(session, progress=lambda done, total: show_progress("relink", done, total))
    click.echo(counts.line())


COMMANDS = [db]
