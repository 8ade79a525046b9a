"""The database side of one running crawl, shared by the item pipelines and the crawler's extension and
middlewares: one ``NoticeStore`` and one crawl-run record per crawler."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from models.config import load_config
from models.db import Database
from pipelines.store import NoticeStore


@dataclass
class CrawlContext:
    store: NoticeStore
    run_id: int
    source: str
    seen_keys: set[str] = field(default_factory=set)

    @classmethod
    def for_crawler(cls, crawler: Any) -> CrawlContext:
        """The crawler's context, created (with its run record) by whichever component asks first."""
        context = getattr(crawler, "_caigou_context", None)
        if context is None:
            url = crawler.settings.get("CAIGOU_DATABASE_URL") or load_config().database_url
            store = NoticeStore(Database(url))
            spider = crawler.spider
            arguments = spider.run_arguments() if hasattr(spider, "run_arguments") else {}
            context = cls(store=store, run_id=store.start_run(spider.name, arguments), source=spider.name)
            crawler._caigou_context = context
        return context
