"""An Atom feed per subscription: the most recently matched notices that fit its filters.

A feed is pulled, so it keeps no watermark: readers tell entries apart by their stable ids. Built with ElementTree,
which escapes every value (notice text is hostile).
"""
from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased, selectinload

from caigou.digest.build import Entry, build_digest
from caigou.digest.render import html_entry
from caigou.digest.subscriptions import subscription_notices
from caigou.models import Notice, NoticeScore, Subscription
from caigou.models.types import now as current_time
from caigou.safe_text import http_url, xml_text

ATOM = "http://www.w3.org/2005/Atom"
FEED_SIZE = 50
ET.register_namespace("", ATOM)


def _el(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    """An element whose text and attributes lost what XML cannot carry: a control character in a stored title
    must not make the whole feed unreadable."""
    element = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attributes.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def entry_id(entry: Entry) -> str:
    return f"urn:caigou:notice:{entry.source}:{entry.notice_id}"


def feed_entries(session: Session, subscription: Subscription, base_url: str, size: int = FEED_SIZE,
                now: dt.datetime | None = None) -> list[Entry]:
    score = aliased(NoticeScore)  # apply_filters' own score test must not correlate with this join
    statement = (select(Notice, score).join(score, score.notice_id == Notice.id)
                 .where(score.first_matched_at.is_not(None))
                 .options(selectinload(Notice.suppliers), selectinload(Notice.source)))
    statement = subscription_notices(statement, subscription, session.get_bind().dialect.name)
    rows = session.execute(statement.order_by(score.first_matched_at.desc(), Notice.id.desc())
                           .limit(size)).all()
    rows = sorted(rows, key=lambda row: (row[0].published_at is None, row[0].published_at, row[0].id))
    return build_digest(session, subscription, rows, base_url, now or current_time()).entries


def atom_feed(session: Session, subscription: Subscription, base_url: str, now: dt.datetime | None = None,
              self_url: str = "") -> bytes:
    """The feed; ``self_url`` is its own address (RFC 4287 rel="self"), as the reader fetched it."""
    entries = feed_entries(session, subscription, base_url, now=now)
    root = ET.Element(f"{{{ATOM}}}feed")
    _el(root, "id", f"urn:caigou:subscription:{subscription.id}")
    _el(root, "title", f"caigou: {subscription.name}")
    _el(root, "updated", max((e.matched_at for e in entries), default=subscription.created_at).isoformat())
    _el(_el(root, "author"), "name", "caigou")
    if self_url:
        _el(root, "link", rel="self", href=self_url, type="application/atom+xml")
    if base_url:
        _el(root, "link", rel="alternate", href=base_url.rstrip("/") + "/")
    for entry in sorted(entries, key=lambda e: e.matched_at, reverse=True):
        item = _el(root, "entry")
        _el(item, "id", entry_id(entry))
        title = f"[{entry.score}] {entry.title}" + (" (update)" if entry.update_of else "")
        _el(item, "title", title)
        _el(item, "updated", entry.matched_at.isoformat())
        if entry.published_at:   # the notice's own time, not midnight of its day
            _el(item, "published", entry.published_at.isoformat())
        # Only http(s) links, as on the web page and in the e-mail: a scraped javascript: or data: address is no
        # link for a feed reader to follow.
        archive, original = http_url(entry.archive_url), http_url(entry.url)
        if archive or original:
            _el(item, "link", rel="alternate", href=archive or original or "")
        if archive and original:
            _el(item, "link", rel="related", href=original, title="original")
        for term in entry.terms:
            _el(item, "category", term=term.term, label=f"{term.term} ({term.category})")
        summary = "; ".join(filter(None, [entry.buyer, entry.region, *(t.term for t in entry.terms)]))
        _el(item, "summary", summary)
        _el(item, "content", html_entry(entry), type="html")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_feeds(session: Session, directory: Path, base_url: str, names: list[str] | None = None) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    statement = select(Subscription).order_by(Subscription.name)
    if names:
        statement = statement.where(Subscription.name.in_(names))
    written = []
    for subscription in session.scalars(statement):
        path = directory / f"{feed_filename(subscription.name)}.atom"
        path.write_bytes(atom_feed(session, subscription, base_url))
        written.append(path)
    return written


def feed_filename(name: str) -> str:
    """A file name from a subscription name: letters (Chinese too), digits, - and _; others become -."""
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-")
    return cleaned or "subscription"
