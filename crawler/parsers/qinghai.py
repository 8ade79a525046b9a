"""www.ccgp-qinghai.gov.cn (政采云) answers → items: the JSON search and the detail pages whose notice is JSON in
``<input name="articleDetail" value="…">``.

Structure from ../shared/research/portals.md §4; what is inferred rather than seen is marked "guess".
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import urljoin

from crawler.items import NoticeItem
from crawler.parsers.common import (ListPage, ListRow, ParseError, attachment_links, load_json, notice_facts, soup_of,
                                    text_of)
from pipelines.normalise import clean_text, squeeze_cjk

BASE_URL = "http://www.ccgp-qinghai.gov.cn"
SEARCH_URL = f"{BASE_URL}/front/search/category"
ALL_CATEGORIES = "ZcyAnnouncement"  # guess: the parent of every category below

# Normalised notice type → 政采云 categoryCode (ZcyAnnouncement + the documented category number; guess).
CATEGORY_CODES: dict[str, tuple[str, ...]] = {
    "intention": ("ZcyAnnouncement11",), "tender": ("ZcyAnnouncement2",), "negotiation": ("ZcyAnnouncement3002",),
    "consultation": ("ZcyAnnouncement3011",), "inquiry": ("ZcyAnnouncement3003",), "award": ("ZcyAnnouncement4",),
    "correction": ("ZcyAnnouncement3",), "termination": ("ZcyAnnouncement9999",), "contract": ("ZcyAnnouncement5",),
    "single_source": ("ZcyAnnouncement1002",), "other": ("ZcyAnnouncement1",),
}
CATEGORY_TYPES = {code: notice_type for notice_type, codes in CATEGORY_CODES.items() for code in codes}


def search_body(keyword: str, category: str, districts: list[str], start: dt.date, end: dt.date, page: int,
                page_size: int) -> dict[str, Any]:
    """The JSON the site's search page posts; the date fields are those of other 政采云 portals (guess)."""
    return {"pageNo": page, "pageSize": page_size, "categoryCode": category, "keyword": keyword,
            "districtCode": districts, "publishDateBegin": f"{start:%Y-%m-%d}", "publishDateEnd": f"{end:%Y-%m-%d}"}


def source_key_from_url(url: str) -> str | None:
    """The article ID: the last path segment of ``/ZcyAnnouncement/…/<id>.html`` (or ``articleId=`` in a query)."""
    match = re.search(r"articleId=([^&#]+)", url) or re.search(r"/([0-9A-Za-z_=+\-]{6,})\.html?(?:[?#]|$)", url)
    return match.group(1) if match else None


def parse_search(body: bytes | str) -> ListPage:
    answer = load_json(body, "search answer")
    hits = answer.get("hits") if isinstance(answer, dict) else None
    if not isinstance(hits, dict):
        raise ParseError(f"the search answer has no hits ({str(answer)[:120]})")
    total = hits.get("total") or 0
    total = int(total.get("value", 0) if isinstance(total, dict) else total)  # Elasticsearch 7 wraps it
    rows = []
    for hit in hits.get("hits") or []:
        source: dict[str, Any] = hit.get("_source") or {}
        href = source.get("url") or ""
        key = str(source.get("articleId") or hit.get("_id") or "") or source_key_from_url(href) or ""
        if not href or not key:
            continue
        listing = {"region_text": source.get("districtName", ""), "notice_type_label": source.get("pathName", ""),
                   "buyer": source.get("purchaseName") or source.get("purchaser") or ""}
        rows.append(ListRow(url=urljoin(BASE_URL + "/", href), key=key, title=squeeze_cjk(source.get("title", "")),
                            published_text=str(source.get("publishDate") or ""),
                            listing={k: v for k, v in listing.items() if v}))
    return ListPage(total=total, rows=rows)


def article_detail(html: bytes | str) -> dict[str, Any]:
    """The notice the page hides in ``<input name="articleDetail" value="{json}">``."""
    soup = soup_of(html)
    field = soup.find("input", attrs={"name": "articleDetail"})
    if field is None or not field.get("value"):
        raise ParseError("no notice on the page (no input[name=articleDetail])")
    try:
        detail = json.loads(field["value"])
    except ValueError as exc:
        raise ParseError(f"articleDetail is not JSON ({exc})") from exc
    if not isinstance(detail, dict):
        raise ParseError("articleDetail is not a JSON object")
    return detail


def parse_detail(html: bytes | str, url: str) -> NoticeItem:
    detail = article_detail(html)
    title = squeeze_cjk(str(detail.get("title") or ""))
    if not title:
        raise ParseError("articleDetail has no title")
    content = soup_of(str(detail.get("content") or ""))
    body_text = text_of(content)
    if not body_text:
        raise ParseError("articleDetail has an empty content")
    facts = notice_facts(content)
    attachments = attachment_links(content, url)
    fields = dict(facts.fields)
    if facts.project_name:
        fields["项目名称"] = facts.project_name
    return NoticeItem(
        source="qinghai", source_key=str(detail.get("articleId") or "") or source_key_from_url(url) or "", url=url,
        title=title, published_text=clean_text(str(detail.get("publishDate") or "")),
        region_text=clean_text(str(detail.get("districtName") or "")),
        buyer=facts.buyer or clean_text(str(detail.get("author") or "")), agency=facts.agency,
        project_code=facts.project_code or clean_text(str(detail.get("projectCode") or "")),
        budget_text=facts.budget_text, award_text=facts.award_text, suppliers=facts.suppliers,
        line_items=facts.line_items, body_text=body_text, fields=fields, attachments=attachments,
    )
