"""``caigou export --public``: a SQLite file to publish, with the notices and none of the accounts, recipients,
feed tokens or logs; read back with the sqlite3 CLI and served by Datasette.

PostgreSQL smoke run (``db``, SQLite and PostgreSQL): ``test_public_file_has_the_notices_and_none_of_the_secrets``,
the copy of a whole archive, every table, out of either database. The other flows run on SQLite (``sqlite_db``)."""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from caigou.accounts import add_user
from caigou.models import Delivery, Notice, Subscription, SubscriptionEvent
from caigou.models.db import Database
from caigou.pipelines.record import SupplierRecord
from caigou.pipelines.store import NoticeStore
from caigou.review import ReviewInput, add_review
from caigou.web.views.subscriptions import feed_token
from tests.crawling import run_caigou
from tests.test_store import make_record

REVIEWER = "zhangwei.reviewer"
PASSWORD = "correct-horse-battery-staple"
RECIPIENT = "lisi.secret@example.org"
SUBSCRIPTION = "西藏私人订阅"
NOTE = "问一下王芳的线人"
ORG_NOTE = "王芳说这是另一个单位"
SECRET_KEY = "the-web-secret-key"


def fill(db: Database) -> dict[str, str]:
    """Two notices (那曲市 and 拉萨市), a reviewer who judged one, a subscription with its deliveries: the secrets."""
    store = NoticeStore(db)
    store.save_notice(make_record(source_key="1", suppliers=[SupplierRecord("无锡中德美联生物技术有限公司")]))
    store.save_notice(make_record(source_key="2", title="拉萨市公安局人脸识别系统采购公告", region_code="540100",
                                  region_name="拉萨市", buyer="拉萨市公安局"))
    with db.session() as session:
        user = add_user(session, REVIEWER, PASSWORD)
        password_hash = user.password_hash
        first = session.scalars(select(Notice.id).where(Notice.source_key == "1")).one()
        add_review(session, first, REVIEWER, ReviewInput("relevant", NOTE, ("DNA", "西藏")))
        subscription = Subscription(name=SUBSCRIPTION, recipients=[f"李四 <{RECIPIENT}>"], created_by=f"cli:{REVIEWER}")
        session.add(subscription)
        session.flush()
        session.add(Delivery(subscription_id=subscription.id, recipient=RECIPIENT, status="sent"))
        session.add(SubscriptionEvent(subscription_id=subscription.id, name=SUBSCRIPTION, action="created",
                                      actor=f"web:{REVIEWER}"))
        session.commit()
    # a reviewer's decision on an organisation: its reason names the reviewer and quotes the note
    decided = run_caigou("--db", db.url, "org", "split", "拉萨市公安局", "--reviewer", REVIEWER, "--note", ORG_NOTE)
    assert decided.returncode == 0, decided.stderr
    return {"account name": REVIEWER, "password hash": password_hash, "recipient": RECIPIENT,
            "subscription": SUBSCRIPTION, "note": NOTE, "organisation note": ORG_NOTE,
            "feed token": feed_token(SECRET_KEY, SUBSCRIPTION)}


def cells(path: Path) -> list[tuple[str, str, str]]:
    """Every value of every column of every table in the file, as text: (table, column, value)."""
    found = []
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
            for column in columns:
                for (value,) in connection.execute(f'SELECT "{column}" FROM "{table}"'):
                    found.append((table, column, "" if value is None else str(value)))
    return found


def leaks(path: Path, secrets: dict[str, str]) -> list[str]:
    """Each secret found in a cell, in the schema or anywhere in the file's bytes."""
    text = "\n".join(value for _, _, value in cells(path))
    with sqlite3.connect(path) as connection:
        schema = "\n".join(row[0] or "" for row in connection.execute("SELECT sql FROM sqlite_master"))
    raw = path.read_bytes()
    return [what for what, secret in secrets.items()
            if secret in text or secret in schema or secret.encode() in raw]


def test_public_file_has_the_notices_and_none_of_the_secrets(db: Database, tmp_path: Path) -> None:
    secrets = fill(db)
    target = tmp_path / "archive.db"
    result = run_caigou("--db", db.url, "export", "--public", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert "wrote 2 notices" in result.stderr
    assert leaks(target, secrets) == []
    with sqlite3.connect(target) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert not tables & {"users", "subscriptions", "deliveries", "delivered_notices", "subscription_events",
                             "organisation_decisions", "crawl_runs", "crawl_errors", "raw_pages", "scheduler_jobs"}
        titles = {row[0] for row in connection.execute("SELECT title FROM notices")}
        assert titles == {"那曲市公安局刑侦支队遗传分析仪升级单一来源公示", "拉萨市公安局人脸识别系统采购公告"}
        # the judgement stays, without who made it or their note
        assert connection.execute("SELECT status, tags FROM reviews").fetchall() == [("relevant", '["DNA", "西藏"]')]
        assert [row[1] for row in connection.execute("PRAGMA table_info(reviews)")] == [
            "id", "notice_id", "status", "tags", "created_at"]
        assert connection.execute("SELECT count(*) FROM notice_matches WHERE term = '遗传分析仪'").fetchone()[0] >= 1
        assert ("无锡中德美联生物技术有限公司",) in connection.execute("SELECT name FROM notice_suppliers").fetchall()
        assert connection.execute("SELECT count(*) FROM organisations WHERE name = '拉萨市公安局'").fetchone() == (1,)
        assert connection.execute("SELECT reason FROM organisation_names WHERE name = '拉萨市公安局'").fetchone() == (
            "split by a reviewer",)
        # plain values for any reader: times in ISO 8601 with the offset
        assert connection.execute("SELECT published_at FROM notices WHERE source_key = '1'").fetchone() == (
            "2024-06-12T09:30:00+08:00",)
    # the sqlite3 command-line tool opens it
    cli = subprocess.run(["sqlite3", str(target), "PRAGMA integrity_check; SELECT count(*) FROM notices;"],
                         capture_output=True, text=True, check=True)
    assert cli.stdout.split() == ["ok", "2"]


def test_the_scan_finds_what_with_reviewers_keeps(sqlite_db: Database, tmp_path: Path) -> None:
    """--with-reviewers keeps the reviewers' names and notes; the scan above sees them (so it can fail)."""
    secrets = fill(sqlite_db)
    target = tmp_path / "archive.db"
    result = run_caigou("--db", sqlite_db.url, "export", "--public", "--with-reviewers", "-o", str(target))
    assert result.returncode == 0, result.stderr
    assert sorted(leaks(target, secrets)) == ["account name", "note", "organisation note"]
    assert ("reviews", "reviewer", REVIEWER) in cells(target)


def test_filters_and_bad_targets(sqlite_db: Database, tmp_path: Path) -> None:
    fill(sqlite_db)
    target = tmp_path / "lhasa.db"
    result = run_caigou("--db", sqlite_db.url, "export", "--public", "--region", "540100", "-o", str(target))
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(target) as connection:
        assert connection.execute("SELECT region_name FROM notices").fetchall() == [("拉萨市",)]
        assert connection.execute("SELECT count(*) FROM reviews").fetchone() == (0,)  # the review was on 那曲's
    before = target.read_bytes()
    again = run_caigou("--db", sqlite_db.url, "export", "--public", "-o", str(target))
    assert again.returncode != 0 and target.read_bytes() == before  # never overwritten
    assert again.stderr.strip() == f"caigou: error: cannot write {target}: it already exists (remove it or choose " \
                                   "another name)"
    missing = tmp_path / "nowhere" / "archive.db"
    result = run_caigou("--db", sqlite_db.url, "export", "--public", "-o", str(missing))
    assert result.stderr.strip() == f"caigou: error: cannot write {missing}: the folder {missing.parent} does not exist"
    result = run_caigou("--db", sqlite_db.url, "export", "--public")
    assert result.stderr.strip() == "caigou: error: --public writes a SQLite file: give -o FILE.db"
    result = run_caigou("--db", sqlite_db.url, "export", "--public", "--format", "xlsx", "--per", "match", "-o", "x.db")
    assert result.stderr.strip() == "caigou: error: --public writes a SQLite file: leave out --format, --per"
    result = run_caigou("--db", sqlite_db.url, "export", "--with-reviewers")
    assert result.stderr.strip() == "caigou: error: --with-reviewers goes with --public"
    assert not (tmp_path / "nowhere").exists() and not list(tmp_path.glob("*.partial"))


def test_datasette_serves_it(sqlite_db: Database, tmp_path: Path) -> None:
    datasette = shutil.which("datasette", path=str(Path(sys.executable).parent))
    if datasette is None:
        pytest.skip("datasette is not installed (pip install datasette)")
    fill(sqlite_db)
    target = tmp_path / "archive.db"
    assert run_caigou("--db", sqlite_db.url, "export", "--public", "-o", str(target)).returncode == 0
    result = subprocess.run([datasette, "-i", str(target), "--get", "/archive/notices.json?_shape=array"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    served = json.loads(result.stdout)
    assert sorted(row["region_name"] for row in served) == ["拉萨市", "那曲市"]
    denied = subprocess.run([datasette, "-i", str(target), "--get", "/archive/users.json"], capture_output=True, text=True,
                            timeout=120)
    assert denied.returncode != 0 and '"status": 404' in denied.stdout  # no such table to serve
