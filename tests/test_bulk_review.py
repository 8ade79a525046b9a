"""Bulk review on the command line (issue 15): ``caigou review 7 9 10 --status relevant``, all or nothing.

On SQLite and PostgreSQL (``db``): all or nothing is one transaction, rolled back by the database when an ID is
unknown."""
from __future__ import annotations

from sqlalchemy import select

from caigou.models import Review
from caigou.models.db import Database
from tests.crawling import run_caigou
from tests.web_data import build_archive


def test_several_notices_are_judged_together_or_not_at_all(db: Database) -> None:
    ids = build_archive(db)
    chosen = [ids["analyzer"], ids["tender"], ids["award"]]
    done = run_caigou("--db", db.url, "review", *map(str, chosen), "--status", "relevant", "--note", "公安DNA",
                      "--reviewer", "anna")
    assert done.returncode == 0, done.stderr
    assert [line.split(":")[0] for line in done.stdout.splitlines()] == [f"notice #{i}" for i in chosen]
    refused = run_caigou("--db", db.url, "review", str(ids["hospital"]), "999999", "--status", "unsure",
                         "--reviewer", "anna")
    assert refused.returncode == 2 and refused.stderr.strip() == "caigou: error: no notice with ID 999999"
    with db.session() as session:
        rows = session.execute(select(Review.notice_id, Review.status, Review.note)).all()
    assert sorted(rows) == sorted((i, "relevant", "公安DNA") for i in chosen)   # the hospital was not judged
    shown = run_caigou("--db", db.url, "review", *map(str, chosen[:2]))
    assert shown.returncode == 0 and shown.stdout.count("anna: relevant 公安DNA") == 2
