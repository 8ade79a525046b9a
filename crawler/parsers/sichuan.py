"""www.ccgp-sichuan.gov.cn (gpcms) answers → items: the site ID, the JSON notice list and the JSON notice
(``getInfoById``) whose ``content`` is the notice's HTML.

Structure from ../shared/research/portals.md §4; what is inferred rather than seen is marked "guess".
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode, urljoin

from crawler.items import AttachmentItem, NoticeItem
from crawler.parsers import xizang
from crawler.parsers.common import (ListPage, ListRow, ParseError, load_json, notice_facts, soup_of, text_of,
                                    yuan_text)
from pipelines.normalise import clean_text, squeeze_cjk

BASE_URL = "https://www.ccgp-sichuan.gov.cn"
API = f"{BASE_URL}/gpcms/rest/web/v2"
SITE_ID_URL = f"{API}/index/getDeploymentSiteId?domain=www.ccgp-sichuan.gov.cn"
CHANNEL = "c5bff13f-21ca-4dac-b158-cb40accd3035"
PAGE_SIZE = 40  # the most the list gives

# gpcms is FreeCMS's successor from the same vendor: the same noticeType codes (guess).
TYPE_CODES: dict[str, tuple[str, ...]] = xizang.TYPE_CODES
CODE_TYPES: dict[str, str] = xizang.CODE_TYPES


def list_url(site_id: str, keyword: str, type_code: str, region_code: str, buyer: str, start: dt.date,
             end: dt.date, page: int) -> str:
    """The list query; ``title``, ``purchaser``, ``noticeStartTime`` / ``noticeEndTime`` are guesses."""
    params = [("siteId", site_id), ("channel", CHANNEL), ("noticeType", type_code), ("currPage", page),
              ("pageSize", PAGE_SIZE), ("regionCode", region_code), ("title", keyword), ("purchaser", buyer),
              ("noticeStartTime", f"{start:%Y-%m-%d}"), ("noticeEndTime", f"{end:%Y-%m-%d}")]
    return f"{API}/info/selectInfoMoreChannel?{urlencode(params)}"


def detail_url(notice_id: str) -> str:
    return f"{API}/info/getInfoById?{urlencode({'id': notice_id})}"


def source_key_from_url(url: str) -> str | None:
    match = re.search(r"getInfoById\?(?:.*&)?id=([^&#]+)", url)
    return match.group(1) if match else None


def _data(body: bytes | str, what: str) -> Any:
    answer = load_json(body, what)
    if not isinstance(answer, dict):
        raise ParseError(f"the {what} is not a JSON object")
    if str(answer.get("code", "200")) not in {"200", "0"}:
        raise ParseError(f"the {what} answered code {answer.get('code')}: {answer.get('msg', '')}")
    return answer.get("data")


def parse_site_id(body: bytes | str) -> str:
    data = _data(body, "site ID answer")
    site_id = data.get("siteId") if isinstance(data, dict) else data
    if not site_id or not isinstance(site_id, str):
        raise ParseError("the site ID answer has no site ID")
    return site_id


def parse_list(body: bytes | str) -> ListPage:
    data = _data(body, "notice list") or {}
    rows = []
    for record in data.get("rows") or []:
        key = str(record.get("id") or "")
        if not key:
            continue
        listing = {"buyer": record.get("purchaser", ""), "agency": record.get("agency", ""),
                   "region_text": record.get("regionName", ""), "budget_text": yuan_text(record.get("budget")),
                   "notice_type_label": record.get("noticeTypeName", "")}
        rows.append(ListRow(url=detail_url(key), key=key, title=squeeze_cjk(record.get("title", "")),
                            published_text=str(record.get("noticeTime") or ""),
                            listing={k: v for k, v in listing.items() if v}))
    return ListPage(total=int(data.get("total") or 0), rows=rows)



def parse_detail(body: bytes | str, url: str) -> NoticeItem:
    data = _data(body, "notice")
    if not isinstance(data, dict) or not data.get("title"):
        raise ParseError("the notice answer has no notice (data.title)")
    content = soup_of(str(data.get("content") or ""))
    body_text = text_of(content)
    if not body_text:
        raise ParseError("the notice's content is empty")
    facts = notice_facts(content)
    attachments = [AttachmentItem(url=urljoin(BASE_URL + "/", str(a.get("url") or a.get("fileUrl") or "")),
                                  name=clean_text(str(a.get("name") or a.get("fileName") or "")))
                   for a in data.get("attchs") or [] if a.get("url") or a.get("fileUrl")]
    fields = dict(facts.fields)
    if facts.project_name:
        fields["项目名称"] = facts.project_name
    return NoticeItem(
        source="sichuan", source_key=str(data.get("id") or "") or source_key_from_url(url) or "", url=url,
        title=squeeze_cjk(str(data["title"])), notice_type=CODE_TYPES.get(str(data.get("noticeType") or ""), ""),
        published_text=str(data.get("noticeTime") or ""), region_text=clean_text(str(data.get("regionName") or "")),
        buyer=squeeze_cjk(str(data.get("purchaser") or "")) or facts.buyer,
        agency=squeeze_cjk(str(data.get("agency") or "")) or facts.agency,
        project_code=clean_text(str(data.get("openTenderCode") or "")) or facts.project_code,
        budget_text=facts.budget_text or yuan_text(data.get("budget")), award_text=facts.award_text,
        suppliers=facts.suppliers, line_items=facts.line_items, body_text=body_text, fields=fields,
        attachments=attachments,
    )
