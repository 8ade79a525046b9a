"""The base every portal's spider stands on: the same arguments everywhere, date windows, detail requests,
block detection and error recording, so a portal's spider only describes its site.

Recipe for a new portal (see ``ccgp.py``):

1. Subclass ``NoticeSpider``; set ``name`` (the source's name), ``allowed_domains`` and the class docstring's
   **Domain** and **Caveats**.
2. Write ``list_requests()``: the requests that list notices for ``self.since``..``self.until``, using
   ``self.date_windows()`` and ``self.keywords``, ``self.region``, ``self.notice_types``, ``self.buyer``.
3. Write the list callbacks: yield ``self.detail_request(url, key)`` for each notice, and the next pages.
4. Write ``parse_detail(response)``: yield a ``crawler.items.NoticeItem`` (``self.item_sha256(response)`` as
   ``raw_sha256``), or let a ``ParseError`` out: it is recorded and the crawl goes on.
5. Write ``block_reason(response, page_kind)``: a short reason when the page is a block page, else None — or a
   ``StopCrawl`` for a block that waiting will not lift (a captcha): the source then stops at once.

A portal whose list is paged over date windows (a JSON API, or a search like ccgp's) subclasses
``crawler.spiders.patterns.JsonListSpider`` instead and only describes its requests and answers (see ``xizang.py``).

The class docstring is what ``caigou sources`` shows: a first line, then sections ``**Domain**:``, ``**Ways in**:``,
``**Regions**:`` and ``**Caveats**:`` (every guess about the live site goes in the caveats).

Every spider takes: ``since``, ``until`` (YYYY-MM-DD), ``keyword`` (repeatable or comma-separated), ``region``
(a code such as 54 or 540000), ``type`` (normalised notice types: award, tender, …), ``buyer``, ``url``
(explicit detail URLs: only those are fetched) — ``scrapy crawl ccgp -a since=2024-01-01 -a keyword=DNA,Y-STR``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from caigou.crawler.attachments import AttachmentFetching
from caigou.crawler.failures import error_name, failed_request, http_error_response
from caigou.crawler.items import CrawlErrorItem, NoticeItem
from caigou.crawler.parsers.common import ParseError
from caigou.models import NOTICE_TYPES
from caigou.models.errors import CaigouError
from caigou.models.types import SHANGHAI
from caigou.pipelines.normalise import parse_date_arg
from caigou.pipelines.regions import region_by_code, resolve_region

logger = logging.getLogger(__name__)


# What every NoticeSpider takes (``-a NAME=VALUE``), and the spider attributes Scrapy's own components read that a
# user may set the same way; names starting with "_" are tools' own (scrapyd's ``_job``).
SPIDER_ARGUMENTS = ("since", "until", "keyword", "region", "type", "buyer", "url")
SCRAPY_SPIDER_ARGUMENTS = frozenset({"name", "download_delay", "max_concurrent_requests", "user_agent", "http_user",
                                     "http_pass", "http_auth_domain", "handle_httpstatus_list",
                                     "handle_httpstatus_all"})


def as_list(value: str | Iterable[str] | None) -> list[str]:
    """Spider arguments arrive as "a,b" from ``scrapy crawl -a`` and as lists from ``caigou crawl``."""
    if value is None:
        return []
    values = value.split(",") if isinstance(value, str) else list(value)
    return [v.strip() for v in values if v and v.strip()]


def today() -> dt.date:
    return dt.datetime.now(SHANGHAI).date()


@dataclass(frozen=True)
class StopCrawl:
    """What ``block_reason`` returns for a block that waiting will not lift (a captcha): the page is archived and
    recorded as a CrawlError of kind ``reason``, and the crawl closes with ``reason`` (its run fails with
    ``message``) instead of retrying."""

    reason: str      # the close reason and the CrawlError kind, e.g. "captcha"
    message: str     # one line for the operator: what happened and what to do


class NoticeSpider(AttachmentFetching, scrapy.Spider):
    """A spider of procurement notices over a date window (see the module docstring for the recipe); it fetches
    its notices' attachments too (``crawler.attachments``)."""

    # Days in one list query before the portal's result cap bites; a spider may split further when told a total.
    window_days: ClassVar[int] = 31
    # The portal's home, for ``caigou sources``.
    home_url: ClassVar[str] = ""
    # Province codes (2 digits) the portal covers; empty: all of China. A region outside them is a one-line error.
    covered_provinces: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> NoticeSpider:
        """``scrapy crawl NAME -a …``: a bad or unknown argument is one line on stderr and exit status 2, before the
        crawl starts (``caigou crawl`` checks its options the same way before it gets here)."""
        try:
            return super().from_crawler(crawler, *args, **kwargs)
        except CaigouError as exc:
            print(f"{cls.name}: error: {exc}", file=sys.stderr, flush=True)
            # Not an exception Scrapy would log with its traceback: the process ends here, as a usage error does.
            raise SystemExit(2) from None

    def __init__(self, since: str | None = None, until: str | None = None,
                 keyword: str | list[str] | None = None, region: str | None = None,
                 type: str | list[str] | None = None, buyer: str | None = None,  # `type`: the Scrapy argument name
                 url: str | list[str] | None = None, **kwargs: Any) -> None:
        unknown = sorted(key for key in kwargs if key not in SCRAPY_SPIDER_ARGUMENTS and not key.startswith("_"))
        if unknown:
            # A misspelt filter (keywords=DNA) would otherwise become a spider attribute and the crawl would run
            # unfiltered, quietly.
            raise CaigouError(f"unknown argument(s) {', '.join(unknown)}; {self.name} takes "
                              f"{', '.join(SPIDER_ARGUMENTS)}")
        super().__init__(**kwargs)
        arguments = self.parse_arguments(since=since, until=until, keyword=keyword, region=region, type=type,
                                         buyer=buyer, url=url)
        self.until: dt.date = arguments["until"]
        self.since: dt.date | None = arguments["since"]
        self.keywords: list[str] = arguments["keywords"]
        self.region: str | None = arguments["region"]
        self.notice_types: list[str] = arguments["notice_types"]
        self.buyer: str = arguments["buyer"]
        self.urls: list[str] = arguments["urls"]
        # Without --since the start comes from the watermark (CrawlRecorder sets it when the crawl opens).
        self.needs_since = self.since is None and not self.urls

    @classmethod
    def parse_arguments(cls, since: str | None = None, until: str | None = None,
                        keyword: str | list[str] | None = None, region: str | None = None,
                        type: str | list[str] | None = None, buyer: str | None = None,
                        url: str | list[str] | None = None) -> dict[str, Any]:
        """Validate the arguments; a bad value is a CaigouError with a one-line message."""
        until_date = parse_date_arg(until, "until") if until else today()
        since_date = parse_date_arg(since, "since") if since else None
        if since_date and since_date > until_date:
            raise CaigouError(f"since {since_date} is after until {until_date}")
        region_code = None
        if region:
            known = region_by_code(region)
            region_code = known.code if known else resolve_region(region)[0]
            if region_code is None:
                raise CaigouError(f"unknown region {region!r}: give a code such as 54 or 540600, or a name")
            if cls.covered_provinces and region_code[:2] not in cls.covered_provinces:
                raise CaigouError(f"{cls.name} covers only the province(s) {', '.join(cls.covered_provinces)}; "
                                  f"region {region} is outside them")
        types = as_list(type)
        unknown = [t for t in types if t not in NOTICE_TYPES]
        if unknown:
            raise CaigouError(f"unknown notice type {', '.join(unknown)}; known: {', '.join(NOTICE_TYPES)}")
        urls = as_list(url)
        for value in urls:
            if not value.startswith(("http://", "https://")):
                raise CaigouError(f"not a web address: {value!r}")
            host = (urlsplit(value).hostname or "").lower()
            domains = list(getattr(cls, "allowed_domains", None) or [])
            if domains and not any(host == d or host.endswith("." + d) for d in domains):
                # Scrapy's offsite filter would drop it silently and the run would "succeed" with nothing.
                raise CaigouError(f"{value} is not on {cls.name}'s portal ({', '.join(domains)}); "
                                  "see `caigou sources` for which source crawls which site")
        return {"since": since_date, "until": until_date, "keywords": as_list(keyword), "region": region_code,
                "notice_types": types, "buyer": (buyer or "").strip(), "urls": urls}

    # ------------------------------------------------------------------------------------------ bookkeeping

    def query_key(self) -> str:
        """What identifies "the same query" for the watermark: everything but the dates."""
        parts = [f"kw={'|'.join(sorted(self.keywords))}", f"region={self.region or ''}",
                 f"type={'|'.join(sorted(self.notice_types))}", f"buyer={self.buyer}"]
        return ";".join(parts)

    def run_arguments(self) -> dict[str, Any]:
        return {"since": self.since.isoformat() if self.since else None, "until": self.until.isoformat(),
                "keywords": self.keywords, "region": self.region, "types": self.notice_types,
                "buyer": self.buyer, "urls": self.urls}

    def date_windows(self, days: int | None = None) -> Iterator[tuple[dt.date, dt.date]]:
        """[since, until] cut into consecutive inclusive windows of at most ``days`` days, newest first."""
        assert self.since is not None, "since is resolved when the crawl opens"
        size = dt.timedelta(days=days or self.window_days)
        end = self.until
        while end >= self.since:
            start = max(self.since, end - size + dt.timedelta(days=1))
            yield start, end
            end = start - dt.timedelta(days=1)

    @staticmethod
    def split_window(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
        """Halve a window whose results the portal caps; a single day cannot be split."""
        if start >= end:
            return [(start, end)]
        middle = start + (end - start) // 2
        return [(start, middle), (middle + dt.timedelta(days=1), end)]

    # ------------------------------------------------------------------------------------------ requests

    async def start(self) -> AsyncIterator[Any]:
        requests = (self.detail_request(url) for url in self.urls) if self.urls else self.list_requests()
        for request in requests:
            yield request

    def list_requests(self) -> Iterable[scrapy.Request]:
        raise NotImplementedError

    def source_key(self, url: str) -> str | None:
        """The source's own notice ID as read from a detail URL, if the URL carries it."""
        return None

    def detail_request(self, url: str, listing: dict[str, Any] | None = None, key: str | None = None,
                       **kwargs: Any) -> scrapy.Request:
        """A detail page's request; ``key`` (the portal's notice ID, else read from the URL) lets a stored notice
        be skipped without fetching it again."""
        meta = {"page_kind": "detail", "listing": listing or {}}
        key = key or self.source_key(url)
        if key is not None:
            meta["notice_key"] = key
        return self.request(url, callback=self._detail, meta=meta, **kwargs)

    def request(self, url: str, callback: Callable[..., Any], **kwargs: Any) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.on_error, **kwargs)

    def _detail(self, response: Response) -> Iterator[Any]:
        """The notices of a detail page. An exception is recorded by ``UnreadablePageMiddleware``; a page reached by
        a redirect is stored only if it is the notice asked for (same notice ID), never notice B under A's URL."""
        redirected = response.meta.get("redirect_urls") or []
        for item in self.parse_detail(response):
            if redirected and isinstance(item, NoticeItem):
                asked = redirected[0]
                expected = str(response.meta.get("notice_key") or self.source_key(asked) or "")
                if not expected or item.source_key != expected:
                    shown = f"notice {item.source_key}" if item.source_key else "a page without a notice ID"
                    wanted = f"notice {expected}" if expected else "a notice whose ID the address does not give"
                    yield CrawlErrorItem(asked, "redirect", f"redirected to {response.url}, which is {shown}, not "
                                         f"{wanted}; not stored", self.item_sha256(response), page_url=response.url)
                    continue
            yield item

    def parse_detail(self, response: Response) -> Iterator[NoticeItem]:
        raise NotImplementedError

    @staticmethod
    def item_sha256(response: Response) -> str:
        return hashlib.sha256(response.body).hexdigest()

    def block_reason(self, response: Response, page_kind: str) -> str | StopCrawl | None:
        """Why ``response`` (a ``page_kind`` page: search, channel, list, detail…) is a block page, or None; a
        ``StopCrawl`` when the source must stop at once (a captcha)."""
        return None

    def on_error(self, failure: Failure) -> Iterator[Any]:
        """A request that failed for good (DNS, refused, timeout, HTTP error): one line, recorded, counted as a
        failed page (the run then ends "partial" or "failed" and keeps its watermark), go on."""
        request = failed_request(failure)
        if failure.check(HttpError):  # before IgnoreRequest, which it subclasses
            # Scrapy's HttpErrorMiddleware turns a 404 or a 5xx (after its retries) into an IgnoreRequest; it is
            # a page of the window not read, so it must count, or the watermark would pass over it.
            response = http_error_response(failure)
            message = f"HTTP {response.status} for a {request.meta.get('page_kind', 'detail')} page"
            self.crawler.stats.inc_value("caigou/http_errors")
            count_failed_page(self.crawler.stats, request)
            logger.error("could not fetch %s: %s", request.url, message)
            # The error page itself was archived when it arrived: the sha256 links the error to it.
            yield CrawlErrorItem(request.url, "http", message, self.item_sha256(response),
                                 page_url=response.url)
            return
        if failure.check(IgnoreRequest):
            return  # already counted where it was decided (stored notice, block page given up)
        # The first line: a browser's errors go on with a multi-line call log.
        reason = (failure.getErrorMessage() or error_name(failure)).strip().splitlines()[0]
        self.crawler.stats.inc_value("caigou/download_errors")
        self.crawler.stats.set_value("caigou/last_download_error", f"{error_name(failure)}: {reason}")
        count_failed_page(self.crawler.stats, request)
        logger.error("could not fetch %s: %s", request.url, reason)
        yield CrawlErrorItem(request.url, "download", f"{error_name(failure)}: {reason}")


def unreadable_page(response: Response, exc: Exception, what: str = "") -> CrawlErrorItem:
    """The recorded error for a fetched page that could not be read (``what``: which page, for the message). A
    ParseError is expected (a changed template, a block page); anything else is a parser bug, logged with its
    traceback. The storage step counts it as a page not read (``crawler.pipelines.UNREAD_KINDS``)."""
    if isinstance(exc, ParseError):
        reason = str(exc)
        logger.warning("could not parse %s: %s", response.url, reason)
    else:
        reason = f"unexpected answer ({type(exc).__name__}: {exc})"
        logger.error("could not parse %s", response.url, exc_info=exc)
    asked = response.request.url if response.request is not None else response.url
    return CrawlErrorItem(asked, "parse", f"{what}: {reason}" if what else reason,
                          hashlib.sha256(response.body).hexdigest(), page_url=response.url)


def count_failed_page(stats: Any, request: scrapy.Request) -> None:
    """A list or detail request that gave no page (HTTP error, network error, blocked for good): the run cannot
    call its window done. Attachments are apart: their failures are statuses retried by ``attachments fetch``."""
    if request.meta.get("page_kind") != "attachment":
        stats.inc_value("caigou/pages_failed")
