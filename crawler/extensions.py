"""Extensions: the crawl's record (evidence archive, run status, watermark) and progress on stderr."""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import sys
from typing import Any

from scrapy import signals
from scrapy.http import Response
from twisted.internet import task
from twisted.python.failure import Failure

from caigou.crawler.crawl_context import CrawlContext
from caigou.crawler.failures import error_name
from caigou.crawler.middlewares import request_line

logger = logging.getLogger(__name__)

# How Scrapy's close reasons map onto a run's status: "finished" is "succeeded" only when every list and detail
# page was read ("partial" or "failed" otherwise); anything else (shutdown, closespider_*) is "interrupted". The
# watermark advances only on "succeeded", so the next run completes the window.
FINISHED, BLOCKED = "finished", "blocked"


class CrawlRecorder:
    """Archives every fetched page, resolves the start date from the watermark, and closes the run record."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.response_received, signal=signals.response_received)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.item_error, signal=signals.item_error)

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlRecorder:
        return cls(crawler)

    @property
    def context(self) -> CrawlContext:
        return CrawlContext.for_crawler(self.crawler)

    def spider_opened(self, spider: Any) -> None:
        if getattr(spider, "needs_since", False):
            resolve_since(spider, self.context.store, self.crawler.settings)

    def response_received(self, response: Response, request: Any, spider: Any) -> None:
        context = self.context
        content_type = (response.headers.get("Content-Type") or b"").decode("latin-1")
        headers = {key.decode("latin-1"): b", ".join(values).decode("latin-1")
                   for key, values in response.headers.items() if key.lower() not in {b"set-cookie"}}
        kind = request.meta.get("archive_kind", "page")  # page, or attachment
        if request.method != "GET":
            # A list POST's answer is only evidence together with what was asked (page, window, keyword).
            headers["X-Caigou-Request"] = request_line(request)
        context.store.archive_page(response.url, response.status, response.body, headers=headers,
                                   content_type=content_type, kind=kind, run_id=context.run_id)
        self.crawler.stats.inc_value("caigou/attachments_archived" if kind == "attachment" else "caigou/pages_archived")

    def item_error(self, item: Any, response: Response | None, spider: Any, failure: Failure) -> None:
        """An item the pipelines failed on (normalising, storing: an amount the database cannot hold, a broken
        row) is a page not read: recorded with a link to its archived page, and the run cannot succeed."""
        context = self.context
        url = getattr(item, "url", "") or (response.url if response is not None else "")
        sha256 = getattr(item, "raw_sha256", "") or (hashlib.sha256(response.body).hexdigest()
                                                     if response is not None else "")
        message = f"could not normalise or store the notice: {error_name(failure)}: {failure.getErrorMessage()}"
        stats = self.crawler.stats
        for key in ("caigou/errors", "caigou/errors/store", "caigou/pages_failed"):
            stats.inc_value(key)
        context.store.record_error(context.run_id, url, "store", message,
                                   raw_page_id=context.store.archived_page_id(url, sha256))

    def spider_closed(self, spider: Any, reason: str) -> None:
        context = self.context
        stats = self.crawler.stats.get_stats()
        counts = summarise(stats)
        if reason == BLOCKED:
            status = "failed"
            message = (f"{spider.name}: the site kept answering with block pages; stopped. Try later, slower "
                       "(-s DOWNLOAD_DELAY=10) or through a proxy (http_proxy).")
        elif reason == stats.get("caigou/stop_reason"):
            # A final block the spider recognised (a captcha): BlockPageMiddleware stopped the crawl.
            status = "failed"
            message = f"{spider.name}: stopped ({reason}): {stats.get('caigou/stop_message', '')}"
        elif reason == FINISHED and counts["pages"] == 0 and counts["download_errors"] > 0:
            status = "failed"
            message = f"{spider.name}: could not reach the site: {stats.get('caigou/last_download_error', '')}"
        elif reason == FINISHED and counts["pages_failed"]:
            # Some list or detail pages were not read: the window is not done, so the watermark stays put and the
            # next incremental run asks for it again. "failed" when it reached no notice at all (a cookie page or
            # an empty list is nothing to show for it), "partial" when it has notices to show.
            reached = counts["new"] + counts["updated"] + counts["unchanged"] + counts["skipped_stored"]
            status = "partial" if reached else "failed"
            causes = [f"{counts[key]} {label}" for key, label in (
                ("http_errors", "HTTP errors"), ("download_errors", "network errors"),
                ("blocked_given_up", "kept answering with block pages"), ("parse_errors", "did not parse"),
                ("redirects", "redirected elsewhere"), ("store_errors", "could not be stored")) if counts[key]]
            message = (f"{spider.name}: {counts['pages_failed']} list/detail page(s) not read "
                       f"({', '.join(causes)}); the watermark was not advanced, so the next run asks for them again")
        elif reason == FINISHED:
            status = "succeeded"
            message = ""
        else:
            status = "interrupted"
            message = f"{spider.name}: stopped before the end ({reason}); the next run completes the window"
        worker = getattr(self.crawler, "_caigou_worker", None)
        if worker is not None:
            # One worker of a distributed crawl: the last one out closes the shared run (crawler.distributed).
            status, message = worker.finished(spider, status, counts, message)
        else:
            # A --url crawl says nothing about the lists: it must not move the watermark of the unfiltered query.
            if status == "succeeded" and hasattr(spider, "query_key") and not getattr(spider, "urls", None):
                context.store.set_watermark(spider.name, spider.query_key(), spider.until)
            context.store.finish_run(context.run_id, status, counts, message)
        self.crawler.stats.set_value("caigou/run_status", status)
        self.crawler.stats.set_value("caigou/run_message", message)
        self.crawler.stats.set_value("caigou/run_id", context.run_id)


def resolve_since(spider: Any, store: Any, settings: Any) -> None:
    """No --since: start where the last successful run of the same query ended (less the overlap), or the default
    window back on the first run."""
    mark = store.watermark(spider.name, spider.query_key())
    if mark is not None:
        since = mark - dt.timedelta(days=settings.getint("CAIGOU_WATERMARK_OVERLAP_DAYS"))
    else:
        since = spider.until - dt.timedelta(days=settings.getint("CAIGOU_DEFAULT_DAYS") - 1)
    spider.since = min(since, spider.until)
    logger.info("%s: no --since given; starting at %s (%s)", spider.name, spider.since,
                "watermark" if mark else "default window")


def summarise(stats: dict[str, Any]) -> dict[str, int]:
    """The counts a run keeps and prints: pages, new / updated / unchanged notices, skipped, blocked, errors."""
    return {
        "pages": int(stats.get("caigou/pages_archived", 0)),
        "new": int(stats.get("caigou/notices_new", 0)),
        "updated": int(stats.get("caigou/notices_updated", 0)),
        "unchanged": int(stats.get("caigou/notices_unchanged", 0)),
        "skipped_stored": int(stats.get("caigou/skipped_stored", 0)),
        "blocked": int(stats.get("caigou/blocked", 0)),
        "errors": int(stats.get("caigou/errors", 0)),
        "download_errors": int(stats.get("caigou/download_errors", 0)),
        "http_errors": int(stats.get("caigou/http_errors", 0)),
        "blocked_given_up": int(stats.get("caigou/blocked_given_up", 0)),
        "parse_errors": int(stats.get("caigou/errors/parse", 0)),
        "redirects": int(stats.get("caigou/errors/redirect", 0)),
        "store_errors": int(stats.get("caigou/errors/store", 0)),
        "pages_failed": int(stats.get("caigou/pages_failed", 0)),
        "attachments": int(stats.get("caigou/attachments_downloaded", 0)),
        "attachments_failed": int(stats.get("caigou/attachments_failed", 0)),
    }


class Progress:
    """A progress line on stderr every ``CAIGOU_PROGRESS_INTERVAL`` seconds (the command line turns it on)."""

    def __init__(self, crawler: Any, interval: float) -> None:
        self.crawler, self.interval = crawler, interval
        self.loop: task.LoopingCall | None = None
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Progress:
        return cls(crawler, crawler.settings.getfloat("CAIGOU_PROGRESS_INTERVAL"))

    def spider_opened(self, spider: Any) -> None:
        if self.interval > 0:
            self.loop = task.LoopingCall(self.report, spider)
            self.loop.start(self.interval, now=False)

    def report(self, spider: Any) -> None:
        counts = summarise(self.crawler.stats.get_stats())
        print(f"{spider.name}: {counts['pages']} pages, {counts['new']} new, {counts['updated']} updated, "
              f"{counts['skipped_stored']} already stored, {counts['blocked']} blocked, {counts['errors']} errors",
              file=sys.stderr, flush=True)

    def spider_closed(self, spider: Any) -> None:
        if self.loop and self.loop.running:
            self.loop.stop()
