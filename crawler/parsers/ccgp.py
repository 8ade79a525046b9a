"""www.ccgp.gov.cn pages → items: detail pages (both templates), search result pages, channel lists, block pages.

Structure from ../shared/research/portals.md and saved real pages. What is inferred rather than seen is marked
"guess" where it is used.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin

from bs4 import Tag

from crawler.items import AttachmentItem, NoticeItem, SupplierItem
from crawler.parsers.common import (ParseError, cell_text, code_after_label, labelled_cells, line_items, links,
                                    name_in_section, soup_of, text_of)
from pipelines.normalise import clean_text, label_key, notice_type_from_label, squeeze_cjk

__all__ = ["ParseError", "block_reason", "build_search_url", "channel_url", "parse_channel_page", "parse_detail",
           "parse_search_page", "source_key_from_url"]

SEARCH_URL = "http://search.ccgp.gov.cn/bxsearch"
SEARCH_PAGE_SIZE = 20
DOWNLOAD_URL = "https://download.ccgp.gov.cn/oss/download?uuid={}"

# The detail URL's type segment → normalised notice type.
TYPE_SEGMENTS = {
    "gkzb": "tender", "jzxcs": "consultation", "jzxtpgg": "negotiation", "xjgg": "inquiry", "dylygg": "single_source",
    "yqzbgg": "invitation", "zgysgg": "prequalification", "zbgg": "award", "cjgg": "award", "gzgg": "correction",
    "fblbgg": "termination", "qtgg": "other",
}
_DETAIL_URL = re.compile(r"/cggg/(?P<scope>zygg|dfgg)/(?P<segment>[a-z]+)/\d{6}/t(?P<day>\d{8})_(?P<id>\d+)\.htm")


def source_key_from_url(url: str) -> str | None:
    """The notice's own ID: ``…/t20250627_24960123.htm`` → ``24960123``."""
    match = _DETAIL_URL.search(url)
    return match.group("id") if match else None


# ------------------------------------------------------------------------------------------------ block pages

def block_reason(html: str | bytes, kind: str) -> str | None:
    """Why a page is a block page rather than what was asked for, or None when it is the real thing.

    Detail pages are judged by positive signs only: a page that merely lacks a notice is a parse error (recorded
    with its page), not a block to wait out."""
    text = html.decode("utf-8", errors="replace") if isinstance(html, bytes) else html
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.S | re.I)
    if title and "安全验证" in title.group(1):
        return "security check page (安全验证)"
    if "频繁访问" in text:
        return "rate limited (频繁访问)"
    if kind == "search" and "共找到" not in text:
        return "search page without 共找到 (blocked, or the page changed)"
    if kind == "channel" and "c_list_bid" not in text:
        return "channel page without its list"
    return None


# ------------------------------------------------------------------------------------------------ detail pages

# Summary-table labels that become item fields; every other label stays in ``fields``.
_BUYER_LABELS = ("采购单位", "采购人")
_AWARD_LABELS = ("总中标金额", "总成交金额", "中标金额", "成交金额")


def parse_detail(html: str | bytes, url: str) -> NoticeItem:
    """One notice from a detail page of either template; a page that is not a notice raises ParseError."""
    reason = block_reason(html, "detail")
    if reason:
        raise ParseError(f"not a notice page: {reason}")
    if "_detail_content" not in (html.decode("utf-8", "replace") if isinstance(html, bytes) else html):
        raise ParseError("no notice on the page (no vF_detail_content / vT_detail_content)")
    soup = soup_of(html)
    # find() rather than CSS selectors: soupsieve cost more than the rest of the parse.
    main = soup.find("div", class_=["vF_detail_main", "vT_detail_main"]) or soup
    content = main.find("div", class_=["vF_detail_content", "vT_detail_content"])
    if content is None:
        raise ParseError("no notice body (div.vF_detail_content / div.vT_detail_content)")
    summary_box = main.find("div", class_="table")
    summary = labelled_cells(summary_box.find("table") if summary_box else None)
    body_text = text_of(content)
    if not body_text and not summary:
        raise ParseError("the notice body and summary are empty")

    meta_title = soup.find("meta", attrs={"name": "ArticleTitle"})
    header = main.find("h2")
    title = squeeze_cjk(meta_title.get("content", "") if meta_title else "") or squeeze_cjk(cell_text(header))
    if not title:
        raise ParseError("no title")
    meta_date = soup.find("meta", attrs={"name": "PubDate"})
    pub_time = soup.find("span", id="pubTime")
    published = clean_text(meta_date.get("content", "") if meta_date else "") or cell_text(pub_time) \
        or summary.get("公告时间", "")

    # "deail" is the site's own spelling.
    location = soup.find("div", class_=["vF_deail_currentloc", "vT_deail_currentloc", "vF_detail_currentloc"])
    crumbs = [squeeze_cjk(a.get("title") or a.get_text()) for a in location.find_all("a")] if location else []
    type_label = crumbs[-1] if crumbs else ""
    url_parts = _DETAIL_URL.search(url)
    notice_type = TYPE_SEGMENTS.get(url_parts.group("segment"), "") if url_parts else ""
    notice_type = notice_type or notice_type_from_label(type_label) or ""

    purchaser = soup.find(class_="noticePurchase-purchaserOrgName")
    agency_node = soup.find(class_="noticeAgency-agencyName")
    buyer = _first(summary, _BUYER_LABELS) or cell_text(purchaser) or name_in_section(body_text, "采购人信息")
    project_code = summary.get("项目编号", "") or code_after_label(body_text, "项目编号")
    attachments = [AttachmentItem(url=DOWNLOAD_URL.format(a["id"]), name=cell_text(a))
                   for a in soup.find_all("a", class_="bizDownload", id=True)]
    listed = [a for ul in soup.find_all("ul", class_="fjxx") for a in ul.find_all("a")]
    attachments += [AttachmentItem(url=href, name=name) for href, name in links(listed, url)
                    if href not in {a.url for a in attachments}]
    used = {*_BUYER_LABELS, *_AWARD_LABELS, "行政区域", "代理机构名称", "预算金额", "公告时间", "项目编号"}
    fields = {label: value for label, value in summary.items() if label not in used and value}
    if len(crumbs) >= 2:
        fields.setdefault("频道", crumbs[-2])  # 地方公告 / 中央公告
    return NoticeItem(
        source="ccgp", source_key=source_key_from_url(url) or "", url=url, title=title,
        notice_type=notice_type, notice_type_label=type_label, published_text=published,
        region_text=summary.get("行政区域", ""), buyer=_distinct(buyer),
        agency=summary.get("代理机构名称", "") or cell_text(agency_node), project_code=project_code,
        budget_text=summary.get("预算金额", ""), award_text=_first(summary, _AWARD_LABELS),
        suppliers=_suppliers(content), line_items=line_items(content), body_text=body_text, fields=fields,
        attachments=attachments,
    )


def _first(values: dict[str, str], labels: tuple[str, ...]) -> str:
    return next((values[label] for label in labels if values.get(label)), "")


def _distinct(value: str) -> str:
    """``济南大学,济南大学,济南大学`` (one buyer per lot) → ``济南大学``; different names stay listed."""
    names = [squeeze_cjk(part) for part in re.split(r"[,，]", value) if part.strip()]
    return ",".join(dict.fromkeys(names))


def _suppliers(content: Tag) -> list[SupplierItem]:
    """Winning suppliers: the new template's code-* cells, or the older ``table#NoticeDetail`` lot list."""
    suppliers: list[SupplierItem] = []
    for name in content.find_all(class_="code-winningSupplierName"):
        row = name.find_parent("tr") or name.parent
        suppliers.append(SupplierItem(name=squeeze_cjk(cell_text(name)),
                                      lot=cell_text(row.find(class_="code-sectionNo")),
                                      address=cell_text(row.find(class_="code-winningSupplierAddr")),
                                      amount_text=cell_text(row.find(class_="code-summaryPrice"))))
    if len({s.lot for s in suppliers}) <= 1:
        for supplier in suppliers:  # one lot: the 序号 column numbers rows, it names no lot
            supplier.lot = ""
    if suppliers:
        return suppliers
    table = content.find("table", id="NoticeDetail")
    if table is None:
        return suppliers
    current: SupplierItem | None = None
    lot = ""
    for cell in table.find_all("td"):
        label, value = _cell_pair(cell)
        if label.startswith("标包") or label.startswith("包号"):
            lot = value
            current = None
        elif label.startswith("供应商名称") or label.startswith("中标供应商") or label.startswith("成交供应商"):
            current = SupplierItem(name=squeeze_cjk(value), lot=lot)
            suppliers.append(current)
        elif current is not None and label.startswith("供应商地址"):
            current.address = value
        elif current is not None and ("金额" in label or "报价" in label):
            current.amount_text = value
    return suppliers


def _cell_pair(cell: Tag) -> tuple[str, str]:
    """``供应商名称：<u>X</u>`` → (label, value); the value is the underlined text when there is one."""
    underlined = cell.find("u")
    text = clean_text(cell.get_text(""))
    label = label_key(re.split(r"[:：]", text, maxsplit=1)[0])
    value = cell_text(underlined) if underlined is not None else clean_text(re.split(r"[:：]", text)[-1])
    return label, value


# ------------------------------------------------------------------------------------------------ search pages

@dataclass
class SearchRow:
    url: str
    title: str
    published_text: str = ""
    buyer: str = ""
    agency: str = ""
    type_label: str = ""
    region_text: str = ""
    pinmu: str = ""


@dataclass
class SearchPage:
    total: int
    page_count: int
    rows: list[SearchRow] = field(default_factory=list)


def build_search_url(keyword: str, start: dt.date, end: dt.date, page: int = 1, zone_id: str = "",
                     zone_name: str = "", bid_type: int = 0, bid_sort: int = 0, buyer: str = "",
                     searchtype: int = 1) -> str:
    """The ``bxsearch`` URL with its parameters in the site's own order (custom date range: timeType=6)."""
    params = [("searchtype", searchtype), ("page_index", page), ("bidSort", bid_sort), ("buyerName", buyer),
              ("projectId", ""), ("pinMu", 0), ("bidType", bid_type), ("dbselect", "bidx"), ("kw", keyword),
              ("start_time", start.strftime("%Y:%m:%d")), ("end_time", end.strftime("%Y:%m:%d")),
              ("timeType", 6), ("displayZone", zone_name), ("zoneId", zone_id), ("pppStatus", 0),
              ("agentName", "")]
    return f"{SEARCH_URL}?{urlencode(params)}"


def parse_search_page(html: str | bytes, page_url: str) -> SearchPage:
    text = html.decode("utf-8", errors="replace") if isinstance(html, bytes) else html
    reason = block_reason(text, "search")
    if reason:
        raise ParseError(f"not a search result page: {reason}")
    soup = soup_of(text)
    total_match = re.search(r"共找到\s*(?:<[^>]+>)?\s*([\d,]+)\s*(?:<[^>]+>)?\s*条", text)
    total = int(total_match.group(1).replace(",", "")) if total_match else 0
    size = re.search(r"size\s*:\s*(\d+)", text)
    page_count = int(size.group(1)) if size else math.ceil(total / SEARCH_PAGE_SIZE)
    # Obfuscated result pages list the real URLs in this variable, in row order.
    hidden = re.search(r"var\s+ohtmlurls\s*=\s*[\"']([^\"']*)[\"']", text)
    real_urls = [u.strip() for u in hidden.group(1).split(",") if u.strip()] if hidden else []
    rows = []
    for index, item in enumerate(soup.select("ul.vT-srch-result-list-bid > li")):
        anchor = item.find("a")
        if anchor is None:
            continue
        href = real_urls[index] if index < len(real_urls) else anchor.get("href", "")
        row = SearchRow(url=urljoin(page_url, href.strip()), title=squeeze_cjk(anchor.get_text()))
        span = item.find("span")
        if span is not None:
            for br in span.find_all("br"):
                br.replace_with("|")
            parts = [clean_text(part) for part in span.get_text().split("|")]
            for position, part in enumerate(parts):
                if position == 0 and re.match(r"\d{4}[.\-]\d{2}", part):
                    row.published_text = part
                elif part.startswith("采购人"):
                    row.buyer = squeeze_cjk(re.split(r"[:：]", part, maxsplit=1)[-1])
                elif part.startswith("代理机构"):
                    row.agency = squeeze_cjk(re.split(r"[:：]", part, maxsplit=1)[-1])
            tail = [p for p in parts[1:] if p and not p.startswith(("采购人", "代理机构"))]
            strong = [cell_text(s) for s in span.find_all("strong")]
            row.type_label = strong[0] if strong else (tail[0] if tail else "")
            row.pinmu = strong[1] if len(strong) > 1 else ""
            region = [p for p in tail if p not in strong]
            row.region_text = region[0] if region else ""
        rows.append(row)
    return SearchPage(total=total, page_count=max(page_count, 1 if rows else 0), rows=rows)


# ------------------------------------------------------------------------------------------------ channel lists

@dataclass
class ChannelRow:
    url: str
    title: str
    published_text: str = ""
    region_text: str = ""


@dataclass
class ChannelPage:
    rows: list[ChannelRow]
    page_count: int


def channel_url(scope: str, segment: str, page: int = 0) -> str:
    """``http://www.ccgp.gov.cn/cggg/dfgg/gkzb/index.htm``, then ``index_1.htm``, ``index_2.htm`` …"""
    name = "index.htm" if page == 0 else f"index_{page}.htm"
    return f"http://www.ccgp.gov.cn/cggg/{scope}/{segment}/{name}"


def parse_channel_page(html: str | bytes, page_url: str) -> ChannelPage:
    text = html.decode("utf-8", errors="replace") if isinstance(html, bytes) else html
    reason = block_reason(text, "channel")
    if reason:
        raise ParseError(f"not a channel list: {reason}")
    soup = soup_of(text)
    rows = []
    for item in soup.select("ul.c_list_bid > li"):
        anchor = item.find("a")
        if anchor is None or not anchor.get("href"):
            continue
        ems = [cell_text(em) for em in item.find_all("em")]
        date = next((e for e in ems if re.match(r"\d{4}-\d{2}-\d{2}", e)), "")
        region = next((e for e in ems if e and e != date), "")
        rows.append(ChannelRow(url=urljoin(page_url, anchor["href"]),
                               title=squeeze_cjk(anchor.get("title") or anchor.get_text()),
                               published_text=date, region_text=region))
    # Guess: the pager script carries the page count as "size:N", as on the search pages.
    size = re.search(r"size\s*:\s*(\d+)", text)
    return ChannelPage(rows=rows, page_count=int(size.group(1)) if size else 1)
