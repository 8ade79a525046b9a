"""政采云 portals — Qinghai's www.ccgp-qinghai.gov.cn configured (for its Tibetan prefectures); another province on
the platform is a subclass naming its host, province and parentId."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, ClassVar

import scrapy
from scrapy.http import JsonRequest, Response

from caigou.crawler.items import NoticeItem
from caigou.crawler.parsers import qinghai as site
from caigou.crawler.parsers.common import ListPage, ListRow, json_block_reason, waf_block_reason
from caigou.crawler.spiders.base import StopCrawl
from caigou.crawler.spiders.patterns import BrowserListSpider, ListQuery, ListWindow
from caigou.pipelines.normalise import notice_type_from_label
from caigou.pipelines.regions import code_prefix


class ZcySpider(BrowserListSpider):
    """A province's portal on 政采云 (zcygov): the ``/portal/category`` list and ``/portal/detail`` notices.

    A subclass sets ``name``, ``allowed_domains``, ``base_url``, ``province`` (2 digits) and ``parent_id`` (the
    ``parentId`` of the site's announcement pages, for the links to the page for people)."""

    base_url: ClassVar[str] = ""
    province: ClassVar[str] = ""
    parent_id: ClassVar[str] = ""
    page_size: ClassVar[int] = site.PAGE_SIZE
    type_codes: ClassVar[dict[str, tuple[str, ...]]] = site.CATEGORY_CODES
    all_types_code: ClassVar[str] = ""
    code_types: ClassVar[dict[str, str]] = site.CATEGORY_TYPES

    def queries(self) -> list[ListQuery]:
        """One query per category: the list takes neither keyword nor region (they filter the rows, ``keep_row``),
        and misses sub-categories, so every type is every category in turn."""
        codes = [code for t in self.notice_types for code in self.type_codes.get(t, ())] or site.ALL_CATEGORY_CODES
        return [ListQuery(type_code=code) for code in dict.fromkeys(codes)]

    def build_list_request(self, window: ListWindow) -> scrapy.Request:
        body = site.category_body(window.query.type_code, window.start, window.end, window.page, self.page_size)
        # ``_t``: the site's page adds the time as a cache-buster (the replay server ignores it).
        request = JsonRequest(site.category_url(self.base_url), data={**body, "_t": int(time.time() * 1000)},
                              headers={"Referer": f"{self.base_url}/site/category?parentId={self.parent_id}"
                                                  "&childrenCode=ZcyAnnouncement"})
        if self.use_browser:
            request.meta["playwright"] = True
        return request

    def parse_list(self, response: Response, window: ListWindow) -> ListPage:
        return site.parse_category(response.body, self.base_url)

    def keep_row(self, row: ListRow, window: ListWindow) -> bool:
        if self.keywords and not any(k.casefold() in row.title.casefold() for k in self.keywords):
            return False
        if self.notice_types:
            # A type without a category of its own (invitation …) lists every category: its label decides.
            row_type = site.CATEGORY_TYPES.get(window.query.type_code, "")
            label_type = notice_type_from_label(row.listing.get("notice_type_label", "")) or ""
            if row_type not in self.notice_types and label_type not in self.notice_types:
                return False
        district = row.listing.get("district_code", "")
        if self.region and self.region[2:] != "0000" and district:
            return district.startswith(code_prefix(self.region))
        return True

    def source_key(self, url: str) -> str | None:
        return site.source_key_from_url(url)

    def detail_request(self, url: str, listing: dict[str, Any] | None = None, key: str | None = None,
                       **kwargs: Any) -> scrapy.Request:
        """Explicit URLs may be the page for people: the notice is fetched from the JSON API either way."""
        key = key or self.source_key(url)
        if key and "/site/detail" in url:
            url = site.detail_url(key, self.base_url)
        return super().detail_request(url, listing, key, **kwargs)

    def parse_detail(self, response: Response) -> Iterator[NoticeItem]:
        item = site.parse_detail(response.body, response.url, self.base_url, self.parent_id, self.name)
        item = self.with_listing(item, response)
        listing = response.meta.get("listing") or {}
        for label, name in (("采购方式", "procurement_method"), ("品目", "catalogue")):
            if listing.get(name):
                item.fields.setdefault(label, listing[name])
        yield item

    def block_reason(self, response: Response, page_kind: str) -> str | StopCrawl | None:
        # Every answer but an attachment is JSON: an HTML page instead is a firewall's.
        reason = json_block_reason(response.body) if page_kind in {"list", "detail"} else waf_block_reason(
            response.body)
        if reason and "acw_sc__v2" in reason and not self.use_browser:
            # The challenge is JavaScript that sets a cookie: without a browser, waiting only meets it again.
            return StopCrawl("challenge", f"{self.name} answers with Aliyun WAF's JavaScript challenge (acw_sc__v2), "
                                          "which only a browser passes; crawl with --set CAIGOU_BROWSER=1 (pip "
                                          "install 'caigou[browser]' and Chromium), or later")
        # Through the browser the challenge's script has run and set its cookie: the retry carries it.
        return reason


class QinghaiSpider(ZcySpider):
    """www.ccgp-qinghai.gov.cn: Qinghai's notices from the 政采云 list and JSON notices.

    **Domain**: 青海省政府采购网, run on 政采云 (zcygov); Qinghai holds six Tibetan prefectures (海北, 黄南, 海南,
    果洛, 玉树, 海西). The spider is ``ZcySpider``: another province on 政采云 is a subclass naming its host.

    **Ways in**:

    * the list ``POST /portal/category`` (JSON ``{"pageNo","pageSize":15,"categoryCode","publishDateBegin",
      "publishDateEnd","_t"}`` → ``result.data.{total, data[]}``), one query per category code and 31-day window,
      every page of it; rows carry ``articleId``, title, author, publishDate (ms), districtCode, pathName;
    * the notices ``GET /portal/detail?articleId=`` (JSON ``result.data``, whose ``content`` HTML is read as a ccgp
      notice body); a notice links to its page for people ``/site/detail?parentId=&articleId=``;
    * explicit ``/portal/detail`` or ``/site/detail`` URLs (``url``): only those.

    **Regions**: 青海 (63) only; the list takes no region, so rows are kept by their ``districtCode``.

    **Caveats**: confirmed by other projects' scrapers of 2024–26 and Guangxi's answers of 2024 (same platform):
    the two endpoints, the list and detail JSON shapes and their keys, the 15-row page, the day-format date filter,
    and Aliyun WAF's JavaScript challenge (``acw_sc__v2``). Still guesses: the category numbers for Qinghai
    (``ZcyAnnouncement`` + 11 意向, 2 公开招标, 3002, 3011, 3003, 4 中标, 3 更正, 9999, 5, 1002, 1 other), that
    ``/portal/category`` misses sub-categories (so every type asks each category), Qinghai's ``parentId`` (left
    empty), the ``attachmentList`` keys and http. The list takes no keyword: ``keyword`` keeps rows whose title has
    it (a hit only in the text is lost). The challenge is passed only with ``CAIGOU_BROWSER=1`` (the browser runs
    its script, the retry carries its cookie); without the browser the source stops at once with that message,
    as a captcha does. No result cap is known, so windows are not split.
    """

    name = "qinghai"
    allowed_domains: ClassVar[list[str]] = ["ccgp-qinghai.gov.cn"]
    base_url: ClassVar[str] = site.BASE_URL
    home_url: ClassVar[str] = site.BASE_URL
    province: ClassVar[str] = "63"
    covered_provinces: ClassVar[tuple[str, ...]] = ("63",)
    parent_id: ClassVar[str] = ""
