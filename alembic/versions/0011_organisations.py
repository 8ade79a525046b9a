"""organisations: buyers and suppliers as organisations, their names, notices and reviewers' decisions

The decisions are append-only, enforced by triggers (models/entities.py: DECISION_TRIGGERS). Organisations are
derived data: a database upgraded to this revision links them by itself (pipelines/catch_up.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 09:31:00.282925
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import caigou.models.types

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MESSAGE = "organisation decisions are append-only: record a new merge or split instead"
TRIGGERS = (("organisation_decisions_no_update", "UPDATE"), ("organisation_decisions_no_delete", "DELETE"))


def upgrade() -> None:
    op.create_table('organisation_decisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('name_key', sa.String(length=300), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('target_key', sa.String(length=300), nullable=False),
    sa.Column('target_name', sa.Text(), nullable=False),
    sa.Column('reviewer', sa.String(length=80), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', caigou.models.types.AwareDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation_decisions'))
    )
    with op.batch_alter_table('organisation_decisions', schema=None) as batch_op:
        batch_op.create_index('ix_organisation_decisions_kind_name_key', ['kind', 'name_key'], unique=False)

    op.create_table('organisations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('region_code', sa.String(length=12), nullable=True),
    sa.Column('region_name', sa.String(length=100), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', caigou.models.types.AwareDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['organisations.id'], name=op.f('fk_organisations_parent_id_organisations'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
    sa.UniqueConstraint('kind', 'key', name=op.f('uq_organisations_kind_key'))
    )
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisations_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_organisations_region_code'), ['region_code'], unique=False)

    op.create_table('organisation_names',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('name_key', sa.String(length=300), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_organisation_names_organisation_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation_names')),
    sa.UniqueConstraint('kind', 'name_key', name=op.f('uq_organisation_names_kind_name_key'))
    )
    with op.batch_alter_table('organisation_names', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisation_names_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('notice_organisations',
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['notices.id'], name=op.f('fk_notice_organisations_notice_id_notices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_notice_organisations_organisation_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('notice_id', 'role', 'position', name=op.f('pk_notice_organisations'))
    )
    with op.batch_alter_table('notice_organisations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notice_organisations_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('screening_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('organisation_key', sa.String(length=300), nullable=False),
    sa.Column('entry_id', sa.String(length=200), nullable=False),
    sa.Column('entry_name', sa.Text(), nullable=False),
    sa.Column('matched', sa.Text(), nullable=False),
    sa.Column('screened_at', caigou.models.types.AwareDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screening_flags'))
    )
    with op.batch_alter_table('screening_flags', schema=None) as batch_op:
        batch_op.create_index('ix_screening_flags_kind_key', ['kind', 'organisation_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_screening_flags_list_name'), ['list_name'], unique=False)

    # Append-only decisions, enforced by the database, as for reviews (0007).
    table = "organisation_decisions"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION organisation_decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'restrict_violation'; END $$""")
        for name, event in TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} BEFORE {event} ON {table} FOR EACH ROW "
                       "EXECUTE FUNCTION organisation_decisions_append_only()")
    else:
        for name, event in TRIGGERS:
            op.execute(f"CREATE TRIGGER {name} BEFORE {event} ON {table} BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for name, _ in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON organisation_decisions" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS organisation_decisions_append_only()")
    with op.batch_alter_table('screening_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screening_flags_list_name'))
        batch_op.drop_index('ix_screening_flags_kind_key')
    op.drop_table('screening_flags')
    with op.batch_alter_table('notice_organisations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notice_organisations_organisation_id'))

    op.drop_table('notice_organisations')
    with op.batch_alter_table('organisation_names', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisation_names_organisation_id'))

    op.drop_table('organisation_names')
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisations_region_code'))
        batch_op.drop_index(batch_op.f('ix_organisations_parent_id'))

    op.drop_table('organisations')
    with op.batch_alter_table('organisation_decisions', schema=None) as batch_op:
        batch_op.drop_index('ix_organisation_decisions_kind_name_key')

    op.drop_table('organisation_decisions')
