"""www.ccgp.gov.cn pages → items: detail pages (both templates), search result pages, channel lists, block pages.

Structure from ../shared/research/portals.md and saved real pages. What is inferred rather than seen is marked
"guess" where it is used.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import urlencode, urljoin

from bs4 import Comment, Doctype, NavigableString, Tag

from caigou.crawler.items import AttachmentItem, NoticeItem, SupplierItem
from caigou.crawler.parsers.common import (
    ParseError,
    _split_label,
    cell_text,
    code_after_label,
    labelled_cells,
    links,
    name_in_section,
    soup_of,
    text_of,
    value_after_label,
)
from caigou.pipelines.money import (
    bracketed_unit,
    money_or_none,
    split_figure,
    sum_disagrees,
    unit_in_label,
    unit_matching,
    with_unit,
    yuan_under_wan,
)
from caigou.pipelines.normalise import notice_type_from_label
from caigou.pipelines.regions import places_in, prefecture_of, region_by_code, resolve_region
from caigou.pipelines.text import clean_text, fold_text, label_key, squeeze_cjk

__all__ = ["Lot", "NoticeBody", "ParseError", "block_reason", "build_search_url", "channel_url", "parse_body",
           "parse_channel_page", "parse_detail", "parse_search_page", "source_key_from_url"]

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
    buyer = body.buyer or _first(summary, _BUYER_LABELS)
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
                   if label not in fields or label in _CORRECTION_LABELS})
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


# ------------------------------------------------------------------------------------------------ notice bodies

@dataclass
class Lot:
    """One lot (包) of a result notice: who won it for how much, or why it failed."""

    lot: str = ""                  # as the page labels it: 第1包, 合同包1(医疗设备采购及服务), 002 县级医院…
    suppliers: list[SupplierItem] = field(default_factory=list)
    amount_text: str = ""          # the award as printed, with its unit
    status: str = ""               # awarded | failed
    reason: str = ""               # why it failed (废标（终止）原因)
    decided_at: str = ""

    def supplier_names(self) -> str:
        return "、".join(s.name for s in self.suppliers)

    def as_dict(self) -> dict[str, str | None]:
        values: dict[str, str | None] = {"lot": self.lot or None, "supplier": self.supplier_names() or None,
                                         "amount": self.amount_text or None, "status": self.status}
        if self.reason:
            values["reason"] = self.reason
        if self.decided_at:
            values["decided_at"] = self.decided_at
        return values


@dataclass
class NoticeBody:
    """What a notice body says, strings as printed: the shape every ccgp-style body is read into."""

    text: str = ""
    title: str = ""
    published_text: str = ""
    project_code: str = ""
    buyer: str = ""
    agency: str = ""
    budget_text: str = ""
    award_text: str = ""
    lots: list[Lot] = field(default_factory=list)
    suppliers: list[SupplierItem] = field(default_factory=list)
    line_items: list[dict[str, str]] = field(default_factory=list)
    attachments: list[AttachmentItem] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


def parse_body(body: str | bytes | Tag, base_url: str, award_text: str = "") -> NoticeBody:
    """A notice body (the HTML of the MoF standard notice text, in any province's template: ccgp's
    ``vF_detail_content``, a 政采云 ``content``, a Word export) → its facts. Suppliers and lots come from the summary
    cells, lot and supplier tables, or labelled lines (``包号：``, ``供应商名称：``, ``中标（成交）金额：``,
    ``废标（终止）原因：``), merged by lot; goods, service and works tables become line items.

    ``award_text`` is the notice's total where the page states it outside the body (ccgp's summary table). The lots
    go to ``fields["lots"]`` (JSON: lot, supplier, amount as printed, status awarded/failed, reason, decided_at);
    figures that disagree are kept as printed and explained in ``fields["amount_conflict"]``; an awarded lot
    without its amount is said in ``fields["parse_problems"]``."""
    content = body if isinstance(body, Tag) else soup_of(body)
    text = text_of(content)
    result = NoticeBody(text=text)
    result.project_code = code_after_label(text, "项目编号") or code_after_label(text, "采购计划编号")
    purchaser = content.find(class_="noticePurchase-purchaserOrgName")
    agency_node = content.find(class_="noticeAgency-agencyName")
    result.buyer = cell_text(purchaser) or name_in_section(text, "采购人信息")
    result.agency = cell_text(agency_node) or name_in_section(text, "采购代理机构信息")
    result.budget_text = value_after_label(text, "预算金额", "项目预算金额", "采购预算")
    result.award_text = value_after_label(text, "总中标金额", "总成交金额", "中标（成交）总金额")
    heading = content.find(id="titlecandel") or content.find(["h1", "h2", "h3"])
    result.title = squeeze_cjk(cell_text(heading)) if heading is not None and len(cell_text(heading)) > 8 else ""
    published = re.search(r"发布(?:日期|时间)\s*[:：]\s*(\d{4}[年\-./]\d{1,2}[月\-./]\d{1,2}日?)", text)
    result.published_text = published.group(1) if published else ""
    result.lots = _merge_lots(_lots_from_code_cells(content) or _lots_from_tables(content)
                              or _lots_from_notice_detail(content), _lots_from_lines(text))
    result.suppliers = [supplier for lot in result.lots for supplier in lot.suppliers]
    result.line_items = _line_items(content, result.lots)
    result.attachments = _body_attachments(content, base_url)
    result.fields = _correction_fields(text)
    total = award_text or result.award_text
    lots = result.lots
    if len(lots) == 1 and lots[0].status == "awarded" and not lots[0].amount_text and total:
        lots[0].amount_text = total  # one lot: its award is the notice's total
    _check_units(result.line_items, lots, total)
    conflicts = _amount_problems(total, lots, result.line_items)
    if conflicts:
        result.fields["amount_conflict"] = "; ".join(conflicts)
    missing = [f"lot {lot.lot or '(unnamed)'}: supplier {lot.supplier_names()} without an amount"
               + (f" ({lot.amount_text})" if lot.amount_text else "")
               for lot in lots if lot.status == "awarded" and money_or_none(lot.amount_text) is None
               and (lot.amount_text or len(lots) > 1)]
    if missing:
        result.fields["parse_problems"] = "; ".join(missing)
    if lots:
        result.fields["lots"] = json.dumps([lot.as_dict() for lot in lots], ensure_ascii=False,
                                           separators=(",", ":"))
    for label in ("采购方式", "评审专家名单"):
        value = value_after_label(text, label)
        if value:
            result.fields[label] = value
    return result


# A lot's heading line: 第1包 ：, 合同包1(医疗设备采购及服务):, 包2, 标包A, 包号：3.
_LOT_HEADING = re.compile(r"^(第\s*[0-9A-Za-z一二三四五六七八九十]+\s*(?:包|标段|标包|分包)|合同包\s*[0-9A-Za-z]+"
                          r"|(?:标包|分包|包组|包)\s*[0-9A-Za-z]+|(?:包号|标包号|包组编号|分包号)\s*[:：]\s*[0-9A-Za-z]+)"
                          r"\s*((?:[(（][^)）]*[)）])?)\s*[:：]?$")
_SECTION_HEADING = re.compile(r"^[一二三四五六七八九十]+\s*[、.．]")
_KIND_WORDS = {"货物": "goods", "服务": "service", "工程": "works"}


_LOT_ID = re.compile(r"第[0-9A-Za-z一二三四五六七八九十]+(?:包|标段|标包|分包)|合同包[0-9A-Za-z]+"
                     r"|(?:标包|分包|包组|包)[0-9A-Za-z]+")


def _lot_id(label: str) -> str:
    """The lot's own name in its label: ``合同包1(医疗设备采购及服务)`` → ``合同包1``, ``002 县级…`` → ``002``."""
    match = _LOT_ID.match(re.sub(r"\s+", "", label))
    return match.group() if match else (label.split() or [""])[0]


def _lot_key(label: str) -> str:
    """第1包, 包1, 合同包1 and 1 are the same lot: the number (or letter) alone."""
    ident = _lot_id(label)
    number = re.search(r"[0-9A-Za-z]+|[一二三四五六七八九十]+", ident)
    return (number.group().lstrip("0") or "0") if number else ident


def _context_before(table: Tag) -> tuple[str, str]:
    """(lot heading, kind of goods) printed just before a table: ``第1包 ：``, ``合同包1(…):``, ``货物类（…）``."""
    lot, kind = "", ""
    seen = 0
    for string in table.previous_elements:
        if not isinstance(string, NavigableString) or isinstance(string, (Comment, Doctype)) \
                or string.parent is not None and string.parent.name in ("style", "script", "title"):
            continue
        line = squeeze_cjk(clean_text(str(string)))
        if not line:
            continue
        seen += 1
        if not kind and line[:2] in _KIND_WORDS and line[2:3] in ("类", ""):
            kind = _KIND_WORDS[line[:2]]
        heading = _LOT_HEADING.match(line)
        if heading:
            # 包号：3 names lot 3, as the labelled lines do.
            label = (heading.group(1) + heading.group(2)).replace(" ", "")
            lot = re.sub(r"^(?:包号|标包号|包组编号|分包号)[:：]", "", label)
            break
        if _SECTION_HEADING.match(line) or seen >= 4:
            break
    return lot, kind


def _data_rows(table: Tag) -> tuple[list[str], list[list[Tag]], str] | None:
    """(header labels, data rows, banner) of a data table; None for a layout table (one holding tables)."""
    if table.find("table") is not None:
        return None
    rows = [row.find_all(["td", "th"], recursive=False) for row in table.find_all("tr")]
    rows = [row for row in rows if row]
    banner = ""
    for index, row in enumerate(rows):
        if len(row) >= 2:
            header = [label_key(cell.get_text(" ")) for cell in row]
            return header, [r for r in rows[index + 1:] if len(r) >= 2], banner
        banner = banner or cell_text(row[0])
    return None


_SUPPLIER_COLUMNS = {"中标(成交)供应商名称", "中标供应商名称", "成交供应商名称", "供应商名称", "中标供应商",
                     "成交供应商", "中标人名称", "中标人", "供应商"}  # as label_key reads them (NFKC brackets)
# A table of bidders' scores or ranks names losing bidders too: they are not suppliers.
_RANKING_MARKS = ("排序", "排名", "评审报价", "评审价格", "资格性审查", "符合性审查", "最终报价")
_ITEM_MARKS = ("品牌", "型号", "规格", "服务名称", "服务范围", "标的名称", "货物名称", "采购标的", "施工范围", "品目")


def _lots_from_tables(content: Tag) -> list[Lot]:
    """Lots from supplier tables: one per table (``projectBundleList`` after ``第N包 ：``, 合同包 tables), or one
    table listing a lot column; a plain table of names without amounts too."""
    lots: list[Lot] = []
    for table in content.find_all("table"):
        shape = _data_rows(table)
        if shape is None:
            continue
        header, rows, _banner = shape
        name_col = next((i for i, label in enumerate(header) if label in _SUPPLIER_COLUMNS), None)
        if name_col is None or any(mark in label for label in header for mark in _RANKING_MARKS + _ITEM_MARKS):
            continue
        address_col = next((i for i, label in enumerate(header) if "地址" in label), None)
        amount_col = next((i for i, label in enumerate(header)
                           if ("金额" in label or "报价" in label or "价格" in label) and "费" not in label), None)
        lot_col = next((i for i, label in enumerate(header) if label.startswith(("包号", "标包", "标项", "包组"))),
                       None)
        heading, _kind = _context_before(table)
        for row in rows:
            def cell(index: int | None, cells: list[Tag] = row) -> str:
                return cell_text(cells[index]) if index is not None and index < len(cells) else ""
            name = squeeze_cjk(cell(name_col))
            if not name or name in ("/", "-", "无"):
                continue
            label = cell(lot_col) or heading
            amount = with_unit(cell(amount_col), unit_in_label(header[amount_col]) if amount_col is not None else "")
            lot = next((existing for existing in lots if label and _lot_key(existing.lot) == _lot_key(label)), None)
            if lot is None:
                lot = Lot(lot=label, status="awarded")
                lots.append(lot)
            lot.suppliers.append(SupplierItem(name=name, lot=label, address=cell(address_col),
                                              amount_text=amount))
            lot.amount_text = lot.amount_text or amount
    return lots


def _lots_from_code_cells(content: Tag) -> list[Lot]:
    """The new template's ``code-*`` cells; the 序号 column numbers rows, it names a lot only when there are
    several."""
    lots: list[Lot] = []
    for name in content.find_all(class_="code-winningSupplierName"):
        row = name.find_parent("tr") or name.parent
        assert row is not None  # found inside ``content``, so it has a parent
        label = cell_text(row.find(class_="code-sectionNo"))
        supplier = SupplierItem(name=squeeze_cjk(cell_text(name)), lot=label,
                                address=cell_text(row.find(class_="code-winningSupplierAddr")),
                                amount_text=cell_text(row.find(class_="code-summaryPrice")))
        lots.append(Lot(lot=label, suppliers=[supplier], amount_text=supplier.amount_text, status="awarded"))
    if len({lot.lot for lot in lots}) <= 1:
        for lot in lots:
            lot.lot = lot.suppliers[0].lot = ""
    return lots


def _lots_from_notice_detail(content: Tag) -> list[Lot]:
    """The older template's ``table#NoticeDetail``: cells ``标包：<u>A</u>``, ``供应商名称：<u>X</u>`` …"""
    table = content.find("table", id="NoticeDetail")
    if table is None:
        return []
    lots: list[Lot] = []
    lot: Lot | None = None
    current: SupplierItem | None = None
    for cell in table.find_all("td"):
        label, value = _cell_pair(cell)
        if label.startswith("标包") or label.startswith("包号"):
            lot = Lot(lot=value, status="awarded")
            lots.append(lot)
            current = None
        elif label.startswith("供应商名称") or label.startswith("中标供应商") or label.startswith("成交供应商"):
            if lot is None:
                lot = Lot(status="awarded")
                lots.append(lot)
            current = SupplierItem(name=squeeze_cjk(value), lot=lot.lot)
            lot.suppliers.append(current)
        elif current is not None and label.startswith("供应商地址"):
            current.address = value
        elif current is not None and lot is not None and ("金额" in label or "报价" in label):
            current.amount_text = value
            lot.amount_text = lot.amount_text or value
    return [lot for lot in lots if lot.suppliers]


def _cell_pair(cell: Tag) -> tuple[str, str]:
    """``供应商名称：<u>X</u>`` → (label, value); the value is the underlined text when there is one."""
    underlined = cell.find("u")
    text = clean_text(cell.get_text(""))
    label = label_key(re.split(r"[:：]", text, maxsplit=1)[0])
    value = cell_text(underlined) if underlined is not None else clean_text(re.split(r"[:：]", text)[-1])
    return label, value


# Labelled lines, by what the label introduces. Labels match with either width of colon and bracket and with any
# white space between their characters (供 应 商 名 称 ：).
_LINE_LABELS = {
    "lot": ("包号", "包组编号", "标包号", "标包编号", "分包号", "合同包号", "标段号", "标项号", "包组", "标包",
            "合同包",
            "标项"),
    "lot_name": ("包组名称", "包名称", "标包名称", "分包名称", "合同包名称", "标项名称", "标段名称"),
    "supplier": ("中标(成交)供应商名称", "中标供应商名称", "成交供应商名称", "供应商名称", "中标人名称", "中标供应商",
                 "成交供应商", "中标人"),
    "address": ("中标(成交)供应商地址", "中标供应商地址", "成交供应商地址", "供应商地址", "中标人地址"),
    "amount": ("中标(成交)金额", "中标金额", "成交金额", "中标(成交)价格", "中标价格", "成交价格", "中标价", "成交价"),
    "result": ("结果类型", "中标结果", "采购结果"),
    "reason": ("废标(终止)原因", "废标(流标)原因", "废标原因", "终止原因", "流标原因", "废标情形", "废标理由",
               "项目废标的原因", "失败原因"),
    "decided": ("确定时间",),
}
_LABEL_KIND = {label: kind for kind, labels in _LINE_LABELS.items() for label in labels}
_WIDTHS = {"(": "[(（]", ")": "[)）]"}
_LINE_LABEL = re.compile(
    r"(?:^|(?<=[\s、.．)）]))(?P<label>" + "|".join(
        r"\s*".join(_WIDTHS.get(char, re.escape(char)) for char in label)
        for label in sorted(_LABEL_KIND, key=len, reverse=True))
    + r")\s*[:：]\s*")
_FAILED_WORDS = ("废标", "流标", "终止", "失败", "不成立")


def _lots_from_lines(text: str) -> list[Lot]:
    """Lots from labelled lines: ``包号：2`` opens a lot; ``供应商名称：`` / ``中标（成交）金额：`` fill it;
    ``废标（终止）原因：`` or ``结果类型：废标`` mark it failed. Several labels may share a line."""
    lots: list[Lot] = []
    lot: Lot | None = None

    def current() -> Lot:
        nonlocal lot
        if lot is None:
            lot = Lot()
            lots.append(lot)
        return lot

    for line in text.split("\n"):
        matches = list(_LINE_LABEL.finditer(line))
        for index, match in enumerate(matches):
            end = matches[index + 1].start() if index + 1 < len(matches) else len(line)
            kind = _LABEL_KIND[fold_text(re.sub(r"\s+", "", match.group("label")))]
            value = clean_text(line[match.end():end])
            value = value if kind == "reason" else value.rstrip("。；;,，")
            if kind == "lot":
                if not value:
                    continue
                existing = next((known for known in lots if _lot_key(known.lot) == _lot_key(value)), None)
                lot = existing or Lot(lot=value)
                if existing is None:
                    lots.append(lot)
            elif kind == "lot_name" and value and lot is not None and value not in lot.lot:
                lot.lot = f"{lot.lot} {value}"
            elif kind == "supplier" and value:
                target = current()
                if value not in (s.name for s in target.suppliers):
                    target.suppliers.append(SupplierItem(name=squeeze_cjk(value), lot=target.lot))
                target.status = target.status or "awarded"
            elif kind == "address" and lot is not None and lot.suppliers and value:
                lot.suppliers[-1].address = lot.suppliers[-1].address or value
            elif kind == "amount" and lot is not None:
                amount = bracketed_unit(value)
                if lot.suppliers and not lot.suppliers[-1].amount_text:
                    lot.suppliers[-1].amount_text = amount
                lot.amount_text = lot.amount_text or amount
            elif kind == "result" and value and lot is not None:
                if any(word in value for word in _FAILED_WORDS):
                    lot.status = "failed"
            elif kind == "reason" and value:
                target = current()
                target.status, target.reason = "failed", value
            elif kind == "decided" and value and lot is not None:
                lot.decided_at = value
    return [lot for lot in lots if lot.suppliers or lot.status]


def _merge_lots(found: list[Lot], from_lines: list[Lot]) -> list[Lot]:
    """Lots from tables and from labelled lines are one list: the same lot (by its number, or by its supplier
    when unnumbered) is completed, never listed twice."""
    lots = list(found)
    for extra in from_lines:
        same = next((lot for lot in lots if extra.lot and lot.lot and _lot_key(lot.lot) == _lot_key(extra.lot)), None)
        if same is None and not extra.lot:
            names = {s.name for s in extra.suppliers}
            same = next((lot for lot in lots if names & {s.name for s in lot.suppliers}), None)
        if same is None:
            lots.append(extra)
            continue
        known = {s.name for s in same.suppliers}
        same.suppliers += [s for s in extra.suppliers if s.name not in known]
        same.amount_text = same.amount_text or extra.amount_text
        if extra.status == "failed" and not same.suppliers:
            same.status = "failed"
        same.reason = same.reason or extra.reason
        same.decided_at = same.decided_at or extra.decided_at
        if extra.lot and len(extra.lot) > len(same.lot):
            same.lot = extra.lot
    for lot in lots:
        lot.status = "awarded" if lot.suppliers and lot.status != "failed" else lot.status or "failed"
    return lots


# ------------------------------------------------------------------------------------------------ goods tables

# Column labels of goods, service and works tables → line-item keys (the first prefix that fits wins).
_ITEM_COLUMNS = (("品目号", "item_no"), ("品目编号", "item_no"), ("品目名称", "category"), ("标项名称", "lot_name"),
                 ("供应商名称", "supplier"), ("服务名称", "name"), ("标的名称", "name"), ("货物名称", "name"),
                 ("采购标的", "name"), ("名称", "name"), ("货物品牌", "brand"), ("品牌", "brand"),
                 ("货物型号", "model"), ("规格型号", "model"), ("型号", "model"), ("规格", "model"),
                 ("数量", "quantity"), ("单价", "unit_price"), ("总价", "total"), ("合计", "total"),
                 ("中标金额", "amount"), ("成交金额", "amount"), ("金额", "amount"), ("类型", "type"),
                 ("服务范围", "scope"), ("施工范围", "scope"), ("服务要求", "requirement"),
                 ("服务标准", "standard"), ("服务时间", "service_time"), ("服务期限", "service_time"),
                 ("施工工期", "duration"), ("工期", "duration"), ("项目经理", "project_manager"),
                 ("执业证书", "certificate"))
_MONEY_KEYS = ("unit_price", "total", "amount")


def _line_items(content: Tag, lots: list[Lot]) -> list[dict[str, str]]:
    """Rows of the 主要标的信息 tables (goods: brand and model, where a distributor's Thermo Fisher purchase
    shows; services; works), each with its lot and kind. A cell holding several items (``A;<br/>B``) in every
    multi-valued column gives one row per item."""
    items: list[dict[str, str]] = []
    for table in content.find_all("table"):
        shape = _data_rows(table)
        if shape is None:
            continue
        header, rows, banner = shape
        if not any(mark in label for label in header for mark in _ITEM_MARKS):
            continue
        if any(mark in label for label in header for mark in _RANKING_MARKS):
            continue
        keys = [next((key for prefix, key in _ITEM_COLUMNS if label.startswith(prefix)), "") for label in header]
        heading, kind = _context_before(table)
        banner_kind = next((k for word, k in _KIND_WORDS.items() if banner.startswith(word)), "")
        for row in rows:
            columns = [_cell_parts(cell) for cell in row]
            count = max((len(parts) for parts in columns), default=1)
            if count > 1 and any(len(parts) not in (1, count) for parts in columns):
                count, columns = 1, [[" ".join(parts)] for parts in columns]
            for position in range(count):
                item: dict[str, str] = {}
                for index, parts in enumerate(columns):
                    key = keys[index] if index < len(keys) else ""
                    if not key or key in item:
                        continue
                    value = parts[position] if len(parts) == count else parts[0]
                    item[key] = with_unit(value, unit_in_label(header[index])) if key in _MONEY_KEYS else value
                if not any(item.get(key) for key in ("name", "brand", "model", "scope")):
                    continue
                type_kind = next((k for word, k in _KIND_WORDS.items() if item.get("type", "").startswith(word)), "")
                item["kind"] = type_kind or banner_kind or kind or _kind_of(keys)
                if banner and "type" not in item and banner_kind:
                    item["type"] = banner
                if heading:
                    item["lot"] = _lot_id(heading)
                items.append(item)
    return items


def _kind_of(keys: list[str]) -> str:
    if "duration" in keys or "project_manager" in keys:
        return "works"
    if "requirement" in keys or "service_time" in keys:
        return "service"
    return "goods"


def _cell_parts(cell: Tag) -> list[str]:
    """A cell's values: one, or several where the cell lists items separated by ``;`` and line breaks."""
    pieces = [clean_text(piece) for piece in re.split(r"[;；]\s*(?:\n|$)|\n(?=.)", cell.get_text("\n"))]
    if len([p for p in pieces if p]) > 1 and cell.find("br") is not None:
        return [p.rstrip(";；") for p in pieces if p]
    return [cell_text(cell)]


def _check_units(items: list[dict[str, str]], lots: list[Lot], total_text: str = "") -> None:
    """Money cells read against the award they make up. A bare number (no unit in cell or header) that is the
    award in yuan (or in 万元) gets that unit. A figure under a 万元 header that is a yuan figure (312000 where the
    lot's award is 31.2万元) is read as yuan, the printed figure kept beside it (``…_as_printed``) and a note left
    for ``_amount_problems`` to flag the notice."""
    awards = {_lot_key(lot.lot): money_or_none(lot.amount_text) for lot in lots if lot.amount_text}
    total = money_or_none(total_text) if total_text else None
    for item in items:
        reference = awards.get(_lot_key(item["lot"])) if item.get("lot") else None
        if reference is None:
            reference = next(iter(awards.values())) if len(awards) == 1 else total
        if not reference:
            continue
        quantity = re.match(r"\s*(\d+(?:\.\d+)?)", item.get("quantity", ""))
        for key in _MONEY_KEYS:
            figure = split_figure(item.get(key, ""))
            if figure is None:
                continue
            number, unit = figure
            count = Decimal(quantity.group(1)) if key == "unit_price" and quantity else Decimal(1)
            yuan = Decimal(number.replace(",", "")) * count
            if not unit:
                unit = unit_matching(yuan, reference)
                if unit:
                    item[key] = f"{number}{unit}"
            elif unit == "万元" and yuan_under_wan(yuan, reference):
                item[f"{key}_as_printed"] = number
                item[key] = f"{number}元"
                item["unit_note"] = (f"{key} {number} under a 万元 header read as yuan "
                                     f"(as 万元 it would be {yuan * 10_000} 元 against an award of {reference} 元)")


def _amount_problems(award_text: str, lots: list[Lot], items: list[dict[str, str]]) -> list[str]:
    """Figures of one notice that disagree, in words: the lots' sum against the total, a 万元 column holding yuan.
    Both figures stay on the notice; nothing is silently picked."""
    problems = [item["unit_note"] for item in items if "unit_note" in item]
    for item in items:
        item.pop("unit_note", None)
    total = money_or_none(award_text) if award_text else None
    amounts = [money_or_none(lot.amount_text) for lot in lots if lot.status == "awarded"]
    if total is not None and len(amounts) > 1 and all(a is not None for a in amounts):
        lot_sum = sum_disagrees(total, [a for a in amounts if a is not None])
        if lot_sum is not None:
            problems.append(f"the total {award_text} is not the lots' sum {lot_sum} 元")
    return problems


# ------------------------------------------------------------------------------------------------ attachments

_DOCUMENT = re.compile(r"\.(pdf|docx?|xlsx?|zip|rar|7z|wps|et|jpe?g|png|tif?f|ofd)$", re.I)
_DOWNLOAD_CALL = re.compile(r"""(?:download\w*|open\w*|window\.open)\s*\(\s*['"]([^'"]+)['"]""", re.I)


def _body_attachments(content: Tag, base_url: str) -> list[AttachmentItem]:
    """Files the body links: ``a.bizDownload``, ``<a href=….pdf>``, links whose name is a file (``开标记录表.zip``
    behind a download script), and ``onclick="downloadFile('…')"`` links."""
    found: list[AttachmentItem] = []
    for anchor in content.find_all("a"):
        name = cell_text(anchor)
        href = str(anchor.get("href") or "").strip()
        if anchor.get("id") and "bizDownload" in (anchor.get("class") or []):
            found.append(AttachmentItem(url=DOWNLOAD_URL.format(anchor["id"]), name=name))
            continue
        call = _DOWNLOAD_CALL.search(str(anchor.get("onclick") or ""))
        if href.lower().startswith(("javascript:", "#")) or not href:
            if call and (_DOCUMENT.search(name) or _DOCUMENT.search(call.group(1).split("?")[0])):
                found.append(AttachmentItem(url=urljoin(base_url, call.group(1)), name=name))
            continue
        path = href.split("?")[0]
        if _DOCUMENT.search(path) or _DOCUMENT.search(name) or re.search(r"download|upload|attach", href, re.I):
            found.append(AttachmentItem(url=urljoin(base_url, href), name=name))
    return found


# ------------------------------------------------------------------------------------------------ corrections

_CORRECTION_LABELS = ("首次公告日期", "更正事项", "更正原因", "更正内容", "更正日期")


def _correction_fields(text: str) -> dict[str, str]:
    """A correction's facts from its body: 首次公告日期 (and the original notice's address on that line), 更正事项,
    更正原因, 更正内容 (every line up to 更正日期), 更正日期."""
    fields: dict[str, str] = {}
    lines = text.split("\n")
    for index, line in enumerate(lines):
        label, sep, value = _split_label(line)
        if not sep or label not in _CORRECTION_LABELS:
            continue
        if label == "更正内容":
            rest = [value] if value else []
            for following in lines[index + 1:]:
                if _split_label(following)[0] in ("更正日期", "更正原因") or _SECTION_HEADING.match(following):
                    break
                rest.append(following)
            value = "\n".join(rest).strip()
            if value == "其他内容不变":
                value = ""
        if label == "首次公告日期":
            address = re.search(r"(?:地址|链接)\s*[:：]\s*(https?://\S+)", value)
            if address:
                fields["原公告地址"] = address.group(1)
                value = clean_text(value[: address.start()])
        if label == "更正原因" and not value and index + 1 < len(lines):
            value = lines[index + 1]
        fields[label] = value
    return fields


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
