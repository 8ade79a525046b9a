"""Subscriptions: their filters as JSON (round-tripping ``NoticeFilters``), validation and lookup."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, fields
from email.headerregistry import Address
from email.utils import getaddresses
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from caigou.filters import NoticeFilters
from models import Subscription
from models.errors import CaigouError

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DATES = ("since", "until")


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
    values = {k: dt.date.fromisoformat(v) if k in _DATES and v else v for k, v in data.items()}
    return NoticeFilters(**values)


def parse_time(value: str) -> str:
    match = _TIME.match(value.strip())
    if not match:
        raise CaigouError(f"delivery time {value!r} is not HH:MM (24-hour), e.g. 07:30")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def parse_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CaigouError(f"unknown time zone {value!r}; use a name like Asia/Shanghai or Europe/Berlin") from exc
    return value


def parse_recipients(values: list[str] | tuple[str, ...]) -> list[str]:
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
