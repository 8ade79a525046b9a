"""Stored text leaving caigou: feeds stay well-formed and carry only http(s) links whatever a title holds, and the
terminal never receives a raw escape sequence from `caigou search`, `caigou show` or an error line.

PostgreSQL smoke run (``db``, SQLite and PostgreSQL): ``test_the_feed_is_well_formed_and_links_only_http`` (hostile
text stored and read back by the feed's per-dialect query). The terminal's commands run on SQLite (``sqlite_db``)."""
from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET

import feedparser
import pytest

from caigou.digest.feed import atom_feed
from caigou.digest.subscriptions import filters_to_json
from caigou.filters import NoticeFilters
from caigou.models import Subscription
from caigou.models.db import Database
from caigou.models.types import SHANGHAI
from caigou.pipelines.search_index import index_notice
from caigou.safe_text import for_terminal, http_url, xml_text
from tests.crawling import run_caigou
from tests.digest_data import add_notice

T0 = dt.datetime(2024, 6, 10, 8, 0, tzinfo=SHANGHAI)
# ESC [2J clears a terminal, ESC ]8 makes a hidden hyperlink, U+009B is a one-character CSI, U+202E reverses.
NASTY = "公安局\x1b[2J DNA\x07 试剂盒\x1b]8;;http://evil.example/\x1b\\采购\x9b31m 项目\u202e\x01"


def store(db: Database, url: str = "javascript:alert(1)") -> int:
    with db.session() as session:
        notice = add_notice(session, "7001", NASTY, score=90, matched_at=T0, terms=[("DNA", "dna", NASTY)],
                            buyer="西藏自治区公安厅\x1b[31m")
        notice.url = url
        index_notice(session, notice)
        session.add(Subscription(name="订阅", recipients=[], filters=filters_to_json(NoticeFilters(min_score=50))))
        return notice.id


@pytest.mark.parametrize("url", ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<script>x</script>",
                                 "\x01javascript:alert(1)", "vbscript:msgbox(1)"])
def test_the_feed_is_well_formed_and_links_only_http(db: Database, url: str) -> None:
    store(db, url)
    with db.session() as session:
        sub = session.query(Subscription).one()
        for base in ("http://127.0.0.1:8000", ""):
            body = atom_feed(session, sub, base, now=T0 + dt.timedelta(days=1))
            root = ET.fromstring(body)  # well-formed: raises otherwise
            hrefs = [link.get("href") for link in root.iter("{http://www.w3.org/2005/Atom}link")]
            assert all(href.startswith("http://") for href in hrefs), hrefs
            parsed = feedparser.parse(body)
            assert not parsed.bozo, parsed.bozo_exception
            [entry] = parsed.entries
            assert entry.title == "[90] 公安局[2J DNA 试剂盒]8;;http://evil.example/\\采购31m 项目\u202e"
            assert "related" not in {link.rel for link in entry.get("links", [])}
    assert http_url("https://www.ccgp.gov.cn/a.htm") == "https://www.ccgp.gov.cn/a.htm"
    assert xml_text("a\x1bb\ud800c\ufffe") == "abc"


def test_the_terminal_never_receives_an_escape_sequence(sqlite_db: Database) -> None:
    notice_id = store(sqlite_db, "http://www.ccgp.gov.cn/cggg/t7001.htm")
    outputs = {
        "search": run_caigou("--db", sqlite_db.url, "search", "试剂盒", "--min-score", "0"),
        "search jsonl": run_caigou("--db", sqlite_db.url, "search", "试剂盒", "--min-score", "0", "--format", "jsonl"),
        "search csv": run_caigou("--db", sqlite_db.url, "search", "试剂盒", "--min-score", "0", "--format", "csv"),
        "show": run_caigou("--db", sqlite_db.url, "show", str(notice_id)),
        "show json": run_caigou("--db", sqlite_db.url, "show", str(notice_id), "--json"),
    }
    for name, result in outputs.items():
        assert result.returncode == 0, (name, result.stderr)
        for raw in ("\x1b", "\x9b", "\x07", "\x01", "\u202e"):
            assert raw not in result.stdout and raw not in result.stderr, (name, repr(raw))
    assert "公安局\\u001b[2J DNA\\u0007 试剂盒" in outputs["search"].stdout
    assert "西藏自治区公安厅\\u001b[31m" in outputs["show"].stdout
    row = json.loads(outputs["search jsonl"].stdout.splitlines()[0])  # still JSON, and the same text
    assert row["title"] == NASTY
    assert json.loads(outputs["show json"].stdout)["title"] == NASTY
    assert for_terminal("tab\tand\nnew line") == "tab\tand\nnew line"
