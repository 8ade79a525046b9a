"""Scrapy settings for caigou's spiders: polite by default, because these portals ban quickly.

Override any of them as Scrapy users expect: ``scrapy crawl ccgp -s DOWNLOAD_DELAY=10`` or
``caigou crawl ccgp --set DOWNLOAD_DELAY=10``. caigou's own settings start with ``CAIGOU_``.
"""
from __future__ import annotations

import os

BOT_NAME = "caigou"
SPIDER_MODULES = ["caigou.crawler.spiders"]
NEWSPIDER_MODULE = "caigou.crawler.spiders"

# An identifying user agent: the portals' operators should be able to tell who is crawling and why.
USER_AGENT = os.environ.get(
    "CAIGOU_CRAWL_USER_AGENT",
    "caigou/0.1 (+https://github.com/caigou-project/caigou; public-interest research on procurement notices)",
)
ROBOTSTXT_OBEY = False  # the notice pages are public records; robots.txt on these portals blocks all agents

# Politeness: one request at a time per domain, seconds apart, slower when the site slows down.
CONCURRENT_REQUESTS = 4
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 4.0
DOWNLOAD_DELAY_JITTER = 0.5  # ±50%: requests at an even pace look like a bot
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 4.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0
DOWNLOAD_TIMEOUT = 60

# Retries with back-off for transient failures (crawler.middlewares.BackoffRetryMiddleware in place of Scrapy's
# RetryMiddleware, which retries at once); 429 and block pages are handled apart by BlockPageMiddleware.
RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
CAIGOU_RETRY_BACKOFF = 5.0             # seconds before the first retry, doubled for each further one
CAIGOU_RETRY_BACKOFF_MAX = 300.0       # the longest wait before one retry
CAIGOU_RETRY_AFTER_MAX = 600.0         # a 429's Retry-After is obeyed up to this many seconds

COOKIES_ENABLED = True  # ccgp's anti-bot script sets HOY_TR/HBB_HC cookies
HTTPPROXY_ENABLED = True  # http_proxy / https_proxy from the environment are honoured
TELNETCONSOLE_ENABLED = False
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"

DOWNLOADER_MIDDLEWARES = {
    "caigou.crawler.middlewares.SkipStoredMiddleware": 50,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "caigou.crawler.middlewares.BackoffRetryMiddleware": 550,  # Scrapy's place for it
    "caigou.crawler.middlewares.BlockPageMiddleware": 560,  # after RetryMiddleware (550) sees the response
    "caigou.crawler.middlewares.MetaRefreshGuardMiddleware": 585,  # between HttpCompression (590) and MetaRefresh (580)
    "caigou.crawler.middlewares.RedirectGuardMiddleware": 610,  # before RedirectMiddleware (600) follows a 3xx
    # next to the downloader: every other part sees the JSON itself
    "caigou.crawler.browser.BrowserJsonMiddleware": 990,
}
SPIDER_MIDDLEWARES = {
    "caigou.crawler.middlewares.UnreadablePageMiddleware": 60,  # any exception of a callback: a recorded parse error
}
ITEM_PIPELINES = {
    "caigou.crawler.pipelines.NormalisePipeline": 100,
    "caigou.crawler.pipelines.DeduplicatePipeline": 200,
    "caigou.crawler.pipelines.StorePipeline": 900,
}
EXTENSIONS = {
    "caigou.crawler.extensions.CrawlRecorder": 100,
    "caigou.crawler.extensions.Progress": 110,
}

# caigou's own settings.
CAIGOU_DATABASE_URL = os.environ.get("CAIGOU_DATABASE_URL", "")  # empty: the configured default
CAIGOU_REFRESH = False                 # re-fetch detail pages already stored
CAIGOU_BLOCK_BACKOFF = 60.0            # seconds to wait after a block page, doubled each time
CAIGOU_BLOCK_RETRIES = 3               # block pages in a row for one request before giving it up
CAIGOU_BLOCK_GIVE_UP = 5               # requests given up as blocked before the crawl stops as blocked
CAIGOU_DEFAULT_DAYS = 7                # a first run without --since covers this many days
CAIGOU_WATERMARK_OVERLAP_DAYS = 1      # notices appear late: the next run starts a day before the watermark
# Fetch through the system Chromium (scrapy-playwright, the optional extra "browser") for the spiders that allow it
# (sichuan: its list is signed by the site's script; qinghai: Aliyun's JavaScript challenge). Off by default.
CAIGOU_BROWSER = os.environ.get("CAIGOU_BROWSER", "").lower() in {"1", "true", "yes"}
# Where a captcha image a person must read is saved (sichuan's list); empty: the temporary folder.
CAIGOU_CAPTCHA_DIR = os.environ.get("CAIGOU_CAPTCHA_DIR", "")
CAIGOU_PROGRESS_INTERVAL = 0           # seconds between progress lines on stderr (0: off; the CLI sets 10)

# Attachments (crawler/attachments.py, pipelines/attachments.py). Which notices' attachments are downloaded:
# matched (the default: notices that match the watchlist), all, or off; empty means the configuration's
# [crawl] attachments (CAIGOU_CRAWL_ATTACHMENTS), else matched.
CAIGOU_ATTACHMENTS = ""
CAIGOU_ATTACHMENT_MAXSIZE = 30 * 1024 * 1024         # bytes per download; larger ones are cut off (too_large)
CAIGOU_ATTACHMENT_MAX_UNCOMPRESSED = 100 * 1024 * 1024  # an archive's members together, nested ones included
CAIGOU_ATTACHMENT_MAX_MEMBERS = 500                  # files in one archive
CAIGOU_ATTACHMENT_MAX_RATIO = 100                    # compression ratio of one member (zip bombs)
CAIGOU_ATTACHMENT_MAX_DEPTH = 2                      # archives inside archives
CAIGOU_ATTACHMENT_MAX_PAGES = 300                    # PDF pages read
CAIGOU_ATTACHMENT_MAX_CHARS = 500_000                # characters of text kept per attachment

LOG_LEVEL = "INFO"
