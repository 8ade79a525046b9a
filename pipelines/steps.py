"""The Scrapy item pipelines, in order: normalise → de-duplicate → store (which matches and indexes).

Each is one step; the storage step owns the database through ``CrawlContext``; spiders never touch it.
"""
from __future__ import annotations

from typing import Any

from scrapy.exceptions import DropItem

from pipelines.crawl_context import CrawlContext
from pipelines.normalise import record_from_item
from pipelines.record import NoticeRecord


class CrawlErrorItem:
    """Yielded by a spider for a page it could not read: recorded, counted, and the crawl goes on."""

    def __init__(self, url: str, kind: str, message: str, raw_sha256: str = "") -> None:
        self.url, self.kind, self.message, self.raw_sha256 = url, kind, message, raw_sha256


class _Step:
    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> _Step:
        return cls(crawler)

    @property
    def context(self) -> CrawlContext:
        return CrawlContext.for_crawler(self.crawler)


class NormalisePipeline(_Step):
    """Item → NoticeRecord: strings become Decimal yuan, aware times, region codes and normalised types."""

    def process_item(self, item: Any) -> Any:
        if isinstance(item, CrawlErrorItem):
            return item
        record = record_from_item(item)
        if not record.source_key or not record.title:
            raise DropItem(f"{record.url}: no notice ID or title; not stored")
        if record.warnings:
            self.stats.inc_value("caigou/normalise_warnings", len(record.warnings))
        return record


class DeduplicatePipeline(_Step):
    """The same notice reached twice in one crawl (two keywords, overlapping windows) is stored once."""

    def process_item(self, item: Any) -> Any:
        if isinstance(item, NoticeRecord):
            key = f"{item.source}:{item.source_key}"
            if key in self.context.seen_keys:
                self.stats.inc_value("caigou/duplicates_in_run")
                raise DropItem(f"already stored in this crawl: {key}")
            self.context.seen_keys.add(key)
        return item


class StorePipeline(_Step):
    def open_spider(self) -> None:
        self.context  # noqa: B018 - creates the run record when the crawl opens

    def process_item(self, item: Any) -> Any:
        context = self.context
        if isinstance(item, CrawlErrorItem):
            context.store.record_error(context.run_id, item.url, item.kind, item.message)
            self.stats.inc_value(f"caigou/errors/{item.kind}")
            self.stats.inc_value("caigou/errors")
            return item
        result = context.store.save_notice(item)
        self.stats.inc_value(f"caigou/notices_{result.outcome}")
        return item
