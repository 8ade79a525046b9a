"""Digests that fit a mailbox (issue 15): a summary table at the top, at most N notices in full then "N more"
linking to the saved search on the web; the Atom feed's rel="self" and the notices' own times. Real SMTP on
loopback.

PostgreSQL smoke run (``db``, SQLite and PostgreSQL): ``test_a_big_digest_has_a_summary_and_links_the_rest``. The
feed runs on SQLite (``sqlite_db``)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import feedparser
import pytest

from caigou.digest.feed import atom_feed
from caigou.digest.run import run_digests
from caigou.digest.subscriptions import filters_to_json
from caigou.filters import NoticeFilters
from caigou.models import Subscription
from caigou.models.config import Config
from caigou.models.db import Database
from caigou.models.types import SHANGHAI
from tests.digest_data import SmtpServer, add_notice

T0 = dt.datetime(2024, 6, 10, 8, 0, tzinfo=SHANGHAI)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def test_a_big_digest_has_a_summary_and_links_the_rest(db: Database, smtp: SmtpServer) -> None:
    with db.session() as session:
        for number in range(7):
            add_notice(session, f"30{number}", f"第{number}号 公安局 DNA 试剂采购", score=90 - number,
                       matched_at=T0 + dt.timedelta(hours=1, minutes=number), terms=[("DNA", "dna", "DNA 试剂")])
        session.add(Subscription(name="大", recipients=["r@example.org"],
                                 filters=filters_to_json(NoticeFilters(min_score=50, regions=["tibetan"])),
                                 watermark=T0))
    config = Config(values={**smtp.config(), "digest": {"max_full": 3},
                            "web": {"base_url": "https://caigou.example.org"}})
    outcomes = run_digests(db, config, now=T0 + dt.timedelta(days=1))
    assert [o.status for o in outcomes] == ["sent"]
    [message] = smtp.inbox.to("r@example.org")
    plain = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    summary = plain.split("Summary 摘要", 1)[1].split("==", 1)[0]
    assert all(f"第{n}号" in summary for n in range(7))            # every notice in the summary …
    full = plain.split("==", 1)[1]
    assert [n for n in range(7) if f"* [{90 - n}] 第{n}号" in full] == [0, 1, 2]   # … the strongest three in full
    assert "4 more notices 条 in the summary above, not in full: see them all at https://caigou.example.org/search?" \
        in plain
    link = plain.split("see them all at ", 1)[1].split()[0]
    params = parse_qs(urlsplit(link).query, keep_blank_values=True)
    assert params["region"] == ["tibetan"] and params["min_score"] == ["50"] and params["sort"] == ["date"]
    assert html.index('id="summary"') < html.index("<h2>") and html.count("<tr><td>") == 7
    assert 'id="more"' in html and 'href="https://caigou.example.org/search?' in html


def test_the_feed_names_itself_and_gives_each_notice_its_own_time(sqlite_db: Database) -> None:
    with sqlite_db.session() as session:
        add_notice(session, "401", "拉萨市公安局 DNA 采购", score=80, matched_at=T0, terms=[("DNA", "dna", "DNA")])
        subscription = Subscription(name="feed", filters=filters_to_json(NoticeFilters(min_score=50)))
        session.add(subscription)
        session.flush()
        body = atom_feed(session, subscription, "https://caigou.example.org",
                         self_url="https://caigou.example.org/feeds/feed.atom?token=x")
    feed = feedparser.parse(body)
    assert any(link.rel == "self" and link.href.endswith("/feeds/feed.atom?token=x") for link in feed.feed.links)
    [entry] = feed.entries
    assert entry.published == "2024-06-05T09:00:00+08:00"   # the notice's own hour, not midnight
