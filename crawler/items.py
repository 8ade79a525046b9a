"""What a spider yields: a notice as read off the page, strings as the site wrote them; a page it could not read
(``CrawlErrorItem``); an attachment's download or its failure.

Spiders do no money, date or region arithmetic: ``pipelines.normalise`` turns these strings into typed values in
one place for every source. A spider fills what its site offers and leaves the rest empty.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SupplierItem:
    name: str
    lot: str = ""            # 标包 A / 包1 …; empty when the notice has one lot
    address: str = ""
    amount_text: str = ""    # e.g. "2837.861389万元", "总价形式报价:569800.00(元)"


@dataclass
class AttachmentItem:
    url: str
    name: str = ""


@dataclass
class NoticeItem:
    source: str                      # the spider's name: ccgp, xizang, ggzy …
    source_key: str                  # the site's own ID for the notice
    url: str
    title: str
    notice_type: str = ""            # a models.NOTICE_TYPES value when the spider knows it (URL segment)
    notice_type_label: str = ""      # the site's own label, e.g. 中标公告
    published_text: str = ""         # e.g. "2025年06月27日 17:52", "2025-06-27 17:52", epoch ms as text
    region_text: str = ""            # e.g. 贵州省, 那曲市, or a code 540600
    buyer: str = ""
    agency: str = ""
    project_code: str = ""
    budget_text: str = ""            # e.g. "￥56.980000 万元（人民币）"
    award_text: str = ""
    suppliers: list[SupplierItem] = field(default_factory=list)
    # 主要标的信息 rows: name, brand, model, quantity, unit_price
    line_items: list[dict[str, str]] = field(default_factory=list)
    body_text: str = ""
    fields: dict[str, str] = field(default_factory=dict)            # every other labelled field, label → value
    attachments: list[AttachmentItem] = field(default_factory=list)
    raw_sha256: str = ""             # SHA-256 of the archived page this item was parsed from
    extra: dict[str, Any] = field(default_factory=dict)             # list-page facts (e.g. 品目) the detail lacks


class CrawlErrorItem:
    """Yielded by a spider for a page it could not read: recorded, counted, and the crawl goes on."""

    def __init__(self, url: str, kind: str, message: str, raw_sha256: str = "", page_url: str = "") -> None:
        self.url, self.kind, self.message, self.raw_sha256 = url, kind, message, raw_sha256
        # The archived page's URL when a redirect made it differ from the request's.
        self.page_url = page_url or url


@dataclass(repr=False)
class AttachmentDownloadItem:
    """An attachment's bytes as downloaded (already archived by the crawl's recorder)."""

    url: str                    # as asked for
    final_url: str              # after redirects: the archived page's URL
    body: bytes
    attachment_ids: list[int] = field(default_factory=list)

    def __repr__(self) -> str:  # Scrapy logs items; the bytes stay out of the log
        return f"<attachment {self.url} {len(self.body)} bytes>"


@dataclass
class AttachmentFailureItem:
    """An attachment whose download failed: too_large, failed (HTTP, network) or blocked."""

    url: str
    attachment_ids: list[int]
    status: str
    message: str
