"""Saved searches as alerts (issue 15): a subscription holding a free-text query beside its filters, added on the
command line and from the search page, delivered by a real SMTP server on loopback exactly once.

Two run on SQLite and PostgreSQL (``db``), because their free-text query goes through the per-dialect full-text
clause of ``caigou/search.py``: ``test_a_saved_search_digest_is_received_exactly_once`` (this file's PostgreSQL smoke
run: the subscription's query selects the digest's notices) and ``test_the_preview_counts_the_last_7_and_30_days``
(search counts). Subscribing from the results page is a web flow: SQLite (``sqlite_db``)."""
from __future__ import annotations

import datetime as dt
import html as html_lib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from caigou.filters import NoticeFilters
from caigou.models import DeliveredNotice, Subscription
from caigou.models.db import Database
from caigou.web.views.search import recent_counts
from tests.crawling import run_caigou
from tests.digest_data import SmtpServer
from tests.test_web import client_for, csrf_of, log_in
from tests.web_data import build_archive


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def test_a_saved_search_digest_is_received_exactly_once(db: Database, smtp: SmtpServer, tmp_path: Path) -> None:
    ids = build_archive(db)
    config = tmp_path / "caigou.toml"
    config.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\n', encoding="utf-8")
    base = ("--config", str(config), "--db", db.url)
    added = run_caigou(*base, "subscriptions", "add", "分析仪", "--to", "r@example.org", "--query",
                       "遗传分析仪 公安 -医院", "--min-score", "0", "--backfill")
    assert added.returncode == 0, added.stderr
    assert "query:       遗传分析仪 公安 -医院" in run_caigou(*base, "subscriptions", "show", "分析仪").stdout
    bad = run_caigou(*base, "subscriptions", "add", "坏", "--query", '"DNA')
    assert bad.returncode == 2 and bad.stderr.startswith("caigou: error: unbalanced quote")

    sent = run_caigou(*base, "digest")
    assert sent.returncode == 0, sent.stderr
    [message] = smtp.inbox.to("r@example.org")
    plain = message.get_body(preferencelist=("plain",)).get_content()
    # The query's words are all there, the exclusion holds: the analyzer and the hostile notice (its body names
    # 遗传分析仪, its buyer 公安局), never the DNA database without 遗传分析仪 nor the hospital.
    assert "遗传分析仪升级单一来源公示" in plain
    assert "DNA数据库建设项目" not in plain and "人民医院" not in plain
    with db.session() as session:
        delivered = set(session.scalars(select(DeliveredNotice.notice_id)))
    assert delivered == {ids["analyzer"], ids["hostile"]}

    again = run_caigou(*base, "digest")
    assert again.returncode == 0 and again.stdout.strip() == "分析仪 → r@example.org: nothing new"
    assert len(smtp.inbox.messages) == 1


def test_subscribe_to_this_search_from_the_results_page(sqlite_db: Database) -> None:
    ids = build_archive(sqlite_db)
    with client_for(sqlite_db) as web:
        log_in(web)
        page = web.get("/search", params={"q": "遗传分析仪 -医院", "region": "tibetan", "min_score": ""}).text
        link = html_lib.unescape(re.search(r'<a href="([^"]+)" id="subscribe">', page).group(1))
        assert link.startswith("/subscriptions?") and "region=tibetan" in link
        assert 'id="subscribe-preview"' in page
        form = web.get(link).text
        assert 'name="q" value="遗传分析仪 -医院"' in form
        assert 'name="region" value="tibetan" checked' in form
        answer = web.post("/subscriptions", data={
            "csrf_token": csrf_of(form), "name": "分析仪", "recipients": "r@example.org", "q": "遗传分析仪 -医院",
            "region": ["tibetan", ""], "min_score": "", "delivery_time": "07:00", "time_zone": "Asia/Shanghai"})
        assert answer.status_code == 303, answer.text
        assert 'id="saved-query">遗传分析仪 -医院<' in web.get(answer.headers["location"]).text
        refused = web.post("/subscriptions", data={
            "csrf_token": csrf_of(form), "name": "坏", "q": "DNA OR", "min_score": "",
            "delivery_time": "07:00", "time_zone": "Asia/Shanghai"})
        assert refused.status_code == 400 and "OR needs words on both sides" in refused.text
        assert 'name="q" value="DNA OR"' in refused.text  # the form as it was sent
    with sqlite_db.session() as session:
        assert session.scalars(select(Subscription.query)).all() == ["遗传分析仪 -医院"]
    assert ids


def test_the_preview_counts_the_last_7_and_30_days(db: Database) -> None:
    build_archive(db)   # the analyzer was published 2024-06-12, the hostile notice 2024-06-20
    filters = NoticeFilters(min_score=None)
    assert recent_counts(db, "遗传分析仪", filters, today=dt.date(2024, 6, 21)) == {7: 1, 30: 2}
    assert recent_counts(db, "遗传分析仪", filters, today=dt.date(2024, 8, 1)) == {7: 0, 30: 0}
    narrowed = NoticeFilters(min_score=None, since=dt.date(2024, 6, 15))
    assert recent_counts(db, "遗传分析仪", narrowed, today=dt.date(2024, 6, 21)) == {7: 1, 30: 1}
