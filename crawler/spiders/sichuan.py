"""四川政府采购网 www.ccgp-sichuan.gov.cn — Sichuan's portal (gpcms), for 甘孜, 阿坝 and 木里."""
from __future__ import annotations

import mimetypes
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.http import Response

from caigou.crawler.browser import in_page_meta
from caigou.crawler.items import CrawlErrorItem, NoticeItem
from caigou.crawler.parsers import sichuan as site
from caigou.crawler.parsers.common import ListPage, ListRow, json_block_reason
from caigou.crawler.spiders.base import StopCrawl
from caigou.crawler.spiders.patterns import BrowserListSpider, ListQuery, ListWindow
from caigou.pipelines.regions import code_prefix


def interactive() -> bool:
    """Someone at a terminal who can read a captcha (not a schedule, a pipe or a service)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


class SichuanSpider(BrowserListSpider):
    """www.ccgp-sichuan.gov.cn: Sichuan's notices from the gpcms list (behind an image captcha) and JSON notices.

    **Domain**: 四川政府采购网 (gpcms); Sichuan holds the Tibetan prefectures 甘孜 (513300) and 阿坝 (513200).

    **Ways in**:

    * the captcha image (``…/index/getVerify``): in a terminal it is saved, its path printed, and the code asked
      for; unattended (a schedule, no terminal) the run stops with a captcha error at once;
    * the list ``GET …/info/selectInfoForIndex`` (JSON ``data.{rows, total}``, 10 rows a page) with the code
      (``verifyCode``), one query per notice type (``noticeType``) and 31-day window (``operationStartTime`` /
      ``operationEndTime``), every page of it;
    * the notices ``GET …/info/getInfoById?id=`` (JSON, ``data.content`` is the HTML), linked at their page for
      people ``/maincms-web/article?type=notice&id=``;
    * explicit ``getInfoById`` or ``maincms-web/article`` URLs (``url``): only those.

    **Regions**: 四川 (51) only; the list takes no region, so rows are kept by their ``regionCode``.

    **Caveats**: confirmed by a capture of 2026-03-14: both endpoints, the list's parameters and 10-row page, the
    row and notice keys (``author`` holds the buyer, there is no ``purchaser``), the site and channel IDs, and that
    every list request needs a captcha answer and headers (``nsssjss``, ``sign``, ``time``, ``url``) computed by the
    site's JavaScript. Guesses: the captcha's path, that one answer serves a whole crawl, what a refused code looks
    like (an answer whose message names 验证码: the run stops), and the signing: the plain HTTP client sends no
    signature (the site may refuse it); with ``CAIGOU_BROWSER=1`` every list request is made from inside the site's
    page (``/maincms-web/index``) in Chromium, on the guess that the site's script signs the XMLHttpRequests made
    there. The list takes no keyword: ``keyword`` keeps rows whose title has it. The noticeType codes besides 59
    are FreeCMS's; bare budgets are taken as yuan.
    """

    name = "sichuan"
    allowed_domains: ClassVar[list[str]] = ["ccgp-sichuan.gov.cn"]
    home_url: ClassVar[str] = site.BASE_URL
    covered_provinces: ClassVar[tuple[str, ...]] = ("51",)
    page_size: ClassVar[int] = site.PAGE_SIZE
    paging: ClassVar[Literal["pages", "time"]] = "pages"
    type_codes: ClassVar[dict[str, tuple[str, ...]]] = site.TYPE_CODES
    code_types: ClassVar[dict[str, str]] = site.CODE_TYPES
    all_types_code: ClassVar[str] = ""

    verify_code: str = ""

    def signed(self, url: str, callback: Any, binary: bool = False, **meta: Any) -> scrapy.Request:
        """A request the site's script must sign: through the browser, made from inside the site's page."""
        if not self.use_browser:
            return scrapy.Request(url, callback=callback, errback=self.on_error, meta=meta, dont_filter=True)
        return scrapy.Request(site.SIGNING_PAGE, callback=callback, errback=self.on_error, dont_filter=True,
                              meta={**meta, **in_page_meta(site.SIGNING_PAGE, url, binary)})

    # ------------------------------------------------------------------------------------------ the captcha

    def list_requests(self) -> Iterable[scrapy.Request]:
        yield self.signed(f"{site.CAPTCHA_URL}?_t={int(time.time() * 1000)}", self.after_captcha, binary=True,
                          page_kind="captcha")

    def after_captcha(self, response: Response) -> Iterator[Any]:
        """Only reached with someone at the terminal (``block_reason`` stops an unattended run)."""
        path = self.save_captcha(response)
        print(f"sichuan: the list needs the code shown in the captcha image {path}", flush=True)
        try:
            code = input("sichuan: captcha code (empty to stop): ").strip()
        except EOFError:
            code = ""
        if not code:
            message = "no captcha code was given; the list cannot be read without one"
            self.crawler.stats.set_value("caigou/stop_reason", "captcha")
            self.crawler.stats.set_value("caigou/stop_message", message)
            yield CrawlErrorItem(response.url, "captcha", message, self.item_sha256(response))
            raise CloseSpider("captcha")
        self.verify_code = code
        yield from super().list_requests()

    def save_captcha(self, response: Response) -> Path:
        folder = Path(self.settings.get("CAIGOU_CAPTCHA_DIR") or tempfile.gettempdir())
        folder.mkdir(parents=True, exist_ok=True)
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1").split(";")[0].strip()
        suffix = mimetypes.guess_extension(content_type) or ".png"
        descriptor, name = tempfile.mkstemp(prefix="caigou-sichuan-captcha-", suffix=suffix, dir=folder)
        with os.fdopen(descriptor, "wb") as file:
            file.write(response.body)
        return Path(name)

    # ------------------------------------------------------------------------------------------ the list

    def queries(self) -> list[ListQuery]:
        """One query per notice type: the list takes neither keyword nor region (they filter the rows)."""
        codes = [code for t in self.notice_types for code in self.type_codes.get(t, ())] or [self.all_types_code]
        return [ListQuery(type_code=code) for code in dict.fromkeys(codes)]

    def build_list_request(self, window: ListWindow) -> scrapy.Request:
        url = site.list_url(window.query.type_code, window.start, window.end, window.page, self.verify_code)
        return self.signed(f"{url}&_t={int(time.time() * 1000)}", self.parse)

    def parse_list(self, response: Response, window: ListWindow) -> ListPage:
        return site.parse_list(response.body)

    def keep_row(self, row: ListRow, window: ListWindow) -> bool:
        if self.keywords and not any(k.casefold() in row.title.casefold() for k in self.keywords):
            return False
        code = row.listing.get("region_code", "")
        if self.region and self.region[2:] != "0000" and code:
            return code.startswith(code_prefix(self.region))
        return True

    # ------------------------------------------------------------------------------------------ notices

    def source_key(self, url: str) -> str | None:
        return site.source_key_from_url(url)

    def detail_request(self, url: str, listing: dict[str, Any] | None = None, key: str | None = None,
                       **kwargs: Any) -> scrapy.Request:
        key = key or self.source_key(url)
        if key and "maincms-web/article" in url:
            url = site.detail_url(key)  # the page for people is a script; the notice is the API's
        return super().detail_request(url, listing, key, **kwargs)

    def parse_detail(self, response: Response) -> Iterator[NoticeItem]:
        yield self.with_listing(site.parse_detail(response.body, response.url), response)

    def block_reason(self, response: Response, page_kind: str) -> str | StopCrawl | None:
        if page_kind == "captcha":
            if not (response.headers.get("Content-Type") or b"").startswith(b"image/"):
                return json_block_reason(response.body) or "no captcha image where one was expected"
            if not interactive():
                return StopCrawl("captcha", "sichuan's list needs the code of an image captcha and no one is at a "
                                            "terminal to read it; run `caigou crawl sichuan` in a terminal")
            return None
        if page_kind == "list" and (refused := site.captcha_refused(response.body)):
            return StopCrawl("captcha", f"sichuan did not accept the captcha code ({refused}); crawl again in a "
                                        "terminal and type the code the image shows")
        return json_block_reason(response.body)  # every other answer of this site is JSON
