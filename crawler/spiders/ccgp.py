"""中国政府采购网 www.ccgp.gov.cn — the national portal, carrying central and local notices of every province."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Literal

import scrapy
from scrapy.http import Response

from caigou.crawler.items import NoticeItem
from caigou.crawler.parsers import ccgp as site
from caigou.crawler.parsers.common import ListPage, ListRow
from caigou.crawler.spiders.patterns import JsonListSpider, ListWindow
from caigou.models.errors import NormaliseError
from caigou.pipelines.normalise import parse_published
from caigou.pipelines.regions import region_by_code

# Normalised notice type → the search's bidType codes (中标 and 成交 are both awards).
BID_TYPES: dict[str, tuple[int, ...]] = {
    "tender": (1,), "inquiry": (2,), "negotiation": (3,), "single_source": (4,), "prequalification": (5,),
    "invitation": (6,), "award": (7, 11), "correction": (8,), "other": (9,), "consultation": (10,),
    "termination": (12,),
}
# Normalised notice type → the channel lists' URL segments.
CHANNEL_SEGMENTS: dict[str, tuple[str, ...]] = {
    "tender": ("gkzb",), "consultation": ("jzxcs",), "negotiation": ("jzxtpgg",), "inquiry": ("xjgg",),
    "single_source": ("dylygg",), "invitation": ("yqzbgg",), "prequalification": ("zgysgg",),
    "award": ("zbgg", "cjgg"), "correction": ("gzgg",), "termination": ("fblbgg",), "other": ("qtgg",),
}


class CcgpSpider(JsonListSpider):
    """www.ccgp.gov.cn, three ways in.

    **Domain**: 中国政府采购网, the Ministry of Finance's national procurement portal.

    **Ways in**:

    * keyword search (``bxsearch``) when keywords or a buyer are given: one query per keyword, notice type and
      date window, on the shared windowed-list base (``spiders/patterns.py``): a window whose total exceeds
      ``CAIGOU_CCGP_SEARCH_CAP`` is split until it fits (a single day over the cap is a warning, the stat
      ``caigou/windows_truncated`` and a ``truncated`` crawl error);
    * the keyword-free channel lists (地方公告 ``dfgg`` and 中央公告 ``zygg``, one list per type) otherwise: paged
      newest first until the window's start is passed;
    * explicit detail URLs (``url``): only those.

    **Regions**: every province (the search's ``zoneId`` with the province's name as ``displayZone``: 54 西藏自治区,
    63 青海省, 51 四川省 …); a prefecture is searched as its province.

    **Caveats**: search results are capped and rate-limited (the cap's size is a guess: 1,000 results); a
    rate-limited search answers a short "频繁访问" page and a blocked detail page is titled "安全验证"; search result
    links may be obfuscated (``var ohtmlurls``); the search takes a province as zoneId (54 = 西藏, inferred from
    other provinces' codes, not confirmed); the channel lists carry no region filter, so ``region`` filters their
    rows by the region text they show. Attachments (``a.bizDownload`` → ``https://download.ccgp.gov.cn/oss/
    download?uuid=…``, and ``ul.fjxx`` links) are fetched with a plain GET: that the download host answers one
    without the page's script, cookies or a referer is a guess, as is that it answers errors as HTML (which is
    then checked for block pages like any page).
    """

    name = "ccgp"
    allowed_domains: ClassVar[list[str]] = ["ccgp.gov.cn"]
    home_url: ClassVar[str] = "http://www.ccgp.gov.cn"
    window_days: ClassVar[int] = 31
    # The search: bidType codes by type (0 lists every type), the province as its region, the buyer filtered by the
    # site, and a cap on results one query reaches (a guess: CAIGOU_CCGP_SEARCH_CAP adjusts it).
    page_size: ClassVar[int] = site.SEARCH_PAGE_SIZE
    result_cap: ClassVar[int | None] = 1000
    result_cap_setting: ClassVar[str] = "CAIGOU_CCGP_SEARCH_CAP"
    type_codes: ClassVar[dict[str, tuple[str, ...]]] = {t: tuple(map(str, codes)) for t, codes in BID_TYPES.items()}
    all_types_code: ClassVar[str] = "0"
    region_filter: ClassVar[Literal["none", "province", "below_province"]] = "province"
    filters_buyer: ClassVar[bool] = True
    list_kind: ClassVar[str] = "search"
    scopes: ClassVar[tuple[str, ...]] = ("dfgg", "zygg")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.search_mode = bool(self.keywords or self.buyer)

    # ------------------------------------------------------------------------------------------ search

    def list_requests(self) -> Iterable[scrapy.Request]:
        if self.search_mode:
            yield from super().list_requests()  # the windowed search: JsonListSpider's machinery
        else:
            yield from self.channel_requests()

    def build_list_request(self, window: ListWindow) -> scrapy.Request:
        # The search filters by province only: zoneId is its 2-digit code and displayZone its name. A prefecture
        # (540600 那曲市) is asked as its province (54 西藏自治区) — never a prefecture's name beside a province's
        # code — so its notices come with the rest of the province's.
        query = window.query
        province = region_by_code(query.region_code) if query.region_code else None
        url = site.build_search_url(query.keyword, window.start, window.end, window.page,
                                    zone_id=province.code[:2] if province else "",
                                    zone_name=province.name if province else "", bid_type=int(query.type_code),
                                    buyer=self.buyer)
        return self.request(url, callback=self._list)

    def parse_list(self, response: Response, window: ListWindow) -> ListPage:
        page = site.parse_search_page(response.text, response.url)
        rows = [ListRow(url=row.url, key=site.source_key_from_url(row.url) or "", title=row.title,
                        published_text=row.published_text,
                        listing={"buyer": row.buyer, "agency": row.agency, "region_text": row.region_text,
                                 "notice_type_label": row.type_label, "pinmu": row.pinmu})
                for row in page.rows]
        return ListPage(total=page.total, rows=rows, page_count=page.page_count)

    # ------------------------------------------------------------------------------------------ channels

    def channel_requests(self) -> Iterator[scrapy.Request]:
        segments = [s for t in (self.notice_types or CHANNEL_SEGMENTS) for s in CHANNEL_SEGMENTS[t]]
        for scope in self.scopes:
            for segment in segments:
                yield self.channel_request(scope, segment, 0)

    def channel_request(self, scope: str, segment: str, page: int) -> scrapy.Request:
        return self.request(site.channel_url(scope, segment, page), callback=self.parse_channel,
                            meta={"page_kind": "channel", "channel": (scope, segment, page)})

    def parse_channel(self, response: Response) -> Iterator[scrapy.Request]:
        scope, segment, number = response.meta["channel"]
        page = site.parse_channel_page(response.text, response.url)
        assert self.since is not None
        oldest: dt.date | None = None
        for row in page.rows:
            try:
                published = parse_published(row.published_text)
            except NormaliseError:
                published = None
            day = published.date() if published else None
            if day is not None:
                oldest = day if oldest is None else min(oldest, day)
                if not self.since <= day <= self.until:
                    continue
            if self.region and not self._in_region(row.region_text):
                continue
            yield self.detail_request(row.url, listing={"published_text": row.published_text,
                                                        "region_text": row.region_text})
        # Lists run newest first: once a page reaches back before the window, later pages are older still.
        if page.rows and number + 1 < page.page_count and (oldest is None or oldest >= self.since):
            yield self.channel_request(scope, segment, number + 1)

    def _in_region(self, region_text: str) -> bool:
        region = region_by_code(self.region) if self.region else None
        return region is None or region.short_name in region_text or region.name in region_text

    # ------------------------------------------------------------------------------------------ details

    def source_key(self, url: str) -> str | None:
        return site.source_key_from_url(url)

    def parse_detail(self, response: Response) -> Iterator[NoticeItem]:
        item = site.parse_detail(response.body, response.url)
        item.raw_sha256 = self.item_sha256(response)
        listing = response.meta.get("listing") or {}
        # The list row knows facts some detail templates leave out.
        item.published_text = item.published_text or listing.get("published_text", "")
        item.region_text = item.region_text or listing.get("region_text", "")
        item.buyer = item.buyer or listing.get("buyer", "")
        item.agency = item.agency or listing.get("agency", "")
        if listing.get("pinmu"):
            item.extra["pinmu"] = listing["pinmu"]
        yield item

    def block_reason(self, response: Response, page_kind: str) -> str | None:
        return site.block_reason(response.body, page_kind)
