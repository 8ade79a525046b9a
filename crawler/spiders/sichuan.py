"""四川政府采购网 www.ccgp-sichuan.gov.cn — Sichuan's portal (gpcms), for 甘孜, 阿坝 and 木里."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Literal

import scrapy
from scrapy.http import Response
from scrapy.settings import BaseSettings

from crawler.browser import browser_settings
from crawler.items import NoticeItem
from crawler.parsers import sichuan as site
from crawler.parsers.common import ListPage, json_block_reason
from crawler.spiders.base import StopCrawl
from crawler.spiders.patterns import JsonListSpider, ListWindow
from pipelines.steps import CrawlErrorItem


class SichuanSpider(JsonListSpider):
    """www.ccgp-sichuan.gov.cn: Sichuan's notices from the gpcms JSON list and JSON notices.

    **Domain**: 四川政府采购网 (gpcms); Sichuan holds the Tibetan prefectures 甘孜 (513300) and 阿坝 (513200).

    **Ways in**:

    * the site ID (``getDeploymentSiteId``), then the list ``GET …/info/selectInfoMoreChannel`` (JSON, at most 40
      rows), one query per keyword (``title``), notice type (``noticeType``) and 31-day window; paging is said to be
      ignored, so a full page narrows the window to the oldest day it showed ("paging by time"), and a day with more
      than 40 notices is recorded as truncated when page 2 repeats page 1;
    * the notices ``GET …/info/getInfoById?id=`` (JSON, ``data.content`` is the HTML);
    * explicit ``getInfoById`` URLs (``url``): only those.

    **Regions**: 四川 (51) only; a prefecture or county is sent as ``regionCode``.

    **Caveats**: the site's firewall turns away non-browser clients: its pages, or HTML where JSON was expected, are
    block pages; ``CAIGOU_BROWSER=1`` (with the optional ``browser`` extra and the system Chromium) fetches through a
    real browser instead. The list's parameter names ``title``, ``purchaser``, ``noticeStartTime`` /
    ``noticeEndTime``, ``regionCode`` as the 6-digit code (the documented ``510001`` is taken to mean the
    province's own buyers, so all of 四川 sends none), the noticeType codes (taken from FreeCMS), bare budgets being
    yuan, and the notice's keys (content, noticeTime, purchaser, agency, regionName, attchs, openTenderCode) are
    guesses.
    """

    name = "sichuan"
    allowed_domains: ClassVar[list[str]] = ["ccgp-sichuan.gov.cn"]
    home_url: ClassVar[str] = site.BASE_URL
    covered_provinces: ClassVar[tuple[str, ...]] = ("51",)
    page_size: ClassVar[int] = site.PAGE_SIZE
    paging: ClassVar[Literal["pages", "time"]] = "time"
    type_codes: ClassVar[dict[str, tuple[str, ...]]] = site.TYPE_CODES
    all_types_code: ClassVar[str] = ""
    filters_buyer: ClassVar[bool] = True
    browser_capable: ClassVar[bool] = True

    site_id: str = ""

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

    def list_requests(self) -> Iterable[scrapy.Request]:
        yield self.request(site.SITE_ID_URL, callback=self.after_site_id, meta={"page_kind": "list"})

    def after_site_id(self, response: Response) -> Iterator[Any]:
        try:
            self.site_id = site.parse_site_id(response.body)
        except Exception as exc:  # noqa: BLE001 - any unreadable answer: recorded, nothing to list
            yield CrawlErrorItem(response.url, "parse", f"sichuan site ID: {exc}", self.item_sha256(response))
            return
        yield from super().list_requests()

    def portal_region(self) -> str:
        return self.region if self.region and self.region != "510000" else ""

    def build_list_request(self, window: ListWindow) -> scrapy.Request:
        query = window.query
        url = site.list_url(self.site_id, query.keyword, query.type_code, query.region_code, self.buyer,
                            window.start, window.end, window.page)
        return self.request(url, callback=self.parse)

    def parse_list(self, response: Response, window: ListWindow) -> ListPage:
        return site.parse_list(response.body)

    def source_key(self, url: str) -> str | None:
        return site.source_key_from_url(url)

    def parse_detail(self, response: Response) -> Iterator[NoticeItem]:
        item = self.with_listing(site.parse_detail(response.body, response.url), response)
        listing = response.meta.get("listing") or {}
        item.notice_type = item.notice_type or site.CODE_TYPES.get(listing.get("type_code", ""), "")
        item.region_text = item.region_text or "四川省"
        yield item

    def block_reason(self, response: Response, page_kind: str) -> str | StopCrawl | None:
        return json_block_reason(response.body)  # every answer of this site is JSON
