"""Attachment downloads through the Scrapy engine, so the crawl's politeness, block detection and evidence archive
(``CrawlRecorder``) apply to them as to pages.

Every notice spider can fetch attachments (``AttachmentFetching`` is part of ``NoticeSpider``): the storage step
asks it for ``attachment_request``s once a notice is stored and matched. ``AttachmentSpider`` fetches attachments of
notices already in the archive (``caigou attachments fetch``); it is not in ``SPIDER_MODULES``, so it is no source.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import scrapy
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.defer import CancelledError
from twisted.python.failure import Failure

from caigou.crawler.failures import error_name, failed_request, http_error_response
from caigou.crawler.items import AttachmentDownloadItem, AttachmentFailureItem

ATTACHMENT = "attachment"  # the requests' page_kind, and the archive kind of their responses


class AttachmentFetching:
    """Requests for attachments and what becomes of their answers: an item for the storage step, always."""

    crawler: Any
    settings: Any

    def attachment_request(self, url: str, attachment_ids: list[int]) -> scrapy.Request:
        return scrapy.Request(url, callback=self.parse_attachment, errback=self.attachment_error, meta={
            "page_kind": ATTACHMENT, "archive_kind": ATTACHMENT, "attachment_ids": list(attachment_ids),
            # Scrapy cancels a download past this size (declared or received) and calls the errback.
            "download_maxsize": self.settings.getint("CAIGOU_ATTACHMENT_MAXSIZE"),
            # Attachments are often served from another host than the notice; they are the notice's evidence.
            "allow_offsite": True,
        })

    def parse_attachment(self, response: Response) -> Iterator[AttachmentDownloadItem]:
        self.crawler.stats.inc_value("caigou/attachments_downloaded")
        yield AttachmentDownloadItem(url=response.request.url if response.request else response.url,
                                     final_url=response.url, body=response.body,
                                     attachment_ids=list(response.meta["attachment_ids"]))

    def attachment_error(self, failure: Failure) -> Iterator[AttachmentFailureItem]:
        """A download that did not give the file: a status on the attachment, never a crawl error."""
        request = failed_request(failure)
        limit = request.meta.get("download_maxsize", 0)
        if failure.check(DownloadCancelledError, CancelledError):
            status, message = "too_large", f"larger than the download cap of {limit} bytes"
        elif failure.check(HttpError):  # before IgnoreRequest, which it subclasses
            status, message = "failed", f"HTTP {http_error_response(failure).status}"
        elif failure.check(IgnoreRequest):
            status, message = "blocked", f"the site answered with block pages: {failure.getErrorMessage()}"
        else:
            status, message = "failed", f"{error_name(failure)}: {failure.getErrorMessage()}"
        self.crawler.stats.inc_value("caigou/attachments_failed")
        yield AttachmentFailureItem(url=request.url, attachment_ids=list(request.meta["attachment_ids"]),
                                    status=status, message=message)


class AttachmentSpider(AttachmentFetching, scrapy.Spider):
    """Downloads given attachments of stored notices of one source (named after it, so its run is that source's).

    ``downloads`` is ``[(url, [attachment id, …]), …]``; ``block_reason`` is the source spider's block check.
    """

    name = "attachments"

    def __init__(self, source: str, downloads: list[tuple[str, list[int]]],
                 block_reason: Callable[[Response, str], str | None] | None = None, **kwargs: Any) -> None:
        super().__init__(name=source, **kwargs)
        self.downloads = downloads
        self._block_reason = block_reason

    def run_arguments(self) -> dict[str, Any]:
        return {"attachments": len(self.downloads)}

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url, attachment_ids in self.downloads:
            yield self.attachment_request(url, attachment_ids)

    def block_reason(self, response: Response, page_kind: str) -> str | None:
        return self._block_reason(response, page_kind) if self._block_reason else None
