"""The store: append-only evidence, one notice per source ID, nothing parsed or fetched ever lost."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import func, select

from caigou.models import CrawlError, CrawlRun, Notice, NoticePage, NoticeRevision, RawPage, Supplier, Watermark
from caigou.models.db import Database
from caigou.models.types import SHANGHAI
from caigou.pipelines.record import AttachmentRecord, NoticeRecord, SupplierRecord
from caigou.pipelines.store import NoticeStore


def make_record(**changes: object) -> NoticeRecord:
    values: dict[str, object] = dict(
        source="ccgp", source_key="22000101", url="http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202406/t20240612_22000101.htm",
        title="那曲市公安局刑侦支队遗传分析仪升级单一来源公示", notice_type="single_source",
        notice_type_label="单一来源公示", published_at=dt.datetime(2024, 6, 12, 9, 30, tzinfo=SHANGHAI),
        region_code="540600", region_name="那曲市", buyer="那曲市公安局刑侦支队", agency="西藏某招标代理有限公司",
        project_code="XZNQ-2024-017", budget_cny=Decimal("1230000.00"),
        suppliers=[SupplierRecord("西藏某生物科技有限公司", lot="1", amount_cny=Decimal("1198000.00"),
                                  amount_text="119.8万元")],
        attachments=[AttachmentRecord("http://download.example/1.pdf", "采购文件.pdf")],
        body_text="一、项目编号：XZNQ-2024-017", fields={"品目": "货物/设备"}, raw_sha256="")
    values.update(changes)
    return NoticeRecord(**values)  # type: ignore[arg-type]


def test_pages_are_append_only_versions(db: Database) -> None:
    store = NoticeStore(db)
    url = "http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202406/t20240612_22000101.htm"
    first = store.archive_page(url, 200, "<html>一</html>".encode())
    again = store.archive_page(url, 200, "<html>一</html>".encode())
    changed = store.archive_page(url, 200, "<html>二</html>".encode())
    assert first.id == again.id and changed.id != first.id
    assert (first.version, changed.version) == (1, 2)
    with db.session() as session:
        pages = session.scalars(select(RawPage).where(RawPage.url == url).order_by(RawPage.version)).all()
        assert [page.body.decode() for page in pages] == ["<html>一</html>", "<html>二</html>"]
        assert pages[0].sha256 == RawPage.digest("<html>一</html>".encode())
        assert pages[0].first_fetched_at.tzinfo is not None
        assert pages[0].last_fetched_at >= pages[0].first_fetched_at


def test_notice_new_unchanged_updated_keeps_the_old_parse(db: Database) -> None:
    store = NoticeStore(db)
    page = store.archive_page("http://x/1", 200, b"v1")
    assert store.save_notice(make_record(raw_sha256=page.sha256)).outcome == "new"
    assert store.save_notice(make_record(raw_sha256=page.sha256)).outcome == "unchanged"
    page2 = store.archive_page("http://x/1", 200, b"v2")
    result = store.save_notice(make_record(raw_sha256=page2.sha256, budget_cny=Decimal("1300000.00")))
    assert result.outcome == "updated"
    with db.session() as session:
        assert session.scalar(select(func.count(Notice.id))) == 1
        notice = session.get_one(Notice, result.notice_id)
        assert notice.budget_cny == Decimal("1300000.00")
        assert notice.published_at == dt.datetime(2024, 6, 12, 9, 30, tzinfo=SHANGHAI)
        assert notice.published_at.utcoffset() == dt.timedelta(hours=8)
        revision = session.scalars(select(NoticeRevision)).one()
        assert revision.snapshot["budget_cny"] == "1230000.00" and revision.raw_sha256 == page.sha256
        linked = session.scalars(select(NoticePage.raw_page_id).where(NoticePage.notice_id == notice.id)).all()
        assert sorted(linked) == sorted([page.id, page2.id])
        supplier = session.scalars(select(Supplier)).one()
        assert (supplier.name, supplier.lot, supplier.amount_cny) == ("西藏某生物科技有限公司", "1",
                                                                      Decimal("1198000.00"))


def test_amounts_compare_in_sql(db: Database) -> None:
    store = NoticeStore(db)
    store.save_notice(make_record(source_key="1", budget_cny=Decimal("99.99")))
    store.save_notice(make_record(source_key="2", budget_cny=Decimal("1000000.01")))
    with db.session() as session:
        keys = session.scalars(select(Notice.source_key).where(Notice.budget_cny > Decimal("100"))).all()
    assert keys == ["2"]


def test_runs_errors_and_watermarks(db: Database) -> None:
    store = NoticeStore(db)
    run_id = store.start_run("ccgp", {"keywords": ["DNA"]})
    store.record_error(run_id, "http://x/bad", "parse", "no notice here")
    store.finish_run(run_id, "succeeded", {"new": 1})
    assert store.watermark("ccgp", "kw=DNA") is None
    store.set_watermark("ccgp", "kw=DNA", dt.date(2024, 6, 30))
    store.set_watermark("ccgp", "kw=DNA", dt.date(2024, 6, 1))  # never moves back
    assert store.watermark("ccgp", "kw=DNA") == dt.date(2024, 6, 30)
    with db.session() as session:
        run = session.get_one(CrawlRun, run_id)
        assert (run.status, run.counts, run.arguments) == ("succeeded", {"new": 1}, {"keywords": ["DNA"]})
        assert run.finished_at is not None and run.finished_at >= run.started_at
        assert session.scalars(select(CrawlError.kind)).all() == ["parse"]
        assert session.scalar(select(func.count(Watermark.id))) == 1
