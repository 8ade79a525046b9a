"""Replayed answers for the provincial and national portals' spiders, in the structure portals.md documents.

Detail pages are files under ``tests/data/portals/<portal>/``; list answers are built here from rows, so a test
can say exactly which page of which window holds what. URLs and bodies come from the spiders' own parsers'
builders, so a route is exactly what the spider will ask for.
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select

from caigou.models import CrawlRun, Notice
from caigou.models.db import Database
from caigou.models.types import SHANGHAI
from caigou.replay import Reply

DATA = Path(__file__).resolve().parent / "data" / "portals"
JSON = "application/json;charset=UTF-8"


def page(portal: str, name: str) -> bytes:
    return (DATA / portal / name).read_bytes()


def html(portal: str, name: str) -> Reply:
    return Reply(page(portal, name))


def json_reply(value: object, status: int = 200) -> Reply:
    return Reply(json.dumps(value, ensure_ascii=False).encode("utf-8"), status=status, content_type=JSON)


def epoch_ms(text: str) -> int:
    """``2024-06-12 10:30:00`` (Beijing time) → epoch milliseconds, as the JSON APIs give times."""
    return int(dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI).timestamp() * 1000)


def stored(db: Database) -> dict[str, dict[str, object]]:
    """Every stored notice's fields the tests look at, by the portal's notice ID."""
    with db.session() as session:
        return {notice.source_key: {
            "source": notice.source.name, "url": notice.url, "title": notice.title, "type": notice.notice_type,
            "published": notice.published_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
            if notice.published_at else None,
            "region": notice.region_code, "buyer": notice.buyer, "agency": notice.agency,
            "project_code": notice.project_code, "budget": notice.budget_cny, "award": notice.award_cny,
            "suppliers": [(s.name, s.amount_cny) for s in notice.suppliers],
            "attachments": [a.url for a in notice.attachments], "body": notice.body_text,
        } for notice in session.scalars(select(Notice))}


def last_run(db: Database) -> CrawlRun:
    with db.session() as session:
        return session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()


def requests_to(requests: list[str], fragment: str) -> Iterator[str]:
    return (key for key in requests if fragment in key)
