"""Digests delivered through a real SMTP server on loopback (aiosmtpd), exactly once.

PostgreSQL smoke run (``db``, SQLite and PostgreSQL): ``test_digest_reaches_a_real_smtp_server_once``, the richest
flow (candidates, delivered notices, the watermark, a CSV, a second run with nothing new). The other digest flows
run on SQLite (``sqlite_db``); concurrent runs are in tests/test_digest_concurrency.py."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import func, select

from caigou.digest.feed import atom_feed
from caigou.digest.run import run_digests
from caigou.digest.subscriptions import filters_from_json, filters_to_json
from caigou.filters import NoticeFilters
from caigou.models import DeliveredNotice, Delivery, Notice, NoticeScore, Subscription
from caigou.models.config import Config
from caigou.models.db import Database
from caigou.models.types import SHANGHAI
from tests.crawling import run_caigou
from tests.digest_data import SmtpServer, add_notice

T0 = dt.datetime(2024, 6, 10, 8, 0, tzinfo=SHANGHAI)
RESEARCHER = "researcher@example.org"
HOSTILE = '<script>alert("x")</script> 遗传分析仪采购 & <b>项目</b>'


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def subscribe(db: Database, name: str = "西藏 DNA 监测", recipients: list[str] | None = None,
              **values: object) -> None:
    with db.session() as session:
        session.add(Subscription(name=name, recipients=recipients or [f"研究员 张三 <{RESEARCHER}>"],
                                 filters=filters_to_json(NoticeFilters(min_score=50)), watermark=T0,
                                 **values))


def seed(db: Database) -> dict[str, int]:
    with db.session() as session:
        strong = add_notice(session, "1001", "拉萨市公安局 Y-STR 试剂盒采购项目", score=90,
                            matched_at=T0 + dt.timedelta(hours=1),
                            terms=[("Y-STR", "dna", "采购 Y-STR 检测试剂盒 15 盒"),
                                   ("DNA", "dna", "DNA 数据库建设")],
                            project_code="XZ-2024-001", reasons=["strong term Y-STR in title", "police buyer"])
        review = add_notice(session, "1002", HOSTILE, score=60, matched_at=T0 + dt.timedelta(hours=2),
                            terms=[("遗传分析仪", "dna", "遗传分析仪 1 台 <img src=x onerror=alert(1)>")],
                            origin="rematch", buyer="那曲市公安局", region="540600", region_name="那曲市")
        low = add_notice(session, "1003", "办公用品采购", score=20, matched_at=T0 + dt.timedelta(hours=1),
                         terms=[("血卡", "dna", "血卡")])
        old = add_notice(session, "0999", "上月的 DNA 采购", score=95, matched_at=T0 - dt.timedelta(days=2),
                         terms=[("DNA", "dna", "DNA")])
        return {"strong": strong.id, "review": review.id, "low": low.id, "old": old.id}


def config(smtp: SmtpServer) -> Config:
    return Config(values=smtp.config())


def parts(message: object) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[attr-defined]
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[attr-defined]
    return plain, html


def test_csv_cells_that_look_like_formulas_are_neutralised() -> None:
    from caigou.digest.render import _cell

    assert [_cell(v) for v in ("=HYPERLINK(1)", "+1", "-2", "@SUM(A1)", "公安局", 5)] == [
        "'=HYPERLINK(1)", "'+1", "'-2", "'@SUM(A1)", "公安局", "5"]


def test_filters_round_trip_through_json() -> None:
    filters = NoticeFilters(since=dt.date(2024, 1, 1), regions=["tibetan"], terms=["Y-STR"], min_score=50,
                            categories=["dna"], buyer="公安")
    assert filters_from_json(filters_to_json(filters)) == filters
    assert filters_from_json({}) == NoticeFilters()


def test_digest_reaches_a_real_smtp_server_once(db: Database, smtp: SmtpServer) -> None:
    ids = seed(db)
    subscribe(db, attach_csv=True)
    outcomes = run_digests(db, config(smtp), now=T0 + dt.timedelta(days=1))
    assert [o.line() for o in outcomes] == [f"西藏 DNA 监测 → 研究员 张三 <{RESEARCHER}>: sent (2 notices)"]

    [message] = smtp.inbox.to(RESEARCHER)
    assert message["Subject"] == "[caigou] 西藏 DNA 监测: 2 条新公告 / 2 new notices (2024-06-11)"
    assert message["To"].addresses[0].display_name == "研究员 张三"
    assert message["From"].addresses[0].display_name == "采购监测"
    plain, html = parts(message)
    # Grouped by score, strongest band first; the low score and the notice older than the watermark are absent.
    full = plain[plain.index("\n== "):]   # after the summary table, the notices in full
    assert full.index("Strong signal") < full.index("拉萨市公安局 Y-STR") < full.index("Review first")
    assert "办公用品" not in plain and "上月的" not in plain
    assert "Term 命中: Y-STR (dna, strong)" in plain and "… 采购 Y-STR 检测试剂盒 15 盒 …" in plain
    assert "Why (score 90): strong term Y-STR in title; police buyer" in plain
    assert "Amount 金额 (budget): ¥1,280,000.00" in plain and "Region 地区: 那曲市" in plain
    assert f"Archive 存档: http://127.0.0.1:8000/notices/{ids['strong']}" in plain
    assert "Original 原文: http://www.ccgp.gov.cn/cggg/t1001.htm" in plain
    assert "NEWLY MATCHED after a watchlist change" in plain.split("Review first")[1]
    assert "NEWLY MATCHED" not in plain.split("Review first")[0]
    # The HTML part carries the same entries, the hostile text escaped, the links intact.
    assert "<script>" not in html and "&lt;script&gt;" in html and "<img" not in html
    assert f'href="http://127.0.0.1:8000/notices/{ids["review"]}"' in html
    assert 'href="http://www.ccgp.gov.cn/cggg/t1002.htm"' in html
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "caigou-2024-06-11.csv"
    raw = attachment.get_content()
    text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else raw.lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["notice_id"]) for r in rows] == [ids["strong"], ids["review"]]
    assert rows[1]["title"] == HOSTILE and rows[0]["terms"] == "DNA; Y-STR" and rows[1]["rematched"] == "yes"

    with db.session() as session:
        sub = session.scalars(select(Subscription)).one()
        assert sub.watermark == T0 + dt.timedelta(hours=2)
        delivered = set(session.scalars(select(DeliveredNotice.notice_id)))
        assert delivered == {ids["strong"], ids["review"]}

    again = run_digests(db, config(smtp), now=T0 + dt.timedelta(days=1, minutes=5))
    assert [o.status for o in again] == ["nothing new"]
    assert len(smtp.inbox.messages) == 1


def test_server_down_keeps_the_backlog_and_the_next_run_delivers(sqlite_db: Database, smtp: SmtpServer) -> None:
    ids = seed(sqlite_db)
    subscribe(sqlite_db)
    smtp.stop()
    outcomes = run_digests(sqlite_db, config(smtp), now=T0 + dt.timedelta(days=1))
    assert [o.status for o in outcomes] == ["failed"]
    assert "cannot use the SMTP server 127.0.0.1" in outcomes[0].error and "refused" in outcomes[0].error
    with sqlite_db.session() as session:
        assert session.scalars(select(Subscription.watermark)).one() == T0
        assert session.scalar(select(func.count(DeliveredNotice.id))) == 0
        assert session.scalars(select(Delivery.status)).all() == ["failed"]

    with sqlite_db.session() as session:  # more arrives while the server is down
        later = add_notice(session, "1004", "日喀则市公安局 DNA 测序仪", score=70,
                           matched_at=T0 + dt.timedelta(days=1, hours=3), terms=[("DNA", "dna", "DNA 测序仪")])
    smtp.start()
    outcomes = run_digests(sqlite_db, config(smtp), now=T0 + dt.timedelta(days=2))
    assert [(o.status, o.notices) for o in outcomes] == [("sent", 3)]
    [message] = smtp.inbox.to(RESEARCHER)
    plain, _ = parts(message)
    assert all(title in plain for title in ("拉萨市公安局", "遗传分析仪采购", "日喀则市公安局"))
    with sqlite_db.session() as session:
        assert set(session.scalars(select(DeliveredNotice.notice_id))) == {ids["strong"], ids["review"], later.id}
    assert [o.status for o in run_digests(sqlite_db, config(smtp), now=T0 + dt.timedelta(days=3))] == ["nothing new"]
    assert len(smtp.inbox.messages) == 1


def test_a_refused_recipient_gets_the_backlog_and_the_other_no_duplicate(sqlite_db: Database, smtp: SmtpServer) -> None:
    seed(sqlite_db)
    subscribe(sqlite_db, recipients=["a@example.org", "王五 <b@example.org>"])
    smtp.inbox.refuse = {"b@example.org"}
    outcomes = run_digests(sqlite_db, config(smtp), now=T0 + dt.timedelta(days=1))
    assert [(o.recipient, o.status) for o in outcomes] == [("a@example.org", "sent"),
                                                           ("王五 <b@example.org>", "failed")]
    assert "b@example.org refused: 550" in outcomes[1].error
    with sqlite_db.session() as session:
        assert session.scalars(select(Subscription.watermark)).one() == T0  # not everyone got it

    smtp.inbox.refuse = set()
    outcomes = run_digests(sqlite_db, config(smtp), now=T0 + dt.timedelta(days=1, hours=1))
    assert [(o.recipient, o.status, o.notices) for o in outcomes] == [
        ("a@example.org", "nothing new", 0), ("王五 <b@example.org>", "sent", 2)]
    assert len(smtp.inbox.to("a@example.org")) == 1 and len(smtp.inbox.to("b@example.org")) == 1
    with sqlite_db.session() as session:
        assert session.scalars(select(Subscription.watermark)).one() == T0 + dt.timedelta(hours=2)


def test_award_to_a_reported_project_is_an_update(sqlite_db: Database, smtp: SmtpServer) -> None:
    ids = seed(sqlite_db)
    subscribe(sqlite_db)
    run_digests(sqlite_db, config(smtp), now=T0 + dt.timedelta(days=1))
    with sqlite_db.session() as session:
        award = add_notice(session, "1005", "拉萨市公安局 Y-STR 试剂盒采购项目中标公告", score=85,
                           matched_at=T0 + dt.timedelta(days=1, hours=2), notice_type="award",
                           project_code="XZ-2024-001", suppliers=["北京某某生物科技有限公司"], award="1190000.00",
                           terms=[("Y-STR", "dna", "Y-STR 试剂盒")])
    run_digests(sqlite_db, config(smtp), now=T0 + dt.timedelta(days=2))
    message = smtp.inbox.to(RESEARCHER)[-1]
    plain, html = parts(message)
    assert plain.startswith("[caigou] 西藏 DNA 监测: 1 条新公告")
    assert "== Updates to projects already reported (1) ==" in plain
    assert "UPDATE of “拉萨市公安局 Y-STR 试剂盒采购项目” (reported 2024-06-11)" in plain
    assert "Supplier 供应商: 北京某某生物科技有限公司" in plain and "Amount 金额 (award): ¥1,190,000.00" in plain
    assert f'id="notice-{award.id}"' in html and ids["strong"] != award.id


def test_send_empty_once_a_day(sqlite_db: Database, smtp: SmtpServer) -> None:
    subscribe(sqlite_db, skip_when_empty=False)
    first = run_digests(sqlite_db, config(smtp), now=T0 + dt.timedelta(days=1))
    second = run_digests(sqlite_db, config(smtp), now=T0 + dt.timedelta(days=1, hours=1))
    assert [o.status for o in first + second] == ["sent", "already sent today"]
    [message] = smtp.inbox.to(RESEARCHER)
    assert "无新公告" in message["Subject"]


def test_dry_run_prints_and_changes_nothing(sqlite_db: Database, smtp: SmtpServer) -> None:
    seed(sqlite_db)
    subscribe(sqlite_db)
    printed: list[str] = []
    outcomes = run_digests(sqlite_db, config(smtp), dry_run=True, echo=printed.append, now=T0 + dt.timedelta(days=1))
    assert [(o.status, o.notices) for o in outcomes] == [("would send", 2)]
    assert "拉萨市公安局 Y-STR" in printed[0] and RESEARCHER in printed[0]
    assert smtp.inbox.messages == []
    with sqlite_db.session() as session:
        assert session.scalar(select(func.count(Delivery.id))) == 0
        assert session.scalars(select(Subscription.watermark)).one() == T0


def test_atom_feed_parses(sqlite_db: Database) -> None:
    ids = seed(sqlite_db)
    subscribe(sqlite_db)
    with sqlite_db.session() as session:
        sub = session.scalars(select(Subscription)).one()
        body = atom_feed(session, sub, "http://127.0.0.1:8000")
    feed = feedparser.parse(body)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.feed.title == "caigou: 西藏 DNA 监测"
    # The feed lists recent matches (no watermark): the old notice too, the low score not.
    assert [e.title for e in feed.entries] == [f"[60] {HOSTILE}", "[90] 拉萨市公安局 Y-STR 试剂盒采购项目",
                                               "[95] 上月的 DNA 采购"]
    entry = feed.entries[1]
    assert entry.link == f"http://127.0.0.1:8000/notices/{ids['strong']}"
    assert [link.href for link in entry.links if link.rel == "related"] == ["http://www.ccgp.gov.cn/cggg/t1001.htm"]
    assert entry.id == f"urn:caigou:notice:ccgp:{ids['strong']}"
    assert "Y-STR" in [tag.term for tag in entry.tags]
    assert "采购 Y-STR 检测试剂盒 15 盒" in entry.content[0].value
    assert "<script>" not in feed.entries[0].content[0].value


def test_subscription_commands_and_digest_failure_exit(sqlite_db: Database, smtp: SmtpServer, tmp_path: Path) -> None:
    config = tmp_path / "caigou.toml"
    config.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {smtp.port}\n[web]\nbase_url = "http://127.0.0.1:8000"\n',
                      encoding="utf-8")
    base = ("--config", str(config), "--db", sqlite_db.url)
    added = run_caigou(*base, "subscriptions", "add", "西藏 DNA", "--to", "研究员 <r@example.org>", "--region",
                       "tibetan", "--category", "software-database", "--at", "7:30", "--csv", "--backfill")
    assert added.returncode == 0, added.stderr
    shown = run_caigou(*base, "subscriptions", "show", "西藏 DNA")
    assert '"regions": ["tibetan"]' in shown.stdout and '"min_score": 50' in shown.stdout
    assert "07:30 Asia/Shanghai, CSV attached" in shown.stdout and "(none: backlog included)" in shown.stdout
    assert "西藏 DNA\t07:30 Asia/Shanghai\t研究员 <r@example.org>\tnever sent" in run_caigou(
        *base, "subscriptions", "list").stdout
    for args, message in [(("add", "西藏 DNA", "--to", "x@example.org"), "exists"),
                          (("add", "x", "--to", "not-an-address"), "not an e-mail address"),
                          (("add", "x", "--at", "25:00"), "is not HH:MM"),
                          (("add", "x", "--tz", "Mars/Base"), "unknown time zone"),
                          (("add", "x", "--type", "awrd"), "unknown notice type 'awrd'"),
                          (("add", "x", "--category", "dna"), "unknown category 'dna'; one of equipment"),
                          (("add", "x", "--source", "ccgp-typo"), "unknown source 'ccgp-typo' (did you mean 'ccgp'?); known: ccgp"),
                          (("add", "x", "--region", "990000"), "unknown region '990000'"),
                          (("add", "x\ty"), "one line of printable text"),
                          (("show", "nosuch"), "no subscription named 'nosuch'; known: 西藏 DNA")]:
        result = run_caigou(*base, "subscriptions", *args)
        assert result.returncode == 2 and result.stderr.startswith("caigou: error: ") and message in result.stderr
    with sqlite_db.session() as session:
        add_notice(session, "2001", "西藏自治区公安厅 DNA 测序仪", score=75, matched_at=T0,
                   terms=[("DNA", "software-database", "DNA 测序仪")])

    smtp.stop()
    failed = run_caigou(*base, "digest", "--feed-dir", str(tmp_path / "feeds"))
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert "西藏 DNA → 研究员 <r@example.org>: failed: cannot use the SMTP server" in failed.stderr
    assert failed.stderr.strip().endswith("caigou: error: 1 digest delivery failed; the watermark stays, "
                                          "the next run delivers the backlog")
    feed = feedparser.parse((tmp_path / "feeds" / "西藏-DNA.atom").read_bytes())
    assert [e.title for e in feed.entries] == ["[75] 西藏自治区公安厅 DNA 测序仪"]

    smtp.start()
    dry = run_caigou(*base, "digest", "--dry-run")
    assert dry.returncode == 0 and "would send (1 notice)" in dry.stdout and "DNA 测序仪" in dry.stdout
    sent = run_caigou(*base, "digest", "--subscription", "西藏 DNA")
    assert sent.returncode == 0 and "sent (1 notice)" in sent.stdout
    assert run_caigou(*base, "digest").stdout.strip() == "西藏 DNA → 研究员 <r@example.org>: nothing new"
    assert len(smtp.inbox.to("r@example.org")) == 1
    log = run_caigou(*base, "subscriptions", "show", "西藏 DNA").stdout
    assert "sent    r@example.org  1 notices" in log and "failed  r@example.org  1 notices  cannot use" in log
    assert run_caigou(*base, "subscriptions", "remove", "西藏 DNA").returncode == 0
    assert "no subscriptions" in run_caigou(*base, "subscriptions", "list").stdout


def test_an_imported_correction_without_any_term_to_a_reported_project_is_an_update(
        sqlite_db: Database, smtp: SmtpServer, tmp_path: Path) -> None:
    seed(sqlite_db)
    subscribe(sqlite_db)
    run_digests(sqlite_db, config(smtp), now=T0 + dt.timedelta(days=1))
    correction = {"source": "ccgp", "source_id": "1006", "url": "http://www.ccgp.gov.cn/cggg/t1006.htm",
                  "title": "拉萨市公安局采购项目更正公告", "notice_type": "correction", "notice_type_label": "更正公告",
                  "published_at": "2024-06-12T09:00:00+08:00", "buyer": "拉萨市公安局", "region_code": "540100",
                  "project_code": "XZ-2024-001", "body_text": "开标时间由6月20日更正为6月25日，其他内容不变。"}
    unrelated = {**correction, "source_id": "1007", "url": "http://www.ccgp.gov.cn/cggg/t1007.htm",
                 "title": "林芝市公安局办公家具采购更正公告", "project_code": "XZ-2024-999"}
    path = tmp_path / "later.jsonl"
    path.write_text("\n".join(json.dumps(row, ensure_ascii=False) for row in (correction, unrelated)) + "\n",
                    encoding="utf-8")
    imported = run_caigou("--db", sqlite_db.url, "import", str(path))
    assert imported.returncode == 0, imported.stderr
    with sqlite_db.session() as session:  # it matches no watchlist term and scores below the subscription's minimum
        score = session.scalars(select(NoticeScore).join(Notice).where(Notice.source_key == "1006")).one()
        assert score.first_matched_at is None and score.score < 50

    outcomes = run_digests(sqlite_db, config(smtp), now=dt.datetime.now(SHANGHAI) + dt.timedelta(hours=1))
    assert [(o.status, o.notices) for o in outcomes] == [("sent", 1)]
    plain, _html = parts(smtp.inbox.to(RESEARCHER)[-1])
    assert "== Updates to projects already reported (1) ==" in plain
    assert "拉萨市公安局采购项目更正公告" in plain and "UPDATE of “拉萨市公安局 Y-STR 试剂盒采购项目”" in plain
    assert "林芝市公安局办公家具采购更正公告" not in plain  # a project nobody reported stays out
    # Delivered once: the next digest has nothing new.
    again = run_digests(sqlite_db, config(smtp), now=dt.datetime.now(SHANGHAI) + dt.timedelta(hours=2))
    assert [o.status for o in again] == ["nothing new"]


def test_archive_links_default_to_where_caigou_serve_listens(sqlite_db: Database, smtp: SmtpServer) -> None:
    ids = seed(sqlite_db)
    subscribe(sqlite_db)
    values = {key: value for key, value in smtp.config().items() if key != "web"}  # no [web] base_url
    run_digests(sqlite_db, Config(values=values), now=T0 + dt.timedelta(days=1))
    plain, html = parts(smtp.inbox.to(RESEARCHER)[-1])
    assert f"http://127.0.0.1:8000/notices/{ids['strong']}" in plain
    assert f'href="http://127.0.0.1:8000/notices/{ids["strong"]}"' in html


def test_no_mail_without_a_feed_dir_is_a_one_line_error(sqlite_db: Database) -> None:
    result = run_caigou("--db", sqlite_db.url, "digest", "--no-mail")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == ("caigou: error: --no-mail writes only the feeds: give --feed-dir DIR "
                                     "(or leave --no-mail out)")


def test_a_recipient_refused_for_good_stops_holding_the_watermark_and_the_operator_is_told(
        sqlite_db: Database, smtp: SmtpServer) -> None:
    ids = seed(sqlite_db)
    subscribe(sqlite_db, recipients=["a@example.org", "gone@example.org"])
    smtp.inbox.refuse = {"gone@example.org"}
    settings = Config(values={**smtp.config(), "health": {"operator_email": "ops@example.org"},
                              "digest": {"refusals_before_giving_up": 3}})
    for day in (1, 2):  # refused twice: the watermark waits, as for any failure
        outcomes = run_digests(sqlite_db, settings, now=T0 + dt.timedelta(days=day))
        assert [o.status for o in outcomes if o.recipient == "gone@example.org"] == ["failed"]
        with sqlite_db.session() as session:
            assert session.scalars(select(Subscription.watermark)).one() == T0
    assert smtp.inbox.to("ops@example.org") == []

    outcomes = run_digests(sqlite_db, settings, now=T0 + dt.timedelta(days=3))  # the third refusal in a row
    [gone] = [o for o in outcomes if o.recipient == "gone@example.org"]
    assert gone.status == "given up" and "refused 3 times in a row" in gone.error
    [alert] = smtp.inbox.to("ops@example.org")
    assert "gone@example.org" in alert["Subject"] and "西藏 DNA 监测" in alert.get_content()
    with sqlite_db.session() as session:
        assert session.scalars(select(Subscription.watermark)).one() == T0 + dt.timedelta(hours=2)
        statuses = [d.status for d in session.scalars(select(Delivery).where(
            Delivery.recipient == "gone@example.org").order_by(Delivery.id))]
        assert statuses == ["failed", "failed", "failed", "given_up"]

    # Later digests still try it, hold nothing back and alert no more.
    with sqlite_db.session() as session:
        add_notice(session, "1010", "日喀则市公安局 DNA 试剂采购", score=88, matched_at=T0 + dt.timedelta(days=3, hours=1),
                   terms=[("DNA", "dna", "DNA 试剂")])
    outcomes = run_digests(sqlite_db, settings, now=T0 + dt.timedelta(days=4))
    assert sorted((o.recipient, o.status) for o in outcomes) == [("a@example.org", "sent"),
                                                                 ("gone@example.org", "given up")]
    assert len(smtp.inbox.to("ops@example.org")) == 1
    with sqlite_db.session() as session:
        assert session.scalars(select(Subscription.watermark)).one() == T0 + dt.timedelta(days=3, hours=1)
    assert ids
