"""Chinese and English (issue 15): notice types as 中标公告 / award, a zh / en switch with a matching ``lang``
attribute, and an API description that documents every filter that works.

Its one test is this file's PostgreSQL smoke run (``db``, SQLite and PostgreSQL)."""
from __future__ import annotations

from caigou.models.db import Database
from tests.test_web import client_for, log_in
from tests.web_data import build_archive


def test_types_are_named_the_language_switches_and_the_api_documents_its_filters(db: Database) -> None:
    ids = build_archive(db)
    with client_for(db) as web:
        log_in(web)
        page = web.get("/search", params={"q": "DNA数据库", "min_score": ""}).text
        assert '<html lang="en">' in page and 'id="lang-zh"' in page
        assert "中标公告 / award" in page and "公开招标 / open tender" in page   # the results and the type facet
        notice = web.get(f"/notices/{ids['analyzer']}").text
        assert 'id="notice-type">单一来源 / single source<' in notice

        switched = web.get("/lang/zh", params={"next": "/search?q=DNA"})
        assert switched.status_code == 303 and switched.headers["location"] == "/search?q=DNA"
        chinese = web.get("/search", params={"q": "DNA"}).text
        assert '<html lang="zh-CN">' in chinese and ">搜索</button>" in chinese and 'id="lang-en"' in chinese
        assert web.get("/lang/fr").status_code == 404
        assert web.get("/lang/en", params={"next": "//evil.example/"}).headers["location"] == "/search"
        assert '<html lang="en">' in web.get("/search").text

        schema = web.get("/openapi.json").json()
        names = {p["name"] for p in schema["paths"]["/api/search"]["get"]["parameters"]}
        assert names >= {"q", "sort", "page", "size", "since", "until", "region", "source", "type", "buyer",
                         "supplier", "term", "category", "min_score", "status"}
        # Every documented filter works: each narrows (or refuses) rather than being ignored.
        typo = web.get("/api/search", params={"type": "awrd"})
        assert typo.status_code == 400 and "did you mean 'award'" in typo.json()["error"]
        awards = web.get("/api/search", params={"type": "award", "min_score": ""}).json()
        assert awards["total"] >= 1 and all(r["notice_type"] == "award" for r in awards["results"])
