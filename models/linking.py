"""Links between notices: one publication seen on several sources, and the notices of one procurement.

Both are derived data, computed by ``pipelines.linking`` from the stored notices and re-computable at any time
(``caigou db relink``); the notices and their evidence are never changed by linking.

* A **publication group** is one notice published on several sources (ccgp, a provincial portal, ggzy): every
  stored copy stays a notice of its own (the evidence of each source), and each points at the group's canonical
  notice (``canonical_id``; a notice alone is its own canonical). The canonical is ccgp's copy when there is one,
  else the copy stored first. ``group_rank`` orders a group's members (0 = canonical), so readers can pick the
  best-ranked member among those a filter kept.
* A **procurement** is one project (intention → tender → correction → award): the notices sharing a normalised
  project code and buyer, whatever their type.

``notice_links`` also keeps the normalised keys and the fields linking looked at, so that a changed notice can be
unlinked from what it was linked to before.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from caigou.models.base import Base
from caigou.models.types import AwareDateTime, now


class Procurement(Base):
    """One project: the notices of one normalised project code and buyer."""

    __tablename__ = "procurements"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(520), unique=True)    # normalised "code|buyer" (buyer may be empty)
    project_code: Mapped[str] = mapped_column(String(200), default="")  # as written on its first notice
    buyer: Mapped[str] = mapped_column(String(300), default="")         # as written on its first notice
    updated_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)


class NoticeLink(Base):
    """One stored notice's place in a publication group and a procurement, with the keys it was linked by."""

    __tablename__ = "notice_links"

    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True)
    canonical_id: Mapped[int | None] = mapped_column(ForeignKey("notices.id", ondelete="SET NULL"), index=True)
    group_rank: Mapped[int] = mapped_column(Integer, default=0)
    procurement_id: Mapped[int | None] = mapped_column(ForeignKey("procurements.id", ondelete="SET NULL"),
                                                       index=True)
    # What linking looked at (a snapshot, so a changed notice can be unlinked from its old partners).
    source_id: Mapped[int] = mapped_column(Integer)
    notice_type: Mapped[str] = mapped_column(String(20))
    published_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime())
    first_seen_at: Mapped[dt.datetime] = mapped_column(AwareDateTime())
    code_key: Mapped[str] = mapped_column(String(200), default="", index=True)
    title_key: Mapped[str] = mapped_column(String(300), default="", index=True)
    buyer_key: Mapped[str] = mapped_column(String(300), default="")
    linked_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
