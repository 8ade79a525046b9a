"""End-to-end crawls of ccgp through the real Scrapy engine (the real ``caigou crawl`` in a subprocess), against a
local replay server acting as the http proxy.

The database is a passive store here, so the flows run on SQLite (``sqlite_db``). Two are the PostgreSQL smoke
runs (``db``, both databases), each covering a different storage path:
``test_real_page_through_a_proxy_stores_the_right_fields`` (a notice's columns: the amounts and the +08:00 time go
through the per-dialect types of ``models/types.py``; the suppliers) and
``test_keyword_search_with_pagination_blocks_and_a_second_run`` (the run's bookkeeping: raw and block pages, the
run's counts, the watermark, a second run that finds the notices stored, and ``--refresh``)."""
from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import func, select

from caigou.crawler.parsers.ccgp import build_search_url
from caigou.models import CrawlError, CrawlRun, Notice, RawPage, Watermark
from caigou.models.db import Database
from caigou.replay import ReplayServer, Reply
from tests.crawling import FAST, ROOT, crawl, run_caigou, start_caigou

SAMPLES = ROOT / "caigou" / "demo_data" / "ccgp"
JUNE = ("--since", "2024-06-01", "--until", "2024-06-30")
DNA_DETAILS = {"22000101", "22000102", "22000103", "22000108", "22000109"}


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    replay = ReplayServer()
    replay.add_manifest(SAMPLES / "manifest.json")
    replay.start()
    yield replay
    replay.stop()


def stored_keys(db: Database) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(Notice.source_key)))


def last_run(db: Database) -> CrawlRun:
    with db.session() as session:
        return session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc())).first()


def detail_fetches(server: ReplayServer) -> int:
    return sum(1 for key in server.requests if key.startswith("www.ccgp.gov.cn/cggg/") and "index" not in key)


def test_real_page_through_a_proxy_stores_the_right_fields(db: Database, server: ReplayServer,
                                                           shared_dir: Path) -> None:
    url = "http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202506/t20250627_24871234.htm"
    body = (shared_dir / "real/ccgp/detail_dfgg_zbgg_guizhou_20250627.html").read_bytes()
    server.add(url, Reply(body))
    result = crawl(db.url, "ccgp", "--url", url, proxy=server.url)
    assert result.returncode == 0, result.stderr
    assert "succeeded — 1 pages, 1 new" in result.stdout
    with db.session() as session:
        notice = session.scalars(select(Notice)).one()
        assert (notice.source.name, notice.source_key, notice.url) == ("ccgp", "24871234", url)
        assert (notice.notice_type, notice.notice_type_label) == ("award", "中标公告")
        assert notice.published_at == dt.datetime(2025, 6, 27, 17, 52, tzinfo=notice.published_at.tzinfo)
        assert notice.published_at.utcoffset() == dt.timedelta(hours=8)
        assert (notice.region_code, notice.region_name) == ("520000", "贵州省")
        assert notice.buyer == "清镇市麦格苗族布依族乡人民政府" and notice.agency == "贵州励柯工程咨询有限公司"
        assert notice.project_code == "LKZX2025-CG013"
        assert notice.award_cny == Decimal("569800.00") and notice.budget_cny is None
        assert [(s.name, s.amount_cny) for s in notice.suppliers] == [("江苏新煦光电科技有限公司",
                                                                      Decimal("569800.00"))]
        page = session.scalars(select(RawPage).where(RawPage.url == url)).one()
        assert page.body == body and page.sha256 == notice.raw_sha256 and page.http_status == 200


def test_keyword_search_with_pagination_blocks_and_a_second_run(db: Database, server: ReplayServer) -> None:
    result = crawl(db.url, "ccgp", "--keyword", "DNA", *JUNE, proxy=server.url)
    assert result.returncode == 0, result.stderr
    assert stored_keys(db) == DNA_DETAILS  # page 1 (obfuscated links) and page 2
    run = last_run(db)
    assert run.status == "succeeded"
    assert run.counts["new"] == 5 and run.counts["blocked"] == 1  # 22000101 answered "安全验证" once
    with db.session() as session:
        kinds = session.scalars(select(RawPage.kind).where(RawPage.url.like("%t20240612_22000101.htm"))).all()
        assert sorted(kinds) == ["blocked", "page"]  # the block page is evidence, never a notice
        assert session.scalar(select(Watermark.until_date)) == dt.date(2024, 6, 30)
    fetched = detail_fetches(server)

    again = crawl(db.url, "ccgp", "--keyword", "DNA", *JUNE, proxy=server.url)
    assert again.returncode == 0, again.stderr
    assert "0 new" in again.stdout and "5 already stored" in again.stdout
    assert detail_fetches(server) == fetched  # stored detail pages are not fetched again
    with db.session() as session:
        assert session.scalar(select(func.count(Notice.id))) == 5

    refreshed = crawl(db.url, "ccgp", "--keyword", "DNA", *JUNE, "--refresh", proxy=server.url)
    assert refreshed.returncode == 0 and "5 unchanged" in refreshed.stdout
    assert detail_fetches(server) == fetched + 5


def test_channel_lists_stop_at_the_window(sqlite_db: Database, server: ReplayServer) -> None:
    result = crawl(sqlite_db.url, "ccgp", "--type", "award", *JUNE, proxy=server.url)
    assert result.returncode == 0, result.stderr
    # 22000103 (dfgg/zbgg page 0), 22000104 (dfgg/cjgg); the May notice on page 1 is outside the window.
    assert stored_keys(sqlite_db) == {"22000103", "22000104"}
    assert "www.ccgp.gov.cn/cggg/dfgg/zbgg/index_1.htm" in server.requests


def test_explicit_urls(sqlite_db: Database, server: ReplayServer) -> None:
    urls = ["http://www.ccgp.gov.cn/cggg/dfgg/gkzb/202406/t20240603_22000105.htm",
            "http://www.ccgp.gov.cn/cggg/dfgg/jzxcs/202406/t20240614_22000106.htm"]
    result = crawl(sqlite_db.url, "ccgp", "--url", urls[0], "--url", urls[1], proxy=server.url)
    assert result.returncode == 0, result.stderr
    assert stored_keys(sqlite_db) == {"22000105", "22000106"}
    assert last_run(sqlite_db).status == "succeeded"
    with sqlite_db.session() as session:
        # Two detail pages say nothing about the channel lists: the unfiltered query's watermark is not set.
        assert session.scalar(select(func.count(Watermark.id))) == 0


def test_a_page_that_does_not_parse_is_kept_and_recorded(sqlite_db: Database, server: ReplayServer) -> None:
    good = "http://www.ccgp.gov.cn/cggg/dfgg/gkzb/202406/t20240603_22000105.htm"
    broken = "http://www.ccgp.gov.cn/cggg/dfgg/gkzb/202406/t20240603_22000999.htm"
    server.add(broken, Reply("<html><head><title>改版了</title></head><body><p>页面结构已变</p></body></html>".encode()))
    result = crawl(sqlite_db.url, "ccgp", "--url", broken, "--url", good, proxy=server.url)
    # A page not read keeps the run from succeeding: the next run asks for it again.
    assert result.returncode == 1, result.stderr
    assert "ccgp: partial" in result.stdout and "1 new" in result.stdout and "1 errors" in result.stdout
    assert "1 list/detail page(s) not read (1 did not parse)" in result.stdout
    assert stored_keys(sqlite_db) == {"22000105"}
    with sqlite_db.session() as session:
        error = session.scalars(select(CrawlError)).one()
        assert (error.kind, error.url) == ("parse", broken) and "no notice" in error.message
        page = session.scalars(select(RawPage).where(RawPage.url == broken)).one()
        assert page.kind == "page" and error.raw_page_id == page.id  # the error points at its evidence


def test_429_is_waited_out_apart_from_other_retries(sqlite_db: Database, server: ReplayServer) -> None:
    url = "http://www.ccgp.gov.cn/cggg/dfgg/gkzb/202406/t20240610_22000107.htm"
    page = (SAMPLES / "detail_22000107.html").read_bytes()
    server.add(url, Reply(b"slow down", status=429, content_type="text/plain", headers={"Retry-After": "0"}),
               Reply(page))
    result = crawl(sqlite_db.url, "ccgp", "--url", url, proxy=server.url)
    assert result.returncode == 0, result.stderr
    assert "1 new" in result.stdout and "1 blocked" in result.stdout
    assert stored_keys(sqlite_db) == {"22000107"}


def test_interrupted_crawl_resumes(sqlite_db: Database, server: ReplayServer) -> None:
    stopped = crawl(sqlite_db.url, "ccgp", "--keyword", "DNA", *JUNE, "--set", "CLOSESPIDER_ITEMCOUNT=2",
                    "--set", "CONCURRENT_REQUESTS=1", proxy=server.url)
    assert stopped.returncode == 1 and "interrupted" in stopped.stdout
    partial = stored_keys(sqlite_db)
    assert 1 <= len(partial) < 5
    with sqlite_db.session() as session:
        assert session.scalar(select(func.count(Watermark.id))) == 0  # the window is not done
    resumed = crawl(sqlite_db.url, "ccgp", "--keyword", "DNA", *JUNE, proxy=server.url)
    assert resumed.returncode == 0, resumed.stderr
    assert stored_keys(sqlite_db) == DNA_DETAILS
    assert f"{len(partial)} already stored" in resumed.stdout


def test_watermark_sets_the_next_start(sqlite_db: Database, server: ReplayServer) -> None:
    assert crawl(sqlite_db.url, "ccgp", "--keyword", "DNA", *JUNE, proxy=server.url).returncode == 0
    empty = (SAMPLES / "search_dna_2.html").read_text(encoding="utf-8").split("<ul")[0] + \
        '<ul class="vT-srch-result-list-bid"></ul></body></html>'
    empty = empty.replace(" 5 ", " 0 ")
    server.add(build_search_url("DNA", dt.date(2024, 6, 29), dt.date(2024, 7, 5), page=1), Reply(empty.encode()))
    result = crawl(sqlite_db.url, "ccgp", "--keyword", "DNA", "--until", "2024-07-05", proxy=server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    # The watermark was 2024-06-30; the next run starts a day earlier, because notices appear late.
    assert any("start_time=2024%3A06%3A29" in key for key in server.requests)


def test_a_site_that_stays_blocked_fails_clearly(sqlite_db: Database, server: ReplayServer) -> None:
    blocked = Reply((SAMPLES / "rate_limited.html").read_bytes())
    for page in (1, 2):
        server.add(build_search_url("DNA", dt.date(2024, 6, 1), dt.date(2024, 6, 30), page=page), blocked)
    result = crawl(sqlite_db.url, "ccgp", "--keyword", "DNA", *JUNE, proxy=server.url)  # the default give-up
    assert result.returncode == 1
    assert "failed" in result.stdout and "block pages" in result.stdout
    assert "Traceback" not in result.stderr
    assert stored_keys(sqlite_db) == set()
    with sqlite_db.session() as session:
        assert session.scalars(select(CrawlError.kind)).all() == ["blocked"]
        assert set(session.scalars(select(RawPage.kind))) == {"blocked"}
        assert session.scalar(select(func.count(Watermark.id))) == 0
    run = last_run(sqlite_db)
    assert run.status == "failed" and run.counts["errors"] == 1 and run.counts["blocked"] == 4  # 1 + 3 retries


@pytest.mark.parametrize("status", [404, 500])
def test_a_search_page_with_an_http_error_fails_and_keeps_the_watermark(sqlite_db: Database, server: ReplayServer,
                                                                        status: int) -> None:
    first = build_search_url("DNA", dt.date(2024, 6, 1), dt.date(2024, 6, 30), page=1)
    server.add(first, Reply(b"<html><body>error</body></html>", status=status))
    result = crawl(sqlite_db.url, "ccgp", "--keyword", "DNA", *JUNE, proxy=server.url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ccgp: failed" in result.stdout and "1 errors" in result.stdout
    assert "1 list/detail page(s) not read (1 HTTP errors); the watermark was not advanced" in result.stdout
    assert "Traceback" not in result.stderr
    with sqlite_db.session() as session:
        error = session.scalars(select(CrawlError)).one()
        assert (error.kind, error.url, error.message) == ("http", first, f"HTTP {status} for a search page")
        page = session.get(RawPage, error.raw_page_id)
        assert page is not None and page.http_status == status  # the error page is the evidence
        assert session.scalar(select(func.count(Watermark.id))) == 0
    assert last_run(sqlite_db).status == "failed"


def test_a_later_list_page_failing_is_partial_and_keeps_the_watermark(sqlite_db: Database,
                                                                      server: ReplayServer) -> None:
    second = build_search_url("DNA", dt.date(2024, 6, 1), dt.date(2024, 6, 30), page=2)
    server.add(second, Reply(b"busy", status=503, content_type="text/plain"))
    result = crawl(sqlite_db.url, "ccgp", "--keyword", "DNA", *JUNE, proxy=server.url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ccgp: partial" in result.stdout and "the watermark was not advanced" in result.stdout
    assert 1 <= len(stored_keys(sqlite_db)) < 5  # page 1's notices are kept
    with sqlite_db.session() as session:
        assert session.scalars(select(CrawlError.kind)).all() == ["http"]
        assert session.scalar(select(func.count(Watermark.id))) == 0
    run = last_run(sqlite_db)
    assert run.status == "partial" and run.counts["http_errors"] == 1 and run.counts["pages_failed"] == 1
    # A source whose runs stay partial falls behind: the health check calls it failing.
    health = run_caigou("--db", sqlite_db.url, "health")
    assert "ccgp: failing — the last 1 run(s) partial: ccgp: 1 list/detail page(s) not read" in health.stdout


def test_a_channel_list_with_an_http_error_is_not_a_success(sqlite_db: Database, server: ReplayServer) -> None:
    server.add("http://www.ccgp.gov.cn/cggg/dfgg/cjgg/index.htm", Reply(b"gone", status=404))
    result = crawl(sqlite_db.url, "ccgp", "--type", "award", *JUNE, proxy=server.url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ccgp: partial" in result.stdout
    assert stored_keys(sqlite_db) == {"22000103"}  # the other channel was read
    with sqlite_db.session() as session:
        assert session.scalar(select(func.count(Watermark.id))) == 0


def test_unreachable_network_is_one_line(sqlite_db: Database) -> None:
    result = crawl(sqlite_db.url, "ccgp", "--keyword", "DNA", *JUNE, proxy="http://127.0.0.1:9")
    assert result.returncode == 1
    assert "could not reach the site" in result.stdout
    assert "Traceback" not in result.stderr
    assert last_run(sqlite_db).status == "failed"


@pytest.mark.parametrize(("args", "message"), [
    (("crawl", "nosuch"), "unknown source 'nosuch'; known: ccgp"),
    (("crawl", "ccgp", "--since", "2024-13-01"), "since '2024-13-01' is not a date"),
    (("crawl", "ccgp", "--since", "2024-06-30", "--until", "2024-06-01"), "is after until"),
    (("crawl", "ccgp", "--type", "purchase"), "unknown notice type purchase"),
    (("crawl", "ccgp", "--url", "www.ccgp.gov.cn/x.htm"), "not a web address"),
    (("crawl", "ccgp", "--url", "http://www.ccgp-xizang.gov.cn/freecms/site/xizang/ggxx/info/2024/a.html"),
     "is not on ccgp's portal (ccgp.gov.cn)"),
])
def test_bad_arguments_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run_caigou("--db", f"sqlite:///{tmp_path / 'x.db'}", *args)
    assert result.returncode == 2
    assert result.stderr.startswith("caigou: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr


def test_scrapy_crawl_from_the_repository_root(sqlite_db: Database, server: ReplayServer) -> None:
    url = "http://www.ccgp.gov.cn/cggg/dfgg/gkzb/202406/t20240610_22000107.htm"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "ccgp", "-a", f"url={url}",
         "-s", f"CAIGOU_DATABASE_URL={sqlite_db.url}", "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False",
         "-s", "LOG_LEVEL=WARNING"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "http_proxy": server.url, "PYTHONPATH": str(ROOT), "HOME": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert stored_keys(sqlite_db) == {"22000107"}
    assert last_run(sqlite_db).status == "succeeded"


def test_a_transient_error_is_retried_after_a_back_off(sqlite_db: Database, server: ReplayServer) -> None:
    url = "http://www.ccgp.gov.cn/cggg/dfgg/gkzb/202406/t20240610_22000107.htm"
    server.add(url, Reply(b"busy", status=503, content_type="text/plain"),
               Reply((SAMPLES / "detail_22000107.html").read_bytes()))
    result = crawl(sqlite_db.url, "ccgp", "--url", url, "--set", "CAIGOU_RETRY_BACKOFF=0.6", proxy=server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "succeeded — 1 pages, 1 new" in result.stdout and "0 errors" in result.stdout
    first, second = (server.times[i] for i, key in enumerate(server.requests) if key.endswith("22000107.htm"))
    assert second - first >= 0.6  # Scrapy's own RetryMiddleware asks again at once
    assert stored_keys(sqlite_db) == {"22000107"}


def test_a_huge_retry_after_is_capped(sqlite_db: Database, server: ReplayServer) -> None:
    url = "http://www.ccgp.gov.cn/cggg/dfgg/gkzb/202406/t20240610_22000107.htm"
    server.add(url, Reply(b"slow down", status=429, content_type="text/plain", headers={"Retry-After": "86400"}),
               Reply((SAMPLES / "detail_22000107.html").read_bytes()))
    result = crawl(sqlite_db.url, "ccgp", "--url", url, "--set", "CAIGOU_RETRY_AFTER_MAX=0.5", proxy=server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 new" in result.stdout and "1 blocked" in result.stdout
    first, second = (server.times[i] for i, key in enumerate(server.requests) if key.endswith("22000107.htm"))
    assert 0.5 <= second - first < 30  # waited, but the cap, not a day
    assert "waiting 0.5 s before try 2" in result.stderr


def test_a_run_killed_with_sigkill_is_marked_interrupted_by_the_next(sqlite_db: Database, server: ReplayServer) -> None:
    stuck = "http://www.ccgp.gov.cn/cggg/dfgg/gkzb/202406/t20240603_22000998.htm"
    server.add(stuck, Reply(b"busy", status=503, content_type="text/plain"))
    # The first try answers 503; the retry waits a minute: time to kill the crawl while its run is "running".
    process = start_caigou("--db", sqlite_db.url, "crawl", "ccgp", *FAST, "--url", stuck,
                           "--set", "CAIGOU_RETRY_BACKOFF=60", proxy=server.url)
    try:
        deadline = time.monotonic() + 60
        while stuck.split("//")[1] not in server.requests and time.monotonic() < deadline:
            time.sleep(0.2)
        assert stuck.split("//")[1] in server.requests, "the crawl never asked for the page"
        killed = last_run(sqlite_db)
        assert killed.status == "running" and killed.arguments["process"]["pid"] == process.pid
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    assert last_run(sqlite_db).status == "running"  # nothing closed it

    url = "http://www.ccgp.gov.cn/cggg/dfgg/gkzb/202406/t20240610_22000107.htm"
    result = crawl(sqlite_db.url, "ccgp", "--url", url, proxy=server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    with sqlite_db.session() as session:
        old = session.get(CrawlRun, killed.id)
        assert old.status == "interrupted" and old.finished_at is not None
        assert f"its process ({process.pid} on " in old.message and "ended without closing the run" in old.message
    assert last_run(sqlite_db).status == "succeeded"


def test_a_live_run_of_the_same_source_is_left_running(sqlite_db: Database, server: ReplayServer) -> None:
    from caigou.crawler.crawl_context import this_process
    from caigou.pipelines.store import NoticeStore

    store = NoticeStore(sqlite_db)
    live = store.start_run("ccgp", {"process": this_process()})  # this test's own process: alive
    elsewhere = store.start_run("ccgp", {"process": {"host": "another-host", "pid": 1, "start": None}})
    url = "http://www.ccgp.gov.cn/cggg/dfgg/gkzb/202406/t20240610_22000107.htm"
    assert crawl(sqlite_db.url, "ccgp", "--url", url, proxy=server.url).returncode == 0
    with sqlite_db.session() as session:
        assert session.get(CrawlRun, live).status == "running"
        assert session.get(CrawlRun, elsewhere).status == "running"  # another host's: not ours to judge


def search_page(total: int, pages: int = 1) -> Reply:
    """A search answer with no rows that claims ``total`` results over ``pages`` pages."""
    text = (SAMPLES / "search_dna_2.html").read_text(encoding="utf-8").split("<ul")[0]
    text = text.replace(" 5 ", f" {total} ") + '<ul class="vT-srch-result-list-bid"></ul>' + \
        f"<p class=\"pager\"><script>Pager({{size:{pages}, current:0}});</script></p></body></html>"
    return Reply(text.encode())


def test_a_prefecture_is_searched_as_its_province(sqlite_db: Database, server: ReplayServer) -> None:
    day = dt.date(2024, 6, 3)
    server.add(build_search_url("DNA", day, day, zone_id="54", zone_name="西藏自治区"), search_page(0))
    result = crawl(sqlite_db.url, "ccgp", "--keyword", "DNA", "--region", "540600", "--since", "2024-06-03",
                   "--until", "2024-06-03", proxy=server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert server.misses == []  # the route above: the province's name with its code, never 那曲市 beside 54
    [asked] = [dict(parse_qsl(urlsplit(key).query)) for key in server.requests if "bxsearch" in key]
    assert (asked["displayZone"], asked["zoneId"]) == ("西藏自治区", "54")


def test_a_single_day_over_the_search_cap_is_said_and_recorded(sqlite_db: Database, server: ReplayServer) -> None:
    day = dt.date(2024, 6, 3)
    server.add(build_search_url("DNA", day, day), search_page(1500))
    result = run_caigou("--db", sqlite_db.url, "crawl", "ccgp", *FAST, "-v",
                        "--keyword", "DNA", "--since", "2024-06-03", "--until", "2024-06-03", proxy=server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1500 results in one day, more than the portal's cap of 1000; only the first are reachable" in result.stderr
    assert "'caigou/windows_truncated': 1" in result.stderr  # Scrapy's stats dump (-v), as every windowed list
    with sqlite_db.session() as session:
        error = session.scalars(select(CrawlError)).one()
        assert error.kind == "truncated" and "2024-06-03" in error.message


def test_retry_after_in_seconds_or_as_a_date() -> None:
    from email.utils import format_datetime

    from caigou.crawler.middlewares import retry_after_seconds

    assert retry_after_seconds(b"120") == 120.0
    soon = format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90), usegmt=True)
    assert 80 <= retry_after_seconds(soon.encode()) <= 90
    assert retry_after_seconds(b"Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: at once
    assert retry_after_seconds(b"soon") is None and retry_after_seconds(None) is None
