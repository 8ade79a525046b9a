"""Subscriptions have an owner and an audit trail: who created and who removed each, on the command line and on
the web, kept after the subscription is gone; subscriptions older than the trail get an "unknown" creation.

PostgreSQL smoke run (``db``, SQLite and PostgreSQL): ``test_the_web_records_the_reviewer_and_shows_the_trail``
(two reviewers, the trail kept after a removal). The command line's trail is checked on SQLite (``sqlite_db``)."""
from __future__ import annotations

import socket
from pathlib import Path

from sqlalchemy import select, text

from caigou.models import SubscriptionEvent
from caigou.models.db import Database, upgrade
from tests.crawling import run_caigou
from tests.test_web import add_through_form, client_for, csrf_of, log_in
from tests.web_data import build_archive


def test_the_command_line_records_who_created_and_who_removed(sqlite_db: Database) -> None:
    host = socket.gethostname()
    added = run_caigou("--db", sqlite_db.url, "subscriptions", "add", "西藏 DNA", "--to", "r@example.org",
                       env={"LOGNAME": "alice", "USER": "alice"})
    assert added.returncode == 0, added.stderr
    listed = run_caigou("--db", sqlite_db.url, "subscriptions", "list").stdout
    assert f"西藏 DNA\t07:00 Asia/Shanghai\tr@example.org\tnever sent\tcreated by alice@{host} (command line)" in listed
    shown = run_caigou("--db", sqlite_db.url, "subscriptions", "show", "西藏 DNA").stdout
    assert "created:" in shown and f"by alice@{host} (command line)" in shown
    removed = run_caigou("--db", sqlite_db.url, "subscriptions", "remove", "西藏 DNA",
                         env={"LOGNAME": "bob", "USER": "bob"})
    assert removed.returncode == 0, removed.stderr
    listed = run_caigou("--db", sqlite_db.url, "subscriptions", "list").stdout
    assert listed.startswith("no subscriptions") and "removed:\n  西藏 DNA\tremoved " in listed
    assert listed.rstrip().endswith(f"by bob@{host} (command line)")
    with sqlite_db.session() as session:
        trail = [(e.name, e.action, e.actor.split("@")[0]) for e in session.scalars(
            select(SubscriptionEvent).order_by(SubscriptionEvent.id))]
    assert trail == [("西藏 DNA", "created", "alice"), ("西藏 DNA", "removed", "bob")]


def test_the_web_records_the_reviewer_and_shows_the_trail(db: Database) -> None:
    build_archive(db)
    with client_for(db) as anna, client_for(db) as bob:
        log_in(anna)
        answer = add_through_form(anna)
        assert answer.status_code == 303, answer.text
        page = anna.get(answer.headers["location"]).text
        assert '<span id="created-by">anna (web)</span>' in page and "created " in page
        assert '<td class="created-by">anna (web)</td>' in anna.get("/subscriptions").text
        log_in(bob, "bob")
        sub_id = answer.headers["location"].split("/")[2].split("?")[0]
        token = csrf_of(bob.get(f"/subscriptions/{sub_id}").text)
        assert bob.post(f"/subscriptions/{sub_id}/remove",
                        data={"csrf_token": token, "confirm": "yes"}).status_code == 303
        listing = anna.get("/subscriptions").text
        removed = listing.split('id="removed-subscriptions"')[1]
        assert "<td>藏区 DNA</td>" in removed and "<td>bob (web)</td>" in removed


def test_subscriptions_older_than_the_trail_get_an_unknown_creation(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'old.db'}", migrate=False)
    upgrade(database.engine, "0009")
    with database.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO subscriptions (name, recipients, filters, delivery_time, time_zone, skip_when_empty, "
            "attach_csv, created_at) VALUES ('旧订阅', '[]', '{}', '07:00', 'Asia/Shanghai', 1, 0, "
            "'2025-01-01 00:00:00.000000')"))
    upgrade(database.engine)
    with database.session() as session:
        [event] = session.scalars(select(SubscriptionEvent))
        assert (event.name, event.action, event.actor) == ("旧订阅", "created", "(before the audit trail)")
    listed = run_caigou("--db", database.url, "subscriptions", "list").stdout
    assert "旧订阅" in listed and "created by (unknown)" in listed
    database.dispose()
