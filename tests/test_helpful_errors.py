"""Errors that help (issue 15): search filters checked as crawl checks them, with "did you mean"; AND as an
operator; a page past the end; a bad date beside its field with the query kept. Command line and web.

Two are about full-text search, so they run on SQLite and PostgreSQL (``db``): ``test_and_is_an_operator`` and
``test_search_knows_the_watchlist_aliases_traditional_characters_and_suggests_a_term``, also this file's PostgreSQL
smoke run (search, its suggestions and the web page). The error messages are checked on SQLite (``sqlite_db``)."""
from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from caigou.filters import FilterError, NoticeFilters
from caigou.models import Notice
from caigou.models.db import Database
from caigou.search import QueryError, parse_query, search
from tests.crawling import run_caigou
from tests.test_web import client_for, log_in
from tests.web_data import build_archive


@pytest.mark.parametrize(("args", "message"), [
    (("--type", "awrd"), "unknown notice type 'awrd' (did you mean 'award'?); one of intention, tender"),
    (("--source", "ccpg"), "unknown source 'ccpg' (did you mean 'ccgp'?); known: ccgp"),
    (("--region", "99"), "unknown region '990000': give a code like 540000"),
    (("--category", "softwar-database"), "unknown category 'softwar-database' (did you mean 'software-database'?)"),
])
def test_search_and_export_refuse_a_filter_typo_with_a_suggestion(sqlite_db: Database, args: tuple[str, ...],
                                                                  message: str) -> None:
    build_archive(sqlite_db)
    for command in (("search", "DNA"), ("export", "--format", "jsonl")):
        result = run_caigou("--db", sqlite_db.url, *command, *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.strip().startswith(f"caigou: error: {message}"), result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_and_is_an_operator(db: Database) -> None:
    build_archive(db)
    every = NoticeFilters(min_score=None)
    plain = search(db, "遗传分析仪 公安", every)
    with_and = search(db, "遗传分析仪 AND 公安", every)
    assert plain.total == with_and.total == 2
    assert [h.notice.id for h in plain.hits] == [h.notice.id for h in with_and.hits]
    for bad in ("AND DNA", "DNA AND", "DNA AND OR 公安"):
        with pytest.raises(QueryError, match="AND needs words on both sides"):
            parse_query(bad)
    with pytest.raises(FilterError, match="did you mean 'award'"):
        search(db, "DNA", NoticeFilters(notice_types=["awrd"]))


def test_web_filter_errors_keep_the_query_and_sit_beside_their_field(sqlite_db: Database) -> None:
    build_archive(sqlite_db)
    with client_for(sqlite_db) as web:
        log_in(web)
        typo = web.get("/search", params={"q": "遗传分析仪", "type": "awrd"})
        assert typo.status_code == 400
        assert 'name="q" value="遗传分析仪"' in typo.text
        assert "did you mean &#39;award&#39;?" in typo.text and 'id="type-error"' in typo.text
        removed = re.search(r'id="type-error">[^<]*<a href="([^"]+)">remove this filter', typo.text)
        assert removed and "type=" not in html_lib.unescape(removed.group(1))
        assert "q=%E9%81%97" in removed.group(1)   # the query stays in the way out

        date = web.get("/search", params={"q": "遗传分析仪 公安", "since": "2024-13-45", "buyer": "公安"})
        assert date.status_code == 400
        assert 'name="q" value="遗传分析仪 公安"' in date.text
        beside = re.search(r'name="since" value="2024-13-45"><span class="field-error" id="since-error" '
                           r'role="alert">([^<]+)</span>', date.text)
        assert beside and "2024-13-45" in beside.group(1)
        assert 'name="buyer" value="公安"' in date.text   # the other fields as sent

        past = web.get("/search", params={"q": "DNA", "min_score": "", "page": "9"})
        assert past.status_code == 200
        assert "Page 9 is past the end: these results have 1 page." in past.text
        last = re.search(r'<a href="([^"]+)" id="last-page">', past.text)
        assert last and "page=1" in html_lib.unescape(last.group(1)) and "q=DNA" in last.group(1)


def test_a_bad_import_line_says_what_became_of_the_lines_before_it(sqlite_db: Database, tmp_path: Path) -> None:
    good = ('{"source": "ccgp", "source_id": "%s", "url": "http://www.ccgp.gov.cn/%s.htm", "title": "拉萨市公安局 DNA %s",'
            ' "published_at": "2024-06-01T09:00:00+08:00"}\n')
    path = tmp_path / "part.jsonl"
    path.write_text(good % (1, 1, 1) + good % (2, 2, 2) + '{"source": "ccgp", "source_id": "3", "url": "http://x",'
                    ' "title": "t", "budget_cny": "lots"}\n' + good % (4, 4, 4), encoding="utf-8")
    result = run_caigou("--db", sqlite_db.url, "import", str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    # The whole file is checked before anything is stored: the two good lines before the bad one are not kept.
    assert result.stderr.strip().splitlines()[-1] == (
        "caigou: error: line 3: budget_cny: not an amount: 'lots'; nothing was imported (the whole file is checked "
        "before any line is stored)")
    with sqlite_db.session() as session:
        assert session.scalar(select(func.count(Notice.id))) == 0
    fixed = tmp_path / "fixed.jsonl"
    fixed.write_text(good % (1, 1, 1) + good % (2, 2, 2) + good % (4, 4, 4), encoding="utf-8")
    assert run_caigou("--db", sqlite_db.url, "import", str(fixed)).returncode == 0
    with sqlite_db.session() as session:
        assert session.scalar(select(func.count(Notice.id))) == 3


def test_search_knows_the_watchlist_aliases_traditional_characters_and_suggests_a_term(db: Database) -> None:
    ids = build_archive(db)   # the analyzer's notice names 赛默飞世尔 and 遗传分析仪, in simplified characters
    every = NoticeFilters(min_score=None)
    for query in ("Thermo Fisher", "thermo fisher", "賽默飛世爾", "遺傳分析儀", "genetic analyzer"):
        results = search(db, query, every)
        assert ids["analyzer"] in {h.notice.id for h in results.hits}, query
    alias = search(db, "Thermo Fisher", every)
    assert alias.also_searched[0] == "赛默飞" and "<mark>赛默飞" in str(alias.hits[0].snippet)
    # An excluded alias excludes every spelling of its term: the analyzer names only 赛默飞世尔.
    assert {h.notice.id for h in search(db, '遗传分析仪 -"Thermo Fisher"', every).hits} == {ids["hostile"]}
    assert search(db, "遗传分析议", every).suggestion == "遗传分析仪"
    assert search(db, "遗传分析仪", every).suggestion == ""
    with client_for(db) as web:
        log_in(web)
        page = web.get("/search", params={"q": "Thermo Fisher", "min_score": ""}).text
        assert 'id="also-searched">Also searched: 赛默飞' in page
        nothing = web.get("/search", params={"q": "遗传分析议", "min_score": ""}).text
        assert 'id="suggestion">Nothing found. Did you mean <a href="' in nothing and ">遗传分析仪</a>?" in nothing


def test_snippets_never_cut_a_number() -> None:
    from caigou.search import snippet

    figures = re.compile(r"[0-9][0-9,.]*[0-9]|[0-9]")
    body = "采购" * 17 + "预算金额1,280,000.00元，遗传分析仪" + "说明" * 80 + "单价3500000元" + "说明" * 10
    whole = set(figures.findall(body))
    assert whole == {"1,280,000.00", "3500000"}
    shown = [str(snippet(body, needles, width=w)) for needles in (["遗传分析仪"], ["单价"]) for w in range(14, 26)]
    assert all(set(figures.findall(text)) <= whole for text in shown)   # only whole figures, at every width
    assert any("1,280,000.00" in text for text in shown) and any("3500000" in text for text in shown)
