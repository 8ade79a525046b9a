"""Judgements as CSV (issue 15): exported with their history, imported into another archive by source and source
ID, all or nothing, never twice.

Its one test is this file's PostgreSQL smoke run (``db``, SQLite and PostgreSQL): an import that is all or nothing
is a transaction of the database."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from sqlalchemy import select

from caigou.models import Review
from caigou.models.db import Database
from caigou.review import ReviewInput, add_review
from tests.crawling import run_caigou
from tests.web_data import build_archive


def test_judgements_travel_between_archives_as_csv(db: Database, tmp_path: Path) -> None:
    ids = build_archive(db)
    with db.session() as session:
        add_review(session, ids["analyzer"], "anna", ReviewInput("unsure", "=check supplier"))
        add_review(session, ids["analyzer"], "bob", ReviewInput("relevant", "公安DNA实验室", ("3500xL", "那曲")))
    target = tmp_path / "judgements.csv"
    exported = run_caigou("--db", db.url, "judgements", "export", "-o", str(target))
    assert exported.returncode == 0 and "wrote 2 judgements" in exported.stderr, exported.stderr
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8-sig"))))
    assert [(r["status"], r["note"], r["tags"], r["reviewer"]) for r in rows] == [
        ("unsure", "'=check supplier", "", "anna"), ("relevant", "公安DNA实验室", "3500xL; 那曲", "bob")]

    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    build_archive(other)   # the same notices, stored by another archive
    url = other.url
    for _ in range(2):     # the second import finds them all there
        imported = run_caigou("--db", url, "judgements", "import", str(target))
        assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip().endswith("0 judgements added, 2 already there")
    with other.session() as session:
        reviews = session.scalars(select(Review).order_by(Review.id)).all()
        assert [(r.status, r.note, r.tags, r.reviewer) for r in reviews] == [
            ("unsure", "=check supplier", [], "anna"), ("relevant", "公安DNA实验室", ["3500xL", "那曲"], "bob")]

    bad = tmp_path / "bad.csv"
    bad.write_text("source,source_id,status\nccgp,103,relevant\nccgp,nosuch,relevant\n", encoding="utf-8")
    refused = run_caigou("--db", url, "judgements", "import", str(bad), "--reviewer", "carol")
    assert refused.returncode == 2
    assert refused.stderr.strip() == f"caigou: error: {bad}:3: no notice ccgp nosuch in this archive; nothing imported"
    with other.session() as session:
        assert len(session.scalars(select(Review)).all()) == 2   # the good first row was not kept either
    other.dispose()
