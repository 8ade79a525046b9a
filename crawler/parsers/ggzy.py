"""www.ggzy.gov.cn answers → items: the ``getTradList`` JSON list, its answer codes, and the /b/ content pages.

Structure from ../shared/research/portals.md §3; what is inferred rather than seen is marked "guess".
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urljoin

from crawler.items import NoticeItem
from crawler.parsers.common import (ListPage, ListRow, ParseError, attachment_links, cell_text, links, load_json,
                                    looks_like_html, notice_facts, soup_of, text_of)
from pipelines.normalise import clean_text, notice_type_from_label, squeeze_cjk

BASE_URL = "https://www.ggzy.gov.cn"
LIST_URL = f"{BASE_URL}/information/pubTradingInfo/getTradList"
DEAL_LIST_PAGE = f"{BASE_URL}/deal/dealList.html"
PAGE_SIZE = 20
CLASSIFY_GOVERNMENT_PROCUREMENT = "02"
ALL_STAGES = "0200"

# Normalised notice type → DEAL_STAGE of 政府采购 (guess: 0201 采购/资格预审公告, 0202 中标公告, 0203 采购合同,
# 0204 更正事项). Every kind of procurement announcement shares 0201.
_ANNOUNCEMENT = ("0201",)
STAGE_CODES: dict[str, tuple[str, ...]] = {
    "tender": _ANNOUNCEMENT, "invitation": _ANNOUNCEMENT, "prequalification": _ANNOUNCEMENT,
    "consultation": _ANNOUNCEMENT, "negotiation": _ANNOUNCEMENT, "inquiry": _ANNOUNCEMENT,
    "single_source": _ANNOUNCEMENT, "award": ("0202",), "contract": ("0203",), "correction": ("0204",),
}
STAGE_TYPES = {"0202": "award", "0203": "contract", "0204": "correction"}

# informationTypeText values that name no one procurement method: the title says which it is.
AMBIGUOUS_LABELS = {"采购/资格预审公告", "采购公告", "资格预审公告/采购公告"}


def row_notice_type(information_type: str, title: str) -> str:
    """The type a list row shows: 中标公告 says award; 采购/资格预审公告 says nothing, the title does."""
    label = squeeze_cjk(information_type)
    if label in AMBIGUOUS_LABELS:
        return notice_type_from_label(title) or ""
    return notice_type_from_label(label) or ""


# Answer codes of the list API.
OK, TOO_FREQUENT, REFINE, CAPTCHA = 200, 800, 804, 829


def list_form(keyword: str, stage: str, province: str, start: dt.date, end: dt.date, page: int) -> dict[str, str]:
    """The form the site's own list page posts; DEAL_TIME 06 is a custom date range."""
    return {"TIMEBEGIN_SHOW": f"{start:%Y-%m-%d}", "TIMEEND_SHOW": f"{end:%Y-%m-%d}",
            "TIMEBEGIN": f"{start:%Y-%m-%d}", "TIMEEND": f"{end:%Y-%m-%d}", "SOURCE_TYPE": "1", "DEAL_TIME": "06",
            "DEAL_CLASSIFY": CLASSIFY_GOVERNMENT_PROCUREMENT, "DEAL_STAGE": stage or ALL_STAGES,
            "DEAL_PROVINCE": province or "0", "DEAL_CITY": "0", "DEAL_PLATFORM": "0", "BID_PLATFORM": "0",
            "DEAL_TRADE": "0", "isShowAll": "1", "PAGENUMBER": str(page), "FINDTXT": keyword}


def answer_code(body: bytes | str) -> int | None:
    """The list API's ``code``, or None when the answer is not its JSON."""
    if looks_like_html(body):
        return None
    try:
        answer = load_json(body)
    except ParseError:
        return None
    try:
        return int(answer.get("code")) if isinstance(answer, dict) and answer.get("code") is not None else None
    except (TypeError, ValueError):
        return None


def content_url(url: str) -> str:
    """``…/html/a/…`` is a wrapper whose frame shows the same path under ``/html/b/``: fetch that directly."""
    return url.replace("/html/a/", "/html/b/", 1)


def source_key_from_url(url: str) -> str | None:
    """``…/html/b/540000/0202/20240613/0054f3e1a2b6.html`` → ``0054f3e1a2b6`` (the record's id, guess)."""
    match = re.search(r"/html/[ab]/.+/([0-9A-Za-z_\-]+)\.s?html?$", url)
    return match.group(1) if match else None


def parse_list(body: bytes | str) -> ListPage:
    answer = load_json(body, "trade list")
    code = answer.get("code") if isinstance(answer, dict) else None
    if code is not None and int(code) == REFINE:
        return ListPage(total=0, too_broad=True)
    if code is not None and int(code) != OK:
        raise ParseError(f"the trade list answered code {code}: {answer.get('message', '')}")
    data: dict[str, Any] = answer.get("data") or {}
    rows = []
    for record in data.get("records") or []:
        href = record.get("url") or ""
        key = str(record.get("id") or "") or source_key_from_url(href) or ""
        if not href or not key:
            continue
        region = " ".join(part for part in (record.get("provinceText"), record.get("cityText")) if part)
        title = squeeze_cjk(record.get("title", ""))
        listing = {"region_text": region, "notice_type_label": record.get("informationTypeText", ""),
                   "notice_type": row_notice_type(record.get("informationTypeText", ""), title),
                   "project_code": record.get("tenderProjectCode", ""),
                   "platform": record.get("transactionSourcesPlatformText", ""),
                   "business_type": record.get("businessTypeText", "")}
        rows.append(ListRow(url=content_url(urljoin(BASE_URL + "/", href)), key=key,
                            title=title, published_text=str(record.get("publishTime") or ""),
                            listing={k: v for k, v in listing.items() if v}))
    return ListPage(total=int(data.get("total") or 0), rows=rows)


def parse_detail(html: bytes | str, url: str) -> NoticeItem:
    """A /b/ content page: ``div.detail h4.h4_o`` title, ``p.p_o span`` 发布时间, ``label#platformName``, the body
    ``div#mycontent`` / ``div.detail_content``, and ``span.detail_url a`` linking the provincial original."""
    soup = soup_of(html)
    detail = soup.find("div", class_="detail") or soup
    content = soup.find("div", id="mycontent") or soup.find("div", class_="detail_content")
    if content is None:
        raise ParseError("no notice on the page (no div#mycontent / div.detail_content)")
    title = squeeze_cjk(cell_text(detail.find("h4", class_="h4_o") or detail.find("h4")))
    if not title:
        raise ParseError("no title (div.detail h4.h4_o)")
    info = " ".join(cell_text(span) for span in detail.select("p.p_o span"))
    published = re.search(r"发布时间\s*[:：]\s*([0-9][0-9\-/: ]+)", info)
    platform = cell_text(soup.find("label", id="platformName"))
    body_text = text_of(content)
    if not body_text:
        raise ParseError("the notice body is empty")
    facts = notice_facts(content)
    fields = dict(facts.fields)
    if platform:
        fields["来源平台"] = platform
    if facts.project_name:
        fields["项目名称"] = facts.project_name
    # As ccgp and qinghai: the files linked from the body (the maker and model are often only in them).
    attachments = attachment_links(content, url)
    original = links(soup.select("span.detail_url a"), url)
    if original:
        fields["原文链接"] = original[0][0]
    return NoticeItem(
        source="ggzy", source_key=source_key_from_url(url) or "", url=url, title=title,
        published_text=clean_text(published.group(1)) if published else "", buyer=facts.buyer, agency=facts.agency,
        project_code=facts.project_code, budget_text=facts.budget_text, award_text=facts.award_text,
        suppliers=facts.suppliers, line_items=facts.line_items, body_text=body_text, fields=fields,
        attachments=attachments,
    )
