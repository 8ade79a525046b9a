"""The web interface and JSON API, through the real ASGI application (FastAPI's TestClient speaks HTTP to it in
process): logins, CSRF, permissions, review history, hostile content, CSV, API, feeds, subscriptions.
The same interface in a real browser: tests/test_web_browser.py.

The web flows run on SQLite (``archive`` and ``client``). Three run on SQLite and PostgreSQL (``archive_both`` and
``client_both``): ``test_ids_beyond_any_key_are_not_found`` (an ID past PostgreSQL's ``integer`` fails in each
driver its own way), ``test_year_facet_counts_and_narrows_to_the_year`` (the year is taken per dialect in
``caigou/search.py``) and the PostgreSQL smoke run of the flows,
``test_a_reviewer_adds_a_subscription_that_the_command_line_and_the_digest_see`` (a subscription's JSON filters
written from the web, read by the command line, the feed and a digest delivered over SMTP)."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from caigou.digest.run import run_digests
from caigou.models import DeliveredNotice, Delivery, Notice, RawPage, Review, Subscription
from caigou.models.config import Config
from caigou.models.db import Database
from caigou.web.app import create_app
from caigou.web.security import LOGIN_FAILURES, WebSettings
from caigou.web.views.subscriptions import feed_path, feed_token
from tests.crawling import run_caigou
from tests.digest_data import SmtpServer
from tests.web_data import HOSTILE_TITLE, PASSWORD, build_archive

SECRET = "test-secret-key-0123456789"


@pytest.fixture
def archive(sqlite_db: Database) -> tuple[Database, dict[str, int]]:
    """The browser tests' archive on SQLite: the web flows' store."""
    return sqlite_db, build_archive(sqlite_db)


@pytest.fixture
def archive_both(db: Database) -> tuple[Database, dict[str, int]]:
    """The same archive on SQLite and on PostgreSQL, for the tests whose point is the database."""
    return db, build_archive(db)


def client_for(db: Database, anonymous_read: bool = False) -> TestClient:
    app = create_app(db, WebSettings(secret_key=SECRET, anonymous_read=anonymous_read))
    return TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False)


@pytest.fixture
def client(archive: tuple[Database, dict[str, int]]) -> Iterator[TestClient]:
    with client_for(archive[0]) as web:
        yield web


@pytest.fixture
def client_both(archive_both: tuple[Database, dict[str, int]]) -> Iterator[TestClient]:
    with client_for(archive_both[0]) as web:
        yield web


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has a form with a CSRF token"
    return found.group(1)


def log_in(web: TestClient, name: str = "anna", password: str = PASSWORD) -> None:
    token = csrf_of(web.get("/login").text)
    answer = web.post("/login", data={"name": name, "password": password, "csrf_token": token, "next": "/search"})
    assert answer.status_code == 303 and answer.headers["location"] == "/search", answer.text


def test_anonymous_visitors_must_log_in(client: TestClient) -> None:
    answer = client.get("/search?q=公安")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    assert client.get("/api/search?q=公安").status_code == 401
    assert client.get("/notices/1").status_code == 303
    assert client.get("/export.csv").status_code == 303


def test_login_needs_the_right_password_and_a_csrf_token(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    wrong = client.post("/login", data={"name": "anna", "password": "wrong password!", "csrf_token": token})
    assert wrong.status_code == 401 and "wrong password" in wrong.text
    forged = client.post("/login", data={"name": "anna", "password": PASSWORD, "csrf_token": "forged"})
    assert forged.status_code == 403 and "CSRF" in forged.text
    log_in(client)
    page = client.get("/search")
    assert page.status_code == 200 and 'id="current-user">anna<' in page.text


def test_login_never_redirects_off_site(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    answer = client.post("/login", data={"name": "anna", "password": PASSWORD, "csrf_token": token,
                                         "next": "//evil.example/phish"})
    assert answer.headers["location"] == "/search"


def test_repeated_failures_slow_a_name_down(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    for _ in range(LOGIN_FAILURES):
        client.post("/login", data={"name": "bob", "password": "not the password", "csrf_token": token})
    answer = client.post("/login", data={"name": "bob", "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 429  # even the right password waits


def test_search_page_finds_sub_words_shows_facets_and_defaults_to_review_first(client: TestClient) -> None:
    log_in(client)
    page = client.get("/search", params={"q": "公安"})
    assert page.status_code == 200
    total = int(re.search(r'id="total">(\d+)<', page.text).group(1))
    everything = client.get("/search", params={"q": "公安", "min_score": ""})
    total_all = int(re.search(r'id="total">(\d+)<', everything.text).group(1))
    # 公安 finds 公安厅 and 公安局; by default only "review first" (score ≥ 50) notices are listed.
    assert "建设项目公开招标公告" in page.text and "score ≥ 50" in page.text
    assert total_all >= total >= 3
    assert 'data-facet="region"' in page.text and "Tibetan areas" in page.text
    assert "<mark>公安</mark>" in page.text
    hospital = client.get("/search", params={"q": "新冠", "min_score": ""})
    assert "拉萨市人民医院" in hospital.text
    assert "拉萨市人民医院" not in client.get("/search", params={"q": "新冠"}).text  # scored low


def test_facet_filters_narrow_the_results(client: TestClient) -> None:
    log_in(client)
    page = client.get("/search", params=[("q", "公安"), ("min_score", ""), ("region", "540600")])
    assert int(re.search(r'id="total">(\d+)<', page.text).group(1)) == 2  # 那曲: the analyser and the hostile one
    award = client.get("/search", params=[("q", "DNA数据库"), ("min_score", ""), ("type", "award")])
    assert "中标公告" in award.text and int(re.search(r'id="total">(\d+)<', award.text).group(1)) == 1


def test_malformed_queries_and_filters_are_clear_messages(client: TestClient) -> None:
    log_in(client)
    quote = client.get("/search", params={"q": '"unclosed'})
    assert quote.status_code == 400 and "unbalanced quote" in quote.text
    date = client.get("/search", params={"since": "2024-13-45"})
    assert date.status_code == 400 and "since" in date.text
    assert client.get("/api/search", params={"q": "OR"}).status_code == 400
    assert "OR needs words" in client.get("/api/search", params={"q": "OR"}).json()["error"]
    assert client.get("/search", params={"page": "0"}).status_code == 400


def test_review_history_is_append_only_and_never_touches_evidence(
        archive: tuple[Database, dict[str, int]], client: TestClient) -> None:
    db, ids = archive
    notice_id = ids["analyzer"]
    with db.session() as session:
        before = session.get(Notice, notice_id)
        evidence_before = (before.title, before.body_text, before.buyer, before.raw_sha256)
        pages_before = session.scalar(select(func.count(RawPage.id)))
    log_in(client)
    token = csrf_of(client.get(f"/notices/{notice_id}").text)
    first = client.post(f"/notices/{notice_id}/review",
                        data={"status": "unsure", "note": "check the supplier", "tags": "3500xL, 那曲",
                              "csrf_token": token})
    assert first.status_code == 303
    second = client.post(f"/notices/{notice_id}/review",
                         data={"status": "relevant", "note": "confirmed: police DNA lab", "csrf_token": token})
    assert second.status_code == 303
    page = client.get(f"/notices/{notice_id}").text
    assert 'id="current-status">relevant<' in page
    assert page.index("check the supplier") < page.index("confirmed: police DNA lab")  # oldest first, both kept
    with db.session() as session:
        reviews = session.scalars(select(Review).where(Review.notice_id == notice_id).order_by(Review.id)).all()
        assert [(r.reviewer, r.status, r.tags) for r in reviews] == [("anna", "unsure", ["3500xL", "那曲"]),
                                                                      ("anna", "relevant", [])]
        after = session.get(Notice, notice_id)
        assert (after.title, after.body_text, after.buyer, after.raw_sha256) == evidence_before
        assert session.scalar(select(func.count(RawPage.id))) == pages_before
    api = client.get(f"/api/notices/{notice_id}/reviews").json()
    assert [r["status"] for r in api] == ["unsure", "relevant"]


def test_a_review_without_the_csrf_token_is_refused(archive: tuple[Database, dict[str, int]],
                                                    client: TestClient) -> None:
    db, ids = archive
    log_in(client)
    answer = client.post(f"/notices/{ids['award']}/review", data={"status": "relevant", "csrf_token": "guess"})
    assert answer.status_code == 403
    missing = client.post(f"/notices/{ids['award']}/review", data={"status": "relevant"})
    assert missing.status_code == 403
    with db.session() as session:
        assert session.scalar(select(func.count(Review.id))) == 0


def test_an_unknown_status_is_a_message_not_a_row(archive: tuple[Database, dict[str, int]],
                                                  client: TestClient) -> None:
    db, ids = archive
    log_in(client)
    token = csrf_of(client.get(f"/notices/{ids['award']}").text)
    answer = client.post(f"/notices/{ids['award']}/review", data={"status": "maybe", "csrf_token": token})
    assert answer.status_code == 303 and "error=" in answer.headers["location"]
    assert "unknown status" in client.get(answer.headers["location"]).text
    with db.session() as session:
        assert session.scalar(select(func.count(Review.id))) == 0


def test_anonymous_reading_when_switched_on_but_never_reviewing(archive: tuple[Database, dict[str, int]]) -> None:
    db, ids = archive
    with client_for(db, anonymous_read=True) as web:
        page = web.get("/search", params={"q": "遗传分析仪"})
        assert page.status_code == 200 and "那曲市公安局刑侦支队" in page.text
        notice = web.get(f"/notices/{ids['analyzer']}")
        assert notice.status_code == 200 and "Log in</a> to record a judgement" in notice.text
        token = csrf_of(web.get("/login").text)  # a valid token of this anonymous session
        answer = web.post(f"/notices/{ids['analyzer']}/review", data={"status": "relevant", "csrf_token": token})
        assert answer.status_code == 403
    with db.session() as session:
        assert session.scalar(select(func.count(Review.id))) == 0


def test_hostile_notice_text_and_archived_page_are_inert(archive: tuple[Database, dict[str, int]],
                                                        client: TestClient) -> None:
    db, ids = archive
    log_in(client)
    notice_id = ids["hostile"]
    page = client.get(f"/notices/{notice_id}")
    assert page.status_code == 200
    assert "<script" not in page.text and "onerror=" not in page.text.replace("onerror=&#34;", "")
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page.text
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'none': no script at all
    assert "default-src 'none'" in page.headers["content-security-policy"]
    results = client.get("/search", params={"q": "试剂盒", "min_score": ""})
    assert "<script" not in results.text and HOSTILE_TITLE not in results.text
    with db.session() as session:
        page_id = session.scalars(select(RawPage.id).where(RawPage.url.like("%_105.htm"))).one()
    archived = client.get(f"/notices/{notice_id}/pages/{page_id}")
    content = archived.text.split('id="archived-content">', 1)[1]
    assert "那曲市公安局" in content and "Y-STR扩增试剂盒" in content
    for forbidden in ("<script", "onclick", "onerror", "<img", "<iframe", "javascript:"):
        assert forbidden not in content.lower(), forbidden
    raw = client.get(f"/raw/{page_id}")
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["content-disposition"].startswith("attachment")
    assert b"<script>window.pwned=3</script>" in raw.content  # the evidence itself is kept byte for byte


def test_notice_page_shows_fields_reasons_evidence_and_the_project(archive: tuple[Database, dict[str, int]],
                                                                   client: TestClient) -> None:
    db, ids = archive
    log_in(client)
    page = client.get(f"/notices/{ids['award']}").text
    assert "西藏某科技有限公司" in page and "¥2,860,000.00" in page
    assert 'id="reasons"' in page and "Tibetan area" in page
    assert 'href="http://www.ccgp.gov.cn/' in page and 'rel="noopener noreferrer nofollow"' in page
    project = page.split('id="project-notices"', 1)[1].split("</ol>", 1)[0]
    assert project.index("公开招标公告") < project.index("中标公告")  # tender before award
    assert f'href="/notices/{ids["tender"]}"' in project
    assert client.get("/notices/999999").status_code == 404


def test_csv_download_of_the_result_set_is_safe_for_spreadsheets(client: TestClient) -> None:
    log_in(client)
    answer = client.get("/export.csv", params={"q": "试剂盒", "min_score": "", "columns": "all"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    api = client.get("/api/search", params={"q": "试剂盒", "min_score": "", "size": 100}).json()
    assert {int(r["notice_id"]) for r in rows} == {r["id"] for r in api["results"]} and rows
    hostile = next(r for r in rows if "pwned" in r["title"])
    assert hostile["body_text"].startswith("Y-STR")  # not formula-like: left as is
    assert client.get("/export.csv", params={"q": '"'}).status_code == 400


def test_json_api_and_its_openapi_description(archive: tuple[Database, dict[str, int]], client: TestClient) -> None:
    db, ids = archive
    log_in(client)
    found = client.get("/api/search", params={"q": "DNA数据库", "min_score": ""}).json()
    assert found["total"] == 2 and {r["id"] for r in found["results"]} == {ids["tender"], ids["award"]}
    assert any(f["value"] == "tibetan" for f in found["facets"]["region"])
    notice = client.get(f"/api/notices/{ids['award']}").json()
    assert notice["award_cny"] == "2860000.00" and notice["suppliers"][0]["name"] == "西藏某科技有限公司"
    assert notice["score"] >= 50 and notice["reasons"] and notice["project_notices"][0]["id"] == ids["tender"]
    assert client.get("/api/notices/999999").status_code == 404
    schema = client.get("/openapi.json").json()
    assert {"/api/search", "/api/notices/{notice_id}", "/api/notices/{notice_id}/reviews"} <= set(schema["paths"])
    assert "/login" not in schema["paths"]


def test_feed_is_readable_with_its_key_only(archive: tuple[Database, dict[str, int]], client: TestClient) -> None:
    db, _ids = archive
    with db.session() as session:
        session.add(Subscription(name="tibet", recipients=["a@example.org"], filters={"min_score": 50}))
    feed = client.get(f"/feeds/tibet.atom?token={feed_token(SECRET, 'tibet')}")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    assert "西藏自治区公安厅DNA数据库" in feed.text
    assert client.get("/feeds/tibet.atom?token=wrong").status_code == 303  # to the login page
    log_in(client)
    listing = client.get("/subscriptions").text
    assert f"/feeds/tibet.atom?token={feed_token(SECRET, 'tibet')}" in listing


def test_command_line_user_search_and_review(archive: tuple[Database, dict[str, int]]) -> None:
    db, ids = archive
    added = run_caigou("--db", db.url, "user", "add", "carol", "--password-stdin",
                       input_text="a long enough password\n")
    assert added.returncode == 0, added.stderr
    short = run_caigou("--db", db.url, "user", "add", "dave", "--password-stdin", input_text="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr and "Traceback" not in short.stderr
    found = run_caigou("--db", db.url, "search", "遗传分析仪", "--format", "jsonl")
    assert found.returncode == 0, found.stderr
    assert str(ids["analyzer"]) in found.stdout and "拉萨市人民医院" not in found.stdout
    reviewed = run_caigou("--db", db.url, "review", str(ids["analyzer"]), "--status", "relevant", "--note", "核实",
                          "--reviewer", "carol")
    assert reviewed.returncode == 0 and "relevant by carol" in reviewed.stdout
    history = run_caigou("--db", db.url, "review", str(ids["analyzer"]))
    assert "carol: relevant" in history.stdout and "核实" in history.stdout
    bad = run_caigou("--db", db.url, "search", '"DNA')
    assert bad.returncode == 2 and "unbalanced quote" in bad.stderr and "Traceback" not in bad.stderr


# ------------------------------------------------------------------------------------------ subscriptions

def subscription_form(**changes: object) -> dict[str, object]:
    """The add form as a browser sends it (two region fields: the Tibetan-areas box and the typed codes)."""
    form: dict[str, object] = {"name": "藏区 DNA", "recipients": "研究员 <r@example.org>\nsecond@example.org",
                               "region": ["tibetan", ""], "term": "", "category": "software-database",
                               "buyer": "", "supplier": "", "since": "", "until": "", "min_score": "50",
                               "delivery_time": "07:30", "time_zone": "Asia/Shanghai", "skip_when_empty": "yes"}
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def add_through_form(web: TestClient, **changes: object) -> object:
    token = csrf_of(web.get("/subscriptions").text)
    return web.post("/subscriptions", data={"csrf_token": token, **subscription_form(**changes)})


def test_a_reviewer_adds_a_subscription_that_the_command_line_and_the_digest_see(
        archive_both: tuple[Database, dict[str, int]], client_both: TestClient) -> None:
    db, _ids = archive_both
    log_in(client_both)
    page = client_both.get("/subscriptions").text
    assert 'action="/subscriptions"' in page and 'name="min_score" min="0" max="100" value="50"' in page
    answer = add_through_form(client_both, attach_csv="yes", backfill="yes", type=["tender", "award"],
                              source=["ccgp"])
    assert answer.status_code == 303, answer.text
    detail = client_both.get(answer.headers["location"])
    assert detail.status_code == 200 and 'id="subscription-name">藏区 DNA<' in detail.text
    assert "Tibetan areas 藏区" in detail.text and "tender, award" in detail.text
    assert "07:30 Asia/Shanghai, empty days skipped, CSV attached" in detail.text
    assert "(none: the backlog goes into the next digest)" in detail.text  # backfill: no watermark
    assert feed_path(SECRET, "藏区 DNA").replace("&", "&amp;") in detail.text
    with db.session() as session:
        sub = session.scalars(select(Subscription)).one()
        assert sub.filters == {"regions": ["tibetan"], "sources": ["ccgp"], "notice_types": ["tender", "award"],
                               "categories": ["software-database"], "min_score": 50}
        assert sub.recipients == ["研究员 <r@example.org>", "second@example.org"]
        assert (sub.delivery_time, sub.skip_when_empty, sub.attach_csv, sub.watermark) == ("07:30", True, True, None)

    listed = run_caigou("--db", db.url, "subscriptions", "list")
    assert listed.returncode == 0 and "藏区 DNA\t07:30 Asia/Shanghai\t研究员 <r@example.org>, second@example.org" \
        "\tnever sent" in listed.stdout
    feed = client_both.get(feed_path(SECRET, "藏区 DNA"))
    assert feed.status_code == 200 and "西藏自治区公安厅DNA数据库" in feed.text

    smtp = SmtpServer().start()
    try:
        outcomes = run_digests(db, Config(values=smtp.config()), echo=lambda _line: None)
        assert [(o.recipient, o.status) for o in outcomes] == [("研究员 <r@example.org>", "sent"),
                                                               ("second@example.org", "sent")]
        message = smtp.inbox.to("r@example.org")[0]
        assert "DNA数据库建设项目中标公告" in message.get_body(preferencelist=("plain",)).get_content()
        assert any(part.get_filename() for part in message.iter_attachments())  # the CSV
    finally:
        smtp.stop()
    shown = client_both.get(answer.headers["location"]).text  # the watermark moved; the log has both deliveries
    assert "(none: the backlog" not in shown and "never" not in shown.split('id="last-sent">', 1)[1][:20]
    assert shown.count("<td>sent</td>") == 2


def test_bad_subscription_input_is_one_line_with_the_form_kept(archive: tuple[Database, dict[str, int]],
                                                                client: TestClient) -> None:
    db, _ids = archive
    log_in(client)
    assert add_through_form(client).status_code == 303
    cases = [({"time_zone": "Mars/Olympus_Mons"}, "unknown time zone &#39;Mars/Olympus_Mons&#39;"),
             ({"time_zone": "Asia"}, "unknown time zone &#39;Asia&#39;"),  # a folder of the zone files
             ({"time_zone": "Europe/" + "x" * 300}, "unknown time zone"),
             ({"delivery_time": "25:00"}, "delivery time &#39;25:00&#39; is not HH:MM"),
             ({"recipients": "研究员 <not-an-address>"}, "not an e-mail address"),
             ({}, "a subscription named &#39;藏区 DNA&#39; exists"),
             ({"name": "  "}, "a subscription needs a name"),
             ({"name": "长" * 101}, "at most 100 characters"),
             ({"region": ["tibetan", "540600, 火星"]}, "unknown region &#39;火星&#39;"),
             ({"region": ["990000"]}, "unknown region &#39;990000&#39;"),
             ({"source": ["nosuch"]}, "unknown source &#39;nosuch&#39;"),
             ({"type": ["awrd"]}, "unknown notice type &#39;awrd&#39;"),
             ({"category": ["software-database", "dna"]}, "unknown category &#39;dna&#39;"),
             ({"min_score": "101"}, "min_score must be a whole number from 0 to 100"),
             ({"since": "2024-13-45"}, "since")]
    for changes, message in cases:
        name = changes.pop("name", "second one") if changes else "藏区 DNA"
        answer = add_through_form(client, name=name, buyer="<b>公安</b>", **changes)
        assert answer.status_code == 400, (changes, answer.status_code)
        error = re.search(r'<p class="error" role="alert" id="subscription-error">([^<]*)</p>', answer.text)
        assert error and message in error.group(1), (changes, answer.text[-3000:])
        assert "\n" not in error.group(1)
        # What was sent is in the form again, escaped.
        assert 'name="buyer" value="&lt;b&gt;公安&lt;/b&gt;"' in answer.text
        assert "研究员 &lt;" in answer.text and 'value="software-database" checked' in answer.text
    kept = add_through_form(client, name="again", region=["tibetan", "540600, 火星"], delivery_time="25:00").text
    assert 'name="region" value="540600, 火星"' in kept and 'value="tibetan" checked' in kept
    assert 'name="delivery_time" value="25:00"' in kept
    with db.session() as session:
        assert session.scalars(select(Subscription.name)).all() == ["藏区 DNA"]


def test_subscription_posts_need_the_csrf_token_and_a_reviewer(archive: tuple[Database, dict[str, int]],
                                                                client: TestClient) -> None:
    db, _ids = archive
    log_in(client)
    assert client.post("/subscriptions", data=subscription_form()).status_code == 403
    forged = client.post("/subscriptions", data={"csrf_token": "forged", **subscription_form()})
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert add_through_form(client).status_code == 303
    with db.session() as session:
        sub_id = session.scalars(select(Subscription.id)).one()
    assert client.post(f"/subscriptions/{sub_id}/remove", data={"confirm": "yes"}).status_code == 403
    assert client.post(f"/subscriptions/{sub_id}/remove",
                       data={"confirm": "yes", "csrf_token": "forged"}).status_code == 403
    with client_for(db, anonymous_read=True) as web:
        # Anonymous reading opens the notices, not the subscriptions: recipients' addresses and feed tokens.
        for path in ("/subscriptions", f"/subscriptions/{sub_id}"):
            answer = web.get(path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
            assert "r@example.org" not in answer.text and "token=" not in answer.text
        assert 'href="/subscriptions"' not in web.get("/search").text
        token = csrf_of(web.get("/login").text)  # a valid token of this anonymous session
        assert web.post("/subscriptions", data={"csrf_token": token,
                                                **subscription_form(name="anon")}).status_code == 403
        assert web.post(f"/subscriptions/{sub_id}/remove",
                        data={"csrf_token": token, "confirm": "yes"}).status_code == 403
    with client_for(db) as web:  # without anonymous reading: not even the page
        assert web.get(f"/subscriptions/{sub_id}").status_code == 303
        token = csrf_of(web.get("/login").text)
        assert web.post("/subscriptions", data={"csrf_token": token, **subscription_form(name="anon")}
                        ).status_code == 403
    with db.session() as session:
        assert session.scalars(select(Subscription.name)).all() == ["藏区 DNA"]


def test_removing_asks_first_and_keeps_what_the_command_keeps(archive: tuple[Database, dict[str, int]],
                                                              client: TestClient) -> None:
    db, _ids = archive
    hostile = '<script>alert(1)</script> 公安'
    log_in(client)
    assert add_through_form(client, name=hostile, backfill="yes").status_code == 303
    with db.session() as session:
        notices_before = session.scalar(select(func.count(Notice.id)))
        pages_before = session.scalar(select(func.count(RawPage.id)))
        sub_id = session.scalars(select(Subscription.id)).one()
    smtp = SmtpServer().start()
    try:
        assert {o.status for o in run_digests(db, Config(values=smtp.config()), echo=lambda _line: None)} == {"sent"}
    finally:
        smtp.stop()
    listing = client.get("/subscriptions").text
    assert "<script>alert" not in listing and "&lt;script&gt;alert(1)&lt;/script&gt; 公安" in listing
    token = csrf_of(listing)
    asked = client.post(f"/subscriptions/{sub_id}/remove", data={"csrf_token": token})
    assert asked.status_code == 200 and 'name="confirm" value="yes"' in asked.text
    assert "2 deliveries" in asked.text and "<script>alert" not in asked.text
    with db.session() as session:
        assert session.get(Subscription, sub_id) is not None  # asking removed nothing
    removed = client.post(f"/subscriptions/{sub_id}/remove", data={"csrf_token": token, "confirm": "yes"})
    assert removed.status_code == 303 and removed.headers["location"].startswith("/subscriptions?removed=")
    message = client.get(removed.headers["location"]).text
    assert "Removed the subscription" in message and "<script>alert" not in message
    with db.session() as session:
        # As `caigou subscriptions remove`: the delivery log goes with the subscription; the notices and their
        # evidence stay.
        assert session.scalar(select(func.count(Subscription.id))) == 0
        assert session.scalar(select(func.count(Delivery.id))) == 0
        assert session.scalar(select(func.count(DeliveredNotice.id))) == 0
        assert session.scalar(select(func.count(Notice.id))) == notices_before
        assert session.scalar(select(func.count(RawPage.id))) == pages_before
    assert "no subscriptions" in run_caigou("--db", db.url, "subscriptions", "list").stdout
    assert client.post(f"/subscriptions/{sub_id}/remove", data={"csrf_token": token, "confirm": "yes"}
                       ).status_code == 404
    assert client.get(f"/subscriptions/{sub_id}").status_code == 404


def test_a_feed_link_works_whatever_the_name(archive: tuple[Database, dict[str, int]], client: TestClient) -> None:
    log_in(client)
    name = "拉萨/那曲 #1 ?&"
    assert add_through_form(client, name=name, backfill="yes").status_code == 303
    link = re.search(r'<a href="(/feeds/[^"]+)">Atom</a>', client.get("/subscriptions").text).group(1)
    feed = client.get(link.replace("&amp;", "&"))
    assert feed.status_code == 200 and "西藏自治区公安厅DNA数据库" in feed.text


def test_ids_beyond_any_key_are_not_found(archive_both: tuple[Database, dict[str, int]],
                                          client_both: TestClient) -> None:
    huge = "99999999999999999999999"
    log_in(client_both)
    for path in (f"/notices/{huge}", f"/api/notices/{huge}", f"/api/notices/{huge}/reviews",
                 f"/notices/{huge}/pages/1", f"/notices/1/pages/{huge}", f"/raw/{huge}", f"/subscriptions/{huge}",
                 f"/notices/{2**31}", "/notices/0", "/api/notices/-5"):
        answer = client_both.get(path)
        assert answer.status_code == 404, (path, answer.status_code, answer.text[:200])
    token = csrf_of(client_both.get("/search").text)
    answer = client_both.post(f"/notices/{huge}/review", data={"status": "relevant", "csrf_token": token})
    assert answer.status_code == 404 and "no notice with ID" in answer.text
    shown = run_caigou("--db", archive_both[0].url, "show", huge)
    assert shown.returncode == 2 and "no notice with ID" in shown.stderr and "Traceback" not in shown.stderr


def test_only_http_addresses_become_links(archive: tuple[Database, dict[str, int]], client: TestClient) -> None:
    from caigou.pipelines.record import AttachmentRecord
    from caigou.pipelines.store import NoticeStore
    from tests.test_store import make_record

    db, ids = archive
    saved = NoticeStore(db).save_notice(make_record(
        source_key="js-1", url="JavaScript:alert(1)", title="那曲市公安局采购",
        attachments=[AttachmentRecord(" \tjavascript:alert(2)", "清单.pdf"),
                     AttachmentRecord("https://download.example/ok.pdf", "合同.pdf")]))
    log_in(client)
    html = client.get(f"/notices/{saved.notice_id}").text
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert not [h for h in hrefs if "script:" in h.lower()], hrefs
    assert "https://download.example/ok.pdf" in hrefs
    assert 'id="original-url">JavaScript:alert(1)<' in html and 'id="original-link"' not in html
    normal = client.get(f"/notices/{ids['analyzer']}").text
    assert 'id="original-link"' in normal


def test_parsed_links_skip_script_addresses_in_any_case() -> None:
    from bs4 import BeautifulSoup

    from caigou.crawler.parsers.common import links

    soup = BeautifulSoup('<a href="JavaScript:alert(1)">x</a><a href="VBScript:x">v</a><a href="/f/1.pdf">清单</a>',
                         "html.parser")
    assert links(soup.find_all("a"), "http://www.ccgp.gov.cn/a/b.htm") == [("http://www.ccgp.gov.cn/f/1.pdf", "清单")]


def test_sessions_end_on_disable_logout_and_password_change(archive: tuple[Database, dict[str, int]],
                                                           client: TestClient) -> None:
    from caigou.web.security import SESSION_COOKIE

    db, _ids = archive

    def with_cookie(cookie: str) -> TestClient:
        web = client_for(db)
        web.cookies.set(SESSION_COOKIE, cookie)
        return web

    # A cookie copied before logout is worthless after it (and so is the session that logged out).
    log_in(client)
    copied = client.cookies[SESSION_COOKIE]
    assert with_cookie(copied).get("/api/search", params={"q": "公安"}).status_code == 200
    client.post("/logout", data={"csrf_token": csrf_of(client.get("/search").text)})
    assert with_cookie(copied).get("/search").status_code == 303
    assert with_cookie(copied).get("/api/search", params={"q": "公安"}).status_code == 401
    assert client.get("/search").status_code == 303
    # Disabling a user ends their live session at once.
    log_in(client)
    assert client.get("/search").status_code == 200
    disabled = run_caigou("--db", db.url, "user", "disable", "anna")
    assert disabled.returncode == 0, disabled.stderr
    assert client.get("/search").status_code == 303
    assert client.get("/api/notices/1").status_code == 401
    token = csrf_of(client.get("/login").text)
    assert client.post("/login", data={"name": "anna", "password": PASSWORD, "csrf_token": token}).status_code == 401
    # A password change ends the sessions issued before it; logging in again works.
    log_in(client, "bob")
    with db.session() as session:
        from caigou.accounts import set_password

        set_password(session, "bob", "another long password")
    assert client.get("/search").status_code == 303
    log_in(client, "bob", "another long password")
    assert 'id="current-user">bob<' in client.get("/search").text


def test_year_facet_counts_and_narrows_to_the_year(client_both: TestClient) -> None:
    log_in(client_both)
    page = client_both.get("/search", params={"q": "", "min_score": ""}).text
    facet = re.search(r'data-facet="year">(.*?)</section>', page, re.S).group(1)
    counts = dict(re.findall(r'>(\d{4})</a> <span class="count">(\d+)<', facet))
    assert counts == {"2024": "4", "2022": "1"}   # the tender, award, analyser, hostile notice; the hospital
    link = re.search(r'href="([^"]*until=2022-12-31[^"]*)"', facet).group(1).replace("&amp;", "&")
    narrowed = client_both.get(link).text
    assert int(re.search(r'id="total">(\d+)<', narrowed).group(1)) == 1 and "拉萨市人民医院" in narrowed
