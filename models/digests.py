"""Subscriptions to daily digests, the log of what was delivered, operator alerts and the scheduler's job store.

Exactly once: a notice goes to a recipient of a subscription at most once (``delivered_notices`` has a unique key
on the three), and the subscription's ``watermark`` (a high-water mark over ``notice_scores.scored_at`` /
``first_matched_at``) advances only after every recipient got its digest. The delivery log says what was sent when,
to whom and which notices, so "never twice" is checkable and auditable.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from caigou.models.base import Base
from caigou.models.types import AwareDateTime, now


class Subscription(Base):
    """A researcher's standing query: who gets what, when."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    recipients: Mapped[list[Any]] = mapped_column(default=list)         # e-mail addresses, "名字 <a@b.org>" allowed
    filters: Mapped[dict[str, Any]] = mapped_column(default=dict)       # caigou.filters.NoticeFilters as JSON
    # A free-text query in the search syntax (caigou.search), "" for none: a saved search as an alert.
    query: Mapped[str] = mapped_column(Text, default="", server_default="")
    delivery_time: Mapped[str] = mapped_column(String(5), default="07:00")   # HH:MM in time_zone
    time_zone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    skip_when_empty: Mapped[bool] = mapped_column(Boolean, default=True)
    attach_csv: Mapped[bool] = mapped_column(Boolean, default=False)
    watermark: Mapped[dt.datetime | None] = mapped_column(AwareDateTime())  # last delivered high-water mark
    created_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
    created_by: Mapped[str] = mapped_column(String(200), default="")    # who added it (SubscriptionEvent too)
    # The digest lock (caigou.digest.claim): which ``caigou digest`` process delivers it now, and until when its
    # lease holds. A row-level claim, so it works across processes and hosts on SQLite and PostgreSQL alike.
    claimed_by: Mapped[str] = mapped_column(String(300), default="")
    claimed_until: Mapped[dt.datetime | None] = mapped_column(AwareDateTime())

    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="subscription", cascade="all, delete-orphan", passive_deletes=True)


class Delivery(Base):
    """One attempt to deliver one subscription's digest to one recipient: sent, empty (nothing new) or failed."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    # sending (claimed, not yet confirmed by the server) | sent | failed | given_up | unconfirmed (run.py)
    status: Mapped[str] = mapped_column(String(20))
    attempted_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
    notice_count: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str] = mapped_column(String(300), default="")
    error: Mapped[str] = mapped_column(Text, default="")

    subscription: Mapped[Subscription] = relationship(back_populates="deliveries")


class DeliveredNotice(Base):
    """A notice that reached a recipient of a subscription: the key that makes "never twice" hold."""

    __tablename__ = "delivered_notices"
    __table_args__ = (UniqueConstraint("subscription_id", "recipient", "notice_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    recipient: Mapped[str] = mapped_column(String(320))
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)


class SubscriptionEvent(Base):
    """The audit trail of subscriptions: who created and who removed each, and when. No foreign key, so the trail
    outlives the subscription (removing one removes its delivery log, not the record that it was removed)."""

    __tablename__ = "subscription_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))                   # created | removed
    actor: Mapped[str] = mapped_column(String(200))                   # "web:alice", "cli:bob@host"
    at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)


class HealthAlert(Base):
    """A crawl-health condition of one source (quiet, blocked, failing): alerted once while it lasts."""

    __tablename__ = "health_alerts"
    __table_args__ = (UniqueConstraint("source", "condition", "raised_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40), index=True)
    condition: Mapped[str] = mapped_column(String(20))               # quiet | blocked | failing
    detail: Mapped[str] = mapped_column(Text, default="")
    raised_at: Mapped[dt.datetime] = mapped_column(AwareDateTime(), default=now)
    notified_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime())  # None until the e-mail went out
    cleared_at: Mapped[dt.datetime | None] = mapped_column(AwareDateTime())   # None while the condition lasts


# APScheduler's SQLAlchemyJobStore table, declared here with its exact shape so the migrations own it (the job store
# only creates it when absent) and the schema test sees it.
scheduler_jobs = Table(
    "scheduler_jobs", Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
