"""www.ggzy.gov.cn answers → items: the ``getTradList`` JSON list, its answer codes, and the /b/ content pages.

Structure from ../shared/research/portals.md §3; what is inferred rather than seen is marked "guess".
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urljoin

from bs4 import Tag

from caigou.crawler.items import NoticeItem, SupplierItem
from caigou.crawler.parsers.common import (
    ListPage,
    ListRow,
    ParseError,
    attachment_links,
    cell_text,
    links,
    load_json,
    looks_like_html,
    soup_of,
    text_of,
)
from caigou.crawler.parsers.notice_body import NoticeBody, parse_body
from caigou.pipelines.money import amount_under_label, label_without_unit
from caigou.pipelines.normalise import notice_type_from_label
from caigou.pipelines.text import CJK, clean_text, label_key, squeeze_cjk

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


# SOURCE_TYPE: 1 provincial platforms, 2 central enterprises, 3 the Ministry of Finance. Each answers only its own,
# so every one is asked.
SOURCE_TYPES = ("1", "2", "3")


def list_form(keyword: str, stage: str, province: str, start: dt.date, end: dt.date, page: int,
              source_type: str = "1") -> dict[str, str]:
    """The form the site's own list page posts; DEAL_TIME 06 is a custom date range."""
    return {"TIMEBEGIN_SHOW": f"{start:%Y-%m-%d}", "TIMEEND_SHOW": f"{end:%Y-%m-%d}",
            "TIMEBEGIN": f"{start:%Y-%m-%d}", "TIMEEND": f"{end:%Y-%m-%d}", "SOURCE_TYPE": source_type,
            "DEAL_TIME": "06",
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
        code = answer.get("code") if isinstance(answer, dict) else None
        return int(code) if code is not None else None
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


# B pages often carry the provincial platform's data rather than the ministry's text: ``table.detail_Table`` th/td
# pairs, or compact lines (``中标单位:X,中标价格:1150000``, ``采购单位：X 联系人…``). Their labels, by fact (from
# portals-2026.md's samples; the longer lists are guesses).
_BUYER = ("采购单位", "采购人", "采购人名称", "采购单位名称", "招标人")
_SUPPLIER = ("中标单位", "中标供应商", "中标人", "成交供应商", "成交单位", "中标（成交）供应商", "中标供应商名称",
             "成交供应商名称", "中标单位名称")
_AMOUNT = ("中标价格", "中标金额", "成交金额", "中标价", "成交价格", "成交价", "中标（成交）金额")
_AGENCY = ("代理机构", "采购代理机构", "招标代理机构", "代理机构名称")
_CODE = ("项目编号", "招标项目编号", "采购项目编号")
_BUDGET = ("预算金额", "采购预算", "项目预算")
_LABELS = {label_key(label): fact for fact, labels in (("buyer", _BUYER), ("supplier", _SUPPLIER), ("amount", _AMOUNT),
                                             ("agency", _AGENCY), ("code", _CODE), ("budget", _BUDGET))
           for label in labels}
# Labels that end a compact value without being facts themselves.
_STOPS = ("联系人", "联系电话", "联系方式", "电话", "地址", "项目名称", "公示期", "公告期限")
_LABEL_AT = re.compile(rf"([{CJK}（）()]{{2,16}})\s*[:：]")


def table_pairs(content: Tag) -> list[tuple[str, str]]:
    """Every ``table.detail_Table`` row's th/td pairs (a row may hold several), labels normalised, in order."""
    pairs: list[tuple[str, str]] = []
    for table in content.find_all("table", class_="detail_Table"):
        for row in table.find_all("tr"):
            cells = row.find_all(["th", "td"], recursive=False)
            for index, cell in enumerate(cells[:-1]):
                if cell.name == "th" and cells[index + 1].name == "td":
                    pairs.append((label_key(cell.get_text(" ")), cell_text(cells[index + 1])))
    return pairs


def compact_pairs(text: str) -> list[tuple[str, str]]:
    """``中标单位:X,中标价格:1150000`` and ``采购单位：X 联系人：Y`` → label/value pairs: a value runs to the next
    label (a known one may follow the value without a separator) or to the end of the line."""
    pairs: list[tuple[str, str]] = []
    for line in text.split("\n"):
        found = []
        for match in _LABEL_AT.finditer(line):
            label, start = label_key(match.group(1)), match.start(1)  # same length: parentheses folded
            known = next((k for k in sorted((*_LABELS, *_STOPS), key=len, reverse=True) if label.endswith(k)), "")
            if known:
                start += len(label) - len(known)
                label = known
            found.append((label, start, match.end()))
        for index, (label, _, value_start) in enumerate(found):
            value_end = found[index + 1][1] if index + 1 < len(found) else len(line)
            value = clean_text(line[value_start:value_end]).strip(" ,，;；。")
            pairs.append((label_key(label), value))
    return pairs


def with_table_facts(facts: NoticeBody, content: Tag) -> NoticeBody:
    """What the ministry's text left empty, from the detail table or the compact lines (the text wins)."""
    pairs = table_pairs(content) or compact_pairs(text_of(content))
    found: dict[str, str] = {}
    units: dict[str, str] = {}
    suppliers: list[SupplierItem] = []
    for label, value in pairs:
        base = label_without_unit(label)
        fact = _LABELS.get(base)
        if not fact or not value:
            continue
        if fact == "supplier":
            suppliers.append(SupplierItem(name=squeeze_cjk(value)))
        elif fact == "amount" and suppliers and not suppliers[-1].amount_text:
            suppliers[-1].amount_text = amount_under_label(value, label)
        found.setdefault(fact, value)
        if base != label:
            units.setdefault(fact, label)
    facts.buyer = _name(facts.buyer, found.get("buyer", ""))
    facts.agency = _name(facts.agency, found.get("agency", ""))
    facts.project_code = facts.project_code or found.get("code", "")
    facts.budget_text = facts.budget_text or amount_under_label(found.get("budget", ""), units.get("budget", ""))
    if not facts.suppliers and suppliers:
        facts.suppliers = suppliers
    facts.award_text = facts.award_or_sole_supplier()
    return facts


def _name(text_value: str, pair_value: str) -> str:
    """The text's name, unless it is the pair's name with the rest of its line (``X 联系人：Y``) run on."""
    pair_value = squeeze_cjk(pair_value)
    if not text_value or (pair_value and text_value.startswith(pair_value)):
        return pair_value or text_value
    return text_value


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
    facts = with_table_facts(parse_body(content, url), content)
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
