"""Delivering digests exactly once.

For each subscription and each recipient: build the digest of the candidates this recipient has not had, send it
as its own message (recipients do not see each other), and record the delivery and its notices in the same commit
right after the server accepted it. The subscription's watermark advances only when every recipient is up to date,
so a server that is down or refuses a recipient leaves it where it was and the next run delivers the backlog; the
delivery log keeps the recipients that did get it from getting it twice.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from caigou.digest.build import build_digest, candidates, configured_base_url, delivered_ids
from caigou.digest.mail import DeliveryError, Mailer, SmtpSettings, mailer
from caigou.digest.render import email_message, plain_text
from caigou.digest.subscriptions import get_subscription, local_time, recipient_address
from models import DeliveredNotice, Delivery, Subscription
from models.config import Config
from models.db import Database
from models.types import now as current_time


@dataclass
class Outcome:
    subscription: str
    recipient: str
    status: str         # sent | failed | nothing new | already sent today | would send | no recipients
    notices: int = 0
    error: str = ""

    def line(self) -> str:
        head = f"{self.subscription} → {self.recipient or '(nobody)'}: {self.status}"
        if self.status in {"sent", "would send"}:
            head += f" ({self.notices} notice{'s' * (self.notices != 1)})"
        return head + (f": {self.error}" if self.error else "")


def _sent_today(session: Session, subscription: Subscription, recipient: str, now: dt.datetime) -> bool:
    zone = local_time(subscription)[2]
    midnight = dt.datetime.combine(now.astimezone(zone).date(), dt.time(), zone)
    return session.scalar(select(Delivery.id).where(
        Delivery.subscription_id == subscription.id, Delivery.recipient == recipient, Delivery.status == "sent",
        Delivery.attempted_at >= midnight).limit(1)) is not None


def deliver_subscription(session: Session, subscription: Subscription, connection: Mailer | None, base_url: str,
                         sender: str, now: dt.datetime, echo: Callable[[str], None]) -> list[Outcome]:
    """Deliver one subscription (``connection`` None: a dry run that prints and changes nothing)."""
    rows = candidates(session, subscription)
    if not subscription.recipients:
        return [Outcome(subscription.name, "", "no recipients", error="feed only")]
    outcomes: list[Outcome] = []
    up_to_date = True
    for recipient in subscription.recipients:
        key = recipient_address(recipient)
        done = delivered_ids(session, subscription.id, key, (notice.id for notice, _ in rows))
        digest = build_digest(session, subscription, [row for row in rows if row[0].id not in done], base_url, now)
        if digest.empty and (subscription.skip_when_empty or _sent_today(session, subscription, key, now)):
            status = "nothing new" if subscription.skip_when_empty else "already sent today"
            outcomes.append(Outcome(subscription.name, recipient, status))
            continue
        if connection is None:
            echo(f"--- to {recipient}\n{plain_text(digest)}")
            outcomes.append(Outcome(subscription.name, recipient, "would send", len(digest.entries)))
            continue
        message = email_message(digest, sender, recipient, subscription.attach_csv)
        try:
            connection.send(message)
        except DeliveryError as exc:
            up_to_date = False
            session.add(Delivery(subscription_id=subscription.id, recipient=key, status="failed",
                                 attempted_at=now, notice_count=len(digest.entries), error=str(exc)))
            session.commit()
            outcomes.append(Outcome(subscription.name, recipient, "failed", len(digest.entries), str(exc)))
            continue
        delivery = Delivery(subscription_id=subscription.id, recipient=key, status="sent", attempted_at=now,
                            notice_count=len(digest.entries), message_id=str(message["Message-ID"]))
        session.add(delivery)
        session.flush()
        # An entry's folded copies (the same notice from other sources) count as delivered with it.
        session.add_all(DeliveredNotice(subscription_id=subscription.id, recipient=key, notice_id=notice_id,
                                        delivery_id=delivery.id)
                        for entry in digest.entries for notice_id in [entry.notice_id, *entry.covers])
        session.commit()
        outcomes.append(Outcome(subscription.name, recipient, "sent", len(digest.entries)))
    if connection is not None and up_to_date and rows:
        high = max(max(t for t in (score.scored_at, score.first_matched_at) if t is not None) for _, score in rows)
        if subscription.watermark is None or high > subscription.watermark:
            subscription.watermark = high
        session.commit()
    return outcomes


def run_digests(db: Database, config: Config, names: list[str] | None = None, dry_run: bool = False,
                echo: Callable[[str], None] = print, now: dt.datetime | None = None) -> list[Outcome]:
    """Deliver the named subscriptions' digests (all when ``names`` is empty)."""
    moment = now or current_time()
    settings = SmtpSettings.from_config(config)
    base_url = configured_base_url(config)
    outcomes: list[Outcome] = []
    with db.session() as session:
        subscriptions = ([get_subscription(session, name) for name in names] if names else
                         list(session.scalars(select(Subscription).order_by(Subscription.name))))
        for subscription in subscriptions:
            if dry_run:
                outcomes += deliver_subscription(session, subscription, None, base_url, settings.sender, moment, echo)
                continue
            with mailer(settings) as connection:
                outcomes += deliver_subscription(session, subscription, connection, base_url, settings.sender,
                                                 moment, echo)
        if dry_run:
            session.rollback()
    return outcomes
