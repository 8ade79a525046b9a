"""The optional browser download handler (scrapy-playwright with the system Chromium), for portals whose
firewall turns away plain HTTP clients. Off by default; ``CAIGOU_BROWSER=1`` (environment or ``--set``) switches it
on for the spiders that allow it (``browser_capable``); scrapy-playwright is the optional extra ``browser``."""
from __future__ import annotations

import logging
import os
from typing import Any

from caigou.models.errors import CaigouError

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
        if "caigou_in_page" in request.meta and "playwright" in response.flags:
            return in_page_answer(request, response)
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        if "playwright" not in response.flags or "json" not in content_type:
            return response
        from bs4 import BeautifulSoup

        shown = BeautifulSoup(response.body, "lxml").find("pre")
        if shown is None:  # not Chromium's JSON view: leave it for the block checks to judge
            return response
        return response.replace(body=shown.get_text().encode("utf-8"), encoding="utf-8")


# Run in a page of the site: an XMLHttpRequest (as the site's own code makes them), so whatever the site's scripts
# add to their requests (signed headers) is added to this one too. Binary answers come back in base64.
_IN_PAGE_XHR = """async ([url, binary]) => await new Promise((resolve, reject) => {
  const xhr = new XMLHttpRequest();
  xhr.open("GET", url);
  if (binary) xhr.responseType = "arraybuffer";
  xhr.onload = () => {
    let body = xhr.response;
    if (binary) {
      let text = "";
      for (const byte of new Uint8Array(body)) text += String.fromCharCode(byte);
      body = btoa(text);
    }
    resolve({status: xhr.status, type: xhr.getResponseHeader("Content-Type") || "", body: body});
  };
  xhr.onerror = () => reject(new Error("the in-page request failed: " + url));
  xhr.send();
})"""


def in_page_meta(page_url: str, url: str, binary: bool = False) -> dict[str, Any]:
    """Request meta that loads ``page_url`` in Chromium and, from inside it, asks for ``url``: the site's own
    scripts (which sign its API requests) see the request. The answer replaces the page (BrowserJsonMiddleware),
    so the spider parses, and the archive keeps, the API's answer at its own URL."""
    from scrapy_playwright.page import PageMethod

    return {"playwright": True, "playwright_page_methods": [PageMethod("evaluate", _IN_PAGE_XHR, [url, binary])],
            "caigou_in_page": {"url": url, "binary": binary}}


def in_page_answer(request: Any, response: Any) -> Any:
    """The answer of an ``in_page_meta`` request's in-page call, as a response at the API's URL."""
    import base64

    from scrapy.http import Headers
    from scrapy.responsetypes import responsetypes

    asked = request.meta["caigou_in_page"]
    methods = request.meta.get("playwright_page_methods") or []
    result = getattr(methods[0], "result", None) if methods else None
    if not isinstance(result, dict):
        raise CaigouError(f"the in-page request for {asked['url']} gave no answer")
    text = str(result.get("body") or "")
    body = base64.b64decode(text) if asked["binary"] else text.encode("utf-8")
    headers = Headers({"Content-Type": str(result.get("type") or "application/octet-stream")})
    cls = responsetypes.from_args(headers=headers, url=asked["url"], body=body)
    return cls(url=asked["url"], status=int(result.get("status") or 200), headers=headers, body=body,
               request=request, flags=["playwright"])
