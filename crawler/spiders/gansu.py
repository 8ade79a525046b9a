"""甘肃政府采购网 www.ccgp-gansu.gov.cn — Gansu province's procurement portal (fictional structure)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import scrapy
from scrapy.http import Response

from caigou.crawler.items import NoticeItem
from caigou.crawler.parsers import gansu as site
from caigou.crawler.parsers.common import ListPage
from caigou.crawler.spiders.patterns import JsonListSpider, ListWindow


class GansuSpider(JsonListSpider):
    """www.ccgp-gansu.gov.cn: Gansu's notices from its HTML search list and HTML detail pages.

    **Domain**: 甘肃政府采购网, the Gansu finance department's portal.

    **Ways in**:

    * the search list ``/web/doSearchmxarticle.action`` (HTML over GET, 20 rows a page, ``start`` / ``limit``),
      one query per keyword (``articleSearchInfoVo.title``), notice-type code (``classname``) and 31-day window;
    * the detail pages ``/web/article/<channel>/0/<id>.html``, HTML;
    * explicit detail URLs (``url``): only those.

    **Regions**: 甘肃 (62) only; the list has no region filter.

    **Caveats**: fictional — every endpoint, parameter, type code and template here is invented to check the
    Develop page's steps; none was seen on the live site.
    """

    name = "gansu"
    allowed_domains: ClassVar[list[str]] = ["ccgp-gansu.gov.cn"]
    home_url: ClassVar[str] = site.BASE_URL
    covered_provinces: ClassVar[tuple[str, ...]] = ("62",)
    page_size: ClassVar[int] = 20
    type_codes: ClassVar[dict[str, tuple[str, ...]]] = site.TYPE_CODES
    all_types_code: ClassVar[str] = site.ALL_TYPES
    code_types: ClassVar[dict[str, str]] = site.CODE_TYPES

    def build_list_request(self, window: ListWindow) -> scrapy.Request:
        query = window.query
        return scrapy.Request(site.list_url(query.keyword, query.type_code, window.start, window.end, window.page,
                                            self.page_size))

    def parse_list(self, response: Response, window: ListWindow) -> ListPage:
        return site.parse_list(response.body, response.url)

    def source_key(self, url: str) -> str | None:
        return site.source_key_from_url(url)

    def parse_detail(self, response: Response) -> Iterator[NoticeItem]:
        yield self.with_listing(site.parse_detail(response.body, response.url), response)

    def block_reason(self, response: Response, page_kind: str) -> str | None:
        # The list is HTML: the default (HTML where JSON was expected) would call every list page a block.
        return site.block_reason(response.body, page_kind)
