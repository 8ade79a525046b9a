"""Running a spider in-process from the command line (and the demo), with caigou's settings and a summary."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from scrapy.crawler import CrawlerProcess

from caigou.crawler.project import project_settings, spider_class
from caigou.models.errors import CaigouError


@dataclass
class CrawlSummary:
    source: str
    run_id: int | None
    status: str
    message: str
    counts: dict[str, int]

    def line(self) -> str:
        c = self.counts
        text = (f"{self.source}: {self.status} — {c.get('pages', 0)} pages, {c.get('new', 0)} new, "
                f"{c.get('updated', 0)} updated, {c.get('unchanged', 0)} unchanged, "
                f"{c.get('skipped_stored', 0)} already stored, {c.get('blocked', 0)} blocked, "
                f"{c.get('errors', 0)} errors")
        if c.get("attachments") or c.get("attachments_failed"):
            text += f", {c.get('attachments', 0)} attachments ({c.get('attachments_failed', 0)} failed)"
        text += f" (run {self.run_id})"
        return text + (f"\n{self.message}" if self.message else "")


def _summary(source: str, crawler: Any) -> CrawlSummary:
    from caigou.crawler.extensions import summarise

    stats = crawler.stats.get_stats() if crawler.stats else {}
    if "caigou/run_status" not in stats:
        raise CaigouError(f"{source}: the crawl did not start (see the messages above)")
    return CrawlSummary(source, stats.get("caigou/run_id"), stats["caigou/run_status"],
                        stats.get("caigou/run_message", ""), summarise(stats))


def run_attachment_fetch(downloads: dict[str, list[tuple[str, list[int]]]], database_url: str,
                         overrides: dict[str, Any] | None = None, verbose: bool = False) -> list[CrawlSummary]:
    """Download attachments of stored notices, one small crawl per source (all in this process, at once), through
    the same engine, politeness, block detection and evidence archive as a crawl."""
    from caigou.crawler.attachments import AttachmentSpider

    settings = project_settings({"CAIGOU_DATABASE_URL": database_url, "CAIGOU_PROGRESS_INTERVAL": 0,
                                 "LOG_LEVEL": "INFO" if verbose else "WARNING", **(overrides or {})})
    process = CrawlerProcess(settings)
    crawlers = []
    for source, wanted in downloads.items():
        site = spider_class(source)()  # for its block page check
        crawler = process.create_crawler(AttachmentSpider)
        process.crawl(crawler, source=source, downloads=wanted, block_reason=site.block_reason)
        crawlers.append((source, crawler))
    process.start()
    logging.getLogger().handlers.clear()
    return [_summary(source, crawler) for source, crawler in crawlers]


def run_crawl(source: str, arguments: dict[str, Any], database_url: str,
              overrides: dict[str, Any] | None = None, verbose: bool = False) -> CrawlSummary:
    """Crawl one source in this process (Twisted's reactor runs once per process: one call per process)."""
    cls = spider_class(source)
    cls.parse_arguments(**arguments)  # a bad argument is a one-line error before anything starts
    settings = project_settings({"CAIGOU_DATABASE_URL": database_url, "CAIGOU_PROGRESS_INTERVAL": 10,
                                 "LOG_LEVEL": "INFO" if verbose else "WARNING", **(overrides or {})})
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(cls)
    process.crawl(crawler, **{k: v for k, v in arguments.items() if v not in (None, [], "")})
    process.start()
    logging.getLogger().handlers.clear()
    return _summary(source, crawler)


def run_workers(runs: dict[str, dict[str, Any]], database_url: str, redis_url: str, prefix: str,
                overrides: dict[str, Any] | None = None, verbose: bool = False) -> list[CrawlSummary]:
    """Work on the seeded runs (source → run id and arguments) of a distributed crawl until their queues stay
    empty (``crawler.distributed``); one crawler per source, all in this process."""
    from caigou.crawler.distributed import distributed_settings, worker_id

    settings = project_settings({"CAIGOU_DATABASE_URL": database_url, "CAIGOU_PROGRESS_INTERVAL": 10,
                                 "LOG_LEVEL": "INFO" if verbose else "WARNING", **(overrides or {}),
                                 **distributed_settings(redis_url, prefix), "CAIGOU_WORKER_ID": worker_id()})
    process = CrawlerProcess(settings)
    crawlers = []
    for source, run in runs.items():
        crawler = process.create_crawler(spider_class(source))
        crawler.settings.set("CAIGOU_RUN_ID", run["run_id"], priority="cmdline")
        for key, value in run.get("settings", {}).items():
            crawler.settings.set(key, value, priority="cmdline")
        process.crawl(crawler, **{k: v for k, v in run["arguments"].items() if v not in (None, [], "")})
        crawlers.append((source, crawler))
    process.start()
    logging.getLogger().handlers.clear()
    return [_summary(source, crawler) for source, crawler in crawlers]
