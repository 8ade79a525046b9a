"""Parsing helpers every portal shares: visible text, labelled tables, header tables, links; JSON answers and
block pages; the list rows JSON list APIs give; and the facts of the Ministry of Finance's standard notice text
(项目编号, 预算金额, 采购人信息, 中标（成交）信息, 主要标的信息), which every provincial portal publishes."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, Tag

from caigou.crawler.items import AttachmentItem, SupplierItem
from caigou.pipelines.money import unit_in_label
from caigou.pipelines.regions import Region, region_by_code
from caigou.pipelines.text import clean_text, label_key, squeeze_cjk


class ParseError(ValueError):
    """A page that is not the notice it should be (a block page, an empty template): recorded, never stored."""


BLOCK_TAGS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "section",
              "blockquote", "thead", "tbody"}
CELL_TAGS = {"td", "th"}
SKIPPED_TAGS = {"script", "style", "noscript", "template", "head"}


def soup_of(html: str | bytes) -> BeautifulSoup:
    if isinstance(html, bytes):
        html = html.decode("utf-8", errors="replace")
    return BeautifulSoup(html, "lxml")


def text_of(node: Tag | None) -> str:
    """Visible text, scripts, styles and hidden blocks dropped, one line per block element, white space folded.

    Walks the tree once without copying it (re-parsing a copy cost more than the rest of a page's parse)."""
    if node is None:
        return ""
    lines: list[str] = []
    current: list[str] = []

    def walk(element: Tag) -> None:
        for child in element.children:
            if isinstance(child, Tag):
                if child.name in SKIPPED_TAGS or "display:none" in str(child.get("style") or "").replace(" ", ""):
                    continue
                block = child.name in BLOCK_TAGS
                if block and current:
                    lines.append("".join(current))
                    current.clear()
                walk(child)
                if child.name in CELL_TAGS:
                    current.append(" ")
                elif block and current:
                    lines.append("".join(current))
                    current.clear()
            elif isinstance(child, NavigableString) and not isinstance(child, (Comment, Doctype)):
                current.append(str(child))

    walk(node)
    if current:
        lines.append("".join(current))
    cleaned = (clean_text(line) for line in lines)
    return "\n".join(line for line in cleaned if line)


def cell_text(node: Tag | None) -> str:
    return clean_text(node.get_text(" ")) if node is not None else ""


def labelled_cells(table: Tag | None, label_class: str = "title") -> dict[str, str]:
    """A summary table of label cells (``td.title``) each followed by its value cell, several pairs to a row
    allowed (行政区域 | 贵州省 | 公告时间 | …). Labels are normalised, so ``总中标金 额`` reads ``总中标金额``.
    The first occurrence of a label wins."""
    values: dict[str, str] = {}
    if table is None:
        return values
    for row in table.find_all("tr"):
        cells = row.find_all(["td", "th"], recursive=False)
        for index, cell in enumerate(cells[:-1]):
            if label_class in (cell.get("class") or []):
                label = label_key(cell.get_text(" "))
                if label and label not in values:
                    values[label] = cell_text(cells[index + 1])
    return values


def table_rows(table: Tag | None) -> list[dict[str, str]]:
    """A table with a header row, as one dict per data row keyed by the (normalised) header labels."""
    if table is None:
        return []
    rows = [row.find_all(["td", "th"]) for row in table.find_all("tr")]
    rows = [row for row in rows if row]
    if len(rows) < 2:
        return []
    header = [label_key(cell.get_text(" ")) for cell in rows[0]]
    return [{header[i]: cell_text(cell) for i, cell in enumerate(row) if i < len(header) and header[i]}
            for row in rows[1:] if len(row) == len(header)]


def links(nodes: list[Tag], base_url: str) -> list[tuple[str, str]]:
    """(absolute URL, visible name) of the ``<a href>`` among ``nodes``, in order, each URL once."""
    seen: set[str] = set()
    found: list[tuple[str, str]] = []
    for node in nodes:
        href = str(node.get("href") or "").strip()
        if not href or href.lower().startswith(("javascript:", "#", "mailto:", "data:", "vbscript:")):
            continue
        url = urljoin(base_url, href)
        if url not in seen:
            seen.add(url)
            found.append((url, cell_text(node)))
    return found


# An attachment's link: a download or upload path, or a document's extension. Other links in a notice's body
# (the buyer's site, the portal's home) are not attachments.
_ATTACHMENT_HREF = re.compile(r"(download|upload|attach|\.(pdf|docx?|xlsx?|zip|rar|7z))", re.I)


def attachment_links(content: Tag | None, base_url: str) -> list[AttachmentItem]:
    """The attachments linked from a notice's content node, in order, each URL once."""
    if content is None:
        return []
    return [AttachmentItem(url=href, name=name) for href, name in links(content.find_all("a"), base_url)
            if _ATTACHMENT_HREF.search(href)]


# ------------------------------------------------------------------------------------------------ labelled text

def code_after_label(text: str, label: str) -> str:
    """A code-like value after its label: ``项目编号：XZCG-2024-061`` → ``XZCG-2024-061``; codes may open with a
    bracket (``[231025]FAGC[GK]20260002``), and the punctuation after a code (``XZCG-2024-061（``, ``…；``) or an
    unmatched bracket at its end is not part of it."""
    match = re.search(rf"{label}\s*[:：]\s*([A-Za-z0-9\[【(（][A-Za-z0-9\-_/\[\]【】()（）.#]*)", text)
    if not match:
        return ""
    code = match.group(1).rstrip("。；;,，.")
    pairs = {")": "(", "）": "（", "]": "[", "】": "【"}
    while code and (code[-1] in "(（[【" or code[-1] in pairs and code.count(code[-1]) > code.count(pairs[code[-1]])):
        code = code[:-1].rstrip("。；;,，.")
    return code if re.search(r"[A-Za-z0-9]", code) else ""


def value_after_label(text: str, *labels: str) -> str:
    """The rest of the line after the first of ``labels`` followed by a colon (``预算金额：56.98万元``)."""
    for label in labels:
        spaced = r"\s*".join(map(re.escape, label))
        match = re.search(rf"(?:^|[\n\s、.．)）]){spaced}\s*[:：]\s*([^\n]+)", text)
        if match and clean_text(match.group(1)):
            return clean_text(match.group(1)).rstrip("。；;")
    return ""


def name_in_section(text: str, section: str) -> str:
    """``名 称：X`` in the paragraph after a section heading (采购人信息 → the buyer's name)."""
    start = text.find(section)
    if start < 0:
        return ""
    match = re.search(r"名\s*称\s*[:：]\s*(\S[^\n]*)", text[start:start + 400])
    return squeeze_cjk(match.group(1)) if match else ""


_LINE_ITEM_KEYS = {"标的名称": "name", "货物名称": "name", "名称": "name", "品牌": "brand", "规格型号": "model",
                   "数量": "quantity", "单价": "unit_price", "标项名称": "lot_name"}


def line_items(content: Tag) -> list[dict[str, str]]:
    """The 主要标的信息 table (brand and model are where a distributor's Thermo Fisher purchase shows)."""
    for table in content.find_all("table"):
        header = table.find("tr")
        if header is None or "品牌" not in header.get_text() and "规格型号" not in header.get_text():
            continue
        rows = table_rows(table)
        if not rows or not any(key.startswith(("品牌", "规格型号")) for key in rows[0]):
            continue
        items = []
        for row in rows:
            item: dict[str, str] = {}
            for key, value in row.items():
                for prefix, name in _LINE_ITEM_KEYS.items():
                    if key.startswith(prefix) and name not in item:
                        item[name] = value
            if item:
                items.append(item)
        return items
    return []


@dataclass
class NoticeFacts:
    """What the standard notice text says, as the site wrote it."""

    project_code: str = ""
    project_name: str = ""
    buyer: str = ""
    agency: str = ""
    budget_text: str = ""
    award_text: str = ""
    suppliers: list[SupplierItem] = field(default_factory=list)
    line_items: list[dict[str, str]] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


_SUPPLIER_NAME = ("中标（成交）供应商名称", "中标供应商名称", "成交供应商名称", "供应商名称", "中标人名称", "中标人")
_SUPPLIER_ADDRESS = ("中标（成交）供应商地址", "中标供应商地址", "成交供应商地址", "供应商地址")
_SUPPLIER_AMOUNT = ("中标（成交）金额", "中标金额", "成交金额", "中标价", "成交价", "报价")


def notice_facts(content: Tag | None) -> NoticeFacts:
    """Project code, buyer, agency, budget, award and suppliers from a notice body in the standard template:
    ``一、项目编号：…``, ``预算金额：…``, ``1.采购人信息 名 称：…``, and the 中标（成交）信息 given as a table
    (header 供应商名称 / 供应商地址 / 中标（成交）金额) or as labelled lines."""
    facts = NoticeFacts()
    if content is None:
        return facts
    text = text_of(content)
    facts.project_code = code_after_label(text, "项目编号") or code_after_label(text, "采购计划编号")
    facts.project_name = value_after_label(text, "项目名称", "采购项目名称")
    facts.buyer = name_in_section(text, "采购人信息") or value_after_label(text, "采购人名称", "采购单位", "采购人")
    facts.agency = name_in_section(text, "采购代理机构信息") or value_after_label(text, "采购代理机构名称",
                                                                               "代理机构名称")
    facts.budget_text = value_after_label(text, "预算金额", "项目预算金额", "采购预算")
    facts.suppliers = _supplier_table(content) or _supplier_lines(text)
    facts.award_text = value_after_label(text, "总中标金额", "总成交金额", "中标（成交）总金额")
    if not facts.award_text and len(facts.suppliers) == 1:
        facts.award_text = facts.suppliers[0].amount_text
    facts.line_items = line_items(content)
    for label in ("采购方式", "最高限价", "开标时间", "中标日期", "成交日期", "评审专家名单"):
        value = value_after_label(text, label)
        if value:
            facts.fields[label] = value
    return facts


def _supplier_table(content: Tag) -> list[SupplierItem]:
    for table in content.find_all("table"):
        rows = table_rows(table)
        if not rows or not any("供应商名称" in key or key.startswith("中标人") for key in rows[0]):
            continue
        suppliers = []
        for row in rows:
            def pick(*names: str, values: dict[str, str] = row) -> str:
                return next((v for k, v in values.items() if any(n in k for n in names) and v), "")
            name = pick("供应商名称", "中标人")
            if name:
                suppliers.append(SupplierItem(name=squeeze_cjk(name), lot=pick("包号", "标包", "标项"),
                                              address=pick("供应商地址", "地址"),
                                              amount_text=_with_unit(pick("金额", "报价", "价格"), row)))
        if suppliers:
            return suppliers
    return []


def _with_unit(amount: str, row: dict[str, str]) -> str:
    """A table amount whose unit is in its header (``中标（成交）金额(万元)``) keeps that unit."""
    for key, value in row.items():
        if value == amount and amount and re.fullmatch(r"[\d.,]+", amount):
            return f"{amount}{unit_in_label(key)}"
    return amount


def _supplier_lines(text: str) -> list[SupplierItem]:
    suppliers: list[SupplierItem] = []
    for line in text.split("\n"):
        label, sep, value = _split_label(line)
        if not sep:
            continue
        if label in map(label_key, _SUPPLIER_NAME) and value:
            suppliers.append(SupplierItem(name=squeeze_cjk(value)))
        elif suppliers and label in map(label_key, _SUPPLIER_ADDRESS) and not suppliers[-1].address:
            suppliers[-1].address = value
        elif suppliers and label in map(label_key, _SUPPLIER_AMOUNT) and not suppliers[-1].amount_text:
            suppliers[-1].amount_text = value
    return suppliers


def _split_label(line: str) -> tuple[str, str, str]:
    """``1.供应商名称：X`` → (``供应商名称``, ``：``, ``X``); numbering before the label is dropped."""
    parts = re.split(r"([:：])", line, maxsplit=1)
    if len(parts) < 3:
        return line, "", ""
    label = re.sub(r"^[\s\d一二三四五六七八九十、.．()（）]+", "", parts[0])
    return label_key(label), parts[1], clean_text(parts[2])


# ------------------------------------------------------------------------------------------------ JSON list APIs

@dataclass
class ListRow:
    """One notice as a JSON list API shows it: where its detail is, its own ID, and the facts the list knows."""

    url: str
    key: str
    title: str = ""
    published_text: str = ""
    listing: dict[str, Any] = field(default_factory=dict)


@dataclass
class ListPage:
    total: int
    rows: list[ListRow] = field(default_factory=list)
    too_broad: bool = False  # the portal asked for a narrower query (ggzy 804) instead of answering
    page_count: int | None = None  # the portal's own pager's count, where it shows one (ccgp's search)


def load_json(body: bytes | str, what: str = "answer") -> Any:
    """A JSON answer, or ParseError saying what came instead (an HTML page is usually a block page)."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        kind = "an HTML page" if looks_like_html(text) else "not JSON"
        raise ParseError(f"the {what} is {kind}, not JSON ({exc.msg} at {exc.pos})") from exc


def looks_like_html(text: bytes | str) -> bool:
    head = (text[:512].decode("utf-8", errors="replace") if isinstance(text, bytes) else text[:512]).lstrip().lower()
    return head.startswith(("<!doctype", "<html", "<head", "<body", "<script", "<meta", "<title", "<div"))


# Signs of a web application firewall's answer in place of the page asked for. Aliyun WAF's JavaScript
# challenge sets ``acw_sc__v2``; its block page names itself; the Chinese ones say 安全验证 / 访问被拦截.
_WAF_SIGNS = (("acw_sc__v2", "Aliyun WAF JavaScript challenge (acw_sc__v2)"),
              ("aliyun_waf", "Aliyun WAF block page"), ("errors.aliyun.com", "Aliyun WAF block page"),
              ("_waf_", "web application firewall page"),
              ("安全验证", "security check page (安全验证)"), ("访问被拦截", "request blocked (访问被拦截)"),
              ("访问被拒绝", "access denied (访问被拒绝)"),
              ("您的访问被阻断", "request blocked (您的访问被阻断)"), ("频繁访问", "rate limited (频繁访问)"),
              ("访问过于频繁", "rate limited (访问过于频繁)"), ("Access Denied", "access denied"))


# Captchas a person has to solve: waiting does not lift them, so the source stops (BlockPageMiddleware).
_CAPTCHA_SIGNS = (("滑动验证", "slider captcha (滑动验证)"),)


def _block_scope(body: bytes | str) -> str:
    """Where block signs are looked for: the title, or the whole page when it is short (a real notice may quote
    安全验证 in its text; a block page is small)."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.S | re.I)
    return text if len(text) < 6000 else (title.group(1) if title else "") + text[:1500]


def captcha_reason(body: bytes | str) -> str | None:
    """Which captcha a page is (a slider), or None."""
    scope = _block_scope(body)
    return next((reason for sign, reason in _CAPTCHA_SIGNS if sign in scope), None)


def waf_block_reason(body: bytes | str) -> str | None:
    """Why a page is a firewall's answer (a captcha among them), judged as ``_block_scope`` says."""
    scope = _block_scope(body)
    return next((reason for sign, reason in _CAPTCHA_SIGNS + _WAF_SIGNS if sign in scope), None)


def json_block_reason(body: bytes | str) -> str | None:
    """For a page that should be JSON: a firewall's page, or an HTML answer where JSON was expected."""
    reason = waf_block_reason(body)
    if reason:
        return reason
    if looks_like_html(body):
        return "an HTML answer where JSON was expected (a firewall or login page)"
    return None


def json_text(value: Any) -> str:
    """A JSON scalar as text; objects and lists (a changed shape) are not text."""
    if value is None or isinstance(value, (dict, list, bool)):
        return ""
    return clean_text(str(value))


def district_region(code: str) -> Region | None:
    """The most precise region the table knows for a portal's 6-digit region code (county, else prefecture, else
    province): counties are often missing from the table."""
    if not re.fullmatch(r"\d{6}", code):
        return None
    return region_by_code(code) or region_by_code(code[:4] + "00") or region_by_code(code[:2])
