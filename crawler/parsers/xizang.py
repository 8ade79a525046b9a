"""www.ccgp-xizang.gov.cn (FreeCMS) answers → items: the JSON notice list and the HTML detail pages.

Structure from ../shared/research/portals.md §2; what is inferred rather than seen is marked "guess".
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode, urljoin

from caigou.crawler.items import AttachmentItem, NoticeItem
from caigou.crawler.parsers.common import (
    ListPage,
    ListRow,
    ParseError,
    cell_text,
    links,
    load_json,
    soup_of,
    text_of,
)
from caigou.crawler.parsers.notice_body import parse_body
from caigou.pipelines.money import yuan_text
from caigou.pipelines.text import clean_text, squeeze_cjk

BASE_URL = "http://www.ccgp-xizang.gov.cn"
LIST_PATH = "/freecms/rest/v1/notice/selectInfoMoreChannel.do"
SITE_ID = "18de62f0-2fb0-4187-a6c1-cd8fcbfb4585"
CHANNEL = "b541ffff-03ee-4160-be64-b11ccf79660d"
ALL_TYPES = "%"  # one public spider passes % for every type

# Normalised notice type → FreeCMS noticeType codes.
TYPE_CODES: dict[str, tuple[str, ...]] = {
    "tender": ("00101",), "award": ("00102",), "correction": ("001003", "001031", "001032"),
    "termination": ("001004", "001006"), "single_source": ("001051",), "contract": ("001054",),
    "intention": ("59",), "other": ("001009", "001052", "001053", "001055", "001056", "001057", "001058", "001059"),
}
CODE_TYPES: dict[str, str] = {code: notice_type for notice_type, codes in TYPE_CODES.items() for code in codes}

_DETAIL_ID = re.compile(r"/info/\d{4}/(?P<id>[0-9a-f]{32}|\d+)\.html?", re.I)


def list_url(keyword: str, type_code: str, region_code: str, start: dt.date, end: dt.date, page: int,
             page_size: int) -> str:
    """The list query, parameters in the site's own order. The time bounds' format is a guess."""
    params = [("siteId", SITE_ID), ("channel", CHANNEL), ("currPage", page), ("pageSize", page_size),
              ("noticeType", type_code), ("cityOrArea", region_code), ("noticeName", keyword),
              ("operationStartTime", f"{start:%Y-%m-%d} 00:00:00"),
              ("operationEndTime", f"{end:%Y-%m-%d} 23:59:59"), ("selectTimeName", "noticeTime")]
    return f"{BASE_URL}{LIST_PATH}?{urlencode(params)}"


def source_key_from_url(url: str) -> str | None:
    """``…/ggxx/info/2025/<32 hex>.html`` and older ``…/info/2022/73046.html`` carry the notice's ID."""
    match = _DETAIL_ID.search(url)
    return match.group("id") if match else None


def parse_list(body: bytes | str, page_url: str) -> ListPage:
    answer = load_json(body, "notice list")
    if not isinstance(answer, dict) or "data" not in answer:
        code = answer.get("code") if isinstance(answer, dict) else "?"
        raise ParseError(f"the notice list has no data (code {code})")
    if str(answer.get("code", "200")) not in {"200", "0"}:
        raise ParseError(f"the notice list answered code {answer.get('code')}: {answer.get('msg', '')}")
    rows = []
    for record in answer.get("data") or []:
        fields: dict[str, Any] = record.get("fieldValues") or {}
        href = record.get("pageurl") or record.get("htmlpath") or ""
        key = str(record.get("id") or "") or source_key_from_url(href) or ""
        if not href or not key:
            continue
        published = fields.get("f_noticeTime") or record.get("addtimeStr") or str(record.get("addtime") or "")
        listing = {"buyer": fields.get("f_purchaser", ""), "agency": fields.get("f_agency", ""),
                   "budget_text": yuan_text(fields.get("f_budget")),
                   "notice_type_label": fields.get("f_noticeTypeName", ""),
                   "project_code": fields.get("f_openTenderCode", ""),
                   "region_text": fields.get("f_regionName") or record.get("regionName") or ""}
        rows.append(ListRow(url=urljoin(BASE_URL + "/", href), key=key, title=squeeze_cjk(record.get("title", "")),
                            published_text=str(published), listing={k: v for k, v in listing.items() if v}))
    return ListPage(total=int(answer.get("total") or 0), rows=rows)



def parse_detail(html: bytes | str, url: str) -> NoticeItem:
    soup = soup_of(html)
    content = (soup.select_one("div#print-content div.notice-con") or soup.select_one("div.notice-con")
               or soup.select_one("div.noticeArea") or soup.select_one("div.wangedit"))
    if content is None:
        raise ParseError("no notice on the page (no div.notice-con / div.noticeArea / div.wangedit)")
    header = soup.select_one("div.notice-hear") or soup.select_one("div.notice-head")
    title = squeeze_cjk(cell_text(header.find("h2") if header else None)) or squeeze_cjk(
        cell_text(soup.find("title")).split("-")[0])
    if not title:
        raise ParseError("no title")
    header_text = text_of(header)
    published = re.search(r"(?:发布时间|发布日期|公告时间)\s*[:：]\s*([0-9][0-9\-/: 年月日]+)", header_text)
    body_text = text_of(content)
    if not body_text:
        raise ParseError("the notice body is empty")
    facts = parse_body(content, url)
    attachments = [AttachmentItem(url=href, name=name)
                   for href, name in links(soup.select("a[href*=upload]"), url)]
    fields = dict(facts.fields)
    if facts.project_name:
        fields["项目名称"] = facts.project_name
    return NoticeItem(
        source="xizang", source_key=source_key_from_url(url) or "", url=url, title=title,
        published_text=clean_text(published.group(1)) if published else "", buyer=facts.buyer,
        agency=facts.agency, project_code=facts.project_code, budget_text=facts.budget_text,
        award_text=facts.award_or_sole_supplier(), suppliers=facts.suppliers, line_items=facts.line_items,
        body_text=body_text, fields=fields, attachments=attachments,
    )
