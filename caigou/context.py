"""What every command needs: the configuration and the database, opened lazily so ``--help`` stays fast."""
from __future__ import annotations

from dataclasses import dataclass, field

import click

from models.config import Config, load_config
from models.db import Database


@dataclass
class AppContext:
    config: Config
    database_url: str
    _database: Database | None = field(default=None, repr=False)

    @classmethod
    def create(cls, config_path: str | None, database_url: str | None) -> AppContext:
        config = load_config(config_path)
        return cls(config=config, database_url=database_url or config.database_url)

    @property
    def db(self) -> Database:
        """The database, migrated to the newest schema on first use."""
        if self._database is None:
            self._database = Database(self.database_url)
        return self._database


pass_app = click.make_pass_decorator(AppContext)
