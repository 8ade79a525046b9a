"""The Scrapy project as code sees it: its settings (with overrides) and its spiders by name. Used by whoever
runs a crawl — the command line (``caigou.crawling``) and the distributed workers (``crawler.distributed``)."""
from __future__ import annotations

from typing import Any

from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader

from caigou.crawler import settings as crawler_settings
from caigou.models.errors import CaigouError


def project_settings(overrides: dict[str, Any] | None = None) -> Settings:
    settings = Settings()
    settings.setmodule(crawler_settings, priority="project")
    for key, value in (overrides or {}).items():
        settings.set(key, value, priority="cmdline")
    return settings


def spider_class(source: str) -> type:
    loader = SpiderLoader.from_settings(project_settings())
    try:
        return loader.load(source)
    except KeyError as exc:
        raise CaigouError(f"unknown source {source!r}; known: {', '.join(sorted(loader.list()))}") from exc


def known_sources() -> list[str]:
    return sorted(SpiderLoader.from_settings(project_settings()).list())
