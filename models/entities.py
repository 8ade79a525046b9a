"""Organisations: the buyers and suppliers behind the names notices write, and the reviewers' decisions on them.

* ``organisations`` — one buyer or supplier (``kind``), known by the normalised key of its name
  (``caigou.entities.names``), with its region and, for a sub-unit (刑侦支队, 物证鉴定所), its parent bureau.
* ``organisation_names`` — every distinct name as written, the organisation it was put in and **why** (same key,
  a rename, a similar name and its score, a reviewer's decision).
* ``notice_organisations`` — which organisation bought (``role = buyer``) or sold (``supplier``, with the supplier
  row's position) in each notice.
* ``organisation_decisions`` — a reviewer's merge or split, append-only like reviews (the database refuses updates
  and deletes). Linking reads them before any rule, so re-linking never undoes one.

All but the decisions are derived data: ``caigou db relink`` recomputes them; organisation IDs stay stable (an
organisation is found again by its key).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from caigou.models.base import Base
from caigou.models.types import AwareDateTime, now

ORGANISATION_KINDS = ("buyer", "supplier")
DECISION_ACTIONS = ("merge", "split")
DECISION_TRIGGERS = ("organisation_decisions_no_update", "organisation_decisions_no_delete")


class Organisation(Base):
    __tablename__ = "organisations"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(300))
    name: Mapped[str] = mapped_column(Text)                     # the name as written, the most cited spelling
    region_code: Mapped[str | None] = mapped_column(String(12), index=True)
    region_name: Mapped[str] = mapped_column(String(100), default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)


class OrganisationName(Base):
    __tablename__ = "organisation_names"
    __table_args__ = (UniqueConstraint("kind", "name_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    name_key: Mapped[str] = mapped_column(String(300))          # text_key of the name as written
    name: Mapped[str] = mapped_column(Text)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")


class NoticeOrganisation(Base):
    __tablename__ = "notice_organisations"

    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(10), primary_key=True)
    position: Mapped[int] = mapped_column(primary_key=True)      # the supplier row's position; 0 for the buyer
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)


class OrganisationDecision(Base):
    """A reviewer's merge (``name`` belongs with ``target``) or split (``name`` is an organisation of its own)."""

    __tablename__ = "organisation_decisions"
    __table_args__ = (Index("ix_organisation_decisions_kind_name_key", "kind", "name_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    action: Mapped[str] = mapped_column(String(10))
    name_key: Mapped[str] = mapped_column(String(300))
    name: Mapped[str] = mapped_column(Text)
    target_key: Mapped[str] = mapped_column(String(300), default="")   # merge: the organisation key it joins
    target_name: Mapped[str] = mapped_column(Text, default="")
    reviewer: Mapped[str] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)


class ScreeningFlag(Base):
    """An organisation whose name matched an entry of a screening list (``caigou screen``). Kept by organisation
    kind and key, so a flag outlives relinking; screening a list again replaces that list's flags."""

    __tablename__ = "screening_flags"
    __table_args__ = (Index("ix_screening_flags_kind_key", "kind", "organisation_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_name: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    organisation_key: Mapped[str] = mapped_column(String(300))
    entry_id: Mapped[str] = mapped_column(String(200), default="")
    entry_name: Mapped[str] = mapped_column(Text)
    matched: Mapped[str] = mapped_column(Text)          # the list's name or alias that matched, and how
    screened_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
