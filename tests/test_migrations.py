"""The migrations are the schema's source of truth: the models must not drift from them."""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session

from caigou.models import Attachment, Base, Notice, Source, Supplier
from caigou.models.db import Database, current_revision, head_revision, make_engine, upgrade


def test_models_match_migrations(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True,
            # The full-text tables are hand-made (FTS5 / tsvector); see migration 0003.
            "include_object": lambda obj, name, type_, reflected, other: not (
                type_ == "table" and name and name.startswith("notice_fts"))})
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], f"models and migrations differ; write a migration: {differences}"


def test_database_is_at_newest_revision(db: Database) -> None:
    assert current_revision(db.engine) == head_revision()


def _engine_at(request: pytest.FixtureRequest, tmp_path: Path, revision: str) -> Iterator[Engine]:
    """An empty database migrated only up to ``revision`` (a fresh PostgreSQL database of its own, dropped after)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        upgrade(engine, revision)
        yield engine
        engine.dispose()
        return
    base = request.getfixturevalue("postgres_url")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"caigou_mig_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(admin.url.set(database=name).render_as_string(hide_password=False))
    upgrade(engine, revision)
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_at_0006(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from _engine_at(request, tmp_path, "0006")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_at_0008(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from _engine_at(request, tmp_path, "0008")


def _old_notice(session: Session, **fields: str) -> Notice:
    """A ccgp notice stored in a database at an older schema (rows written directly, no pipeline)."""
    source = Source(name="ccgp")
    session.add(source)
    session.flush()
    notice = Notice(source_id=source.id, source_key="1", url="http://www.ccgp.gov.cn/1.htm", notice_type="tender",
                    **fields)
    session.add(notice)
    return notice


def test_0007_fills_the_phrase_stream_of_stored_notices(engine_at_0006: Engine) -> None:
    from caigou.search import search

    engine = engine_at_0006
    with Session(engine) as session, session.begin():
        notice = _old_notice(session, title="西藏自治区公安厅DNA数据库建设项目", body_text="Y-STR数据库")
        notice.suppliers.append(Supplier(name="无锡中德美联生物技术有限公司"))
        notice.attachments.append(Attachment(url="http://x.example/1.xlsx", name="清单.xlsx",
                                             text="全自动核酸提取仪 Auto-Pure96"))
        session.flush()
        # The 0006 index: words only.
        if engine.dialect.name == "postgresql":
            session.execute(text("INSERT INTO notice_fts (notice_id, document) VALUES (:id, to_tsvector('simple', "
                                 "'西藏 公安厅 dna数据库 建设'))"), {"id": notice.id})
        else:
            session.execute(text("INSERT INTO notice_fts (rowid, tokens) VALUES (:id, "
                                 "'西藏 公安厅 dna数据库 建设')"), {"id": notice.id})
    upgrade(engine)
    database = Database(engine.url.render_as_string(hide_password=False))
    try:
        assert [h.notice.title for h in search(database, '"公安厅dna数据"').hits] == ["西藏自治区公安厅DNA数据库建设项目"]
        assert len(search(database, "公安厅").hits) == 1            # the word stream was kept
        assert len(search(database, '"中德美联生物"').hits) == 1      # suppliers and attachments are in it too
        assert len(search(database, '"提取仪 auto-pure96"').hits) == 1
    finally:
        database.dispose()


def _review_triggers(db: Database) -> set[str]:
    with db.engine.connect() as connection:
        if db.engine.dialect.name == "postgresql":
            rows = connection.execute(text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'reviews'::regclass "
                                           "AND NOT tgisinternal"))
        else:
            rows = connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                           "AND tbl_name = 'reviews'"))
        return {row[0] for row in rows}


def test_review_history_is_append_only_in_the_database(db: Database) -> None:
    from sqlalchemy import update
    from sqlalchemy.exc import DatabaseError

    from caigou.models import REVIEW_TRIGGERS, Review

    # The triggers the models declare are the ones the migrations made (models/review.py, migration 0007).
    assert _review_triggers(db) == set(REVIEW_TRIGGERS)
    with db.session() as session:
        source = Source(name="ccgp")
        session.add(source)
        session.flush()
        notice = Notice(source_id=source.id, source_key="1", url="http://www.ccgp.gov.cn/1.htm", notice_type="tender",
                        title="那曲市公安局")
        session.add(notice)
        session.flush()
        session.add(Review(notice_id=notice.id, reviewer="dolma", status="relevant", note="checked"))
    for statement in (update(Review).values(status="not_relevant"), text("DELETE FROM reviews"),
                      text("DELETE FROM notices")):   # nor through the cascade from its notice
        with pytest.raises(DatabaseError, match="append-only"):
            with db.session() as session:
                session.execute(statement)
    with db.session() as session:
        from sqlalchemy import select

        assert session.scalars(select(Review.status)).all() == ["relevant"]
        session.add(Review(notice_id=notice.id, reviewer="dolma", status="unsure"))   # adding still works


def test_db_upgrade_reindexes_and_rescores_an_archive_from_before_0007(engine_at_0006: Engine) -> None:
    """The derived data follow the schema: 0007 splits mixed words (3500xL finds 3500), 0008 stores capacities."""
    from caigou.filters import NoticeFilters
    from caigou.models import NoticeScore
    from caigou.search import search
    from tests.crawling import run_caigou

    engine = engine_at_0006
    with Session(engine) as session, session.begin():
        _old_notice(session, title="那曲市公安局DNA实验室遗传分析仪采购", buyer="那曲市公安局",
                    body_text="采购3500xL遗传分析仪1台，Y-STR扩增试剂盒60盒(100人份/盒)。")
    url = engine.url.render_as_string(hide_password=False)
    # Any command that opens the old database catches up, not only db upgrade; its stdout stays its own data.
    result = run_caigou("--db", url, "export", "--format", "jsonl")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["source_id"] for line in result.stdout.splitlines()] == ["1"]
    assert "re-indexing the archive" in result.stderr and "re-scoring the archive" in result.stderr
    database = Database(url)
    try:
        assert len(search(database, "3500", NoticeFilters(min_score=0)).hits) == 1   # split by the re-index, not the 0006 index
        with database.session() as session:
            score = session.scalars(select(NoticeScore)).one()
            assert score.score >= 50 and score.capacity
    finally:
        database.dispose()
    again = run_caigou("--db", url, "db", "upgrade")   # at the newest schema: nothing more to derive
    assert again.returncode == 0 and "re-indexing" not in again.stderr and "re-scoring" not in again.stderr


def test_0009_removes_control_characters_from_stored_notices_not_from_the_evidence(engine_at_0008: Engine) -> None:
    from caigou.models import RawPage

    engine = engine_at_0008
    page_body = "<h2>那曲市公安局\x1b[2J采购</h2>".encode()
    # PostgreSQL text cannot hold NUL at all; SQLite can (and did: the move to PostgreSQL then failed on it).
    nul = "\x00" if engine.dialect.name == "sqlite" else ""
    with Session(engine) as session, session.begin():
        notice = _old_notice(session, title="那曲市公安局\x1b[2J\x07DNA试剂采购\x7f", buyer=f"那曲市公安局{nul}",
                             body_text="第一行\r\n第二行\x0c\t预算\x1b]0;x\x07", fields={"采购方式\x1b": "公开招标\x9b"},
                             line_items=[{"name": "试剂盒\x08"}], warnings=["budget: 1\x1b"])
        notice.suppliers.append(Supplier(name="无锡中德美联\x1b生物", address="无锡\x00" if nul else "无锡"))
        notice.attachments.append(Attachment(url="http://x.example/1.pdf", name="清单\x1b.pdf", text="3500xL\x0c第2页"))
        session.flush()
        session.add(Notice(source_id=notice.source_id, source_key="2", url="http://www.ccgp.gov.cn/2.htm",
                           notice_type="tender", title="拉萨市公安局DNA实验室", body_text="一\n\t二"))
        session.add(RawPage(url="http://www.ccgp.gov.cn/1.htm", version=1, sha256=RawPage.digest(page_body),
                            http_status=200, body_zlib=__import__("zlib").compress(page_body), size=len(page_body)))
    upgrade(engine, "0009")
    with Session(engine) as session:
        notice, clean = session.scalars(select(Notice).order_by(Notice.id)).all()
        assert notice.title == "那曲市公安局[2JDNA试剂采购" and notice.buyer == "那曲市公安局"
        assert notice.body_text == "第一行\n第二行\t预算]0;x"   # tab and newline stay
        assert notice.fields == {"采购方式": "公开招标"} and notice.line_items == [{"name": "试剂盒"}]
        assert notice.warnings == ["budget: 1"]
        assert [(s.name, s.address) for s in notice.suppliers] == [("无锡中德美联生物", "无锡")]
        assert [(a.name, a.text) for a in notice.attachments] == [("清单.pdf", "3500xL第2页")]
        assert (clean.title, clean.body_text) == ("拉萨市公安局DNA实验室", "一\n\t二")
        assert session.scalars(select(RawPage)).one().body == page_body   # evidence is never edited
