"""The Scrapy item pipelines, in order: normalise → de-duplicate → store (which matches and indexes).

Each is one step; the storage step owns the database through ``CrawlContext``; spiders never touch it.
"""
from __future__ import annotations

import logging
from typing import Any

from scrapy.exceptions import DropItem
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import threads

from caigou.crawler.crawl_context import CrawlContext
from caigou.crawler.items import AttachmentDownloadItem, AttachmentFailureItem, CrawlErrorItem
from caigou.models.config import load_config
from caigou.models.errors import CaigouError
from caigou.pipelines.attachments import Extraction, Limits, extract
from caigou.pipelines.normalise import record_from_item
from caigou.pipelines.record import NoticeRecord

logger = logging.getLogger(__name__)

# Whose attachments a crawl downloads: matched notices (the default), all notices, or none.
ATTACHMENT_MODES = ("matched", "all", "off")


# Errors that mean a fetched page was not read (it did not parse, could not be stored, or a redirect led away from
# the notice): the run cannot end "succeeded" and its watermark stays. Those yielded as items are counted here; the
# rest (HTTP and network errors, blocks given up, redirects off the portal, store errors) where they happen.
UNREAD_KINDS = frozenset({"parse", "redirect", "store"})


def attachment_mode(settings: Any) -> str:
    """``CAIGOU_ATTACHMENTS``, else the configuration's ``[crawl] attachments``, else matched."""
    mode = str(settings.get("CAIGOU_ATTACHMENTS") or load_config().get("crawl", "attachments", "matched"))
    mode = mode.strip().lower()
    if mode not in ATTACHMENT_MODES:
        raise CaigouError(f"attachments must be one of {', '.join(ATTACHMENT_MODES)}, not {mode!r}")
    return mode


def attachment_limits(settings: Any) -> Limits:
    return Limits(max_pages=settings.getint("CAIGOU_ATTACHMENT_MAX_PAGES"),
                  max_chars=settings.getint("CAIGOU_ATTACHMENT_MAX_CHARS"),
                  max_uncompressed=settings.getint("CAIGOU_ATTACHMENT_MAX_UNCOMPRESSED"),
                  max_members=settings.getint("CAIGOU_ATTACHMENT_MAX_MEMBERS"),
                  max_ratio=settings.getint("CAIGOU_ATTACHMENT_MAX_RATIO"),
                  max_depth=settings.getint("CAIGOU_ATTACHMENT_MAX_DEPTH"))


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
        if isinstance(item, (CrawlErrorItem, AttachmentDownloadItem, AttachmentFailureItem)):
            return item
        record = record_from_item(item)
        if not record.source_key or not record.title:
            # A page is stored or recorded, never dropped in silence.
            missing = " or ".join(what for what, value in (("notice ID", record.source_key),
                                                            ("title", record.title)) if not value)
            return CrawlErrorItem(record.url, "parse", f"no {missing} on the page; not stored", record.raw_sha256)
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
    """Stores notices (which matches and indexes them), then asks the spider for the attachments to download;
    stores downloaded attachments' text (extracted off the reactor thread) and re-scores their notices."""

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.attachments = attachment_mode(crawler.settings)
        self.limits = attachment_limits(crawler.settings)
        self.requested: set[str] = set()  # attachment URLs asked for in this crawl: one download each

    def open_spider(self) -> None:
        self.context  # noqa: B018 - creates the run record when the crawl opens

    async def process_item(self, item: Any) -> Any:
        context = self.context
        if isinstance(item, CrawlErrorItem):
            context.store.record_error(context.run_id, item.url, item.kind, item.message,
                                       raw_page_id=context.store.archived_page_id(item.page_url, item.raw_sha256))
            self.stats.inc_value(f"caigou/errors/{item.kind}")
            self.stats.inc_value("caigou/errors")
            if item.kind in UNREAD_KINDS:
                self.stats.inc_value("caigou/pages_failed")
            return item
        if isinstance(item, AttachmentDownloadItem):
            await self._store_attachment(item)
            return item
        if isinstance(item, AttachmentFailureItem):
            context.store.attachment_failed(item.attachment_ids, item.status, item.message)
            logger.warning("attachment %s: %s (%s)", item.url, item.status, item.message)
            return item
        result = context.store.save_notice(item)
        self.stats.inc_value(f"caigou/notices_{result.outcome}")
        self._request_attachments(result.notice_id)
        return item

    def _request_attachments(self, notice_id: int) -> None:
        spider = self.crawler.spider
        if self.attachments == "off" or not hasattr(spider, "attachment_request"):
            return
        for pending in self.context.store.attachments_to_fetch(self.attachments, notice_id=notice_id):
            if pending.url in self.requested:
                continue  # already asked for by another notice: storing it updates every row with its URL
            self.requested.add(pending.url)
            self.crawler.engine.crawl(spider.attachment_request(pending.url, pending.attachment_ids))

    async def _store_attachment(self, item: AttachmentDownloadItem) -> None:
        # Extraction is CPU work (and maybe a converter process): a thread keeps the crawl's downloads moving.
        extraction: Extraction = await maybe_deferred_to_future(
            threads.deferToThread(extract, item.body, self.limits))
        self.context.store.save_attachment(item.url, item.final_url, item.body, extraction, item.attachment_ids)
        self.stats.inc_value(f"caigou/attachments_extracted/{extraction.status}")
