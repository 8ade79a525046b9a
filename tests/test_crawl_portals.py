"""End-to-end crawls of the provincial and national portals (xizang, ggzy, qinghai, sichuan) through the real
Scrapy engine — the real ``caigou crawl`` in a subprocess — against replayed answers in the documented structure,
with the replay server as the http proxy, on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from caigou.replay import Reply, ReplayServer
from crawler.parsers import xizang
from models import CrawlError, RawPage, Watermark
from models.db import Database
from tests.crawling import crawl, run_caigou
from tests.portals import epoch_ms, html, json_reply, last_run, stored

JUNE = ("--since", "2024-05-01", "--until", "2024-06-30")
WINDOW_JUNE = (dt.date(2024, 5, 31), dt.date(2024, 6, 30))  # date_windows: 31 days back from --until
WINDOW_MAY = (dt.date(2024, 5, 1), dt.date(2024, 5, 30))


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    replay = ReplayServer().start()
    yield replay
    replay.stop()


# ---------------------------------------------------------------------------------------------------- xizang

XZ_TENDER = "5d2f0a7c1e9b4c3d8a6f2b1e0c9d8a71"
XZ_AWARD = "8b1c2d3e4f5a6b7c8d9e0f1a2b3c4d52"
XZ_LASA = "0f9e8d7c6b5a49382716a5b4c3d2e1f3"


def xizang_url(key: str, year: int = 2024) -> str:
    return f"http://www.ccgp-xizang.gov.cn/freecms/site/xizang/ggxx/info/{year}/{key}.html"


def xizang_row(key: str, title: str, time: str, type_name: str, purchaser: str, budget: str = "") -> dict[str, object]:
    return {"id": key, "title": title, "pageurl": f"/freecms/site/xizang/ggxx/info/2024/{key}.html",
            "htmlpath": f"/freecms/site/xizang/ggxx/info/2024/{key}.html", "description": "",
            "addtime": epoch_ms(time), "addtimeStr": time[:10], "htmlIndexnum": 0,
            "fieldValues": {"f_noticeTime": time, "f_purchaser": purchaser, "f_budget": budget,
                            "f_noticeTypeName": type_name}}


def xizang_list(total: int, *rows: dict[str, object]) -> Reply:
    return json_reply({"code": "200", "msg": "操作成功", "total": total, "data": list(rows)})


def xizang_list_url(window: tuple[dt.date, dt.date], page: int = 1, keyword: str = "", type_code: str = "%",
                    region: str = "") -> str:
    return xizang.list_url(keyword, type_code, region, window[0], window[1], page, 100)


@pytest.fixture
def xizang_site(server: ReplayServer) -> ReplayServer:
    tender = xizang_row(XZ_TENDER, "那曲市公安局STR试剂盒采购项目公开招标公告", "2024-06-12 10:30:00", "采购公告",
                        "那曲市公安局", "569800")
    award = xizang_row(XZ_AWARD, "那曲市公安局STR试剂盒采购项目中标（成交）结果公告", "2024-06-20 16:05:00",
                       "中标（成交）结果公告", "那曲市公安局")
    lasa = xizang_row(XZ_LASA, "拉萨市公安局物证鉴定DNA实验室耗材采购竞争性磋商公告", "2024-05-20 09:00:00",
                      "采购公告", "拉萨市公安局", "380000")
    # The June window claims 101 results: 100 a page makes two pages.
    server.add(xizang_list_url(WINDOW_JUNE, 1), xizang_list(101, award))
    server.add(xizang_list_url(WINDOW_JUNE, 2), xizang_list(101, tender))
    server.add(xizang_list_url(WINDOW_MAY, 1), xizang_list(1, lasa))
    server.add(xizang_url(XZ_TENDER), html("xizang", "detail_tender.html"))
    # The award page first answers the firewall's check page, then the notice.
    server.add(xizang_url(XZ_AWARD), html("xizang", "waf_block.html"), html("xizang", "detail_award.html"))
    server.add(xizang_url(XZ_LASA), html("xizang", "detail_lasa.html"))
    return server


def test_xizang_pages_windows_details_blocks_and_a_second_run(db: Database, xizang_site: ReplayServer) -> None:
    result = crawl(db.url, "xizang", *JUNE, proxy=xizang_site.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert xizang_site.misses == []
    notices = stored(db)
    assert set(notices) == {XZ_TENDER, XZ_AWARD, XZ_LASA}
    tender, award = notices[XZ_TENDER], notices[XZ_AWARD]
    assert tender["source"] == "xizang" and tender["url"] == xizang_url(XZ_TENDER)
    assert tender["title"] == "那曲市公安局STR试剂盒采购项目公开招标公告" and tender["type"] == "tender"
    assert tender["published"] == "2024-06-12 10:30"
    assert (tender["buyer"], tender["region"]) == ("那曲市公安局", "540600")  # narrowed from 西藏 by the buyer
    assert tender["agency"] == "西藏雪域招标代理有限公司" and tender["project_code"] == "XZNQ2024-GK031"
    assert tender["budget"] == Decimal("569800.00")
    assert tender["attachments"] == ["http://www.ccgp-xizang.gov.cn/freecms/upload/2024/06/12/zbwj-nq031.pdf"]
    assert award["type"] == "award" and award["published"] == "2024-06-20 16:05"
    assert award["award"] == Decimal("565000.00")
    assert award["suppliers"] == [("西藏锐新生物科技有限公司", Decimal("565000.00"))]
    assert notices[XZ_LASA]["region"] == "540100" and notices[XZ_LASA]["budget"] == Decimal("380000.00")
    run = last_run(db)
    assert run.status == "succeeded" and run.counts["new"] == 3 and run.counts["blocked"] == 1
    with db.session() as session:
        kinds = sorted(session.scalars(select(RawPage.kind).where(RawPage.url == xizang_url(XZ_AWARD))))
        assert kinds == ["blocked", "page"]  # the firewall's page is evidence, never a notice
        assert session.scalar(select(Watermark.until_date)) == dt.date(2024, 6, 30)
    details = sum(1 for key in xizang_site.requests if "/ggxx/info/" in key)

    again = crawl(db.url, "xizang", *JUNE, proxy=xizang_site.url)
    assert again.returncode == 0, again.stderr
    assert "0 new" in again.stdout and "3 already stored" in again.stdout
    assert sum(1 for key in xizang_site.requests if "/ggxx/info/" in key) == details


def test_xizang_keyword_type_and_region_go_into_the_query(db: Database, server: ReplayServer) -> None:
    row = xizang_row(XZ_AWARD, "那曲市公安局STR试剂盒采购项目中标（成交）结果公告", "2024-06-20 16:05:00",
                     "中标（成交）结果公告", "那曲市公安局")
    server.add(xizang_list_url(WINDOW_JUNE, keyword="STR", type_code="00102", region="540600"), xizang_list(1, row))
    server.add(xizang_url(XZ_AWARD), html("xizang", "detail_award.html"))
    result = crawl(db.url, "xizang", "--keyword", "STR", "--type", "award", "--region", "540600",
                   "--since", "2024-05-31", "--until", "2024-06-30", proxy=server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert server.misses == []
    assert set(stored(db)) == {XZ_AWARD}


def test_xizang_html_where_json_was_expected_is_a_block(db: Database, server: ReplayServer) -> None:
    server.add(xizang_list_url(WINDOW_JUNE), html("xizang", "waf_block.html"))
    result = crawl(db.url, "xizang", "--since", "2024-05-31", "--until", "2024-06-30",
                   "--set", "CAIGOU_BLOCK_GIVE_UP=1", proxy=server.url)
    assert result.returncode == 1 and "block pages" in result.stdout
    assert "Traceback" not in result.stderr
    with db.session() as session:
        assert session.scalars(select(CrawlError.kind)).all() == ["blocked"]


def test_a_region_outside_the_portal_is_one_line(tmp_path: Path) -> None:
    result = run_caigou("--db", f"sqlite:///{tmp_path / 'x.db'}", "crawl", "xizang", "--region", "63")
    assert result.returncode == 2
    assert result.stderr.strip() == ("caigou: error: xizang covers only the province(s) 54; "
                                     "region 63 is outside them")
