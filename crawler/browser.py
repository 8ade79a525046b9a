"""The optional browser download handler (scrapy-playwright with the system Chromium), for portals whose
firewall turns away plain HTTP clients. Off by default; ``CAIGOU_BROWSER=1`` (environment or ``--set``) switches it
on for the spiders that allow it (``browser_capable``); scrapy-playwright is the optional extra ``browser``."""
from __future__ import annotations

import logging
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
    logging.getLogger("scrapy-playwright").addFilter(_one_line)
    path = executable or os.environ.get("CAIGOU_BROWSER_PATH") or DEFAULT_CHROMIUM
    if not os.path.exists(path):
        raise CaigouError(f"CAIGOU_BROWSER=1 needs Chromium; none at {path} (set CAIGOU_BROWSER_PATH)")
    launch: dict[str, Any] = {"executable_path": path, "headless": True,
                              # Less traffic of Chromium's own beside the crawl's (Debian's build still asks
                              # for component updates through the proxy).
                              "args": ["--disable-background-networking", "--disable-component-update"]}
    # scrapy-playwright bypasses Scrapy's proxy middleware: Chromium is told the proxy itself (one for both
    # schemes; https_proxy first, as the portals that need a browser are https).
    proxy = next((os.environ[name] for name in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY")
                  if os.environ.get(name)), "")
    if proxy:
        launch["proxy"] = {"server": proxy}
    return {
        "DOWNLOAD_HANDLERS": {"http": HANDLER, "https": HANDLER},
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
        # Certificates are not verified, as Scrapy's own downloader does not verify them: the same pages either way.
        "PLAYWRIGHT_CONTEXTS": {"default": {"ignore_https_errors": True}},
    }


def _one_line(record: logging.LogRecord) -> bool:
    """scrapy-playwright logs a failed page with its traceback; the spider reports the failure in one line, so
    the expected condition (a site that cannot be reached) keeps its message and loses the traceback."""
    record.exc_info, record.exc_text = None, None
    return True


class BrowserJsonMiddleware:
    """Chromium shows a JSON answer as a page (the text in a ``<pre>``) and scrapy-playwright hands over that page;
    the text is taken back out, so the spider parses — and the archive keeps — the answer the server sent, as with
    the plain HTTP downloader. Responses that did not come through the browser pass untouched."""

    def process_response(self, request: Any, response: Any) -> Any:
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        if "playwright" not in response.flags or "json" not in content_type:
            return response
        from bs4 import BeautifulSoup

        shown = BeautifulSoup(response.body, "lxml").find("pre")
        if shown is None:  # not Chromium's JSON view: leave it for the block checks to judge
            return response
        return response.replace(body=shown.get_text().encode("utf-8"), encoding="utf-8")
