"""Spider patterns: the machinery of one kind of portal, so a portal's spider only describes its site.

``JsonListSpider`` — "a paged list over date windows" (JSON APIs; ccgp's HTML search too): for every query
(keyword × the portal's notice-type code × region) and every date window it asks for page 1, reads the total,
splits a window whose total exceeds the portal's cap (or that the portal calls too broad), asks for the remaining
pages — or, where the portal ignores page numbers, narrows the window to the oldest day seen ("paging by time") —
and turns each row into a detail request that carries the row's facts (``listing``) and the portal's own notice ID.

A portal's spider sets the class variables below and writes four methods (kingfisher-collect style):

* ``build_list_request(window)`` — the portal's list request for ``window.query``, its dates and page;
* ``parse_list(response, window)`` — a ``ListPage`` (total, rows) from the answer (``crawler/parsers/<portal>.py``);
* ``parse_detail(response)`` — the ``NoticeItem`` (``self.with_listing(item, response)`` fills what the page lacks);
* ``block_reason(response, page_kind)`` when the portal has block answers of its own (the default knows firewall
  pages and HTML where JSON was expected).

Per-portal facts are class variables, not code: the region filter (``region_filter``), the list code → type
fallback for a detail that names no type (``code_types``), the cap (``result_cap``, ``result_cap_setting``); a
provincial portal (one ``covered_provinces``) gives its province to a notice that names no region.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Literal

import scrapy
from scrapy.http import Response
from scrapy.settings import BaseSettings

from caigou.crawler.browser import browser_settings
from caigou.crawler.items import CrawlErrorItem, NoticeItem
from caigou.crawler.parsers.common import ListPage, ListRow, json_block_reason, waf_block_reason
from caigou.crawler.spiders.base import NoticeSpider, StopCrawl, unreadable_page
from caigou.models.errors import NormaliseError
from caigou.pipelines.normalise import notice_type_from_label, parse_published
from caigou.pipelines.regions import region_by_code

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListQuery:
    """One list query but for its dates and page: a keyword, one of the portal's notice-type codes, a region, and a
    further part of the portal's list a query must name (``scope``: ggzy's source type)."""

    keyword: str = ""
    type_code: str = ""
    region_code: str = ""
    scope: str = ""


@dataclass(frozen=True)
class ListWindow:
    """A query over one date window (inclusive), at one page."""

    query: ListQuery
    start: dt.date
    end: dt.date
    page: int = 1

    def at_page(self, page: int) -> ListWindow:
        return replace(self, page=page)

    def between(self, start: dt.date, end: dt.date) -> ListWindow:
        return replace(self, start=start, end=end, page=1)


class JsonListSpider(NoticeSpider):
    """A portal whose notices are listed by a paged JSON API over date windows (see the module docstring)."""

    # Rows per list page the spider asks for (and the most the portal gives).
    page_size: ClassVar[int] = 20
    # The most results the portal lets one query reach; a larger total splits the window. None: no cap known.
    result_cap: ClassVar[int | None] = None
    # "pages": page numbers work; "time": the portal ignores them, so a full page narrows the window instead.
    paging: ClassVar[Literal["pages", "time"]] = "pages"
    # Normalised notice type → the portal's list codes; a type without a code is filtered by label after listing.
    type_codes: ClassVar[dict[str, tuple[str, ...]]] = {}
    # The code that lists every type.
    all_types_code: ClassVar[str] = ""
    # The portal may answer a keyword it finds nothing for with the unfiltered list: keep only rows whose title
    # has the keyword, and do not page on when page 1 has none.
    keyword_in_title: ClassVar[bool] = False
    # Whether the portal's list filters by buyer; if not, ``buyer`` filters rows (and notices) after the fact.
    filters_buyer: ClassVar[bool] = False
    # How the portal's list filters by region: not at all ("none": ``keep_row`` may filter rows), by the region's
    # province ("province": a prefecture is asked as its province), or by any region below the province the portal
    # covers ("below_province": the whole province is no filter).
    region_filter: ClassVar[Literal["none", "province", "below_province"]] = "none"
    # The portal's list code → normalised notice type, for a detail page that names no type.
    code_types: ClassVar[dict[str, str]] = {}
    # A setting that overrides ``result_cap`` (the cap's size may be a guess worth adjusting without a release).
    result_cap_setting: ClassVar[str] = ""
    # The ``page_kind`` of list pages (archived with it, and given to ``block_reason``).
    list_kind: ClassVar[str] = "list"

    # ------------------------------------------------------------------------------------------ a portal describes

    def build_list_request(self, window: ListWindow) -> scrapy.Request:
        raise NotImplementedError

    def parse_list(self, response: Response, window: ListWindow) -> ListPage:
        raise NotImplementedError

    def portal_region(self) -> str:
        """The region code the portal's list is asked for ("" for no filter), by ``region_filter``."""
        if not self.region or self.region_filter == "none":
            return ""
        if self.region_filter == "province":
            return self.region[:2] + "0000"
        return "" if self.region.endswith("0000") else self.region

    def keep_row(self, row: ListRow, window: ListWindow) -> bool:
        """A last say on a row (e.g. a region finer than the portal filters by)."""
        return True

    # ------------------------------------------------------------------------------------------ queries

    def queries(self) -> list[ListQuery]:
        codes = [code for t in self.notice_types for code in self.type_codes.get(t, ())]
        unfiltered = [t for t in self.notice_types if not self.type_codes.get(t)]
        if unfiltered:
            logger.info("%s lists no code for %s: listing every type and filtering by label", self.name,
                        ", ".join(unfiltered))
        if not codes or unfiltered:
            codes.append(self.all_types_code)
        region = self.portal_region()
        return [ListQuery(keyword, code, region) for keyword in (self.keywords or [""])
                for code in dict.fromkeys(codes)]  # two types may share one code

    def list_requests(self) -> Iterable[scrapy.Request]:
        for query in self.queries():
            for start, end in self.date_windows():
                yield self.window_request(ListWindow(query, start, end))

    def window_request(self, window: ListWindow, **meta: Any) -> scrapy.Request:
        request = self.build_list_request(window)
        request.meta.update({"page_kind": self.list_kind, "list_window": window, **meta})
        return request.replace(callback=self._list, errback=self.on_error)

    # ------------------------------------------------------------------------------------------ list answers

    def _list(self, response: Response) -> Iterator[Any]:
        window: ListWindow = response.meta["list_window"]
        try:
            page = self.parse_list(response, window)
        except Exception as exc:  # recorded, with the window it leaves unread (no watermark)
            yield unreadable_page(response, exc, self._describe(window))
            return
        if window.page == 1 and self._too_many(page) and window.start < window.end:
            self.crawler.stats.inc_value("caigou/windows_split")
            for start, end in self.split_window(window.start, window.end):
                yield self.window_request(window.between(start, end))
            return
        if window.page == 1 and self._too_many(page):
            # One day cannot be split: its results past the cap are out of reach. Said, counted and recorded.
            self.crawler.stats.inc_value("caigou/windows_truncated")
            message = (f"{self._describe(window)}: {page.total} results in one day, more than the portal's cap of "
                       f"{self.cap()}; only the first are reachable")
            logger.warning("%s", message)
            yield CrawlErrorItem(response.url, "truncated", message)
        rows = page.rows
        if self.keyword_in_title and window.query.keyword:
            rows = [row for row in rows if window.query.keyword.casefold() in row.title.casefold()]
            if page.rows and not rows and window.page == 1:
                # No row has the keyword: the portal found nothing and sent its unfiltered list instead.
                self.crawler.stats.inc_value("caigou/keyword_ignored")
                logger.info("%s: %s answered with rows without the keyword; taken as no hits", self.name,
                            self._describe(window))
                return
        for row in rows:
            if self._wanted(row, window):
                yield self.row_request(row, window)
            else:
                self.crawler.stats.inc_value("caigou/rows_filtered")
        if self.paging == "time":
            yield from self._next_by_time(response, window, page)
        elif window.page == 1:
            cap = self.cap()
            reachable = min(page.total, cap) if cap else page.total
            # The portal's own pager where it shows one, else the pages the reachable results fill.
            last = page.page_count if page.page_count is not None else math.ceil(reachable / self.page_size)
            for number in range(2, last + 1):
                yield self.window_request(window.at_page(number))

    def _too_many(self, page: ListPage) -> bool:
        cap = self.cap()
        return page.too_broad or (cap is not None and page.total > cap)

    def cap(self) -> int | None:
        if self.result_cap_setting and self.settings.get(self.result_cap_setting):
            return self.settings.getint(self.result_cap_setting)
        return self.result_cap

    def _wanted(self, row: ListRow, window: ListWindow) -> bool:
        if self.notice_types and window.query.type_code == self.all_types_code:
            row_type = row.listing.get("notice_type") or notice_type_from_label(
                row.listing.get("notice_type_label", "")) or notice_type_from_label(row.title)
            if row_type and row_type not in self.notice_types:
                return False
        buyer = row.listing.get("buyer", "")
        if self.buyer and not self.filters_buyer and buyer and self.buyer not in buyer:
            return False
        return self.keep_row(row, window)

    def _next_by_time(self, response: Response, window: ListWindow, page: ListPage) -> Iterator[Any]:
        """A full page means more rows: ask again up to the oldest day seen (rows come newest first). When one day
        fills a page, try the next page number, and say so when the portal answers it with the same rows."""
        if len(page.rows) < self.page_size:
            return
        keys = {row.key for row in page.rows}
        if window.page > 1 and keys <= set(response.meta.get("seen_keys", ())):
            self.crawler.stats.inc_value("caigou/windows_truncated")
            yield CrawlErrorItem(response.url, "truncated",
                                 f"{self._describe(window)}: more than {self.page_size} notices on one day and the "
                                 "portal ignores page numbers; the rest of that day is not reachable")
            return
        oldest = self._oldest_day(page.rows)
        if window.page == 1 and oldest is not None and window.start <= oldest < window.end:
            yield self.window_request(window.between(window.start, oldest))
        else:
            seen = set(response.meta.get("seen_keys", ())) | keys
            yield self.window_request(window.at_page(window.page + 1), seen_keys=sorted(seen))

    @staticmethod
    def _oldest_day(rows: list[ListRow]) -> dt.date | None:
        days = []
        for row in rows:
            try:
                published = parse_published(row.published_text)
            except NormaliseError:
                published = None
            if published is not None:
                days.append(published.date())
        return min(days) if days else None

    def _describe(self, window: ListWindow) -> str:
        query = window.query
        parts = [f"{window.start}..{window.end}", f"page {window.page}"]
        parts += [f"{name} {value!r}" for name, value in (("keyword", query.keyword), ("type", query.type_code),
                                                           ("region", query.region_code),
                                                           ("scope", query.scope)) if value]
        return f"{self.name} list " + ", ".join(parts)

    # ------------------------------------------------------------------------------------------ details

    def row_request(self, row: ListRow, window: ListWindow) -> scrapy.Request:
        listing = {"title": row.title, "published_text": row.published_text, **row.listing}
        if window.query.type_code and window.query.type_code != self.all_types_code:
            listing.setdefault("type_code", window.query.type_code)
        return self.detail_request(row.url, listing=listing, key=row.key)

    def _detail(self, response: Response) -> Iterator[Any]:
        for item in super()._detail(response):
            if isinstance(item, NoticeItem) and self.buyer and not self.filters_buyer \
                    and self.buyer not in item.buyer:
                self.crawler.stats.inc_value("caigou/rows_filtered")
                continue
            yield item

    def with_listing(self, item: NoticeItem, response: Response) -> NoticeItem:
        """The list row knows facts some detail pages leave out; the page wins where it has them."""
        listing = response.meta.get("listing") or {}
        item.raw_sha256 = self.item_sha256(response)
        item.source_key = item.source_key or str(response.meta.get("notice_key") or "")
        for name in ("title", "published_text", "region_text", "buyer", "agency", "project_code", "budget_text",
                     "notice_type_label", "notice_type"):
            if not getattr(item, name) and listing.get(name):
                setattr(item, name, str(listing[name]))
        item.notice_type = item.notice_type or self.code_types.get(str(listing.get("type_code", "")), "")
        if not item.region_text and len(self.covered_provinces) == 1:
            # A provincial portal's notice that names no region is in its province (the buyer's name may narrow it).
            province = region_by_code(self.covered_provinces[0])
            item.region_text = province.name if province else ""
        return item

    def block_reason(self, response: Response, page_kind: str) -> str | StopCrawl | None:
        if page_kind == "list":
            return json_block_reason(response.body)
        return waf_block_reason(response.body)


class BrowserListSpider(JsonListSpider):
    """A JSON-list portal that can be fetched through Chromium (``CAIGOU_BROWSER=1``, crawler/browser.py): for a
    site whose challenge or request signing only its own scripts can answer (qinghai's Aliyun WAF, Sichuan's
    signed list)."""

    browser_capable: ClassVar[bool] = True

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        if settings.getbool("CAIGOU_BROWSER"):
            settings.setdict(browser_settings(), priority="spider")

    @property
    def use_browser(self) -> bool:
        return self.settings.getbool("CAIGOU_BROWSER")

    def request(self, url: str, callback: Any, **kwargs: Any) -> scrapy.Request:
        request = super().request(url, callback, **kwargs)
        if self.use_browser:
            request.meta["playwright"] = True
        return request
