"""Delivering digests exactly once.

For each subscription, under its lock (caigou.digest.claim: one run at a time per subscription, across processes),
and each recipient: build the digest of the candidates this recipient has not had, claim the delivery and its
notices in one commit, send it as its own message (recipients do not see each other), and mark the delivery sent
once the server accepted it (a refusal releases the claim). The subscription's watermark advances only when
every recipient is up to date,
so a server that is down or refuses a recipient leaves it where it was and the next run delivers the backlog; the
delivery log keeps the recipients that did get it from getting it twice.

A recipient refused for good (a mailbox that no longer exists) would hold the watermark back for ever, and every
digest would grow: after ``[digest] refusals_before_giving_up`` consecutive refusals (5xx, default 3) of one
recipient, the operator (``[health] operator_email``) is alerted, a ``given_up`` row goes into the delivery log,
and the watermark stops waiting for that recipient (its digests are still tried; one that gets through ends it).
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caigou.digest.build import build_digest, candidates, configured_base_url, delivered_ids
from caigou.digest.claim import claim, holder, release
from caigou.digest.mail import DeliveryError, Mailer, SmtpSettings, mailer
from caigou.digest.render import email_message, plain_text
from caigou.digest.subscriptions import get_subscription, local_time, recipient_address
from caigou.models import DeliveredNotice, Delivery, Subscription
from caigou.models.config import Config
from caigou.models.db import Database
from caigou.models.types import SHANGHAI
from caigou.models.types import now as current_time

logger = logging.getLogger(__name__)
DEFAULT_REFUSALS = 3
DEFAULT_FULL = 50   # notices shown in full per digest ([digest] max_full); the rest as summary lines and a link
BUSY = "another caigou digest is delivering this subscription now; it sends these notices"
_REFUSED = re.compile(r"refused: 5\d\d")  # a permanent refusal as caigou.digest.mail words it


@dataclass
class Outcome:
    subscription: str
    recipient: str
    # sent | failed | given up | nothing new | already sent today | would send | no recipients | busy (another
    # run holds the subscription) | unconfirmed (a claimed delivery of a run that died: see _unconfirmed)
    status: str
    notices: int = 0
    error: str = ""

    def line(self) -> str:
        whom = self.recipient or ("" if self.status == "busy" else "(nobody)")  # busy: the whole subscription
        head = f"{self.subscription}{f' → {whom}' if whom else ''}: {self.status}"
        if self.status in {"sent", "would send"}:
            head += f" ({self.notices} notice{'s' * (self.notices != 1)})"
        return head + (f": {self.error}" if self.error else "")


def _sent_today(session: Session, subscription: Subscription, recipient: str, now: dt.datetime) -> bool:
    zone = local_time(subscription)[2]
    midnight = dt.datetime.combine(now.astimezone(zone).date(), dt.time(), zone)
    return session.scalar(select(Delivery.id).where(
        Delivery.subscription_id == subscription.id, Delivery.recipient == recipient, Delivery.status == "sent",
        Delivery.attempted_at >= midnight).limit(1)) is not None


def refusal_state(session: Session, subscription: Subscription, recipient: str) -> tuple[int, bool]:
    """(consecutive permanent refusals of ``recipient`` since its last delivery, whether caigou gave up on it)."""
    refusals = 0
    for delivery in session.scalars(select(Delivery).where(
            Delivery.subscription_id == subscription.id, Delivery.recipient == recipient,
            Delivery.status.in_(("sent", "failed", "given_up"))).order_by(Delivery.id.desc())):
        if delivery.status == "given_up":
            return refusals, True
        if delivery.status == "sent" or not _REFUSED.search(delivery.error):
            break  # a delivery, or a failure of another kind (server down), ends the run of refusals
        refusals += 1
    return refusals, False


@dataclass
class Alerting:
    """Where alerts about recipients given up on go: the operator, through the same SMTP connection."""

    operator: str
    sender: str
    limit: int = DEFAULT_REFUSALS


def _give_up(session: Session, subscription: Subscription, recipient: str, error: str, refusals: int,
             connection: Mailer, alerting: Alerting | None, now: dt.datetime) -> str:
    """Record that the watermark no longer waits for ``recipient`` and alert the operator; returns what happened."""
    said = f"refused {refusals} times in a row; the watermark no longer waits for this recipient"
    if alerting is None or not alerting.operator:
        said += "; no [health] operator_email to alert"
    else:
        message = EmailMessage()
        message["Subject"] = f"[caigou] 摘要收件人被拒收 / digest recipient refused: {subscription.name} → {recipient}"
        message["From"], message["To"] = alerting.sender, alerting.operator
        message.set_content(
            f"The mail server refused {recipient} for the subscription {subscription.name!r} {refusals} times in a "
            f"row (last: {error}).\n\nThe subscription's watermark no longer waits for this recipient, so the "
            "others' digests stay small. Its digests are still tried; remove or correct the address with "
            f"`caigou subscriptions remove` / `add`.\n\n{now.astimezone(SHANGHAI):%Y-%m-%d %H:%M} Asia/Shanghai\n")
        try:
            connection.send(message)
            said += f"; operator {alerting.operator} alerted"
        except DeliveryError as exc:
            said += f"; the alert to {alerting.operator} failed: {exc}"
    session.add(Delivery(subscription_id=subscription.id, recipient=recipient, status="given_up", attempted_at=now,
                         error=said))
    return said


def _unconfirmed(session: Session, subscription: Subscription) -> list[Outcome]:
    """Deliveries claimed but never confirmed: a run died between claiming and the server's answer, perhaps after
    the server accepted the message. Called under the subscription's lock, so their run is gone. SMTP cannot tell
    which (a message can arrive though its 250 was never read): the claim is released and the notices go again
    (at least once rather than perhaps never), and each such delivery is reported and kept as "unconfirmed"."""
    outcomes = []
    for delivery in session.scalars(select(Delivery).where(Delivery.subscription_id == subscription.id,
                                                           Delivery.status == "sending").order_by(Delivery.id)):
        session.execute(delete(DeliveredNotice).where(DeliveredNotice.delivery_id == delivery.id))
        delivery.status = "unconfirmed"
        delivery.error = (f"claimed at {delivery.attempted_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M} Asia/Shanghai "
                          "but its run ended before the SMTP server's answer was recorded; it may have arrived. "
                          "Its notices are sent again (at least once)")
        logger.warning("%s → %s: %s", subscription.name, delivery.recipient, delivery.error)
        outcomes.append(Outcome(subscription.name, delivery.recipient, "unconfirmed", delivery.notice_count,
                                delivery.error))
    session.commit()
    return outcomes


def deliver_subscription(session: Session, subscription: Subscription, connection: Mailer | None, base_url: str,
                         sender: str, now: dt.datetime, echo: Callable[[str], None],
                         alerting: Alerting | None = None, full_limit: int = DEFAULT_FULL,
                         renew: Callable[[], bool] | None = None) -> list[Outcome]:
    """Deliver one subscription (``connection`` None: a dry run that prints and changes nothing). The caller
    holds the subscription's lock (caigou.digest.claim); ``renew`` extends it before each message."""
    outcomes: list[Outcome] = [] if connection is None else _unconfirmed(session, subscription)
    rows = candidates(session, subscription)
    if not subscription.recipients:
        return [*outcomes, Outcome(subscription.name, "", "no recipients", error="feed only")]
    up_to_date = True
    for recipient in subscription.recipients:
        key = recipient_address(recipient)
        done = delivered_ids(session, subscription.id, key, (notice.id for notice, _ in rows))
        digest = build_digest(session, subscription, [row for row in rows if row[0].id not in done], base_url, now)
        digest.full_limit = full_limit
        if digest.empty and (subscription.skip_when_empty or _sent_today(session, subscription, key, now)):
            status = "nothing new" if subscription.skip_when_empty else "already sent today"
            outcomes.append(Outcome(subscription.name, recipient, status))
            continue
        if connection is None:
            echo(f"--- to {recipient}\n{plain_text(digest)}")
            outcomes.append(Outcome(subscription.name, recipient, "would send", len(digest.entries)))
            continue
        if renew is not None and not renew():
            outcomes.append(Outcome(subscription.name, recipient, "busy", error=BUSY))
            return outcomes  # the lease ran out and another run holds the subscription now: it goes on
        message = email_message(digest, sender, recipient, subscription.attach_csv)
        # Claim the delivery before sending: its notices are recorded as delivered, and committed, so no other
        # run can send them (the unique key refuses a second claim); the row stays "sending" until the server
        # said 250. A run killed in between leaves it "sending", which the next run reports (_unconfirmed).
        delivery = Delivery(subscription_id=subscription.id, recipient=key, status="sending", attempted_at=now,
                            notice_count=len(digest.entries), message_id=str(message["Message-ID"]))
        session.add(delivery)
        try:
            session.flush()
            # An entry's folded copies (the same notice from other sources) count as delivered with it.
            session.add_all(DeliveredNotice(subscription_id=subscription.id, recipient=key, notice_id=notice_id,
                                            delivery_id=delivery.id)
                            for entry in digest.entries for notice_id in [entry.notice_id, *entry.covers])
            session.commit()
        except IntegrityError:  # another run claimed some of them first: they are its to send
            session.rollback()
            up_to_date = False
            outcomes.append(Outcome(subscription.name, recipient, "busy", error=BUSY))
            continue
        try:
            connection.send(message)
        except DeliveryError as exc:
            session.execute(delete(DeliveredNotice).where(DeliveredNotice.delivery_id == delivery.id))
            delivery.status, delivery.error = "failed", str(exc)
            session.flush()
            refusals, given_up = refusal_state(session, subscription, key)
            limit = alerting.limit if alerting is not None else DEFAULT_REFUSALS
            if given_up and refusals:  # given up on before and still refused: it holds nothing back
                outcomes.append(Outcome(subscription.name, recipient, "given up", len(digest.entries),
                                        f"{exc} (given up on after repeated refusals)"))
            elif refusals >= limit:
                said = _give_up(session, subscription, key, str(exc), refusals, connection, alerting, now)
                outcomes.append(Outcome(subscription.name, recipient, "given up", len(digest.entries),
                                        f"{exc}; {said}"))
            else:
                up_to_date = False
                outcomes.append(Outcome(subscription.name, recipient, "failed", len(digest.entries), str(exc)))
            session.commit()
            continue
        delivery.status = "sent"
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
    alerting = Alerting(operator=str(config.get("health", "operator_email", "") or ""), sender=settings.sender,
                        limit=max(1, int(config.get("digest", "refusals_before_giving_up", DEFAULT_REFUSALS))))
    full = max(1, int(config.get("digest", "max_full", DEFAULT_FULL)))
    outcomes: list[Outcome] = []
    me = holder()
    with db.session() as session:
        subscriptions = ([get_subscription(session, name) for name in names] if names else
                         list(session.scalars(select(Subscription).order_by(Subscription.name))))
        for subscription in subscriptions:
            if dry_run:
                outcomes += deliver_subscription(session, subscription, None, base_url, settings.sender, moment, echo,
                                                 full_limit=full)
                continue
            if not claim(db, subscription.id, me):
                outcomes.append(Outcome(subscription.name, "", "busy", error=BUSY))
                continue
            try:
                session.refresh(subscription)  # what the run before this one left: its watermark
                with mailer(settings) as connection:
                    outcomes += deliver_subscription(session, subscription, connection, base_url, settings.sender,
                                                     moment, echo, alerting, full_limit=full,
                                                     renew=functools.partial(claim, db, subscription.id, me))
            finally:
                session.rollback()
                release(db, subscription.id, me)
        if dry_run:
            session.rollback()
    return outcomes
