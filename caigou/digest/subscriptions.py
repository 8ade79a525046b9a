"""Subscriptions: their filters as JSON (round-tripping ``NoticeFilters``), validation, creation, removal and
lookup. The command line and the web page both go through ``add_subscription`` and ``remove_subscription``, so a
subscription is checked the same way whichever door it came in by."""
from __future__ import annotations

import datetime as dt
import getpass
import os
import re
import socket
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from email.headerregistry import Address
from email.utils import getaddresses
from typing import Any, TypeVarTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caigou.filters import NoticeFilters, apply_filters, check_filters
from caigou.models import DeliveredNotice, Delivery, Subscription, SubscriptionEvent
from caigou.models.errors import CaigouError
from caigou.models.types import now
from caigou.search import fulltext_clause, parse_query

_Ts = TypeVarTuple("_Ts")  # the columns a select returns, kept through narrowing it

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DATES = ("since", "until")
DEFAULT_TIME = "07:00"
DEFAULT_ZONE = "Asia/Shanghai"
NAME_LENGTH = 100  # the column's width


def filters_to_json(filters: NoticeFilters) -> dict[str, Any]:
    """Only what is set, dates as ISO strings: small, readable in ``subscriptions show``."""
    out: dict[str, Any] = {}
    for name, value in asdict(filters).items():
        if value in (None, "", []):
            continue
        out[name] = value.isoformat() if isinstance(value, dt.date) else value
    return out


def filters_from_json(data: dict[str, Any]) -> NoticeFilters:
    known = {f.name for f in fields(NoticeFilters)}
    unknown = set(data) - known
    if unknown:
        raise CaigouError(f"unknown subscription filter(s): {', '.join(sorted(unknown))}")
    # Stored JSON: each value's type is whatever was saved, checked by check_filters, not here.
    values: dict[str, Any] = {k: dt.date.fromisoformat(v) if k in _DATES and v else v for k, v in data.items()}
    return NoticeFilters(**values)


def check_query(query: str) -> str:
    """The query as stored ("" for none), read once so a malformed one is refused now rather than failing every
    digest later (``QueryError``, one line)."""
    query = " ".join(query.split())
    if query:
        parse_query(query)
    return query


def subscription_notices(statement: Select[*_Ts], subscription: Subscription, dialect: str) -> Select[*_Ts]:
    """Narrow a select over ``Notice`` to what the subscription asks for: its filters and its saved query. The
    digest, the feed and the preview on the search page all go through here."""
    statement = apply_filters(statement, filters_from_json(subscription.filters))
    if subscription.query:
        statement = statement.where(fulltext_clause(parse_query(subscription.query), dialect))
    return statement


def parse_time(value: str) -> str:
    match = _TIME.match(value.strip())
    if not match:
        raise CaigouError(f"delivery time {value!r} is not HH:MM (24-hour), e.g. 07:30")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def parse_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # OSError: "Asia" is a folder, a long name too long
        raise CaigouError(f"unknown time zone {value!r}; use a name like Asia/Shanghai or Europe/Berlin") from exc
    return value


def parse_recipients(values: Sequence[str]) -> list[str]:
    """Addresses as given (``"名字 <a@b.org>"`` or ``a@b.org``), checked; the list keeps their order, no repeats."""
    out: list[str] = []
    for value in values:
        for name, addr in getaddresses([value]):
            if "@" not in addr or addr.startswith("@") or addr.endswith("@") or " " in addr:
                raise CaigouError(f"not an e-mail address: {value!r}")
            text = str(Address(display_name=name, addr_spec=addr)) if name else addr
            if text not in out:
                out.append(text)
    return out


def recipient_address(recipient: str) -> str:
    """The bare address of a recipient, the key of the delivery log."""
    return getaddresses([recipient])[0][1].lower()


def check_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise CaigouError("a subscription needs a name")
    if len(name) > NAME_LENGTH:
        raise CaigouError(f"a subscription name has at most {NAME_LENGTH} characters")
    # It becomes a mail subject, a feed title and a file name: one line of printable text.
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise CaigouError("a subscription name is one line of printable text (no control characters)")
    return name


@dataclass
class SubscriptionInput:
    """A subscription as asked for, before any checking: what ``subscriptions add`` and the web form collect."""
    name: str
    recipients: Sequence[str] = ()
    filters: NoticeFilters | None = None
    query: str = ""  # a free-text query in the search syntax: a saved search
    delivery_time: str = DEFAULT_TIME
    time_zone: str = DEFAULT_ZONE
    skip_when_empty: bool = True
    attach_csv: bool = False
    backfill: bool = False  # the first digest includes what matched before the subscription existed


def command_line_actor() -> str:
    """Who acts from the command line: the operating-system user on this host (it cannot be proved, but it is
    what the operator is logged in as)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        user = f"uid {os.getuid()}"
    return f"{user}@{socket.gethostname()} (command line)"


def web_actor(user: str) -> str:
    return f"{user} (web)"


def _audit(session: Session, subscription: Subscription, action: str, actor: str) -> None:
    session.add(SubscriptionEvent(subscription_id=subscription.id, name=subscription.name, action=action,
                                  actor=actor[:200], at=now()))


def add_subscription(session: Session, wanted: SubscriptionInput, actor: str = "") -> Subscription:
    """Check every value and add the subscription, recording ``actor`` as its owner and in the audit trail; a
    ``CaigouError`` names the first bad value."""
    name = check_name(wanted.name)
    recipients = parse_recipients(wanted.recipients)
    delivery_time, time_zone = parse_time(wanted.delivery_time), parse_zone(wanted.time_zone.strip())
    filters = wanted.filters or NoticeFilters()
    check_filters(session, filters)
    query = check_query(wanted.query)
    taken = CaigouError(f"a subscription named {name!r} exists; remove it first or choose another name")
    if session.scalar(select(Subscription.id).where(Subscription.name == name)) is not None:
        raise taken
    subscription = Subscription(
        name=name, recipients=recipients, filters=filters_to_json(filters), query=query, delivery_time=delivery_time,
        time_zone=time_zone, skip_when_empty=wanted.skip_when_empty, attach_csv=wanted.attach_csv,
        watermark=None if wanted.backfill else now(), created_by=actor[:200])
    session.add(subscription)
    try:
        session.flush()  # two adds of one name at once: the second gets the same message, not a crash
    except IntegrityError as exc:
        raise taken from exc
    _audit(session, subscription, "created", actor)
    return subscription


def remove_subscription(session: Session, subscription: Subscription, actor: str = "") -> int:
    """Remove a subscription with its delivery log (its deliveries and the record of which notices went to whom:
    the foreign keys cascade). The notices, their scores and their archived evidence are not the subscription's
    and stay, and so does the audit trail, which records who removed it. Returns how many deliveries were
    removed."""
    count = delivery_count(session, subscription)
    _audit(session, subscription, "removed", actor)
    session.delete(subscription)
    session.flush()
    return count


def last_sent(session: Session, subscription: Subscription) -> dt.datetime | None:
    return session.scalar(select(func.max(Delivery.attempted_at)).where(
        Delivery.subscription_id == subscription.id, Delivery.status == "sent"))


def delivery_count(session: Session, subscription: Subscription) -> int:
    """How many delivery attempts (sent, failed or empty) the log holds."""
    return session.scalar(select(func.count(Delivery.id))
                          .where(Delivery.subscription_id == subscription.id)) or 0


def delivered_count(session: Session, subscription: Subscription) -> int:
    """How many (notice, recipient) deliveries the subscription has made."""
    return session.scalar(select(func.count(DeliveredNotice.id))
                          .where(DeliveredNotice.subscription_id == subscription.id)) or 0


def recent_deliveries(session: Session, subscription: Subscription, limit: int = 10) -> list[Delivery]:
    return list(session.scalars(select(Delivery).where(Delivery.subscription_id == subscription.id)
                                .order_by(Delivery.id.desc()).limit(limit)))


def removals(session: Session, limit: int = 20) -> list[SubscriptionEvent]:
    """The most recent removals, newest first: who removed which subscription, when."""
    return list(session.scalars(select(SubscriptionEvent).where(SubscriptionEvent.action == "removed")
                                .order_by(SubscriptionEvent.at.desc(), SubscriptionEvent.id.desc()).limit(limit)))


def history(session: Session, subscription: Subscription) -> list[SubscriptionEvent]:
    """The audit trail of one subscription (and of earlier ones of the same name), oldest first."""
    return list(session.scalars(select(SubscriptionEvent).where(SubscriptionEvent.name == subscription.name)
                                .order_by(SubscriptionEvent.at, SubscriptionEvent.id)))


def get_subscription(session: Session, name: str) -> Subscription:
    subscription = session.scalars(select(Subscription).where(Subscription.name == name)).first()
    if subscription is None:
        known = session.scalars(select(Subscription.name).order_by(Subscription.name)).all()
        raise CaigouError(f"no subscription named {name!r}" + (f"; known: {', '.join(known)}" if known else
                                                                 "; add one with: caigou subscriptions add"))
    return subscription


def local_time(subscription: Subscription) -> tuple[int, int, ZoneInfo]:
    hour, minute = subscription.delivery_time.split(":")
    return int(hour), int(minute), ZoneInfo(subscription.time_zone)
