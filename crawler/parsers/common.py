"""Parsing helpers every portal shares: visible text, labelled summary tables, links and attachment links; JSON
answers and block pages; the list rows JSON list APIs give. A notice's body is read in ``notice_body``; amounts'
units in ``caigou.pipelines.money``."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, Tag

from caigou.crawler.items import AttachmentItem
from caigou.pipelines.regions import Region, region_by_code
from caigou.pipelines.text import clean_text, label_key


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
