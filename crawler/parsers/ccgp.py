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

from caigou.crawler.items import AttachmentItem, NoticeItem
from caigou.crawler.parsers.common import ParseError, cell_text, labelled_cells, links, soup_of
from caigou.crawler.parsers.notice_body import CORRECTION_LABELS, DOWNLOAD_URL, parse_body
from caigou.pipelines.normalise import notice_type_from_label
from caigou.pipelines.regions import places_in, prefecture_of, region_by_code, resolve_region
from caigou.pipelines.text import clean_text, squeeze_cjk

__all__ = ["ParseError", "block_reason", "build_search_url", "channel_url",
           "parse_channel_page", "parse_detail", "parse_search_page", "source_key_from_url"]

SEARCH_URL = "http://search.ccgp.gov.cn/bxsearch"
SEARCH_PAGE_SIZE = 20

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
    """One notice from a detail page of any template; a page that is not a notice raises ParseError.

    The page's frame (header, breadcrumb, summary table ``公告概要``) is read here; the notice body, whatever
    province's template it is in, is read by ``parse_body``. Saved copies without the header still parse: the title
    is then the page's ``<title>`` or the body's, the date the summary's 公告时间."""
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
    award_text = _first(summary, _AWARD_LABELS)
    body = parse_body(content, url, award_text)
    if not body.text and not summary:
        raise ParseError("the notice body and summary are empty")

    meta_title = soup.find("meta", attrs={"name": "ArticleTitle"})
    header = main.find("h2")
    page_title = soup.find("title")
    title = squeeze_cjk(str(meta_title.get("content", "")) if meta_title else "") or squeeze_cjk(cell_text(header)) \
        or squeeze_cjk(cell_text(page_title)) or body.title
    if not title:
        raise ParseError("no title (no ArticleTitle, h2, <title> or title in the body)")
    meta_date = soup.find("meta", attrs={"name": "PubDate"})
    pub_time = soup.find("span", id="pubTime")
    published = clean_text(str(meta_date.get("content", "")) if meta_date else "") or cell_text(pub_time) \
        or summary.get("公告时间", "") or body.published_text

    # "deail" is the site's own spelling.
    location = soup.find("div", class_=["vF_deail_currentloc", "vT_deail_currentloc", "vF_detail_currentloc"])
    crumbs = [squeeze_cjk(str(a.get("title") or a.get_text())) for a in location.find_all("a")] if location else []
    type_label = crumbs[-1] if crumbs else ""
    url_parts = _DETAIL_URL.search(url)
    notice_type = TYPE_SEGMENTS.get(url_parts.group("segment"), "") if url_parts else ""
    notice_type = notice_type or notice_type_from_label(type_label) or ""

    # The 采购人 section names the buyer even where the title or summary names the body that paid.
    buyer = body.buyer_in_section or _first(summary, _BUYER_LABELS) or body.buyer
    project_code = summary.get("项目编号", "") or body.project_code
    attachments = [AttachmentItem(url=DOWNLOAD_URL.format(a["id"]), name=cell_text(a))
                   for a in soup.find_all("a", class_="bizDownload", id=True)]
    listed = [a for ul in soup.find_all("ul", class_="fjxx") for a in ul.find_all("a")]
    attachments += [AttachmentItem(url=href, name=name) for href, name in links(listed, url)]
    attachments = _distinct_attachments(attachments + body.attachments)
    award_text = award_text or body.award_text
    used = {*_BUYER_LABELS, *_AWARD_LABELS, "行政区域", "代理机构名称", "预算金额", "公告时间", "项目编号"}
    fields = {label: value for label, value in summary.items() if label not in used and value}
    # The body's 更正日期 (2026-09-24 14:56) says more than the summary's (2026年09月24日).
    fields.update({label: value for label, value in body.fields.items()
                   if label not in fields or label in CORRECTION_LABELS})
    if len(crumbs) >= 2:
        fields.setdefault("频道", crumbs[-2])  # 地方公告 / 中央公告
    agency = summary.get("代理机构名称", "") or body.agency
    region = _region_text(summary.get("行政区域", ""), [buyer, summary.get("采购单位地址", ""), title, agency,
                                                      summary.get("代理机构地址", ""), body.text])
    return NoticeItem(
        source="ccgp", source_key=source_key_from_url(url) or "", url=url, title=title,
        notice_type=notice_type, notice_type_label=type_label, published_text=published,
        region_text=region, buyer=_distinct(buyer), agency=agency, project_code=project_code,
        budget_text=summary.get("预算金额", "") or body.budget_text, award_text=award_text,
        suppliers=body.suppliers, line_items=body.line_items, body_text=body.text, fields=fields,
        attachments=attachments,
    )


def _first(values: dict[str, str], labels: tuple[str, ...]) -> str:
    return next((values[label] for label in labels if values.get(label)), "")


def _distinct(value: str) -> str:
    """``济南大学,济南大学,济南大学`` (one buyer per lot) → ``济南大学``; different names stay listed."""
    names = [squeeze_cjk(part) for part in re.split(r"[,，]", value) if part.strip()]
    return ",".join(dict.fromkeys(names))


def _distinct_attachments(attachments: list[AttachmentItem]) -> list[AttachmentItem]:
    """Each file once: the summary's download link and the body's link to the same file name are one file."""
    seen_urls: set[str] = set()
    seen_names: set[str] = set()
    kept = []
    for attachment in attachments:
        name = clean_text(attachment.name)
        if attachment.url in seen_urls or name and name in seen_names:
            continue
        seen_urls.add(attachment.url)
        seen_names.add(name)
        kept.append(attachment)
    return kept


# ------------------------------------------------------------------------------------------------ regions

def _region_text(stated: str, texts: list[str]) -> str:
    """The 行政区域 as stated, with the province (and the prefecture, where the page prints it before the county)
    the page names elsewhere when it states only a prefecture or county: ``林口县`` with an agency in
    ``黑龙江省哈尔滨市…`` → ``黑龙江省 林口县``; ``岫岩满族自治县`` with ``辽宁省鞍山市岫岩县…`` →
    ``辽宁省 鞍山市 岫岩满族自治县``."""
    stated = squeeze_cjk(stated)
    if not stated:
        return ""
    code, _name = resolve_region(stated)
    if code and code.endswith("0000"):
        return stated
    # A region the project knows has its province; otherwise the first province the page names.
    province = region_by_code(code[:2]) if code else next(
        (place for text in texts if text for place in places_in(text) if place.level == "province"), None)
    parts = [province.name] if province and province.name != stated else []
    stem = stated[:2]
    for text in texts:
        prefecture = re.search(rf"([^\s省区市县,，、:：]{{2,4}}?(?:市|自治州|地区|盟)){re.escape(stem)}", text or "")
        if prefecture and prefecture.group(1) not in (stated, province.name if province else ""):
            parts.append(prefecture.group(1))
            break
    else:
        # Not printed before the county, but named elsewhere on the page (an address) and, says the national table,
        # the county's own: 甘南县 with an agency in 齐齐哈尔市 → 黑龙江省 齐齐哈尔市 甘南县. A prefecture the page does
        # not name is not added (林口县 with an agency in 哈尔滨市 stays 黑龙江省 林口县).
        known = prefecture_of(stated, province.code) if province else None
        if known and known != stated and any(known in (text or "") for text in texts):
            parts.append(known)
    return " ".join([*parts, stated])


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
        href = real_urls[index] if index < len(real_urls) else str(anchor.get("href", ""))
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
        rows.append(ChannelRow(url=urljoin(page_url, str(anchor["href"])),
                               title=squeeze_cjk(str(anchor.get("title") or anchor.get_text())),
                               published_text=date, region_text=region))
    # Guess: the pager script carries the page count as "size:N", as on the search pages.
    size = re.search(r"size\s*:\s*(\d+)", text)
    return ChannelPage(rows=rows, page_count=int(size.group(1)) if size else 1)
