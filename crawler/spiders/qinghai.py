"""青海省政府采购网 www.ccgp-qinghai.gov.cn — Qinghai's portal (政采云), for its Tibetan prefectures."""
from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import scrapy
from scrapy.http import JsonRequest, Response

from crawler.items import NoticeItem
from crawler.parsers import qinghai as site
from crawler.parsers.common import ListPage
from crawler.spiders.patterns import JsonListSpider, ListWindow


class QinghaiSpider(JsonListSpider):
    """www.ccgp-qinghai.gov.cn: Qinghai's notices from the 政采云 search and its detail pages.

    **Domain**: 青海省政府采购网, run on 政采云 (zcygov); Qinghai holds six Tibetan prefectures (海北, 黄南, 海南,
    果洛, 玉树, 海西).

    **Ways in**:

    * the search ``POST /front/search/category`` (JSON body, 50 rows a page, JSON answer ``hits.hits[]._source``),
      one query per keyword, category (``categoryCode``) and 31-day window, every page of it;
    * the detail pages (host + ``url``), whose notice is JSON in ``<input name="articleDetail" value="…">``;
    * explicit detail URLs (``url``): only those.

    **Regions**: 青海 (63) only; a prefecture or county is sent as ``districtCode`` ``[code]``.

    **Caveats**: the category codes (``ZcyAnnouncement`` + the documented numbers, ``ZcyAnnouncement`` alone for
    every type), the date fields ``publishDateBegin`` / ``publishDateEnd``, ``districtCode`` taking the 6-digit
    region code, the 50-row page and http are guesses from other 政采云 portals; no result cap is known (Elasticsearch
    commonly stops at 10,000), so windows are not split; the articleDetail keys (title, content, publishDate,
    districtName, author as the buyer, articleId) are guesses; the site sits behind Aliyun WAF (cookie
    ``acw_tc``): its JavaScript challenge (``acw_sc__v2``) and block pages are recognised as block pages and
    waited out, but never passed.
    """

    name = "qinghai"
    allowed_domains: ClassVar[list[str]] = ["ccgp-qinghai.gov.cn"]
    home_url: ClassVar[str] = site.BASE_URL
    covered_provinces: ClassVar[tuple[str, ...]] = ("63",)
    page_size: ClassVar[int] = 50
    type_codes: ClassVar[dict[str, tuple[str, ...]]] = site.CATEGORY_CODES
    all_types_code: ClassVar[str] = site.ALL_CATEGORIES

    def portal_region(self) -> str:
        return self.region if self.region and self.region != "630000" else ""

    def build_list_request(self, window: ListWindow) -> scrapy.Request:
        query = window.query
        body = site.search_body(query.keyword, query.type_code, [query.region_code] if query.region_code else [],
                                window.start, window.end, window.page, self.page_size)
        return JsonRequest(site.SEARCH_URL, data=body, headers={"Referer": f"{site.BASE_URL}/"})

    def parse_list(self, response: Response, window: ListWindow) -> ListPage:
        return site.parse_search(response.body)

    def source_key(self, url: str) -> str | None:
        return site.source_key_from_url(url)

    def parse_detail(self, response: Response) -> Iterator[NoticeItem]:
        item = self.with_listing(site.parse_detail(response.body, response.url), response)
        listing = response.meta.get("listing") or {}
        item.notice_type = item.notice_type or site.CATEGORY_TYPES.get(listing.get("type_code", ""), "")
        item.region_text = item.region_text or "青海省"
        yield item
