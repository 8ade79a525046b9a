"""Hostile pages through the real Scrapy engine (the real ``caigou crawl`` in a subprocess, the replay server as
its proxy): each page is stored or recorded as a crawl error linked to its evidence, never lost in silence, and a
run that could not read a page does not end ``succeeded`` (nor move its watermark).

Two tests are about what the database takes, so they run on SQLite and PostgreSQL (``db``):
``test_hostile_detail_pages_are_each_stored_or_recorded`` (amounts beyond NUMERIC(18, 2), years 1 and 9999,
control characters), which is also this file's PostgreSQL smoke run, and
``test_a_notice_the_database_cannot_take_is_recorded_not_lost`` (a store that fails in the database). The list of
an unexpected shape never reaches the store: SQLite only."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from caigou.crawler.parsers import sichuan, xizang
from caigou.models import CrawlError, Notice, RawPage, Watermark
from caigou.models.db import Database
from caigou.replay import ReplayServer, Reply
from tests.crawling import ROOT, crawl
from tests.portals import json_reply, last_run

SAMPLES = ROOT / "caigou" / "demo_data" / "ccgp"
TEMPLATE = (SAMPLES / "detail_22000103.html").read_text(encoding="utf-8")  # an award notice, 96.5万元, 2024-06-20
OTHER_NOTICE = "http://www.ccgp.gov.cn/cggg/dfgg/jzxcs/202406/t20240614_22000106.htm"


def ccgp_url(key: str, month: str = "202406") -> str:
    return f"http://www.ccgp.gov.cn/cggg/dfgg/zbgg/{month}/t20240620_{key}.htm"


def notice_page(**replace: str) -> Reply:
    """The sample award notice with some of its text replaced."""
    text = TEMPLATE
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    return Reply(text.encode("utf-8"))


TITLE = "昌都市公安局DNA采血卡及Y-STR试剂盒采购项目中标公告"
OVERFLOW, YEAR_9999, YEAR_1, META_REFRESH, CROSS_HOST, MOVED, CONTROL, MOVED_SAME = (
    "23000001", "23000002", "23000003", "23000004", "23000005", "23000006", "23000007", "23000008")


@pytest.fixture
def hostile() -> Iterator[ReplayServer]:
    server = ReplayServer()
    server.add_manifest(SAMPLES / "manifest.json")
    server.add(ccgp_url(OVERFLOW), notice_page(**{"￥96.500000 万元（人民币）": "99999999999999亿元"}))
    server.add(ccgp_url(YEAR_9999), notice_page(**{'content="2024-06-20 11:05"': 'content="9999-06-20 11:05"'}))
    server.add(ccgp_url(YEAR_1), notice_page(**{'content="2024-06-20 11:05"': 'content="0001-01-01 00:00"'}))
    server.add(ccgp_url(META_REFRESH), Reply(b'<html><head><meta http-equiv="refresh" content="0; '
                                             b'url=http://phish.example/notice.htm"></head><body></body></html>'))
    server.add(ccgp_url(CROSS_HOST), Reply(b"", status=302, headers={"Location": "http://phish.example/x.htm"}))
    server.add(ccgp_url(MOVED), Reply(b"", status=301, headers={"Location": OTHER_NOTICE}))
    server.add(ccgp_url(CONTROL), notice_page(**{TITLE: "昌都市公安局\x1b[2J\x07DNA采血卡及Y-STR试剂盒\x7f\x85采购项目中标公告",
                                                 "成都市武侯区科华北路99号": "成都市武侯区\x1b]0;pwned\x07科华北路99号"}))
    # Moved within the portal, and still the notice asked for (its ID): stored.
    server.add(ccgp_url(MOVED_SAME), Reply(b"", status=301, headers={"Location": ccgp_url(MOVED_SAME, "202407")}))
    server.add(ccgp_url(MOVED_SAME, "202407"), notice_page())
    server.start()
    yield server
    server.stop()


def test_hostile_detail_pages_are_each_stored_or_recorded(db: Database, hostile: ReplayServer) -> None:
    keys = (OVERFLOW, YEAR_9999, YEAR_1, META_REFRESH, CROSS_HOST, MOVED, CONTROL, MOVED_SAME)
    result = crawl(db.url, "ccgp", "--attachments", "off", *(arg for key in keys for arg in ("--url", ccgp_url(key))),
                   proxy=hostile.url)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "ccgp: partial" in result.stdout
    assert "3 list/detail page(s) not read (3 redirected elsewhere)" in result.stdout
    assert not any("phish.example" in key for key in hostile.requests)  # never followed off the portal
    with db.session() as session:
        notices = {n.source_key: n for n in session.scalars(select(Notice))}
        errors = {e.url: e for e in session.scalars(select(CrawlError))}
        # Stored: out-of-range values as text with a warning, never a crash or a number.
        assert set(notices) == {OVERFLOW, YEAR_9999, YEAR_1, CONTROL, MOVED_SAME}
        overflow = notices[OVERFLOW]
        assert overflow.award_cny is None and overflow.fields["中标金额"] == "99999999999999亿元"
        assert any(w.startswith("award amount: amount out of range") for w in overflow.warnings)
        for key, text in ((YEAR_9999, "9999-06-20 11:05"), (YEAR_1, "0001-01-01 00:00")):
            assert notices[key].published_at is None and notices[key].fields["发布时间"] == text
            assert any(w.startswith("published time: date out of range") for w in notices[key].warnings)
        # Control characters dropped at the door (the archived page keeps them: it is evidence).
        control = notices[CONTROL]
        assert control.title == "昌都市公安局[2JDNA采血卡及Y-STR试剂盒采购项目中标公告"
        assert [s.address for s in control.suppliers][0] == "成都市武侯区]0;pwned科华北路99号"
        raw = session.scalars(select(RawPage).where(RawPage.url == ccgp_url(CONTROL))).one()
        assert b"\x1b[2J\x07" in raw.body and raw.sha256 == control.raw_sha256
        assert notices[MOVED_SAME].url == ccgp_url(MOVED_SAME, "202407")
        # Recorded: each redirect away with its target, linked to the archived answer.
        assert set(errors) == {ccgp_url(META_REFRESH), ccgp_url(CROSS_HOST), ccgp_url(MOVED)}
        assert {e.kind for e in errors.values()} == {"redirect"}
        assert "meta refresh to http://phish.example/notice.htm" in errors[ccgp_url(META_REFRESH)].message
        assert "HTTP 302 redirect to another site: http://phish.example/x.htm" in errors[ccgp_url(CROSS_HOST)].message
        assert f"redirected to {OTHER_NOTICE}, which is notice 22000106, not notice {MOVED}; not stored" \
            in errors[ccgp_url(MOVED)].message
        for url, status in ((ccgp_url(META_REFRESH), 200), (ccgp_url(CROSS_HOST), 302),
                            (OTHER_NOTICE, 200)):
            page = session.scalars(select(RawPage).where(RawPage.url == url)).one()
            assert page.http_status == status and page.id in {e.raw_page_id for e in errors.values()}
    run = last_run(db)
    assert run.status == "partial" and run.counts["redirects"] == 3 and run.counts["pages_failed"] == 3


WINDOW = (dt.date(2024, 6, 1), dt.date(2024, 6, 30))


def test_a_list_of_an_unexpected_shape_is_recorded_and_keeps_the_watermark(sqlite_db: Database) -> None:
    server = ReplayServer().start()
    try:
        row = {"id": "5d2f0a7c1e9b4c3d8a6f2b1e0c9d8a71", "title": "那曲市公安局STR试剂盒采购项目公开招标公告",
               "pageurl": "/freecms/site/xizang/ggxx/info/2024/5d2f0a7c1e9b4c3d8a6f2b1e0c9d8a71.html",
               "fieldValues": "f_purchaser=那曲市公安局"}  # a string where an object was expected
        url = xizang.list_url("", "%", "", *WINDOW, 1, 100)
        server.add(url, json_reply({"code": "200", "msg": "操作成功", "total": 1, "data": [row]}))
        result = crawl(sqlite_db.url, "xizang", "--since", "2024-06-01", "--until", "2024-06-30", proxy=server.url)
    finally:
        server.stop()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "xizang: failed" in result.stdout and "1 did not parse" in result.stdout
    with sqlite_db.session() as session:
        error = session.scalars(select(CrawlError)).one()
        assert error.kind == "parse" and error.url == url
        assert "xizang list 2024-06-01..2024-06-30, page 1" in error.message and "unexpected shape (AttributeError" in error.message
        page = session.get(RawPage, error.raw_page_id)
        assert page is not None and page.url == url  # the answer is the evidence
        assert session.scalar(select(func.count(Watermark.id))) == 0  # the window was not read
    assert last_run(sqlite_db).status == "failed"


def test_a_notice_the_database_cannot_take_is_recorded_not_lost(db: Database) -> None:
    """A JSON notice whose title holds a lone surrogate (``\\ud800``: valid JSON, not encodable text) fails in the
    store on SQLite and PostgreSQL alike: recorded as a ``store`` error with its page; the other notice is stored."""
    bad, good = "ff80808190a1b2c30190a1b2c3e5b001", "ff80808190a1b2c30190a1b2c3e5b002"
    content = "<p>项目编号：N5133002024000118</p><p>采购需求：DNA检测试剂。</p>"
    server = ReplayServer().start()
    try:
        server.add(sichuan.detail_url(bad), Reply(
            (f'{{"code":"200","data":{{"id":"{bad}","title":"\\ud800甘孜州公安局DNA试剂采购","noticeTime":"2024-06-15 15:00:00",'
             f'"content":"{content}"}}}}').encode(), content_type="application/json"))
        server.add(sichuan.detail_url(good), json_reply({"code": "200", "data": {
            "id": good, "title": "甘孜州公安局DNA试剂采购", "noticeTime": "2024-06-15 15:00:00", "content": content}}))
        result = crawl(db.url, "sichuan", "--attachments", "off", "--url", sichuan.detail_url(bad),
                       "--url", sichuan.detail_url(good), proxy=server.url)
    finally:
        server.stop()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "sichuan: partial" in result.stdout and "1 could not be stored" in result.stdout
    with db.session() as session:
        assert session.scalars(select(Notice.source_key)).all() == [good]
        error = session.scalars(select(CrawlError)).one()
        assert error.kind == "store" and error.url == sichuan.person_url(bad)  # the notice's page for people
        assert "could not normalise or store the notice: UnicodeEncodeError" in error.message
        assert session.get(RawPage, error.raw_page_id).url == sichuan.detail_url(bad)
