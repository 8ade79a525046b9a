"""Test data for digests, written through the ORM (a notice, its matches and its score), and a loopback SMTP server
(aiosmtpd) that keeps what it receives."""
from __future__ import annotations

import datetime as dt
import socket
from dataclasses import dataclass, field
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session

from caigou.models import Notice, NoticeMatch, NoticeScore, Source, Supplier
from caigou.models.types import SHANGHAI


def source(session: Session, name: str = "ccgp") -> Source:
    found = session.scalars(select(Source).where(Source.name == name)).first()
    if found is None:
        found = Source(name=name, title=name, base_url="http://www.ccgp.gov.cn/")
        session.add(found)
        session.flush()
    return found


def add_notice(session: Session, key: str, title: str, *, score: int, matched_at: dt.datetime,
               terms: list[tuple[str, str, str]] = (), buyer: str = "西藏自治区公安厅", region: str = "540000",
               region_name: str = "西藏自治区", project_code: str = "", notice_type: str = "tender",
               origin: str = "crawl", suppliers: list[str] = (), award: str | None = None,
               budget: str | None = "1280000.00", published: dt.date = dt.date(2024, 6, 5),
               reasons: list[Any] | None = None) -> Notice:
    """A notice with one match per (term, category, snippet) and a score first matched at ``matched_at``."""
    notice = Notice(source=source(session), source_key=key, url=f"http://www.ccgp.gov.cn/cggg/t{key}.htm",
                    notice_type=notice_type, notice_type_label={"award": "中标公告", "correction": "更正公告"}
                    .get(notice_type, "公开招标公告"), title=title, buyer=buyer, region_code=region,
                    region_name=region_name, project_code=project_code,
                    published_at=dt.datetime.combine(published, dt.time(9), SHANGHAI),
                    budget_cny=Decimal(budget) if budget else None, award_cny=Decimal(award) if award else None,
                    suppliers=[Supplier(name=name, position=i) for i, name in enumerate(suppliers)])
    session.add(notice)
    session.flush()
    for term, category, snippet in terms:
        start = max(snippet.find(term), 0)
        session.add(NoticeMatch(notice_id=notice.id, term=term, matched_text=term, category=category,
                                tier="strong", field="body", start=start, end=start + len(term), snippet=snippet))
    session.add(NoticeScore(notice_id=notice.id, score=score, reasons=reasons or [f"strong term: {terms[0][0]}"]
                            if terms else [], watchlist_version="v1", scored_at=matched_at,
                            first_matched_at=matched_at, match_origin=origin))
    session.flush()
    return notice


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Inbox:
    """An aiosmtpd handler: keeps each accepted message; refuses the addresses in ``refuse``."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpts, message in self.messages if address in rcpts]


class SmtpServer:
    """A real SMTP server on loopback that can be stopped and started again on the same port."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def config(self) -> dict[str, Any]:
        return {"smtp": {"host": "127.0.0.1", "port": self.port, "security": "none",
                         "sender": "采购监测 <caigou@example.org>", "timeout": 5},
                "web": {"base_url": "http://127.0.0.1:8000"}}
