"""www.ccgp-sichuan.gov.cn (gpcms) answers → items: the ``selectInfoForIndex`` JSON list (behind an image captcha)
and the ``getInfoById`` JSON notice whose ``content`` is the notice's HTML.

Shapes from ../shared/research/portals-2026.md and the capture excerpts of 2026-03-14 (../shared/real/sichuan/);
what is inferred rather than seen is marked "guess". Every answer is checked for its shape: anything else is a
ParseError, never a KeyError or a TypeError.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlencode, urljoin

from caigou.crawler.items import AttachmentItem, NoticeItem
from caigou.crawler.parsers import xizang
from caigou.crawler.parsers.common import (
    ListPage,
    ListRow,
    ParseError,
    district_region,
    json_text,
    load_json,
    soup_of,
    text_of,
)
from caigou.crawler.parsers.notice_body import parse_body
from caigou.pipelines.money import yuan_text
from caigou.pipelines.regions import Region
from caigou.pipelines.text import squeeze_cjk

BASE_URL = "https://www.ccgp-sichuan.gov.cn"
API = f"{BASE_URL}/gpcms/rest/web/v2"
SITE_ID = "94c965cc-c55d-4f92-8469-d5875c68bd04"
CHANNEL = "c5bff13f-21ca-4dac-b158-cb40accd3035"
PAGE_SIZE = 10  # verified by the capture
# The captcha image the list's verifyCode answers (the path beside the API's other index calls: guess).
CAPTCHA_URL = f"{API}/index/getVerify"
# A page of the site whose scripts sign the list's requests, for the browser to load first (guess: the home).
SIGNING_PAGE = f"{BASE_URL}/maincms-web/index"

# gpcms is FreeCMS's successor from the same vendor: the same noticeType codes (59 意向 is confirmed by the capture).
TYPE_CODES: dict[str, tuple[str, ...]] = xizang.TYPE_CODES
CODE_TYPES: dict[str, str] = xizang.CODE_TYPES


def list_url(type_code: str, start: dt.date, end: dt.date, page: int, verify_code: str) -> str:
    """The list query as the capture shows it (its ``_t`` cache-buster is added by the spider)."""
    params = [("currPage", page), ("pageSize", PAGE_SIZE), ("siteId", SITE_ID), ("channel", CHANNEL),
              ("noticeType", type_code), ("operationStartTime", f"{start:%Y-%m-%d} 00:00:00"),
              ("operationEndTime", f"{end:%Y-%m-%d} 23:59:59"), ("verifyCode", verify_code)]
    return f"{API}/info/selectInfoForIndex?{urlencode(params)}"


def detail_url(notice_id: str) -> str:
    return f"{API}/info/getInfoById?{urlencode({'id': notice_id})}"


def person_url(notice_id: str) -> str:
    """The notice's page for people."""
    return f"{BASE_URL}/maincms-web/article?{urlencode({'type': 'notice', 'id': notice_id})}"


def source_key_from_url(url: str) -> str | None:
    match = re.search(r"(?:getInfoById|maincms-web/article)\?(?:.*&)?id=([^&#]+)", url)
    return match.group(1) if match else None


def _data(body: bytes | str, what: str) -> Any:
    answer = load_json(body, what)
    if not isinstance(answer, dict):
        raise ParseError(f"the {what} is not a JSON object")
    if json_text(answer.get("code") or "200") not in {"200", "0"}:
        code, message = json_text(answer.get("code")), json_text(answer.get("msg"))[:120]
        raise ParseError(f"the {what} answered code {code}: {message}")
    return answer.get("data")


def captcha_refused(body: bytes | str) -> str | None:
    """The list's answer when the captcha code was wrong or stale: its message (a guess: a code other than 200
    whose message names 验证码), else None."""
    try:
        answer = load_json(body)
    except ParseError:
        return None
    if not isinstance(answer, dict) or json_text(answer.get("code") or "200") in {"200", "0"}:
        return None
    message = json_text(answer.get("msg") or answer.get("message"))
    return message or "refused" if "验证码" in message or "verify" in message.lower() else None


def parse_list(body: bytes | str) -> ListPage:
    """``data.{rows[], total}``; rows carry id, title, author (the buyer, or its agency), noticeTime, regionName,
    regionCode, noticeType, openTenderCode."""
    data = _data(body, "notice list")
    if not isinstance(data, dict):
        raise ParseError("the notice list has no data object")
    total, records = data.get("total", 0), data.get("rows", [])
    if isinstance(total, bool) or not isinstance(total, (int, str)) or not str(total).isdigit():
        raise ParseError(f"the notice list's total is not a number ({total!r})")
    total = 0 if total is None else total
    if records is None:  # no rows at all
        records = []
    if not isinstance(records, list):
        raise ParseError("the notice list's rows are not a list")
    rows = []
    for record in records:
        if not isinstance(record, dict):
            raise ParseError("a notice list row is not an object")
        key = json_text(record.get("id"))
        if not key:
            continue
        listing = {"buyer": json_text(record.get("purchaser")) or json_text(record.get("author")),
                   "agency": json_text(record.get("agency")), "region_text": json_text(record.get("regionName")),
                   "region_code": json_text(record.get("regionCode")),
                   "project_code": json_text(record.get("openTenderCode")),
                   "notice_type": CODE_TYPES.get(json_text(record.get("noticeType")), ""),
                   "notice_type_label": json_text(record.get("noticeTypeName")),
                   "budget_text": yuan_text(json_text(record.get("budget")))}
        rows.append(ListRow(url=detail_url(key), key=key, title=squeeze_cjk(json_text(record.get("title"))),
                            published_text=json_text(record.get("noticeTime")),
                            listing={k: v for k, v in listing.items() if v}))
    return ListPage(total=int(total), rows=rows)


def region_of(code: str, name: str) -> Region | None:
    """The region of a gpcms ``regionCode``: a body's own level (``内江市市本级`` 511001, ``四川省本级`` 510001) is
    its prefecture's (or province's) code plus one, which may be a county's code elsewhere (513301 is 康定市)."""
    if name.endswith("本级") and re.fullmatch(r"\d{6}", code):
        code = code[:2] + "0000" if code[2:4] == "00" else code[:4] + "00"
    return district_region(code)


def parse_detail(body: bytes | str, url: str) -> NoticeItem:
    data = _data(body, "notice")
    if not isinstance(data, dict) or not json_text(data.get("title")):
        raise ParseError("the notice answer has no notice (data.title)")
    content_html = data.get("content")
    if not isinstance(content_html, str):
        raise ParseError("the notice has no content HTML")
    content = soup_of(content_html)
    body_text = text_of(content)
    if not body_text:
        raise ParseError("the notice's content is empty")
    key = json_text(data.get("id")) or source_key_from_url(url) or ""
    facts = parse_body(content, url)
    attachments = []
    listed = data.get("attchs")
    if listed is not None and not isinstance(listed, list):
        raise ParseError("the notice's attchs is not a list")
    for entry in listed or []:
        if not isinstance(entry, dict):
            raise ParseError("an attchs entry is not an object")
        href = json_text(entry.get("url") or entry.get("fileUrl"))  # keys: guess
        if href:
            attachments.append(AttachmentItem(url=urljoin(BASE_URL + "/", href),
                                              name=json_text(entry.get("name") or entry.get("fileName"))))
    fields = dict(facts.fields)
    if facts.project_name:
        fields["项目名称"] = facts.project_name
    fields["接口地址"] = url
    # The capture has no purchaser: the author is the buyer (the page's 采购人 section wins when it has one).
    buyer = squeeze_cjk(json_text(data.get("purchaser"))) or facts.buyer or squeeze_cjk(json_text(data.get("author")))
    region = region_of(json_text(data.get("regionCode")), json_text(data.get("regionName")))
    return NoticeItem(
        source="sichuan", source_key=key, url=person_url(key) if key else url,
        title=squeeze_cjk(json_text(data.get("title"))),
        notice_type=CODE_TYPES.get(json_text(data.get("noticeType")), ""),
        notice_type_label=json_text(data.get("noticeTypeName")), published_text=json_text(data.get("noticeTime")),
        region_text=region.name if region else json_text(data.get("regionName")), buyer=buyer,
        agency=squeeze_cjk(json_text(data.get("agency"))) or facts.agency,
        project_code=json_text(data.get("openTenderCode")) or facts.project_code,
        budget_text=facts.budget_text or yuan_text(json_text(data.get("budget"))),
        award_text=facts.award_or_sole_supplier(), suppliers=facts.suppliers, line_items=facts.line_items,
        body_text=body_text, fields=fields, attachments=attachments,
    )
