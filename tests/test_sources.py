"""``caigou sources``: every spider described from its own class, with its last run from the database.

Its one test is this file's PostgreSQL smoke run (``db``, SQLite and PostgreSQL)."""
from __future__ import annotations

from caigou.crawler.project import known_sources
from caigou.models.db import Database
from caigou.pipelines.store import NoticeStore
from tests.crawling import run_caigou


def test_sources_lists_every_spider_with_caveats_and_the_last_run(db: Database) -> None:
    store = NoticeStore(db)
    run_id = store.start_run("xizang", {})
    store.finish_run(run_id, "succeeded", {"pages": 3, "new": 2, "blocked": 1, "errors": 0})
    result = run_caigou("--db", db.url, "sources")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for name, home in (("ccgp", "http://www.ccgp.gov.cn"), ("ggzy", "https://www.ggzy.gov.cn"),
                       ("qinghai", "http://www.ccgp-qinghai.gov.cn"), ("sichuan", "https://www.ccgp-sichuan.gov.cn"),
                       ("xizang", "http://www.ccgp-xizang.gov.cn")):
        assert f"{name} — {home}" in out
    xizang = out[out.index("xizang — "):]
    assert "Caveats:" in xizang and "cityOrArea" in xizang and "西藏 (54) only" in xizang
    assert "succeeded — 3 pages, 2 new, 1 blocked, 0 errors" in xizang
    assert out[out.index("sichuan — "):out.index("xizang — ")].count("Last run: never crawled") == 1
    # The portals on current APIs say what other projects confirmed and what is still a guess.
    for name, confirmed, guess in (("qinghai", "/portal/category", "category numbers"),
                                   ("sichuan", "selectInfoForIndex", "the captcha's path"),
                                   ("ggzy", "detail_Table", "DEAL_STAGE codes")):
        caveats = out[out.index(f"{name} — "):]
        caveats = " ".join(caveats[caveats.index("Caveats:"):caveats.index("Last run:")].split())
        assert "confirmed" in caveats and guess in caveats, caveats
        assert confirmed in out[out.index(f"{name} — "):]

    brief = run_caigou("--db", db.url, "sources", "--brief")
    assert brief.returncode == 0 and len(brief.stdout.strip().splitlines()) == len(known_sources())
