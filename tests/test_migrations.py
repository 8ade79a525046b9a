"""The migrations are the schema's source of truth: the models must not drift from them."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from models import Base
from models.db import Database, current_revision, head_revision


def test_models_match_migrations(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True,
            # The full-text tables are hand-made (FTS5 / tsvector); see migration 0003.
            "include_object": lambda obj, name, type_, reflected, other: not (
                type_ == "table" and name and name.startswith("notice_fts"))})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models and migrations differ; write a migration: {differences}"


def test_database_is_at_newest_revision(db: Database) -> None:
    assert current_revision(db.engine) == head_revision()
