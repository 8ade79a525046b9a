"""西藏自治区政府采购网 www.ccgp-xizang.gov.cn — the Tibet Autonomous Region's own procurement portal."""
from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar, Literal

import scrapy
from scrapy.http import Response

from caigou.crawler.items import NoticeItem
from caigou.crawler.parsers import xizang as site
from caigou.crawler.parsers.common import ListPage
from caigou.crawler.spiders.patterns import JsonListSpider, ListWindow


class XizangSpider(JsonListSpider):
    """www.ccgp-xizang.gov.cn: the TAR's notices from its FreeCMS JSON list and HTML detail pages.

    **Domain**: 西藏自治区政府采购网, the TAR finance department's portal (FreeCMS).

    **Ways in**:

    * the notice list ``/freecms/rest/v1/notice/selectInfoMoreChannel.do`` (JSON over GET, 100 rows a page), one
      query per keyword (``noticeName``, a title filter), notice-type code (``noticeType``) and 31-day window
      (``operationStartTime`` / ``operationEndTime``), every page of it;
    * the detail pages (host + ``pageurl``), HTML; the buyer, agency and budget come from the list's
      ``fieldValues`` (``f_purchaser``, ``f_agency``, ``f_budget``) when it has them, else from the page;
    * explicit detail URLs (``url``): only those.

    **Regions**: 西藏 (54) only; a prefecture or county (e.g. 540600 那曲市) is sent as ``cityOrArea``.

    **Caveats**: confirmed by six public spiders (2019–22): the list endpoint, its siteId and channel, and the
    row keys (``total``, ``data[]``, ``pageurl``/``htmlpath``, ``addtime``, ``fieldValues.f_noticeTime``); a 2025 URL
    confirms the detail pages' layout (``/freecms/site/xizang/ggxx/info/<year>/<32 hex>.html``, served over https).
    Not seen on the live site: the date bounds' format (``YYYY-MM-DD HH:MM:SS``), ``cityOrArea`` taking a 6-digit
    region code, ``%`` meaning every notice type, that plain http still answers (the spider keeps it; the 2025 URL
    is https), and the ``fieldValues`` (f_purchaser, f_budget in yuan, f_agency,
    f_noticeTypeName) seen on other FreeCMS sites are guesses; no result cap is known, so windows are not split; the
    detail template (``div.notice-hear h2``, ``div#print-content div.notice-con``, older ``div.noticeArea`` /
    ``div.wangedit``) is from notes, and the publication time falls back to the list's ``f_noticeTime``; the
    notice ID is the row's ``id`` (taken to be the 32-hex name of the page); if FreeCMS stops answering the site may
    have moved to gpcms (``/gpcms/rest/web/v2/…``, as Sichuan's).
    """

    name = "xizang"
    allowed_domains: ClassVar[list[str]] = ["ccgp-xizang.gov.cn"]
    home_url: ClassVar[str] = site.BASE_URL
    covered_provinces: ClassVar[tuple[str, ...]] = ("54",)
    page_size: ClassVar[int] = 100
    type_codes: ClassVar[dict[str, tuple[str, ...]]] = site.TYPE_CODES
    all_types_code: ClassVar[str] = site.ALL_TYPES
    code_types: ClassVar[dict[str, str]] = site.CODE_TYPES
    region_filter: ClassVar[Literal["none", "province", "below_province"]] = "below_province"

    def build_list_request(self, window: ListWindow) -> scrapy.Request:
        query = window.query
        url = site.list_url(query.keyword, query.type_code, query.region_code, window.start, window.end, window.page,
                            self.page_size)
        # The site's own page sends this header with the GET (it answers HTML without it, say the notes).
        return scrapy.Request(url, headers={"Content-Type": "application/json;charset=utf-8",
                                            "X-Requested-With": "XMLHttpRequest"})

    def parse_list(self, response: Response, window: ListWindow) -> ListPage:
        return site.parse_list(response.body, response.url)

    def source_key(self, url: str) -> str | None:
        return site.source_key_from_url(url)

    def parse_detail(self, response: Response) -> Iterator[NoticeItem]:
        item = site.parse_detail(response.body, response.url)
        listing = response.meta.get("listing") or {}
        # The list's fields (f_purchaser, f_agency, f_budget) are the site's own data: they win over what is read
        # off the page's text, which fills in where the list has none.
        for name in ("buyer", "agency", "budget_text"):
            if listing.get(name):
                setattr(item, name, str(listing[name]))
        yield self.with_listing(item, response)
