"""subscription audit trail and digest claims

``subscription_events`` records who created and who removed each subscription (it outlives the subscription);
``subscriptions.created_by`` names its owner. ``subscriptions.claimed_by`` / ``claimed_until`` are the per
subscription lock of ``caigou digest`` (a lease), so concurrent runs deliver each notice once. Subscriptions that
exist before this revision get a "created" event by an unknown actor, dated by their ``created_at``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 09:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import caigou.models.types

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNKNOWN = "(before the audit trail)"


def upgrade() -> None:
    op.create_table('subscription_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscription_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=20), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('at', caigou.models.types.AwareDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscription_events'))
    )
    with op.batch_alter_table('subscription_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscription_events_subscription_id'), ['subscription_id'], unique=False)
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('created_by', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=300), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('claimed_until', caigou.models.types.AwareDateTime(timezone=True), nullable=True))
    op.execute(sa.text(
        "INSERT INTO subscription_events (subscription_id, name, action, actor, at) "
        f"SELECT id, name, 'created', '{UNKNOWN}', created_at FROM subscriptions"))


def downgrade() -> None:
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_column('claimed_until')
        batch_op.drop_column('claimed_by')
        batch_op.drop_column('created_by')
    with op.batch_alter_table('subscription_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscription_events_subscription_id'))
    op.drop_table('subscription_events')
