"""Downloader middlewares: leave stored notices alone, retry with back-off, recognise block pages for what they are,
and record redirects that lead away from the portal; a spider middleware that records any page a callback trips
over."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn
from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import HtmlResponse, Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.response import get_meta_refresh

from caigou.crawler.crawl_context import CrawlContext
from caigou.crawler.parsers.common import captcha_reason, waf_block_reason
from caigou.crawler.spiders.base import StopCrawl, count_failed_page, unreadable_page
from caigou.pipelines.attachments import sniff

logger = logging.getLogger(__name__)


def request_line(request: Request) -> str:
    """``POST <body>``: archived beside the answer to a POST, which is evidence only with what was asked."""
    return f"{request.method} {request.body.decode('utf-8', 'replace')}"[:4000]


class SkipStoredMiddleware:
    """A detail request for a notice already stored is not sent again, unless the crawl refreshes.

    Spiders mark detail requests with ``meta["notice_key"]`` (the source's own ID), so this works for every portal.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.refresh = crawler.settings.getbool("CAIGOU_REFRESH")

    @classmethod
    def from_crawler(cls, crawler: Any) -> SkipStoredMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        key = request.meta.get("notice_key")
        if key is None or self.refresh:
            return
        context = CrawlContext.for_crawler(self.crawler)
        if context.store.has_notice(context.source, str(key)):
            self.crawler.stats.inc_value("caigou/skipped_stored")
            raise IgnoreRequest(f"already stored: {context.source} {key}")


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries of transient failures (5xx, timeouts, refused connections), but not at once: a retry waits
    ``CAIGOU_RETRY_BACKOFF`` seconds, doubled for each further try (at most ``CAIGOU_RETRY_BACKOFF_MAX``). A
    struggling server that is asked again at once only struggles more, and these portals ban fast clients.

    The wait is ``await``ed when the retried request comes back to the downloader (``process_request``), so the
    reactor and the other requests go on meanwhile.
    """

    DELAY_KEY = "caigou_retry_delay"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.backoff = settings.getfloat("CAIGOU_RETRY_BACKOFF")
        self.backoff_max = settings.getfloat("CAIGOU_RETRY_BACKOFF_MAX")

    # Scrapy (2.13+) deprecates the spider argument and warns when it is passed; its signature keeps it optional.
    def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        return self._delayed(super().process_response(request, response))

    def process_exception(  # type: ignore[override]  # as process_response: no spider argument
            self, request: Request, exception: Exception) -> Request | Response | None:
        return self._delayed(super().process_exception(request, exception))

    def _delayed(self, result: Any) -> Any:
        """A retry (a Request, where Scrapy's middleware decided to try again) carries its wait."""
        if isinstance(result, Request) and self.backoff > 0:
            tries = int(result.meta.get("retry_times", 1))
            result.meta[self.DELAY_KEY] = min(self.backoff * 2 ** (tries - 1), self.backoff_max)
        return result

    async def process_request(self, request: Request) -> None:
        delay = request.meta.pop(self.DELAY_KEY, 0)
        if delay:
            logger.info("waiting %.1f s before retrying %s", delay, request.url)
            await asyncio.sleep(delay)


def retry_after_seconds(value: bytes | None) -> float | None:
    """A Retry-After header's wait: seconds, or an HTTP date; None when absent or unreadable."""
    text = (value or b"").decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text) if text else None
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


class BlockPageMiddleware:
    """Block pages and 429s: archived as evidence, counted, waited out, retried — never parsed as notices.

    The spider says what a block looks like (``spider.block_reason(response, page_kind) -> str | None``). After
    ``CAIGOU_BLOCK_RETRIES`` blocks in a row for one request it is given up; after ``CAIGOU_BLOCK_GIVE_UP`` requests
    given up, the crawl stops with the reason ``blocked`` and its run is recorded as failed. A block the spider
    calls final (a ``StopCrawl``: a captcha), and a slider captcha on any page, are not retried: the crawl stops at
    once with its reason.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.backoff = settings.getfloat("CAIGOU_BLOCK_BACKOFF")
        self.retries = settings.getint("CAIGOU_BLOCK_RETRIES")
        self.give_up_after = settings.getint("CAIGOU_BLOCK_GIVE_UP")
        self.retry_after_max = settings.getfloat("CAIGOU_RETRY_AFTER_MAX")
        self.given_up = 0
        self.stopping = False

    @classmethod
    def from_crawler(cls, crawler: Any) -> BlockPageMiddleware:
        return cls(crawler)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        spider = self.crawler.spider
        page_kind = request.meta.get("page_kind", "detail")
        reason: str | StopCrawl | None
        if response.status == 429:
            reason = "HTTP 429 Too Many Requests"
        elif page_kind == "attachment" and sniff(response.body[:4096]) not in {"html", "text"}:
            reason = None  # a PDF or a spreadsheet is what was asked for, whatever bytes it holds
        elif captcha := captcha_reason(response.body):
            # Whichever portal: waiting and retrying only meets the captcha again (and looks more like a bot).
            reason = StopCrawl("captcha", f"{spider.name} answers with a {captcha}, which waiting does not lift; "
                                          f"open {response.url} in a browser, and crawl again later or more slowly")
        elif response.status >= 400:
            # An error page lacks what the spider looks for ("no 共找到", "HTML, not JSON"), which is no sign of a
            # block: only a firewall's own signs make it one. Otherwise it is retried (5xx) or recorded as an HTTP
            # error (HttpError), a page not read.
            reason = waf_block_reason(response.body)
        else:
            detect = getattr(spider, "block_reason", None)
            reason = detect(response, page_kind) if detect else None
        if reason is None:
            return response
        stats = self.crawler.stats
        stats.inc_value("caigou/blocked")
        context = CrawlContext.for_crawler(self.crawler)
        asked = {"X-Caigou-Request": request_line(request)} if request.method != "GET" else {}
        page = context.store.archive_page(response.url, response.status, response.body, kind="blocked", headers=asked,
                                          content_type=(response.headers.get("Content-Type") or b"").decode("latin-1"),
                                          run_id=context.run_id)
        if isinstance(reason, StopCrawl):
            return self._stop(request, reason, page.id)
        attempt = request.meta.get("caigou_block_attempt", 0) + 1
        if attempt > self.retries:
            self.given_up += 1
            stats.inc_value("caigou/blocked_given_up")
            # An error like any page not read: counted, and it keeps the run from "succeeded" (and its watermark).
            stats.inc_value("caigou/errors")
            stats.inc_value("caigou/errors/blocked")
            count_failed_page(stats, request)
            context.store.record_error(context.run_id, request.url, "blocked",
                                       f"{reason}; gave up after {self.retries} tries", raw_page_id=page.id)
            if self.given_up >= self.give_up_after:
                logger.error("%s keeps answering with block pages (%s); stopping", spider.name, reason)
                # Scheduled, not awaited: closing waits for in-flight downloads, this one among them.
                deferred_from_coro(self.crawler.engine.close_spider_async(reason="blocked"))
            raise IgnoreRequest(f"blocked: {reason}")
        delay = self._delay(response, attempt)
        logger.warning("blocked (%s) at %s; waiting %.1f s before try %d", reason, request.url, delay, attempt + 1)
        await asyncio.sleep(delay)
        retry = request.replace(dont_filter=True)
        retry.meta["caigou_block_attempt"] = attempt
        return retry

    def _stop(self, request: Request, stop: StopCrawl, page_id: int) -> Response:
        """Record the final block once and close the crawl with its reason; later answers are only counted."""
        if not self.stopping:
            self.stopping = True
            context = CrawlContext.for_crawler(self.crawler)
            context.store.record_error(context.run_id, request.url, stop.reason, stop.message, raw_page_id=page_id)
            self.crawler.stats.set_value("caigou/stop_reason", stop.reason)
            self.crawler.stats.set_value("caigou/stop_message", stop.message)
            logger.error("%s: %s; stopping", self.crawler.spider.name, stop.message)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason=stop.reason))
        raise IgnoreRequest(f"{stop.reason}: {stop.message}")

    def _delay(self, response: Response, attempt: int) -> float:
        retry_after = retry_after_seconds(response.headers.get("Retry-After")) if response.status == 429 else None
        if retry_after is not None:
            # Obeyed, but not to the point of a crawl that sleeps for a day on one header.
            return min(retry_after, self.retry_after_max)
        return self.backoff * 2 ** (attempt - 1)


class RedirectGuardMiddleware:
    """An HTTP redirect of a list or detail page to a host outside the portal is recorded as an error (kind
    ``redirect``, with its target and the archived 3xx answer), never followed and never dropped in silence (Scrapy's
    offsite filter would drop it without a word). A redirect within the portal is followed by Scrapy's
    RedirectMiddleware; the spider then checks that the page is the notice asked for (``NoticeSpider._detail``).
    Attachments are exempt: they are often served from another host.

    Placed before RedirectMiddleware (600), so it sees the 3xx answer first."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> RedirectGuardMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        location = response.headers.get("Location")
        if request.meta.get("page_kind") == "attachment" or not 300 <= response.status < 400 or not location:
            return response
        target = urljoin(request.url, location.decode("latin-1").strip())
        if self.on_portal(request.url, target):
            # Followed even to a page this crawl asks for too: the dupe filter must not drop it in silence.
            request.dont_filter = True
            return response
        self.refuse(request, response, target, f"HTTP {response.status} redirect to another site: {target}")

    def on_portal(self, asked: str, target: str) -> bool:
        host = (urlsplit(target).hostname or "").lower()
        domains = list(getattr(self.crawler.spider, "allowed_domains", None) or []) \
            or [(urlsplit(asked).hostname or "").lower()]
        return any(host == domain or host.endswith("." + domain) for domain in domains)

    def refuse(self, request: Request, response: Response, target: str, message: str) -> NoReturn:
        """Archive the answer, record the error with its target, count the page as not read, drop the request."""
        context = CrawlContext.for_crawler(self.crawler)
        headers = {key.decode("latin-1"): b", ".join(values).decode("latin-1")
                   for key, values in response.headers.items() if key.lower() != b"set-cookie"}
        page = context.store.archive_page(response.url, response.status, response.body, kind="redirect",
                                          headers=headers, run_id=context.run_id,
                                          content_type=(response.headers.get("Content-Type") or b"").decode("latin-1"))
        stats = self.crawler.stats
        for key in ("caigou/errors", "caigou/errors/redirect"):
            stats.inc_value(key)
        count_failed_page(stats, request)
        context.store.record_error(context.run_id, request.url, "redirect", message, raw_page_id=page.id)
        logger.error("%s: %s; not followed", request.url, message)
        raise IgnoreRequest(message)


class MetaRefreshGuardMiddleware(RedirectGuardMiddleware):
    """A list or detail page that is only a ``<meta http-equiv="refresh">`` to somewhere else is recorded as an
    error with its target and never followed: a notice page does not move itself, and following it would store
    whatever it points at under the URL asked for. Placed between HttpCompressionMiddleware (590), so the body is
    readable, and MetaRefreshMiddleware (580), which still follows refreshes of attachments."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.max_delay = crawler.settings.getfloat("METAREFRESH_MAXDELAY")
        self.ignore_tags = crawler.settings.getlist("METAREFRESH_IGNORE_TAGS")

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get("page_kind") == "attachment" or not isinstance(response, HtmlResponse):
            return response
        interval, target = get_meta_refresh(response, ignore_tags=self.ignore_tags)
        if target is None or interval is None or interval >= self.max_delay or target == response.url:
            return response  # no refresh, a slow one (as MetaRefreshMiddleware), or a reload of the page itself
        self.refuse(request, response, target, f"the page is a meta refresh to {target}")


class UnreadablePageMiddleware:
    """Any exception a spider callback raises on a page — a parser's ParseError, or an unexpected answer a parser
    tripped over — becomes a recorded ``parse`` error linked to the archived page, and the run cannot succeed. The
    one net under every callback (lists, searches, channels, details), so a page is never lost in the log."""

    def process_spider_exception(self, response: Response, exception: Exception) -> Iterable[Any] | None:
        if isinstance(exception, (HttpError, IgnoreRequest, CloseSpider)):
            return None  # Scrapy's own control flow
        return [unreadable_page(response, exception)]
