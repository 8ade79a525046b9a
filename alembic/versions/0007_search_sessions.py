"""search phrases stream; revocable web sessions; append-only reviews

Reviews become append-only in the database: triggers refuse UPDATE and DELETE on ``reviews``.

Users gain ``session_generation``, carried in the signed web session and bumped on logout, disable and password
change, so sessions can be revoked.

The full-text index gains a phrase stream (``pipelines/search_index.py``: one token per CJK character or Latin/digit
run, in order), filled here for stored notices: it needs no tokenizer, only the notices' text. The word stream is
kept as it was; ``caigou db reindex`` adds the new letter/digit parts of mixed tokens to it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 19:40:00.000000
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _notice_texts(connection: Any) -> Iterator[tuple[int, str]]:
    """(id, text) of every notice, the fields in the order ``pipelines.search_index.notice_text`` uses."""
    last = 0
    while True:
        rows = connection.execute(sa.text(
            "SELECT id, title, buyer, agency, project_code, body_text FROM notices WHERE id > :last "
            "ORDER BY id LIMIT 1000"), {"last": last}).all()
        if not rows:
            return
        ids = [row.id for row in rows]
        suppliers: dict[int, list[str]] = {}
        for notice_id, name in connection.execute(sa.text(
                "SELECT notice_id, name FROM notice_suppliers WHERE notice_id IN :ids ORDER BY position, id")
                .bindparams(sa.bindparam("ids", expanding=True)), {"ids": ids}):
            suppliers.setdefault(notice_id, []).append(name)
        attachments: dict[int, list[str]] = {}
        for notice_id, name, text in connection.execute(sa.text(
                "SELECT notice_id, name, text FROM notice_attachments WHERE notice_id IN :ids AND text <> '' "
                "ORDER BY position, id").bindparams(sa.bindparam("ids", expanding=True)), {"ids": ids}):
            attachments.setdefault(notice_id, []).append(f"{name}\n{text}")
        for row in rows:
            parts = [row.title, row.buyer, row.agency, row.project_code, " ".join(suppliers.get(row.id, [])),
                     row.body_text] + attachments.get(row.id, [])
            yield row.id, " \n ".join(p for p in parts if p)
        last = ids[-1]


def _fill_phrases(connection: Any, statement: str) -> None:
    from caigou.pipelines.search_index import _capped, phrase_tokens

    postgres = connection.dialect.name == "postgresql"
    for notice_id, value in _notice_texts(connection):
        tokens = phrase_tokens(value)
        connection.execute(sa.text(statement), {"id": notice_id,
                                                "p": " ".join(_capped(tokens) if postgres else tokens)})


MESSAGE = "reviews are append-only: a judgement is never changed or removed; record a new one"


def upgrade() -> None:
    # Append-only reviews, enforced by the database (models/review.py: REVIEW_TRIGGERS).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION reviews_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation'; END $$""")
        for name, event in (("reviews_no_update", "UPDATE"), ("reviews_no_delete", "DELETE")):
            op.execute(f"CREATE TRIGGER {name} BEFORE {event} ON reviews FOR EACH ROW "
                       "EXECUTE FUNCTION reviews_append_only()")
    else:
        for name, event in (("reviews_no_update", "UPDATE"), ("reviews_no_delete", "DELETE")):
            op.execute(f"CREATE TRIGGER {name} BEFORE {event} ON reviews BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")

    # Revocable web sessions: the generation a session was issued in (caigou/web/security.py, caigou/accounts.py).
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_generation', sa.Integer(), server_default='0', nullable=False))

    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute("ALTER TABLE notice_fts ADD COLUMN phrases tsvector NOT NULL DEFAULT ''::tsvector")
        _fill_phrases(connection, "UPDATE notice_fts SET phrases = to_tsvector('simple', :p) WHERE notice_id = :id")
        op.execute("CREATE INDEX ix_notice_fts_phrases ON notice_fts USING gin (phrases)")
    else:
        # An FTS5 table cannot gain a column: a new one takes the stored word tokens and the computed phrases.
        op.execute("ALTER TABLE notice_fts RENAME TO notice_fts_0006")
        op.execute("CREATE VIRTUAL TABLE notice_fts USING fts5(tokens, phrases, "
                   "tokenize = 'unicode61 remove_diacritics 0')")
        op.execute("INSERT INTO notice_fts (rowid, tokens, phrases) SELECT rowid, tokens, '' FROM notice_fts_0006")
        op.execute("DROP TABLE notice_fts_0006")
        _fill_phrases(connection, "UPDATE notice_fts SET phrases = :p WHERE rowid = :id")


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS reviews_no_update" + (" ON reviews" if op.get_bind().dialect.name ==
                                                               "postgresql" else ""))
    op.execute("DROP TRIGGER IF EXISTS reviews_no_delete" + (" ON reviews" if op.get_bind().dialect.name ==
                                                               "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS reviews_append_only()")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_generation')
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_notice_fts_phrases")
        op.execute("ALTER TABLE notice_fts DROP COLUMN phrases")
    else:
        op.execute("ALTER TABLE notice_fts RENAME TO notice_fts_0007")
        op.execute("CREATE VIRTUAL TABLE notice_fts USING fts5(tokens, tokenize = 'unicode61 remove_diacritics 0')")
        op.execute("INSERT INTO notice_fts (rowid, tokens) SELECT rowid, tokens FROM notice_fts_0007")
        op.execute("DROP TABLE notice_fts_0007")
