"""``NoticeRecord``: a notice normalised and ready to store, whatever source or file it came from.

Spiders' items become records in ``pipelines.normalise.record_from_item``; imports (JSON Lines, CSV) build
records too, so
every way in reaches the store through this one shape.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class SupplierRecord:
    name: str
    lot: str = ""
    address: str = ""
    amount_cny: Decimal | None = None
    amount_text: str = ""


@dataclass
class AttachmentRecord:
    url: str
    name: str = ""


@dataclass
class NoticeRecord:
    source: str
    source_key: str
    url: str
    title: str
    notice_type: str                       # a models.NOTICE_TYPES value
    notice_type_label: str = ""
    published_at: dt.datetime | None = None  # aware
    region_code: str | None = None
    region_name: str = ""
    buyer: str = ""
    agency: str = ""
    project_code: str = ""
    budget_cny: Decimal | None = None
    award_cny: Decimal | None = None
    suppliers: list[SupplierRecord] = field(default_factory=list)
    line_items: list[dict[str, Any]] = field(default_factory=list)
    body_text: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    attachments: list[AttachmentRecord] = field(default_factory=list)
    raw_sha256: str = ""
    warnings: list[str] = field(default_factory=list)   # what normalising could not read, in words
    # Carried over by imports, so an archive moved between databases keeps its identities and history.
    preferred_id: int | None = None
    first_seen_at: dt.datetime | None = None
    last_seen_at: dt.datetime | None = None

    def comparable(self) -> dict[str, Any]:
        """The parsed content, for telling an unchanged page from a changed one."""
        return {
            "url": self.url, "title": self.title, "notice_type": self.notice_type,
            "notice_type_label": self.notice_type_label,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "region_code": self.region_code, "region_name": self.region_name, "buyer": self.buyer,
            "agency": self.agency, "project_code": self.project_code,
            "budget_cny": str(self.budget_cny) if self.budget_cny is not None else None,
            "award_cny": str(self.award_cny) if self.award_cny is not None else None,
            "suppliers": [[s.lot, s.name, s.address, str(s.amount_cny) if s.amount_cny is not None else None,
                           s.amount_text] for s in self.suppliers],
            "line_items": self.line_items, "body_text": self.body_text, "fields": self.fields,
            "attachments": [[a.name, a.url] for a in self.attachments], "warnings": self.warnings,
        }
