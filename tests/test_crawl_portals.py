"""End-to-end crawls of the provincial and national portals (xizang, ggzy, qinghai, sichuan) through the real
Scrapy engine — the real ``caigou crawl`` in a subprocess — against replayed answers in the documented structure,
with the replay server as the http proxy.

The database is a passive store here, so the flows run on SQLite (``sqlite_db``). The PostgreSQL smoke run (``db``,
both databases) is ``test_xizang_pages_windows_details_blocks_and_a_second_run``, the richest flow: a notice's
columns (amounts, times, region, suppliers, attachments), block pages kept as evidence, the run's counts, the
watermark and a second run that finds the notices stored. Every portal stores through the same ``NoticeStore``."""
from __future__ import annotations

import datetime as dt
import os
import pty
import select as fd_select
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from caigou.crawler.parsers import ggzy, qinghai, sichuan, xizang
from caigou.models import CrawlError, RawPage, Watermark
from caigou.models.db import Database
from caigou.replay import ReplayServer, Reply
from tests.crawling import FAST, ROOT, _environment, chromium_or_skip, run_caigou
from tests.crawling import crawl as crawl_with_attachments
from tests.digest_data import free_port
from tests.portals import JSON, epoch_ms, html, json_reply, last_run, page, stored

JUNE = ("--since", "2024-05-01", "--until", "2024-06-30")
WINDOW_JUNE = (dt.date(2024, 5, 31), dt.date(2024, 6, 30))  # date_windows: 31 days back from --until
WINDOW_MAY = (dt.date(2024, 5, 1), dt.date(2024, 5, 30))


def crawl(database_url: str, source: str, *args: str, proxy: str | None = None,  # type: ignore[no-untyped-def]
          env: dict[str, str] | None = None):
    """These tests are about the portals' lists and pages; attachments are tested in tests/test_attachments.py."""
    return crawl_with_attachments(database_url, source, "--attachments", "off", *args, proxy=proxy, env=env)


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


def test_xizang_keyword_type_and_region_go_into_the_query(sqlite_db: Database, server: ReplayServer) -> None:
    row = xizang_row(XZ_AWARD, "那曲市公安局STR试剂盒采购项目中标（成交）结果公告", "2024-06-20 16:05:00",
                     "中标（成交）结果公告", "那曲市公安局")
    server.add(xizang_list_url(WINDOW_JUNE, keyword="STR", type_code="00102", region="540600"), xizang_list(1, row))
    server.add(xizang_url(XZ_AWARD), html("xizang", "detail_award.html"))
    result = crawl(sqlite_db.url, "xizang", "--keyword", "STR", "--type", "award", "--region", "540600",
                   "--since", "2024-05-31", "--until", "2024-06-30", proxy=server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert server.misses == []
    assert set(stored(sqlite_db)) == {XZ_AWARD}


def test_xizang_html_where_json_was_expected_is_a_block(sqlite_db: Database, server: ReplayServer) -> None:
    server.add(xizang_list_url(WINDOW_JUNE), html("xizang", "waf_block.html"))
    result = crawl(sqlite_db.url, "xizang", "--since", "2024-05-31", "--until", "2024-06-30",
                   "--set", "CAIGOU_BLOCK_GIVE_UP=1", proxy=server.url)
    assert result.returncode == 1 and "block pages" in result.stdout
    assert "Traceback" not in result.stderr
    with sqlite_db.session() as session:
        assert session.scalars(select(CrawlError.kind)).all() == ["blocked"]


def test_xizang_list_fields_win_and_the_page_fills_in(sqlite_db: Database, server: ReplayServer) -> None:
    """f_purchaser / f_agency / f_budget are the site's own data: taken over the page's text when present; a row
    without them leaves the page's values."""
    listed = xizang_row(XZ_TENDER, "那曲市公安局STR试剂盒采购项目公开招标公告", "2024-06-12 10:30:00", "采购公告",
                        "那曲市公安局刑事侦查支队", "600000")
    listed["fieldValues"]["f_agency"] = "西藏高原招标代理有限公司"  # type: ignore[index]
    bare = xizang_row(XZ_LASA, "拉萨市公安局物证鉴定DNA实验室耗材采购竞争性磋商公告", "2024-05-20 09:00:00", "采购公告",
                      "")
    server.add(xizang_list_url(WINDOW_JUNE), xizang_list(2, listed, bare))
    server.add(xizang_list_url(WINDOW_MAY), xizang_list(0))
    server.add(xizang_url(XZ_TENDER), html("xizang", "detail_tender.html"))
    server.add(xizang_url(XZ_LASA), html("xizang", "detail_lasa.html"))
    result = crawl(sqlite_db.url, "xizang", *JUNE, proxy=server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    notices = stored(sqlite_db)
    tender, lasa = notices[XZ_TENDER], notices[XZ_LASA]
    assert (tender["buyer"], tender["agency"]) == ("那曲市公安局刑事侦查支队", "西藏高原招标代理有限公司")
    assert tender["budget"] == Decimal("600000.00")  # the page says 569,800
    assert (lasa["buyer"], lasa["budget"]) == ("拉萨市公安局", Decimal("380000.00"))  # from the page


def test_a_region_outside_the_portal_is_one_line(tmp_path: Path) -> None:
    result = run_caigou("--db", f"sqlite:///{tmp_path / 'x.db'}", "crawl", "xizang", "--region", "63")
    assert result.returncode == 2
    assert result.stderr.strip() == ("caigou: error: xizang covers only the province(s) 54; "
                                     "region 63 is outside them")


# ---------------------------------------------------------------------------------------------------- ggzy

GZ_AWARD, GZ_TENDER, GZ_INQUIRY = "0054f3e1a2b6", "0054c7d8e9f0", "0054a1b2c3d4"
JUNE_ONLY = ("--since", "2024-06-01", "--until", "2024-06-30")


def ggzy_paths(key: str, day: str, stage: str = "0201") -> tuple[str, str]:
    """The list's /a/ wrapper URL and the /b/ content URL the spider fetches."""
    path = f"/information/html/{{}}/540000/{stage}/{day}/{key}.shtml"
    return f"http://www.ggzy.gov.cn{path.format('a')}", f"http://www.ggzy.gov.cn{path.format('b')}"


def ggzy_record(key: str, title: str, time: str, info_type: str, stage: str = "0201",
                city: str = "") -> dict[str, object]:
    return {"id": key, "title": title, "publishTime": time, "provinceText": "西藏", "cityText": city,
            "businessTypeText": "政府采购", "informationTypeText": info_type,
            "transactionSourcesPlatformText": "西藏自治区公共资源交易平台", "tenderProjectCode": "",
            "url": ggzy_paths(key, time[:10].replace("-", ""), stage)[0]}


def ggzy_list(total: int, *records: dict[str, object], code: int = 200) -> Reply:
    return json_reply({"code": code, "message": "success", "data": {"records": list(records), "total": total,
                                                                   "size": 20, "pages": -(-total // 20)}})


def ggzy_route(server: ReplayServer, start: dt.date, end: dt.date, page: int, *replies: Reply, keyword: str = "",
               stage: str = "0200", province: str = "540000", source_type: str = "1") -> None:
    """``replies`` for one source type's list; the others (every source type is asked) have nothing."""
    for source in ggzy.SOURCE_TYPES:
        answer = replies if source == source_type else (ggzy_list(0),)
        if source == source_type or page == 1:
            server.add(ggzy.LIST_URL, *answer, form=ggzy.list_form(keyword, stage, province, start, end, page, source))


AWARD_RECORD = ggzy_record(GZ_AWARD, "昌都市公安局DNA实验室建设项目（二期）中标结果公告", "2024-06-24 11:20:00",
                           "中标公告", "0202", "昌都市")
TENDER_RECORD = ggzy_record(GZ_TENDER, "那曲市公安局STR试剂盒采购项目公开招标公告", "2024-06-12 10:45:00",
                            "采购/资格预审公告", city="那曲市")
INQUIRY_RECORD = ggzy_record(GZ_INQUIRY, "日喀则市公安局人像比对系统运维服务询价公告", "2024-06-05 09:10:00",
                             "采购/资格预审公告", city="日喀则市")


@pytest.fixture
def ggzy_site(server: ReplayServer) -> ReplayServer:
    server.add(ggzy.DEAL_LIST_PAGE, Reply("<html><body>交易公开</body></html>".encode()))
    for record, name in ((AWARD_RECORD, "b_changdu_award.html"), (TENDER_RECORD, "b_naqu_tender.html"),
                         (INQUIRY_RECORD, "b_shigatse_inquiry.html")):
        key = str(record["id"])
        stage = "0202" if key == GZ_AWARD else "0201"
        server.add(ggzy_paths(key, str(record["publishTime"])[:10].replace("-", ""), stage)[1], html("ggzy", name))
    return server


def test_ggzy_splits_a_capped_window_pages_and_reads_content_pages(sqlite_db: Database,
                                                                   ggzy_site: ReplayServer) -> None:
    june, first_half, second_half = ((dt.date(2024, 6, 1), dt.date(2024, 6, 30)),
                                     (dt.date(2024, 6, 1), dt.date(2024, 6, 15)),
                                     (dt.date(2024, 6, 16), dt.date(2024, 6, 30)))
    # The whole month passes the 1,000 cap: the spider must halve it. The first answer is "too frequent".
    ggzy_route(ggzy_site, *june, 1, json_reply({"code": 800, "message": "访问太频繁"}), ggzy_list(1500, AWARD_RECORD))
    ggzy_route(ggzy_site, *second_half, 1, ggzy_list(21, AWARD_RECORD))
    ggzy_route(ggzy_site, *second_half, 2, ggzy_list(21, TENDER_RECORD))  # 21 results: two pages of 20
    ggzy_route(ggzy_site, *first_half, 1, ggzy_list(1, INQUIRY_RECORD))
    result = crawl(sqlite_db.url, "ggzy", "--region", "54", *JUNE_ONLY, proxy=ggzy_site.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ggzy_site.misses == []
    assert "www.ggzy.gov.cn/deal/dealList.html" in ggzy_site.requests  # cookies first
    assert not any("/html/a/" in key for key in ggzy_site.requests)  # the wrapper is never fetched
    notices = stored(sqlite_db)
    assert set(notices) == {GZ_AWARD, GZ_TENDER, GZ_INQUIRY}
    award = notices[GZ_AWARD]
    assert award["url"] == ggzy_paths(GZ_AWARD, "20240624", "0202")[1]
    assert award["title"] == "昌都市公安局DNA实验室建设项目（二期）中标结果公告" and award["type"] == "award"
    assert award["published"] == "2024-06-24 11:20" and award["region"] == "540300"
    assert (award["buyer"], award["agency"]) == ("昌都市公安局", "西藏康巴招标咨询有限公司")
    assert award["project_code"] == "CDGA-2024-017"
    assert award["suppliers"] == [("西藏高原刑科技术有限公司", Decimal("2865000.00"))]
    assert award["award"] == Decimal("2865000.00")
    assert notices[GZ_TENDER]["budget"] == Decimal("569800.00") and notices[GZ_TENDER]["type"] == "tender"
    assert len(notices[GZ_TENDER]["attachments"]) == 2 and award["attachments"] == []
    assert notices[GZ_INQUIRY]["type"] == "inquiry" and notices[GZ_INQUIRY]["region"] == "540200"
    run = last_run(sqlite_db)
    assert run.status == "succeeded" and run.counts["blocked"] == 1
    with sqlite_db.session() as session:  # each list answer is archived with the form that asked for it
        asked = [page.headers.get("X-Caigou-Request", "")
                 for page in session.scalars(select(RawPage).where(RawPage.url == ggzy.LIST_URL))]
        provincial = [value for value in asked if "SOURCE_TYPE=1&" in value]
        assert len(provincial) == 5 and all(value.startswith("POST ") for value in asked)  # 4 answers, 1 block
        assert sum("PAGENUMBER=2" in value and "TIMEBEGIN=2024-06-16" in value for value in asked) == 1
    for source in ("2", "3"):  # the other source types, asked once for the month (they have nothing)
        assert sum(f"SOURCE_TYPE={source}&" in key for key in ggzy_site.requests) == 1
    details = sum(1 for key in ggzy_site.requests if "/html/b/" in key)

    again = crawl(sqlite_db.url, "ggzy", "--region", "54", *JUNE_ONLY, proxy=ggzy_site.url)
    assert again.returncode == 0 and "3 already stored" in again.stdout
    assert sum(1 for key in ggzy_site.requests if "/html/b/" in key) == details


GZ_LINZHI, GZ_SHANNAN = "0054b1c2d3e4", "0054e5f6a7b8"


def test_ggzy_reads_detail_tables_and_compact_text_of_every_source_type(sqlite_db: Database,
                                                                        server: ReplayServer) -> None:
    """B pages carrying the platform's data, not the ministry's text: a ``detail_Table`` and compact lines; the
    second notice is listed only under source type 2 (central enterprises), which SOURCE_TYPE 1 would miss."""
    june = (dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    linzhi = ggzy_record(GZ_LINZHI, "林芝市公安局人脸识别卡口系统采购项目中标结果公示", "2024-06-18 09:40:00", "中标公告",
                         "0202", "林芝市")
    shannan = ggzy_record(GZ_SHANNAN, "山南市公安局DNA检验耗材采购项目成交公告", "2024-06-26 15:10:00", "中标公告",
                          "0202", "山南市")
    server.add(ggzy.DEAL_LIST_PAGE, Reply("<html><body>交易公开</body></html>".encode()))
    for source, records in (("1", [linzhi]), ("2", [shannan]), ("3", [])):
        server.add(ggzy.LIST_URL, ggzy_list(len(records), *records),
                   form=ggzy.list_form("", "0200", "540000", *june, 1, source))
    server.add(ggzy_paths(GZ_LINZHI, "20240618", "0202")[1], html("ggzy", "b_detail_table.html"))
    server.add(ggzy_paths(GZ_SHANNAN, "20240626", "0202")[1], html("ggzy", "b_compact.html"))
    result = crawl(sqlite_db.url, "ggzy", "--region", "54", *JUNE_ONLY, proxy=server.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert server.misses == []
    notices = stored(sqlite_db)
    linzhi_notice, shannan_notice = notices[GZ_LINZHI], notices[GZ_SHANNAN]
    assert (linzhi_notice["buyer"], linzhi_notice["agency"]) == ("林芝市公安局", "西藏尼洋河招标代理有限公司")
    assert linzhi_notice["project_code"] == "LZGA-2024-022" and linzhi_notice["region"] == "540400"
    assert linzhi_notice["suppliers"] == [("西藏天眼智能科技有限公司", Decimal("3186000.00"))]
    assert linzhi_notice["award"] == Decimal("3186000.00")
    assert shannan_notice["buyer"] == "山南市公安局"  # not "山南市公安局 联系人：次仁 …"
    assert shannan_notice["suppliers"] == [("西藏雪域生物科技有限公司", Decimal("1150000.00"))]
    assert shannan_notice["award"] == Decimal("1150000.00") and shannan_notice["region"] == "540500"


def test_ggzy_rechecks_the_keyword_in_titles(sqlite_db: Database, ggzy_site: ReplayServer) -> None:
    june = (dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    # 试剂盒: one title has it, one does not (kept out). 人脸识别: no hits, so the site sent its unfiltered list
    # (40 results, two pages): nothing is kept and page 2 is not asked for.
    ggzy_route(ggzy_site, *june, 1, ggzy_list(2, TENDER_RECORD, AWARD_RECORD), keyword="试剂盒")
    ggzy_route(ggzy_site, *june, 1, ggzy_list(40, AWARD_RECORD, INQUIRY_RECORD), keyword="人脸识别")
    result = crawl(sqlite_db.url, "ggzy", "--region", "54", "--keyword", "试剂盒", "--keyword", "人脸识别", *JUNE_ONLY,
                   proxy=ggzy_site.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert ggzy_site.misses == []
    assert set(stored(sqlite_db)) == {GZ_TENDER}


def test_ggzy_filters_a_prefecture_by_its_rows(sqlite_db: Database, ggzy_site: ReplayServer) -> None:
    june = (dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    ggzy_route(ggzy_site, *june, 1, ggzy_list(3, AWARD_RECORD, TENDER_RECORD, INQUIRY_RECORD))
    result = crawl(sqlite_db.url, "ggzy", "--region", "540600", *JUNE_ONLY, proxy=ggzy_site.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(stored(sqlite_db)) == {GZ_TENDER}  # 那曲市 only


def test_ggzy_captcha_stops_the_source_at_once(sqlite_db: Database, ggzy_site: ReplayServer) -> None:
    june = (dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    ggzy_route(ggzy_site, *june, 1, json_reply({"code": 829, "message": "请输入验证码"}))
    result = crawl(sqlite_db.url, "ggzy", "--region", "54", *JUNE_ONLY, proxy=ggzy_site.url)
    assert result.returncode == 1
    assert "failed" in result.stdout and "captcha" in result.stdout and "code 829" in result.stdout
    assert "Traceback" not in result.stderr
    assert sum(1 for key in ggzy_site.requests if "getTradList" in key and "SOURCE_TYPE=1&" in key) == 1  # not retried
    assert stored(sqlite_db) == {}
    run = last_run(sqlite_db)
    assert run.status == "failed" and "captcha" in run.message
    with sqlite_db.session() as session:
        error = session.scalars(select(CrawlError)).one()
        assert error.kind == "captcha" and error.url == ggzy.LIST_URL and error.raw_page_id is not None
        assert session.scalar(select(Watermark.id)) is None  # the window was not done


# ---------------------------------------------------------------------------------------------------- qinghai

QH_CONSULTATION, QH_AWARD = "Qh7Lx2yT0aB9cD1eF3gH5w==", "Gl4Mn8pQ2rS6tU0vW4xY8z=="
QH_XINING = "Xn2Ab4Cd6Ef8Gh0Ij2Kl4w=="
QH_AWARD_PAGE = "http://www.ccgp-qinghai.gov.cn/site/detail?parentId=&articleId=Gl4Mn8pQ2rS6tU0vW4xY8z%3D%3D"


def qinghai_row(key: str, title: str, time: str, district: str, district_name: str,
                path_name: str) -> dict[str, object]:
    """A ``/portal/category`` row as Guangxi's answers of 2024 show them (no URL: the articleId is the key)."""
    return {"articleId": key, "annId": None, "siteId": 63, "author": "青海三江源招标代理有限公司", "pathName": path_name,
            "title": title, "content": None, "publishDate": epoch_ms(time), "districtCode": district,
            "gpCatalogName": "公安专用设备", "procurementMethod": "竞争性磋商", "projectCode": None,
            "districtName": district_name, "purchaseName": None, "invalid": 0}


def qinghai_answer(total: int, *rows: dict[str, object]) -> Reply:
    return json_reply({"success": True, "result": {"data": {"total": total, "data": list(rows)}}})


def qinghai_route(server: ReplayServer, category: str, page: int, *replies: Reply) -> None:
    body = qinghai.category_body(category, dt.date(2024, 6, 1), dt.date(2024, 6, 30), page)
    server.add(qinghai.category_url(), *replies, json_body=body)


def qinghai_empty(server: ReplayServer, *but: str) -> None:
    """Every category's list answers "none" (the spider asks each in turn), but those a test routes itself."""
    for code in qinghai.ALL_CATEGORY_CODES:
        if code not in but:
            qinghai_route(server, code, 1, qinghai_answer(0))


CONSULTATION_ROW = qinghai_row(QH_CONSULTATION, "玉树藏族自治州公安局DNA检验试剂及耗材采购项目竞争性磋商公告",
                               "2024-06-12 11:00:00", "632700", "青海省玉树藏族自治州", "竞争性磋商公告")
AWARD_ROW = qinghai_row(QH_AWARD, "果洛藏族自治州公安局人像识别系统采购项目中标（成交）结果公告", "2024-06-24 17:30:00",
                        "632600", "青海省果洛藏族自治州", "中标（成交）结果公告")
XINING_ROW = qinghai_row(QH_XINING, "西宁市第一中学办公家具采购项目中标（成交）结果公告", "2024-06-20 10:00:00",
                         "630100", "青海省西宁市", "中标（成交）结果公告")


@pytest.fixture
def qinghai_site(server: ReplayServer) -> ReplayServer:
    server.add(qinghai.detail_url(QH_CONSULTATION), Reply(page("qinghai", "detail_yushu_consultation.json"),
                                                          content_type=JSON))
    server.add(qinghai.detail_url(QH_AWARD), Reply(page("qinghai", "detail_guoluo_award.json"), content_type=JSON))
    return server


def test_qinghai_category_lists_and_json_notices(sqlite_db: Database, qinghai_site: ReplayServer) -> None:
    qinghai_empty(qinghai_site, "ZcyAnnouncement3011", "ZcyAnnouncement4")
    qinghai_route(qinghai_site, "ZcyAnnouncement3011", 1, qinghai_answer(1, CONSULTATION_ROW))
    qinghai_route(qinghai_site, "ZcyAnnouncement4", 1, qinghai_answer(16, AWARD_ROW))  # 16 results: two pages of 15
    qinghai_route(qinghai_site, "ZcyAnnouncement4", 2, qinghai_answer(16, XINING_ROW))
    qinghai_site.add(qinghai.detail_url(QH_XINING), json_reply({"success": True, "result": {"data": {
        "title": "西宁市第一中学办公家具采购项目中标（成交）结果公告", "articleId": QH_XINING, "publishDate": 1718848800000,
        "districtCode": "630100", "content": "<p>一、项目编号：XNZC2024-201</p><p>1.采购人信息</p><p>名 称：西宁市第一中学</p>",
        "attachmentList": None}}}))
    result = crawl(sqlite_db.url, "qinghai", *JUNE_ONLY, proxy=qinghai_site.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert qinghai_site.misses == []
    notices = stored(sqlite_db)
    assert set(notices) == {QH_CONSULTATION, QH_AWARD, QH_XINING}
    consultation, award = notices[QH_CONSULTATION], notices[QH_AWARD]
    assert consultation["title"] == "玉树藏族自治州公安局DNA检验试剂及耗材采购项目竞争性磋商公告"
    assert consultation["type"] == "consultation" and consultation["published"] == "2024-06-12 11:00"
    assert (consultation["region"], consultation["buyer"]) == ("632700", "玉树藏族自治州公安局")
    assert consultation["agency"] == "青海三江源招标代理有限公司"  # the author is the agency here, never the buyer
    assert consultation["budget"] == Decimal("1280000.00") and consultation["project_code"] == "YSZC2024-089"
    assert len(consultation["attachments"]) == 1 and "Y-STR检测试剂盒" in str(consultation["body"])
    assert award["url"] == QH_AWARD_PAGE  # the page for people, not the JSON
    assert award["type"] == "award" and award["region"] == "632600" and award["buyer"] == "果洛藏族自治州公安局"
    assert award["suppliers"] == [("青海智安信息技术有限公司", Decimal("968000.00"))]  # ccgp's code-* cells
    assert award["award"] == Decimal("968000.00") and len(award["attachments"]) == 1
    assert notices[QH_XINING]["region"] == "630000"  # 西宁 is not in the regions table: its province
    assert last_run(sqlite_db).status == "succeeded"
    with sqlite_db.session() as session:
        archived = session.scalars(select(RawPage).where(RawPage.url == qinghai.detail_url(QH_AWARD))).one()
        assert archived.body.lstrip().startswith(b"{")

    again = crawl(sqlite_db.url, "qinghai", *JUNE_ONLY, proxy=qinghai_site.url)
    assert again.returncode == 0 and "3 already stored" in again.stdout
    assert sum(1 for key in qinghai_site.requests if "/portal/detail" in key) == 3


def test_qinghai_type_region_and_keyword_filter_the_rows(sqlite_db: Database, qinghai_site: ReplayServer) -> None:
    qinghai_route(qinghai_site, "ZcyAnnouncement4", 1, qinghai_answer(2, AWARD_ROW, XINING_ROW))
    result = crawl(sqlite_db.url, "qinghai", "--region", "632600", "--type", "award", "--keyword", "人像", *JUNE_ONLY,
                   proxy=qinghai_site.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert qinghai_site.misses == []  # only the award category was asked for
    assert set(stored(sqlite_db)) == {QH_AWARD}
    assert not any(QH_XINING.replace("=", "%3D") in key for key in qinghai_site.requests)


def test_qinghai_type_without_a_category_asks_every_one_and_keeps_by_label(sqlite_db: Database,
                                                                           qinghai_site: ReplayServer) -> None:
    invitation = {**CONSULTATION_ROW, "pathName": "邀请招标公告"}
    qinghai_empty(qinghai_site, "ZcyAnnouncement2")
    tender = {**AWARD_ROW, "pathName": "公开招标公告"}
    qinghai_route(qinghai_site, "ZcyAnnouncement2", 1, qinghai_answer(2, invitation, tender))
    result = crawl(sqlite_db.url, "qinghai", "--type", "invitation", *JUNE_ONLY, proxy=qinghai_site.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert qinghai_site.misses == []
    assert sum(1 for key in qinghai_site.requests if "/portal/category" in key) == len(qinghai.ALL_CATEGORY_CODES)
    assert set(stored(sqlite_db)) == {QH_CONSULTATION}


def test_qinghai_aliyun_challenge_without_a_browser_stops_the_source(sqlite_db: Database,
                                                                     qinghai_site: ReplayServer) -> None:
    qinghai_route(qinghai_site, "ZcyAnnouncement4", 1, html("qinghai", "aliyun_waf.html"))
    result = crawl(sqlite_db.url, "qinghai", "--type", "award", *JUNE_ONLY, proxy=qinghai_site.url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "qinghai: stopped (challenge)" in result.stdout
    assert "Aliyun WAF's JavaScript challenge (acw_sc__v2), which only a browser passes" in result.stdout
    assert "CAIGOU_BROWSER=1" in result.stdout and "Traceback" not in result.stderr
    assert sum(1 for key in qinghai_site.requests if "/portal/category" in key) == 1  # not retried
    with sqlite_db.session() as session:
        error = session.scalars(select(CrawlError)).one()
        assert error.kind == "challenge"
        assert b"acw_sc__v2" in session.get(RawPage, error.raw_page_id).body
    assert stored(sqlite_db) == {} and last_run(sqlite_db).status == "failed"


CHALLENGE = (b"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body><script>var arg1='6A1B2C3D4E5F607182';"
             b"document.cookie='acw_sc__v2=6a1b2c3d4e5f607182; path=/';</script></body></html>")


def test_qinghai_through_the_browser_passes_the_aliyun_challenge(sqlite_db: Database,
                                                                 qinghai_site: ReplayServer) -> None:
    """CAIGOU_BROWSER=1: Chromium runs the challenge's script, and the retry carries the cookie it set."""
    pytest.importorskip("scrapy_playwright")
    chromium = chromium_or_skip()
    qinghai_route(qinghai_site, "ZcyAnnouncement4", 1, qinghai_answer(1, AWARD_ROW))
    qinghai_site.add(qinghai.detail_url(QH_AWARD), Reply(CHALLENGE),
                     Reply(page("qinghai", "detail_guoluo_award.json"), content_type=JSON))
    result = crawl(sqlite_db.url, "qinghai", "--type", "award", *JUNE_ONLY, "--set", "CAIGOU_BROWSER=1",
                   proxy=qinghai_site.url, env={"CAIGOU_BROWSER_PATH": chromium})
    assert result.returncode == 0, result.stdout + result.stderr
    assert [key for key in qinghai_site.misses if "ccgp-qinghai" in key] == []
    assert stored(sqlite_db)[QH_AWARD]["suppliers"] == [("青海智安信息技术有限公司", Decimal("968000.00"))]
    details = [headers for key, headers in zip(qinghai_site.requests, qinghai_site.headers, strict=False) if "/portal/detail" in key]
    assert len(details) == 2 and "acw_sc__v2" not in details[0].get("cookie", "")
    assert "acw_sc__v2=6a1b2c3d4e5f607182" in details[1].get("cookie", "")
    assert last_run(sqlite_db).counts["blocked"] == 1


def test_qinghai_explicit_page_for_people_is_read_from_the_api(sqlite_db: Database, qinghai_site: ReplayServer) -> None:
    result = crawl(sqlite_db.url, "qinghai", "--url", QH_AWARD_PAGE, proxy=qinghai_site.url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(stored(sqlite_db)) == {QH_AWARD} and stored(sqlite_db)[QH_AWARD]["url"] == QH_AWARD_PAGE


# ---------------------------------------------------------------------------------------------------- sichuan

SC_GANZI, SC_ABA = "9a8940a0-de03-4cb1-8b44-2930000a0001", "9a8940a0-de03-4cb1-8b44-2930000a0002"
CAPTCHA_PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00P\x00\x00\x00\x1e" + b"\x00" * 64  # a stand-in image


def sichuan_record(key: str, title: str, time: str, author: str, region: str, region_code: str,
                   notice_type: str = "00102") -> dict[str, object]:
    """A ``selectInfoForIndex`` row as the capture of 2026-03-14 shows them (no purchaser: the author)."""
    return {"id": key, "title": title, "author": author, "noticeTime": time, "regionName": region,
            "regionCode": region_code, "noticeType": notice_type, "openTenderCode": "", "site": sichuan.SITE_ID,
            "channel": sichuan.CHANNEL}


def sichuan_notice(record: dict[str, object], content: str) -> Reply:
    return json_reply({"code": "200", "msg": "操作成功", "data": {**record, "description": "...", "content": content}})


def sichuan_list(total: int, *records: dict[str, object]) -> Reply:
    return json_reply({"code": "200", "msg": "操作成功", "data": {"rows": list(records), "total": total}})


def sichuan_list_url(page: int = 1, code: str = "7364", type_code: str = "") -> str:
    return sichuan.list_url(type_code, dt.date(2024, 6, 1), dt.date(2024, 6, 30), page, code)


GANZI = sichuan_record(SC_GANZI, "甘孜藏族自治州公安局Y-STR检测试剂采购项目中标（成交）结果公告", "2024-06-15 15:00:00",
                       "甘孜藏族自治州公安局", "甘孜藏族自治州州本级", "513301")
ABA = sichuan_record(SC_ABA, "阿坝藏族羌族自治州公安局DNA数据库建设项目公开招标公告", "2024-06-03 09:30:00",
                     "阿坝藏族羌族自治州公安局", "阿坝藏族羌族自治州州本级", "513201", "00101")
GANZI_CONTENT = ("<p>一、项目编号：N5133002024000118</p><p>二、项目名称：甘孜藏族自治州公安局Y-STR检测试剂采购项目</p>"
                 "<p>三、中标（成交）信息</p><p>供应商名称：四川蜀康生物科技有限公司</p><p>供应商地址：成都市高新区天府大道</p>"
                 "<p>中标（成交）金额：412,600.00元</p>")
ABA_CONTENT = ("<p>一、项目基本情况</p><p>项目编号：N5132002024000077</p><p>预算金额：2,350,000.00元</p>"
               "<p>采购需求：DNA数据库服务器、STR分型软件及实验室信息管理系统。</p>")


def filler(number: int) -> dict[str, object]:
    return sichuan_record(f"9a8940a0-de03-4cb1-8b44-29300000{number:04d}", f"成都市第{number}中学办公设备采购项目成交结果公告",
                          f"2024-06-{10 + number:02d} 10:00:00", f"成都市第{number}中学", "成都市市本级", "510101")


def serve_sichuan(server: ReplayServer, records: list[dict[str, object]]) -> None:
    server.add(sichuan.CAPTCHA_URL, Reply(CAPTCHA_PNG, content_type="image/png"))
    for record in records:
        content = {SC_GANZI: GANZI_CONTENT, SC_ABA: ABA_CONTENT}.get(str(record["id"]), "<p>采购需求：办公桌椅。</p>")
        server.add(sichuan.detail_url(str(record["id"])), sichuan_notice(record, content))


@pytest.fixture
def sichuan_site(server: ReplayServer) -> ReplayServer:
    """Eleven notices in June: ten on page 1, one on page 2, behind the captcha code 7364."""
    fillers = [filler(number) for number in range(9)]
    serve_sichuan(server, fillers + [GANZI, ABA])
    server.add(sichuan_list_url(1), sichuan_list(11, *fillers[:5], GANZI, *fillers[5:]))
    server.add(sichuan_list_url(2), sichuan_list(11, ABA))
    return server


def crawl_in_terminal(database_url: str, *args: str, proxy: str, answer: str,
                      env: dict[str, str] | None = None) -> tuple[int, str]:
    """``caigou crawl sichuan`` in a pseudo-terminal: when it asks for the captcha code, ``answer`` is typed."""
    master, terminal = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "caigou", "--db", database_url, "crawl", "sichuan", *FAST,
                                "--attachments", "off", *args], stdin=terminal, stdout=terminal, stderr=terminal,
                               env=_environment(proxy, env), cwd=ROOT)
    os.close(terminal)
    output, answered = b"", False
    try:
        while True:
            ready, _, _ = fd_select.select([master], [], [], 120)
            if not ready:
                process.kill()
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the command ended and closed its terminal
                break
            if not chunk:
                break
            output += chunk
            if not answered and b"captcha code" in output:
                os.write(master, answer.encode() + b"\n")
                answered = True
        process.wait(timeout=60)
    finally:
        os.close(master)
    return process.returncode, output.decode("utf-8", "replace").replace("\r\n", "\n")


def test_sichuan_asks_for_the_captcha_in_a_terminal_and_pages_the_list(sqlite_db: Database,
                                                                       sichuan_site: ReplayServer) -> None:
    status, output = crawl_in_terminal(sqlite_db.url, *JUNE_ONLY, proxy=sichuan_site.url, answer="7364")
    assert status == 0, output
    saved = Path(output.split("captcha image ", 1)[1].split()[0])
    assert saved.suffix == ".png" and saved.read_bytes() == CAPTCHA_PNG
    assert sichuan_site.misses == []  # both list pages were asked for with the code typed
    notices = stored(sqlite_db)
    assert len(notices) == 11
    ganzi, aba = notices[SC_GANZI], notices[SC_ABA]
    assert ganzi["url"] == f"https://www.ccgp-sichuan.gov.cn/maincms-web/article?type=notice&id={SC_GANZI}"
    assert ganzi["type"] == "award" and ganzi["published"] == "2024-06-15 15:00" and ganzi["region"] == "513300"
    assert ganzi["buyer"] == "甘孜藏族自治州公安局"  # from author: there is no purchaser
    assert ganzi["project_code"] == "N5133002024000118"
    assert ganzi["suppliers"] == [("四川蜀康生物科技有限公司", Decimal("412600.00"))]
    assert aba["type"] == "tender" and aba["region"] == "513200" and aba["budget"] == Decimal("2350000.00")
    assert last_run(sqlite_db).status == "succeeded"


def test_sichuan_keyword_and_region_filter_the_rows(sqlite_db: Database, sichuan_site: ReplayServer) -> None:
    status, output = crawl_in_terminal(sqlite_db.url, *JUNE_ONLY, "--region", "513300", "--keyword", "Y-STR",
                                       proxy=sichuan_site.url, answer="7364")
    assert status == 0, output
    assert set(stored(sqlite_db)) == {SC_GANZI}
    assert sum(1 for key in sichuan_site.requests if "getInfoById" in key) == 1


def test_sichuan_unattended_captcha_fails_the_run(sqlite_db: Database, sichuan_site: ReplayServer) -> None:
    result = crawl(sqlite_db.url, "sichuan", *JUNE_ONLY, proxy=sichuan_site.url)  # no terminal, as under a schedule
    assert result.returncode == 1, result.stdout + result.stderr
    assert "sichuan: stopped (captcha): sichuan's list needs the code of an image captcha and no one is at a " \
           "terminal to read it" in result.stdout
    assert "Traceback" not in result.stderr
    assert not any("selectInfoForIndex" in key for key in sichuan_site.requests)
    with sqlite_db.session() as session:
        error = session.scalars(select(CrawlError)).one()
        assert error.kind == "captcha"
        page = session.get(RawPage, error.raw_page_id)
        assert page.kind == "blocked" and page.body == CAPTCHA_PNG  # the image is kept as evidence
    assert stored(sqlite_db) == {} and last_run(sqlite_db).status == "failed"


def test_sichuan_no_code_or_a_refused_code_stops_the_run(sqlite_db: Database, sichuan_site: ReplayServer) -> None:
    status, output = crawl_in_terminal(sqlite_db.url, *JUNE_ONLY, proxy=sichuan_site.url, answer="")
    assert status == 1 and "stopped (captcha): no captcha code was given" in output, output
    assert "Traceback" not in output

    sichuan_site.add(sichuan_list_url(1, code="0000"), json_reply({"code": "500", "msg": "验证码错误", "data": None}))
    status, output = crawl_in_terminal(sqlite_db.url, *JUNE_ONLY, proxy=sichuan_site.url, answer="0000")
    assert status == 1 and "sichuan did not accept the captcha code (验证码错误)" in output, output
    assert stored(sqlite_db) == {}
    with sqlite_db.session() as session:
        assert session.scalars(select(CrawlError.kind)).all() == ["captcha", "captcha"]


def test_sichuan_firewall_page_is_a_block(sqlite_db: Database, server: ReplayServer) -> None:
    server.add(sichuan.CAPTCHA_URL, html("xizang", "waf_block.html"))
    result = crawl(sqlite_db.url, "sichuan", *JUNE_ONLY, "--set", "CAIGOU_BLOCK_GIVE_UP=1", proxy=server.url)
    assert result.returncode == 1 and "block pages" in result.stdout
    assert "Traceback" not in result.stderr
    assert stored(sqlite_db) == {}


SIGNING_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>四川政府采购网</title><script>
// Stands in for the site's script: it signs every XMLHttpRequest the page makes.
const send = XMLHttpRequest.prototype.send, open = XMLHttpRequest.prototype.open;
XMLHttpRequest.prototype.open = function (method, url) { this._url = url; return open.apply(this, arguments); };
XMLHttpRequest.prototype.send = function () {
  this.setRequestHeader("time", "1718000000000"); this.setRequestHeader("sign", "signed:" + this._url.length);
  this.setRequestHeader("nsssjss", "n1"); this.setRequestHeader("url", "/info/selectInfoForIndex");
  return send.apply(this, arguments);
};
</script></head><body><div id="app"></div></body></html>"""


def test_sichuan_through_the_browser_signs_the_list_in_the_site_s_page(sqlite_db: Database,
                                                                       sichuan_site: ReplayServer) -> None:
    """CAIGOU_BROWSER=1: the captcha and the list are asked for from inside the site's page, whose script signs
    them; the answers are archived as the API sent them, at the API's URL."""
    pytest.importorskip("scrapy_playwright")
    chromium = chromium_or_skip()
    sichuan_site.add(sichuan.SIGNING_PAGE, Reply(SIGNING_PAGE.encode()))
    status, output = crawl_in_terminal(sqlite_db.url, *JUNE_ONLY, "--set", "CAIGOU_BROWSER=1", proxy=sichuan_site.url,
                                       answer="7364", env={"CAIGOU_BROWSER_PATH": chromium})
    assert status == 0, output
    saved = Path(output.split("captcha image ", 1)[1].split()[0])
    assert saved.read_bytes() == CAPTCHA_PNG
    assert [key for key in sichuan_site.misses if "ccgp-sichuan" in key] == []
    assert len(stored(sqlite_db)) == 11
    listed = [headers for key, headers in zip(sichuan_site.requests, sichuan_site.headers, strict=False)
              if "selectInfoForIndex" in key]
    assert len(listed) == 2 and all(h.get("sign", "").startswith("signed:") and h.get("nsssjss") for h in listed)
    with sqlite_db.session() as session:
        archived = session.scalars(select(RawPage).where(RawPage.url.contains("selectInfoForIndex"))).all()
        assert len(archived) == 2 and all(page.body.lstrip().startswith(b"{") for page in archived)

    # A proxy that does not answer: the failure in one line, no traceback.
    unreachable = crawl(sqlite_db.url, "sichuan", *JUNE_ONLY, "--set", "CAIGOU_BROWSER=1", "--set", "RETRY_TIMES=0",
                        proxy=f"http://127.0.0.1:{free_port()}", env={"CAIGOU_BROWSER_PATH": chromium})
    assert unreachable.returncode == 1 and "Traceback" not in unreachable.stderr
    assert "sichuan: could not reach the site: Error: Page.goto: net::ERR_PROXY_CONNECTION_FAILED" in \
        unreachable.stdout + unreachable.stderr


def test_browser_without_scrapy_playwright_is_one_line(tmp_path: Path) -> None:
    # A module of that name that fails to import stands in for the missing extra.
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "scrapy_playwright.py").write_text("raise ImportError('not installed')\n")
    result = run_caigou("--db", f"sqlite:///{tmp_path / 'x.db'}", "crawl", "sichuan", "--set", "CAIGOU_BROWSER=1",
                        env={"PYTHONPATH": f"{hidden}{os.pathsep}{ROOT}"},
                        how="subprocess")  # a fresh interpreter, whose import path puts the stand-in first
    assert result.returncode == 2
    assert result.stderr.strip().startswith("caigou: error: CAIGOU_BROWSER=1 needs scrapy-playwright")
    assert len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------------------------------------- every portal

def _error_list_route(server: ReplayServer, source: str, reply: Reply) -> None:
    """The (only) June list request of ``source`` answers ``reply``; what comes before it answers as usual."""
    june = (dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    if source == "xizang":
        server.add(xizang_list_url(june), reply)
    elif source == "ggzy":
        server.add(ggzy.DEAL_LIST_PAGE, Reply("<html><body>交易公开</body></html>".encode()))
        ggzy_route(server, *june, 1, reply)
    elif source == "qinghai":
        qinghai_empty(server, "ZcyAnnouncement4")
        qinghai_route(server, "ZcyAnnouncement4", 1, reply)
    else:
        server.add(sichuan.CAPTCHA_URL, reply)  # the captcha comes first; an error there fails the run alike


@pytest.mark.parametrize(("source", "status"), [("xizang", 404), ("ggzy", 500), ("qinghai", 503),
                                                ("sichuan", 404)])
def test_a_list_page_with_an_http_error_fails_and_keeps_the_watermark(sqlite_db: Database, server: ReplayServer,
                                                                      source: str, status: int) -> None:
    _error_list_route(server, source, Reply(b"<html><body>Server Error</body></html>", status=status))
    args = ("--region", "54") if source == "ggzy" else ()
    result = crawl(sqlite_db.url, source, *args, *JUNE_ONLY, proxy=server.url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{source}: failed" in result.stdout and "1 errors" in result.stdout
    assert "(1 HTTP errors); the watermark was not advanced" in result.stdout
    assert "Traceback" not in result.stderr
    with sqlite_db.session() as session:
        error = session.scalars(select(CrawlError)).one()
        kind = "captcha" if source == "sichuan" else "list"
        assert error.kind == "http" and error.message == f"HTTP {status} for a {kind} page"
        assert session.get(RawPage, error.raw_page_id).http_status == status
        assert session.scalar(select(Watermark.id)) is None
    run = last_run(sqlite_db)
    assert run.status == "failed" and run.counts["http_errors"] == 1


def test_a_slider_captcha_stops_the_source_at_once(sqlite_db: Database, server: ReplayServer) -> None:
    row = xizang_row(XZ_AWARD, "那曲市公安局STR试剂盒采购项目中标（成交）结果公告", "2024-06-20 16:05:00",
                     "中标（成交）结果公告", "那曲市公安局")
    server.add(xizang_list_url((dt.date(2024, 6, 1), dt.date(2024, 6, 30))), xizang_list(1, row))
    server.add(xizang_url(XZ_AWARD), Reply("<html><head><title>滑动验证</title></head><body><div id='nc'>请按住滑块，"
                                           "拖动到最右边</div></body></html>".encode()), html("xizang", "detail_award.html"))
    result = crawl(sqlite_db.url, "xizang", *JUNE_ONLY, proxy=server.url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "xizang: failed" in result.stdout and "slider captcha (滑动验证), which waiting does not lift" in result.stdout
    assert "Traceback" not in result.stderr
    assert sum(1 for key in server.requests if XZ_AWARD in key) == 1  # not retried
    assert stored(sqlite_db) == {}
    with sqlite_db.session() as session:
        error = session.scalars(select(CrawlError)).one()
        assert error.kind == "captcha" and error.url == xizang_url(XZ_AWARD)
        assert session.get(RawPage, error.raw_page_id).kind == "blocked"
        assert session.scalar(select(Watermark.id)) is None
    assert last_run(sqlite_db).status == "failed"
