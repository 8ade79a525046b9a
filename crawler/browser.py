"""The optional browser download handler (scrapy-playwright with the system Chromium), for portals whose
firewall turns away plain HTTP clients. Off by default; ``CAIGOU_BROWSER=1`` (environment or ``--set``) switches it
on for the spiders that allow it (``browser_capable``); scrapy-playwright is the optional extra ``browser``."""
from __future__ import annotations

import os
from typing import Any

from models.errors import CaigouError

HANDLER = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
DEFAULT_CHROMIUM = "/usr/bin/chromium"


def browser_settings(executable: str | None = None) -> dict[str, Any]:
    """The Scrapy settings that send requests through Chromium; a one-line error when the extra is missing."""
    try:
        import scrapy_playwright  # noqa: F401 - only whether it is installed
    except ImportError as exc:
        raise CaigouError("CAIGOU_BROWSER=1 needs scrapy-playwright: pip install 'caigou[browser]' "
                          "(and Chromium at /usr/bin/chromium, or CAIGOU_BROWSER_PATH)") from exc
    path = executable or os.environ.get("CAIGOU_BROWSER_PATH") or DEFAULT_CHROMIUM
    if not os.path.exists(path):
        raise CaigouError(f"CAIGOU_BROWSER=1 needs Chromium; none at {path} (set CAIGOU_BROWSER_PATH)")
    return {
        "DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER},
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {"executable_path": path, "headless": True},
    }
