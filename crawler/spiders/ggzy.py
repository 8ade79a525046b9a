"""全国公共资源交易平台 www.ggzy.gov.cn — the national platform mirroring every province's trading notices."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any, ClassVar, Literal

import scrapy
from scrapy.http import Response

from caigou.crawler.items import NoticeItem
from caigou.crawler.parsers import ggzy as site
from caigou.crawler.parsers.common import ListPage, ListRow, json_block_reason, waf_block_reason
from caigou.crawler.spiders.base import StopCrawl
from caigou.crawler.spiders.patterns import JsonListSpider, ListQuery, ListWindow
from caigou.pipelines.regions import region_by_code


class GgzySpider(JsonListSpider):
    """www.ggzy.gov.cn: government-procurement notices of every province, by date window and province.

    **Domain**: 全国公共资源交易平台, the national public-resources trading platform (政府采购 class only).

    **Ways in**:

    * ``dealList.html`` once, for the session cookies, then the list ``POST …/getTradList`` (form-encoded,
      20 rows a page, JSON ``data.{records, total}``), one query per keyword (``FINDTXT``), stage (``DEAL_STAGE``),
      source type (``SOURCE_TYPE`` 1 provincial platforms, 2 central enterprises, 3 the Ministry of Finance: each
      is asked, as 1 alone misses the others) and 31-day window (``DEAL_TIME=06`` with ``TIMEBEGIN``/``TIMEEND``);
      a window whose total passes the 1,000-result cap, or that the site calls too broad (code 804), is halved
      until it fits;
    * the content pages: the list's ``/html/a/`` wrapper URL with ``/html/b/``, fetched directly; their
      ``#mycontent`` holds the ministry's notice text, a ``table.detail_Table`` of th/td pairs, or compact lines
      (``中标单位:X,中标价格:N``, ``采购单位：X 联系人…``): buyer, agency, project code, supplier and award are read
      from whichever is there (the text first);
    * explicit detail URLs (``url``): ``/a/`` ones are read at ``/b/``.

    **Regions**: every province by ``DEAL_PROVINCE`` (540000 西藏, 630000 青海, 510000 四川 …); a prefecture is
    sent as its province and rows are kept by their ``cityText``.

    **Caveats**: confirmed by other projects' scrapers of 2024–26 and an answer of 2026-10-03: the list's
    endpoint, form fields (DEAL_TIME, FINDTXT, PAGENUMBER, SOURCE_TYPE and its three values), answer shape and codes
    (200/800/801/804/829), the record keys, the 1,000 cap, the /a/ → /b/ pages and their ``detail_Table`` and
    compact-text bodies. Still guesses: the other form fields (DEAL_CITY, isShowAll …), the DEAL_STAGE codes
    (0201 announcements of every method, 0202 awards, 0203 contracts, 0204 corrections), so a method type (tender,
    inquiry …) asks for all 0201 announcements; what 800 (too frequent: waited out and retried) and 829 (captcha:
    the crawl stops, run failed) mean; the detail tables' labels beyond 采购单位/中标单位/中标价格, and bare prices
    being yuan; a keyword with no hits is said to return the unfiltered list, so rows are kept only when their
    title has the keyword and a page 1 without any such row counts as no hits (a hit only in the text is lost);
    the list has no buyer, so ``buyer`` filters the fetched notices; one project appears several times (one record
    per stage and platform); the record ``id`` is taken as the notice ID.
    """

    name = "ggzy"
    allowed_domains: ClassVar[list[str]] = ["ggzy.gov.cn"]
    home_url: ClassVar[str] = site.BASE_URL
    page_size: ClassVar[int] = site.PAGE_SIZE
    result_cap: ClassVar[int | None] = 1000
    type_codes: ClassVar[dict[str, tuple[str, ...]]] = site.STAGE_CODES
    all_types_code: ClassVar[str] = site.ALL_STAGES
    keyword_in_title: ClassVar[bool] = True
    region_filter: ClassVar[Literal["none", "province", "below_province"]] = "province"

    def list_requests(self) -> Iterable[scrapy.Request]:
        # The list page first: it sets the session cookies the API expects.
        yield self.request(site.DEAL_LIST_PAGE, callback=self.after_list_page, meta={"page_kind": "page"})

    def after_list_page(self, response: Response) -> Iterable[scrapy.Request]:
        yield from super().list_requests()

    def queries(self) -> list[ListQuery]:
        """Every query once per source type: SOURCE_TYPE 1 lists the provincial platforms only."""
        return [replace(query, scope=source) for query in super().queries() for source in site.SOURCE_TYPES]

    def build_list_request(self, window: ListWindow) -> scrapy.Request:
        query = window.query
        form = site.list_form(query.keyword, query.type_code, query.region_code, window.start, window.end,
                              window.page, query.scope or "1")
        return scrapy.FormRequest(site.LIST_URL, formdata=form,
                                  headers={"Referer": site.DEAL_LIST_PAGE, "X-Requested-With": "XMLHttpRequest"})

    def parse_list(self, response: Response, window: ListWindow) -> ListPage:
        return site.parse_list(response.body)

    def keep_row(self, row: ListRow, window: ListWindow) -> bool:
        region = region_by_code(self.region) if self.region else None
        if region is None or region.code == region.province_code:
            return True
        text = row.listing.get("region_text", "")
        return region.short_name in text or region.name in text

    def row_request(self, row: ListRow, window: ListWindow) -> scrapy.Request:
        request = super().row_request(row, window)
        stage_type = site.STAGE_TYPES.get(window.query.type_code)
        if stage_type:
            request.meta["listing"]["notice_type"] = stage_type
        return request

    def source_key(self, url: str) -> str | None:
        return site.source_key_from_url(url)

    def detail_request(self, url: str, listing: dict[str, Any] | None = None, key: str | None = None,
                       **kwargs: Any) -> scrapy.Request:
        return super().detail_request(site.content_url(url), listing, key, **kwargs)

    def parse_detail(self, response: Response) -> Iterator[NoticeItem]:
        item = self.with_listing(site.parse_detail(response.body, response.url), response)
        listing = response.meta.get("listing") or {}
        if listing.get("platform"):
            item.fields.setdefault("来源平台", listing["platform"])
        yield item

    def block_reason(self, response: Response, page_kind: str) -> str | StopCrawl | None:
        if page_kind != "list":
            return waf_block_reason(response.body)
        code = site.answer_code(response.body)
        if code == site.CAPTCHA:
            return StopCrawl("captcha", "ggzy asks for a captcha (code 829); open https://www.ggzy.gov.cn/deal/"
                                        "dealList.html in a browser, wait, and crawl again later or more slowly")
        if code == site.TOO_FREQUENT:
            return "too frequent (code 800)"
        return json_block_reason(response.body)
