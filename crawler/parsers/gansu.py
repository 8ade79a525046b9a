"""www.ccgp-gansu.gov.cn answers → items: the HTML search list and the HTML detail pages.

A fictional portal in a plausible structure, added to check docs/develop.md's "add a portal" steps: nothing here
was seen on a live site.
"""
from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode, urljoin

from caigou.crawler.items import AttachmentItem, NoticeItem
from caigou.crawler.parsers.common import (
    ListPage,
    ListRow,
    ParseError,
    cell_text,
    links,
    soup_of,
    text_of,
    waf_block_reason,
)
from caigou.crawler.parsers.notice_body import parse_body
from caigou.pipelines.text import clean_text, squeeze_cjk

BASE_URL = "http://www.ccgp-gansu.gov.cn"
LIST_PATH = "/web/doSearchmxarticle.action"
ALL_TYPES = ""

# Normalised notice type → the list's ``classname`` codes.
TYPE_CODES: dict[str, tuple[str, ...]] = {"tender": ("0101",), "award": ("0104",), "correction": ("0103",)}
CODE_TYPES: dict[str, str] = {code: notice_type for notice_type, codes in TYPE_CODES.items() for code in codes}

_DETAIL_ID = re.compile(r"/web/article/\d+/\d+/(?P<id>\d+)\.html?", re.I)
_TOTAL = re.compile(r"共找到\s*(\d+)\s*条")


def list_url(keyword: str, type_code: str, start: dt.date, end: dt.date, page: int, page_size: int) -> str:
    """The search list: one page of ``page_size`` rows from row ``start``."""
    params = [("articleSearchInfoVo.title", keyword), ("articleSearchInfoVo.classname", type_code),
              ("articleSearchInfoVo.releasestarttime", f"{start:%Y-%m-%d}"),
              ("articleSearchInfoVo.releaseendtime", f"{end:%Y-%m-%d}"),
              ("start", (page - 1) * page_size), ("limit", page_size)]
    return f"{BASE_URL}{LIST_PATH}?{urlencode(params)}"


def source_key_from_url(url: str) -> str | None:
    """``…/web/article/128/0/<id>.html`` carries the notice's ID."""
    match = _DETAIL_ID.search(url)
    return match.group("id") if match else None


def block_reason(html: bytes | str, kind: str) -> str | None:
    """A firewall's page, or a list page without its 共找到 count (blocked, or the page changed)."""
    reason = waf_block_reason(html)
    if reason:
        return reason
    text = html.decode("utf-8", errors="replace") if isinstance(html, bytes) else html
    if kind == "list" and "共找到" not in text:
        return "list page without 共找到 (blocked, or the page changed)"
    return None


def parse_list(body: bytes | str, page_url: str) -> ListPage:
    soup = soup_of(body)
    total = _TOTAL.search(text_of(soup.body) if soup.body else "")
    if total is None:
        raise ParseError("the list page has no 共找到 count")
    rows = []
    for item in soup.select("ul.Expand_SearchSLisi li"):
        anchor = item.find("a", href=True)
        if anchor is None:
            continue
        url = urljoin(page_url or BASE_URL + "/", str(anchor["href"]))
        key = source_key_from_url(url)
        if not key:
            continue
        info = text_of(item.find("span"))
        published = re.search(r"发布时间\s*[:：]\s*([0-9][0-9\-: ]+)", info)
        buyer = re.search(r"采购人\s*[:：]\s*([^|｜\n]+)", info)
        listing = {"buyer": clean_text(buyer.group(1)) if buyer else ""}
        rows.append(ListRow(url=url, key=key, title=squeeze_cjk(cell_text(anchor)),
                            published_text=clean_text(published.group(1)) if published else "",
                            listing={k: v for k, v in listing.items() if v}))
    return ListPage(total=int(total.group(1)), rows=rows)


def parse_detail(html: bytes | str, url: str) -> NoticeItem:
    soup = soup_of(html)
    content = soup.select_one("div.articleCon div.articleContent")
    if content is None:
        raise ParseError("no notice on the page (no div.articleContent)")
    header = soup.select_one("div.articleTitle")
    title = squeeze_cjk(cell_text(header.find("h1") if header else None))
    if not title:
        raise ParseError("no title")
    published = re.search(r"发布日期\s*[:：]\s*([0-9][0-9\-: ]+)", text_of(header))
    body_text = text_of(content)
    if not body_text:
        raise ParseError("the notice body is empty")
    facts = parse_body(content, url)
    attachments = [AttachmentItem(url=href, name=name) for href, name in links(content.select("a[href*=upload]"), url)]
    fields = dict(facts.fields)
    if facts.project_name:
        fields["项目名称"] = facts.project_name
    return NoticeItem(
        source="gansu", source_key=source_key_from_url(url) or "", url=url, title=title,
        published_text=clean_text(published.group(1)) if published else "", buyer=facts.buyer,
        agency=facts.agency, project_code=facts.project_code, budget_text=facts.budget_text,
        award_text=facts.award_or_sole_supplier(), suppliers=facts.suppliers, line_items=facts.line_items,
        body_text=body_text, fields=fields, attachments=attachments,
    )
