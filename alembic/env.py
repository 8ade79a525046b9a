"""Alembic environment: the engine comes from caigou (``config.attributes['engine']``), or from
``CAIGOU_DATABASE_URL`` / the configuration file when alembic is run by hand (``alembic -c alembic.ini upgrade
head``)."""
from __future__ import annotations

import caigou.models as models
from alembic import context
from caigou.models.config import load_config
from caigou.models.db import make_engine

target_metadata = models.Base.metadata


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """The full-text index tables are created by hand in migration 0003 (FTS5 / tsvector), not from models."""
    return not (type_ == "table" and name is not None and name.startswith("notice_fts"))


def run_migrations() -> None:
    engine = context.config.attributes.get("engine") or make_engine(load_config().database_url)
    with engine.begin() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
            compare_type=True,
            include_object=include_object,
        )
        context.run_migrations()


run_migrations()
