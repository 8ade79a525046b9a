"""clean control characters: notices stored before text was cleaned at the door lose theirs

Control characters other than tab and newline (an ESC from a portal's title reached terminals raw and made Atom
feeds ill-formed) are removed from the text of stored notices, their suppliers and their attachments, as
``pipelines.normalise.drop_controls`` removes them from every notice stored from now on. Data only; the raw
archived pages are evidence and are not touched. One pass over the rows, in batches, writing only rows that change.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 09:50:00
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A copy of pipelines.normalise.drop_controls as of this revision: a migration must not change with the code.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BATCH = 500


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        if not _CONTROLS.search(value):
            return value
        return _CONTROLS.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def _clean_table(name: str, texts: tuple[str, ...], documents: tuple[str, ...] = ()) -> None:
    table = sa.table(name, sa.column("id", sa.Integer), *(sa.column(c, sa.Text) for c in texts),
                     *(sa.column(c, _JSON) for c in documents))
    columns = [*texts, *documents]
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(sa.select(table).where(table.c.id > last).order_by(table.c.id).limit(BATCH)).all()
        if not rows:
            return
        for row in rows:
            values = {column: _clean(getattr(row, column)) for column in columns}
            changed = {column: value for column, value in values.items() if value != getattr(row, column)}
            if changed:
                bind.execute(sa.update(table).where(table.c.id == row.id).values(**changed))
        last = rows[-1].id


def upgrade() -> None:
    _clean_table("notices", ("title", "notice_type_label", "region_name", "buyer", "agency", "project_code",
                             "body_text"), ("fields", "line_items", "warnings"))
    _clean_table("notice_suppliers", ("lot", "name", "address", "amount_text"))
    _clean_table("notice_attachments", ("name", "text"))


def downgrade() -> None:
    pass  # the characters removed were noise; they are still in the archived pages
