"""Real ccgp pages of 2026 crawled through the real Scrapy engine (``caigou crawl ccgp --url``) against the local
replay server: lots, failed lots and flagged figures reach the store.

Its one test is this file's PostgreSQL smoke run (``db``, SQLite and PostgreSQL): suppliers per lot with their
amounts (the per-dialect money type of ``models/types.py``) and line items and fields in JSON (JSONB on
PostgreSQL)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from caigou.models import Notice
from caigou.models.db import Database
from caigou.replay import ReplayServer, Reply
from tests.ccgp_truth import PAGE_URLS
from tests.crawling import crawl

PAGES = ("ccgp_award_tianjin_multi_package.html", "ccgp_award_liaoning_all_packages_failed.html",
         "ccgp_award_tianjin_unit_price_misdeclared.html")


@pytest.fixture
def server() -> Iterator[ReplayServer]:
    replay = ReplayServer()
    replay.start()
    yield replay
    replay.stop()


def test_lots_failed_lots_and_flags_are_stored(db: Database, server: ReplayServer, shared_dir: Path) -> None:
    urls = [PAGE_URLS[name] for name in PAGES]
    for name, url in zip(PAGES, urls, strict=False):
        server.add(url, Reply((shared_dir / "real/ccgp" / name).read_bytes()))
    result = crawl(db.url, "ccgp", *[arg for url in urls for arg in ("--url", url)], proxy=server.url)
    assert result.returncode == 0, result.stderr
    assert "3 new" in result.stdout and "0 errors" in result.stdout
    with db.session() as session:
        notices = {notice.url: notice for notice in session.scalars(select(Notice))}
        multi, failed, misdeclared = (notices[url] for url in urls)
        assert multi.title.startswith("天津市第三中心医院") and multi.region_code == "120000"
        assert [(s.lot, s.name, s.amount_cny) for s in multi.suppliers] == [
            ("第1包", "华润天津医药有限公司", Decimal("2375000.00")),
            ("第2包", "天津市维迪电子有限公司", Decimal("2570000.00")),
            ("第3包", "中外运通（天津）科技有限公司", Decimal("2510000.00")),
            ("第4包", "北京合众汇美国际贸易有限公司", Decimal("1865000.00"))]
        assert [item["brand"] for item in multi.line_items] == ["飞利浦", "GE", "佳能", "富士"]
        assert failed.suppliers == [] and failed.award_cny == Decimal("0.00") and failed.region_code == "210000"
        assert [(lot["status"], lot["reason"]) for lot in json.loads(failed.fields["lots"])] == [
            ("failed", "通过符合性检查的供应商不足3家，技术参数不满足招标文件要求。")]
        assert "amount_conflict" in misdeclared.fields and misdeclared.award_cny == Decimal("312000.00")
        assert misdeclared.line_items[0]["unit_price_as_printed"] == "312000"
