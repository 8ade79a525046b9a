"""政采云 portals (www.ccgp-qinghai.gov.cn and the other provinces on the platform) answers → items: the
``POST /portal/category`` JSON list and the ``/portal/detail?articleId=`` JSON notice, whose ``content`` is the
notice's HTML in the ministry's template (read by ``notice_body.parse_body``, as every portal's body is).

Shapes from ../shared/research/portals-2026.md (other projects' scrapers of 2024–26 and Guangxi's answers of 2024);
what is inferred rather than seen is marked "guess". Every answer is checked for its shape: anything else is a
ParseError, never a KeyError or a TypeError.
"""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

from caigou.crawler.items import AttachmentItem, NoticeItem
from caigou.crawler.parsers.common import (
    ListPage,
    ListRow,
    ParseError,
    district_region,
    json_text,
    load_json,
)
from caigou.crawler.parsers.notice_body import parse_body
from caigou.pipelines.text import squeeze_cjk

BASE_URL = "http://www.ccgp-qinghai.gov.cn"
PAGE_SIZE = 15  # what the site's own list page asks for

# Normalised notice type → 政采云 categoryCode ("ZcyAnnouncement" + the category number of portals.md; the numbers
# are from other 政采云 portals: a guess for Qinghai). ``/portal/category`` misses sub-categories, so "every type"
# asks for each of these in turn rather than for a parent.
CATEGORY_CODES: dict[str, tuple[str, ...]] = {
    "intention": ("ZcyAnnouncement11",), "tender": ("ZcyAnnouncement2",), "negotiation": ("ZcyAnnouncement3002",),
    "consultation": ("ZcyAnnouncement3011",), "inquiry": ("ZcyAnnouncement3003",), "award": ("ZcyAnnouncement4",),
    "correction": ("ZcyAnnouncement3",), "termination": ("ZcyAnnouncement9999",), "contract": ("ZcyAnnouncement5",),
    "single_source": ("ZcyAnnouncement1002",), "other": ("ZcyAnnouncement1",),
}
CATEGORY_TYPES = {code: notice_type for notice_type, codes in CATEGORY_CODES.items() for code in codes}
ALL_CATEGORY_CODES: tuple[str, ...] = tuple(dict.fromkeys(c for codes in CATEGORY_CODES.values() for c in codes))


def category_url(base_url: str = BASE_URL) -> str:
    return f"{base_url}/portal/category"


def category_body(category: str, start: dt.date, end: dt.date, page: int, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    """The JSON the site's list page posts (its ``_t`` cache-buster is added by the spider); the dates are days."""
    return {"pageNo": page, "pageSize": page_size, "categoryCode": category,
            "publishDateBegin": f"{start:%Y-%m-%d}", "publishDateEnd": f"{end:%Y-%m-%d}"}


def detail_url(article_id: str, base_url: str = BASE_URL) -> str:
    """The notice as JSON (what the spider fetches and archives)."""
    return f"{base_url}/portal/detail?{urlencode({'articleId': article_id})}"


def person_url(article_id: str, base_url: str = BASE_URL, parent_id: str = "") -> str:
    """The notice's page for people (what a notice links to)."""
    return f"{base_url}/site/detail?{urlencode({'parentId': parent_id, 'articleId': article_id})}"


def source_key_from_url(url: str) -> str | None:
    """The article ID of a ``/portal/detail`` or ``/site/detail`` address (IDs hold ``+/=``: URL-encoded)."""
    values = parse_qs(urlsplit(url).query).get("articleId")
    return values[0] if values and values[0] else None


def _result_data(body: bytes | str, what: str) -> dict[str, Any]:
    """``{"success": true, "result": {"data": {…}}}`` → the data object; any other shape is a ParseError."""
    answer = load_json(body, what)
    if not isinstance(answer, dict):
        raise ParseError(f"the {what} is not a JSON object")
    if answer.get("success") is False:
        raise ParseError(f"the {what} says it failed: {str(answer.get('error') or answer.get('message') or '')[:120]}")
    result = answer.get("result")
    data = result.get("data") if isinstance(result, dict) else None
    if not isinstance(data, dict):
        raise ParseError(f"the {what} has no result.data object ({str(answer)[:120]})")
    return data


def parse_category(body: bytes | str, base_url: str = BASE_URL) -> ListPage:
    """``result.data.{total, data[]}``; rows carry ``articleId`` (no URL), title, author, publishDate (ms),
    districtCode, districtName, pathName (the notice type in Chinese), procurementMethod, gpCatalogName."""
    data = _result_data(body, "category list")
    total, records = data.get("total", 0), data.get("data", [])
    if isinstance(total, bool) or not isinstance(total, (int, str)) or not str(total).isdigit():
        raise ParseError(f"the category list's total is not a number ({total!r})")
    total = 0 if total is None else total
    if records is None:  # no rows at all
        records = []
    if not isinstance(records, list):
        raise ParseError("the category list's data is not a list")
    rows = []
    for record in records:
        if not isinstance(record, dict):
            raise ParseError("a category list row is not an object")
        key = json_text(record.get("articleId"))
        if not key:
            continue
        listing = {"region_text": json_text(record.get("districtName")) or json_text(record.get("districtCode")),
                   "district_code": json_text(record.get("districtCode")),
                   "notice_type_label": json_text(record.get("pathName")), "author": json_text(record.get("author")),
                   "procurement_method": json_text(record.get("procurementMethod")),
                   "catalogue": json_text(record.get("gpCatalogName"))}
        rows.append(ListRow(url=detail_url(key, base_url), key=key, title=squeeze_cjk(json_text(record.get("title"))),
                            published_text=json_text(record.get("publishDate")),
                            listing={k: v for k, v in listing.items() if v}))
    return ListPage(total=int(total), rows=rows)


def parse_detail(body: bytes | str, url: str, base_url: str = BASE_URL, parent_id: str = "",
                 source: str = "qinghai") -> NoticeItem:
    """``result.data.{title, author, projectCode, publishDate, districtCode, content, attachmentList}`` → the
    notice, linked at its page for people; ``content`` is read like a ccgp notice body."""
    data = _result_data(body, "notice")
    title = squeeze_cjk(json_text(data.get("title")))
    if not title:
        raise ParseError("the notice has no title")
    content_html = data.get("content")
    if not isinstance(content_html, str):
        raise ParseError("the notice has no content HTML")
    # The ministry's template, as on ccgp: read by the one body reader (suppliers and lots in every shape, goods
    # tables, attachments linked from the body, the standard text's labelled lines).
    notice = parse_body(content_html, base_url + "/")
    if not notice.text:
        raise ParseError("the notice's content is empty")
    key = json_text(data.get("articleId")) or source_key_from_url(url) or ""
    if not key:
        raise ParseError("the notice has no articleId")
    suppliers = notice.suppliers
    attachments = list(notice.attachments)
    listed = data.get("attachmentList")
    if listed is not None and not isinstance(listed, list):
        raise ParseError("the notice's attachmentList is not a list")
    for entry in listed or []:
        if not isinstance(entry, dict):
            raise ParseError("an attachmentList entry is not an object")
        href = json_text(entry.get("fileUrl") or entry.get("url") or entry.get("fileId"))  # keys: guess
        if href and urljoin(base_url + "/", href) not in {a.url for a in attachments}:
            attachments.append(AttachmentItem(url=urljoin(base_url + "/", href),
                                              name=json_text(entry.get("name") or entry.get("fileName"))))
    fields = dict(notice.fields)
    if notice.project_name or json_text(data.get("projectName")):
        fields["项目名称"] = notice.project_name or json_text(data.get("projectName"))
    author = json_text(data.get("author"))
    if author:
        fields["发布单位"] = author  # the list's and notice's author: often the agency, sometimes the buyer
    fields["接口地址"] = url
    district = district_region(json_text(data.get("districtCode")))
    award_text = notice.award_or_sole_supplier()
    return NoticeItem(
        source=source, source_key=key, url=person_url(key, base_url, parent_id), title=title,
        published_text=json_text(data.get("publishDate")), region_text=district.name if district else "",
        buyer=notice.buyer, agency=notice.agency,
        project_code=notice.project_code or json_text(data.get("projectCode")),
        budget_text=notice.budget_text, award_text=award_text, suppliers=suppliers,
        line_items=notice.line_items, body_text=notice.text,
        fields=fields, attachments=attachments,
    )
