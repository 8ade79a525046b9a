"""score changes: what each re-match changed for a notice; a stored capacity summary

``notice_score_changes`` keeps what ``notice_scores`` (the present only) loses at a re-match: the old and new score
and watchlist version, and whether the notice newly matched, no longer matches, or crossed 50. Notices scored before
this revision have no capacity until the next re-match.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 19:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import caigou.models.types

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('notice_score_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('changed_at', caigou.models.types.AwareDateTime(timezone=True), nullable=False),
    sa.Column('origin', sa.String(length=20), nullable=False),
    sa.Column('old_score', sa.Integer(), nullable=True),
    sa.Column('new_score', sa.Integer(), nullable=False),
    sa.Column('old_version', sa.String(length=64), nullable=False),
    sa.Column('new_version', sa.String(length=64), nullable=False),
    sa.Column('newly_matched', sa.Boolean(), nullable=False),
    sa.Column('no_longer_matching', sa.Boolean(), nullable=False),
    sa.Column('now_review_first', sa.Boolean(), nullable=False),
    sa.Column('no_longer_review_first', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_notice_score_changes_notice_id_notices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice_score_changes'))
    )
    with op.batch_alter_table('notice_score_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_score_changes_changed_at'), ['changed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notice_score_changes_notice_id'), ['notice_id'], unique=False)
    with op.batch_alter_table('notice_scores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('capacity', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notice_scores', schema=None) as batch_op:
        batch_op.drop_column('capacity')
    with op.batch_alter_table('notice_score_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_score_changes_changed_at'))
        batch_op.drop_index(batch_op.f('ix_notice_score_changes_notice_id'))
    op.drop_table('notice_score_changes')
