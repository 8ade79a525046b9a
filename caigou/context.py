"""What every command needs: the configuration and the database, opened lazily so ``--help`` stays fast."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from caigou.models.config import Config, load_config

if TYPE_CHECKING:
    from caigou.models.db import Database  # imported on first use: `caigou match` needs no database (nor SQLAlchemy)


@dataclass
class AppContext:
    config: Config
    database_url: str
    _database: Database | None = field(default=None, repr=False)

    @classmethod
    def create(cls, config_path: str | None, database_url: str | None) -> AppContext:
        config = load_config(config_path)
        if config.path is not None:
            # Parts that read the configuration themselves (the matcher inside a crawl, child processes of the
            # scheduler) must read the same file.
            os.environ["CAIGOU_CONFIG"] = str(config.path.resolve())
        if database_url:
            from caigou.models.db import check_new_database

            check_new_database(database_url)
        return cls(config=config, database_url=database_url or config.database_url)

    @property
    def db(self) -> Database:
        """The database, migrated to the newest schema on first use (its derived data too)."""
        if self._database is None:
            from caigou.models.db import Database

            self._database = Database(self.database_url)
            if self._database.upgraded_from:
                catch_up_shown(self._database, self._database.upgraded_from)
        return self._database

    def close(self) -> None:
        """The database's connections released (the command has ended)."""
        if self._database is not None:
            self._database.dispose()
            self._database = None


def catch_up_shown(database: Database, before: str | None) -> None:
    """``pipelines.catch_up.catch_up`` with a counter line per step and its summary on stderr (the command's
    stdout may be data)."""
    from caigou.pipelines.catch_up import catch_up

    catch_up(database, before, progress=show_progress, say=lambda line: click.echo(line, err=True))


def show_progress(step: str, done: int, total: int) -> None:
    click.echo(f"\r{step}: {done}/{total} notices", err=True, nl=done >= total)


pass_app = click.make_pass_decorator(AppContext)
