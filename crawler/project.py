"""The Scrapy project as code sees it: its settings (with overrides) and its spiders by name. Used by whoever
runs a crawl — the command line (``caigou.crawling``) and the distributed workers (``crawler.distributed``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader

from caigou.crawler import settings as crawler_settings
from caigou.models.errors import CaigouError

if TYPE_CHECKING:
    from caigou.crawler.spiders.base import NoticeSpider


def project_settings(overrides: dict[str, Any] | None = None) -> Settings:
    settings = Settings()
    settings.setmodule(crawler_settings, priority="project")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def spider_class(source: str) -> type[NoticeSpider]:
    from caigou.crawler.spiders.base import NoticeSpider

    loader = SpiderLoader.from_settings(project_settings())
    try:
        spider = loader.load(source)
    except KeyError as exc:
        raise CaigouError(f"unknown source {source!r}; known: {', '.join(sorted(loader.list()))}") from exc
    assert issubclass(spider, NoticeSpider)  # every spider of the project is one
    return spider


def known_sources() -> list[str]:
    return sorted(SpiderLoader.from_settings(project_settings()).list())
