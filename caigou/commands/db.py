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
    """Apply every migration the database lacks."""
    database = Database(app.database_url)  # opening migrates
    click.echo(f"{database.display_url}: schema at revision {current_revision(database.engine)}")


@db.command()
@pass_app
def status(app: AppContext) -> None:
    """Show the database URL and its schema revision against the newest one."""
    database = Database(app.database_url, migrate=False)
    click.echo(f"database: {database.display_url}\nrevision: {current_revision(database.engine) or 'empty'}"
               f"\nnewest:   {head_revision()}")


COMMANDS = [db]
