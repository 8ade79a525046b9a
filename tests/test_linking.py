"""One notice on several sources is one publication; the notices of one project are one procurement.

Linking is storage behaviour (procurements are upserted per dialect in ``pipelines/linking.py``, keys are unique),
so its tests run on SQLite and PostgreSQL (``db``), and so do search and the digest over linked copies (per-dialect
SQL). Three flows that only drive it run on SQLite (``sqlite_db``): the ``db relink`` command, the catch-up
service's callbacks and the export's link columns."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from caigou.digest.build import candidates
from caigou.digest.run import run_digests
from caigou.digest.subscriptions import filters_to_json
from caigou.export.rows import Selection
from caigou.filters import NoticeFilters
from caigou.models import DeliveredNotice, Notice, NoticeLink, Procurement, Subscription
from caigou.models.config import Config
from caigou.models.db import Database
from caigou.models.types import SHANGHAI
from caigou.pipelines.linking import procurement_notices, project_code_key, publication_group, relink
from caigou.pipelines.record import NoticeRecord, SupplierRecord
from caigou.pipelines.store import NoticeStore
from caigou.pipelines.text import text_key
from caigou.search import search
from tests.crawling import run_caigou
from tests.digest_data import SmtpServer

BUYER = "西藏自治区公安厅刑事侦查局"
TITLE = "西藏自治区公安厅刑事侦查局Y-STR检测试剂盒采购项目中标公告"


def day(d: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(2024, 6, d, hour, tzinfo=SHANGHAI)


def record(source: str, key: str, **changes: object) -> NoticeRecord:
    values: dict[str, object] = dict(
        source=source, source_key=key, url=f"http://{source}.example/{key}.htm", title=TITLE, notice_type="award",
        notice_type_label="中标公告", published_at=day(12), region_code="540000", region_name="西藏自治区",
        buyer=BUYER, project_code="XZ-2024-015", award_cny=Decimal("1190000.00"),
        suppliers=[SupplierRecord("北京某某生物科技有限公司", amount_cny=Decimal("1190000.00"))],
        body_text="采购 Y-STR 检测试剂盒 60 盒，DNA 数据库建设。")
    values.update(changes)
    return NoticeRecord(**values)  # type: ignore[arg-type]


def save(store: NoticeStore, source: str, key: str, **changes: object) -> int:
    return store.save_notice(record(source, key, **changes)).notice_id


def links(db: Database) -> dict[int, tuple[int | None, int, int | None]]:
    with db.session() as session:
        return {row.notice_id: (row.canonical_id, row.group_rank, row.procurement_id)
                for row in session.scalars(select(NoticeLink))}


def group_of(db: Database, notice_id: int) -> list[tuple[str, str]]:
    with db.session() as session:
        return [(n.source.name, n.source_key) for n in publication_group(session, notice_id)]


def store_award_on_three_sources(db: Database) -> dict[str, int]:
    """The same award: xizang's copy stored first, then ggzy's (no code, title written with spaces), then ccgp's."""
    store = NoticeStore(db)
    return {
        "xizang": save(store, "xizang", "xz-77", project_code="xz2024015", published_at=day(12, 16)),
        "ggzy": save(store, "ggzy", "gg-5", project_code="", title=" 西藏自治区公安厅刑事侦查局 Y-STR 检测试剂盒"
                     "采购项目 中标公告", published_at=day(12, 12)),
        "ccgp": save(store, "ccgp", "22001", project_code="【ＸＺ－２０２４－０１５】"),
    }


# ------------------------------------------------------------------------------------------------ rules

@pytest.mark.parametrize("written, key", [
    ("XZ-2024-015", "XZ2024015"), ("xz2024015", "XZ2024015"), ("ＸＺ－２０２４－０１５", "XZ2024015"),
    ("【XZ2024-015】", "XZ2024015"), ("[XZ 2024 015]", "XZ2024015"), ("XZ_2024—015", "XZ2024015"),
    ("项目编号：XZ-2024-015", "XZ2024015"), ("藏财采〔2024〕15号", "藏财采202415"),
    ("藏财采[2024]15号", "藏财采202415"), ("XZ-2024-15", "XZ202415"),
    ("无", ""), ("/", ""), ("-", ""), ("—", ""), ("暂无", ""), ("详见公告", ""), ("", ""), ("N/A", ""),
    ("0000", ""), ("00000", ""), ("XZ-1", ""), ("ABCDEF", ""),
])
def test_project_codes_are_compared_normalised(written: str, key: str) -> None:
    assert project_code_key(written) == key


def test_titles_and_buyers_ignore_width_case_spaces_and_punctuation() -> None:
    assert text_key("西藏自治区公安厅 （刑侦局）") == text_key("西藏自治区公安厅(刑侦局)") == "西藏自治区公安厅刑侦局"
    assert text_key("ＤＮＡ 测序仪采购：公告") == text_key("dna测序仪采购公告")
    assert text_key("无") == ""


# ------------------------------------------------------------------------------------------------ publications

def test_one_award_on_three_sources_is_one_group_with_ccgp_canonical(db: Database) -> None:
    ids = store_award_on_three_sources(db)
    linked = links(db)
    assert {linked[i][0] for i in ids.values()} == {ids["ccgp"]}   # ccgp's copy is canonical, though stored last
    assert linked[ids["ccgp"]][1] == 0
    assert group_of(db, ids["ggzy"]) == [("ccgp", "22001"), ("xizang", "xz-77"), ("ggzy", "gg-5")]
    with db.session() as session:   # evidence untouched: three notices, as each source wrote them
        assert session.scalar(select(func.count(Notice.id))) == 3
        assert session.get_one(Notice, ids["xizang"]).project_code == "xz2024015"
        # One procurement, which ggzy's code-less copy takes from its group.
        assert {linked[i][2] for i in ids.values()} == {session.scalar(select(Procurement.id))}


def test_different_buyers_with_the_same_code_are_not_linked(db: Database) -> None:
    store = NoticeStore(db)
    a = save(store, "ccgp", "1")
    b = save(store, "xizang", "2", buyer="拉萨市公安局", title="拉萨市公安局Y-STR检测试剂盒采购项目中标公告")
    linked = links(db)
    assert linked[a][0] == a and linked[b][0] == b
    assert linked[a][2] != linked[b][2] and None not in (linked[a][2], linked[b][2])


def test_one_source_never_merges_and_types_and_dates_keep_notices_apart(db: Database) -> None:
    store = NoticeStore(db)
    first = save(store, "ccgp", "1", notice_type="correction", title="更正公告（一）", published_at=day(3))
    same_source = save(store, "ccgp", "2", notice_type="correction", title="更正公告（一）", published_at=day(3))
    second = save(store, "xizang", "3", notice_type="correction", title="更正公告（二）", published_at=day(20))
    other_type = save(store, "xizang", "4")   # the award: same code, another type
    placeholder = save(store, "ggzy", "5", project_code="无", title="另一个项目中标公告")
    linked = links(db)
    assert all(linked[i][0] == i for i in (first, same_source, second, other_type, placeholder))
    # All but the placeholder are one procurement; the placeholder belongs to none.
    assert len({linked[i][2] for i in (first, same_source, second, other_type)}) == 1
    assert linked[placeholder][2] is None


def test_a_title_match_needs_the_buyer_and_three_days(db: Database) -> None:
    store = NoticeStore(db)
    ccgp = save(store, "ccgp", "1", project_code="")
    late = save(store, "ggzy", "2", project_code="", published_at=day(16))       # four days later
    no_buyer = save(store, "xizang", "3", project_code="", buyer="")
    linked = links(db)
    assert linked[late][0] == late and linked[no_buyer][0] == no_buyer and linked[ccgp][0] == ccgp
    near = save(store, "ggzy", "4", project_code="", published_at=day(14, 23))
    assert links(db)[near][0] == ccgp


def test_a_changed_notice_is_relinked(db: Database) -> None:
    ids = store_award_on_three_sources(db)
    store = NoticeStore(db)
    # xizang corrects its page: another project code → it leaves the group (codes differ) and the procurement.
    # (ggzy's code-less copy matches both by title; it stays with ccgp's, published closer to it.)
    assert store.save_notice(record("xizang", "xz-77", project_code="XZ-2024-099",
                                    published_at=day(12, 16))).outcome == "updated"
    linked = links(db)
    assert linked[ids["xizang"]][0] == ids["xizang"] and linked[ids["ggzy"]][0] == ids["ccgp"]
    assert linked[ids["xizang"]][2] != linked[ids["ccgp"]][2]
    # ccgp's copy is re-parsed as another type: it leaves, and ggzy's copy goes with xizang's (same title).
    store.save_notice(record("ccgp", "22001", project_code="【ＸＺ－２０２４－０１５】", notice_type="termination"))
    linked = links(db)
    assert linked[ids["ccgp"]][0] == ids["ccgp"] and linked[ids["ggzy"]][0] == ids["xizang"]
    assert group_of(db, ids["ggzy"]) == [("xizang", "xz-77"), ("ggzy", "gg-5")]
    # The pages are corrected back: the group is whole again, ccgp canonical.
    store.save_notice(record("ccgp", "22001", project_code="【ＸＺ－２０２４－０１５】"))
    store.save_notice(record("xizang", "xz-77", project_code="xz2024015", published_at=day(12, 16)))
    assert group_of(db, ids["xizang"]) == [("ccgp", "22001"), ("xizang", "xz-77"), ("ggzy", "gg-5")]
    with db.session() as session:   # the procurement of the abandoned code is gone
        assert session.scalar(select(func.count(Procurement.id))) == 1


def test_relink_is_idempotent_and_agrees_with_linking_as_stored(db: Database) -> None:
    ids = store_award_on_three_sources(db)
    store = NoticeStore(db)
    save(store, "ccgp", "t1", notice_type="tender", title="Y-STR检测试剂盒采购项目公开招标公告", published_at=day(1))
    save(store, "qinghai", "q1", buyer="青海省公安厅", project_code="QH-2024-1", title="青海省公安厅DNA采购")
    as_stored = links(db)
    with db.session() as session:
        counts = relink(session)
    assert counts.notices == 5 and counts.groups == 1 and counts.grouped_notices == 3 and counts.procurements == 2
    assert counts.changed == 0 and links(db) == as_stored
    with db.session() as session:   # links wiped: relink rebuilds the same groups
        session.execute(NoticeLink.__table__.delete())
        session.execute(Procurement.__table__.delete())
    with db.session() as session:
        again = relink(session)
    rebuilt = links(db)
    assert again.changed == 5 and {k: v[:2] for k, v in rebuilt.items()} == {k: v[:2] for k, v in as_stored.items()}
    assert len({rebuilt[i][2] for i in ids.values()}) == 1
    with db.session() as session:
        assert relink(session).changed == 0


def test_a_project_from_intention_to_award_is_one_procurement_in_order(db: Database) -> None:
    store = NoticeStore(db)
    award = save(store, "ccgp", "a", published_at=day(28))
    award_copy = save(store, "xizang", "a2", published_at=day(28, 15), project_code="XZ2024015")
    intention = save(store, "xizang", "i", notice_type="intention", title="2024年6月政府采购意向", published_at=day(1),
                     project_code="XZ 2024 015")
    tender = save(store, "ccgp", "t", notice_type="tender", title="Y-STR检测试剂盒采购项目公开招标公告",
                  published_at=day(5))
    correction = save(store, "ccgp", "c", notice_type="correction", title="Y-STR检测试剂盒采购项目更正公告",
                      published_at=day(9), buyer="")   # no buyer: the code has one buyer, so it joins
    with db.session() as session:
        project = [n.id for n in procurement_notices(session, tender)]
        every_copy = [n.id for n in procurement_notices(session, tender, one_per_publication=False)]
        assert project == [intention, tender, correction, award]
        assert sorted(every_copy) == sorted(project + [award_copy])
        procurement = session.scalars(select(Procurement).where(Procurement.id == links(db)[award][2])).one()
        assert procurement.key == "XZ2024015|" + text_key(BUYER) and procurement.buyer == BUYER
    # Another buyer uses the same code: its notice is a procurement of its own, and the buyer-less correction can
    # no longer be told apart, so it leaves the project for the code's buyer-less procurement.
    other = save(store, "ccgp", "x", buyer="拉萨市公安局", published_at=day(28))
    with db.session() as session:
        assert [n.id for n in procurement_notices(session, tender)] == [intention, tender, award]
        assert [n.id for n in procurement_notices(session, other)] == [other]
        assert [n.id for n in procurement_notices(session, correction)] == [correction]


def test_relink_command_rebuilds_links_with_progress(sqlite_db: Database) -> None:
    ids = store_award_on_three_sources(sqlite_db)
    as_stored = links(sqlite_db)
    with sqlite_db.session() as session:   # as a database upgraded from before linking: no links at all
        session.execute(NoticeLink.__table__.delete())
        session.execute(Procurement.__table__.delete())
    result = run_caigou("--db", sqlite_db.url, "db", "relink")
    assert result.returncode == 0, result.stderr
    assert "relink: 3/3 notices" in result.stderr
    assert result.stdout.strip() == ("3 notices: 1 publications on several sources (3 notices), 1 procurements; "
                                     "3 notices' links changed; 3 organisations")
    assert {k: v[:2] for k, v in links(sqlite_db).items()} == {k: v[:2] for k, v in as_stored.items()}
    assert links(sqlite_db)[ids["ggzy"]][0] == ids["ccgp"]
    assert "Recompute every link" in run_caigou("db", "relink", "--help").stdout


def test_db_upgrade_links_notices_stored_before_linking(db: Database) -> None:
    ids = store_award_on_three_sources(db)
    as_stored = links(db)
    with db.session() as session:   # as a database stored before migration 0006: no links
        session.execute(NoticeLink.__table__.delete())
        session.execute(Procurement.__table__.delete())
    result = run_caigou("--db", db.url, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "3 notices stored before linking existed: relinking the archive" in result.stderr
    assert {k: v[:2] for k, v in links(db).items()} == {k: v[:2] for k, v in as_stored.items()}
    assert links(db)[ids["ggzy"]][0] == ids["ccgp"]
    again = run_caigou("--db", db.url, "db", "upgrade")   # every notice linked: nothing more to do
    assert again.returncode == 0 and "relinking" not in again.stderr


def test_catch_up_is_a_service_that_reports_through_its_callbacks(sqlite_db: Database) -> None:
    """What the CLI and a crawl's context both call: no click, the caller shows the progress its own way."""
    from caigou.pipelines.catch_up import catch_up

    ids = store_award_on_three_sources(sqlite_db)
    as_stored = links(sqlite_db)
    with sqlite_db.session() as session:
        session.execute(NoticeLink.__table__.delete())
        session.execute(Procurement.__table__.delete())
    steps: list[tuple[str, int, int]] = []
    lines: list[str] = []
    catch_up(sqlite_db, None, progress=lambda step, done, total: steps.append((step, done, total)), say=lines.append)
    assert steps[-1] == ("relink", 3, 3) and {step for step, _, _ in steps} == {"relink"}
    assert lines[0] == "3 notices stored before linking existed: relinking the archive"
    assert {k: v[:2] for k, v in links(sqlite_db).items()} == {k: v[:2] for k, v in as_stored.items()}
    assert links(sqlite_db)[ids["ggzy"]][0] == ids["ccgp"]
    lines.clear()
    catch_up(sqlite_db, None, say=lines.append)   # all linked, no migration ran: nothing to do
    assert lines == []


# ------------------------------------------------------------------------------------------------ search

def test_search_shows_a_publication_once_with_its_other_sources(db: Database) -> None:
    ids = store_award_on_three_sources(db)
    results = search(db, "试剂盒")
    assert results.total == 1 and len(results.hits) == 1
    [hit] = results.hits
    assert hit.notice.id == ids["ccgp"] and hit.also_on == ["xizang", "ggzy"]
    assert [copy for copy, _ in hit.copies] == [ids["xizang"], ids["ggzy"]]
    facets = {name: {value: n for value, _, n in values} for name, values in results.facets.items()}
    assert facets["type"] == {"award": 1} and facets["buyer"] == {BUYER: 1} and facets["review"] == {"new": 1}
    assert facets["source"] == {"ccgp": 1, "xizang": 1, "ggzy": 1}   # seen on each, counted once on each
    assert facets["region"]["tibetan"] == 1 and facets["score"] == {"50": 1}
    assert facets["supplier"] == {"北京某某生物科技有限公司": 1} and facets["term"]["Y-STR扩增试剂盒"] == 1
    # A filter that leaves the canonical copy out shows the copy it kept, still once.
    only_ggzy = search(db, "试剂盒", NoticeFilters(sources=["ggzy"]))
    assert [(h.notice.id, h.also_on) for h in only_ggzy.hits] == [(ids["ggzy"], ["ccgp", "xizang"])]
    # Without a query, sorted by date, with another notice beside it: two results.
    store = NoticeStore(db)
    other = save(store, "ccgp", "9", buyer="拉萨市公安局", title="拉萨市公安局DNA测序仪采购", project_code="LS-2024-3")
    by_date = search(db, "", sort="date")
    assert by_date.total == 2 and sorted(h.notice.id for h in by_date.hits) == sorted([ids["ccgp"], other])
    assert {v: n for v, _, n in by_date.facets["source"]} == {"ccgp": 2, "xizang": 1, "ggzy": 1}


# ------------------------------------------------------------------------------------------------ digests

@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def test_a_digest_reports_a_publication_once_and_a_later_copy_is_not_new(db: Database, smtp: SmtpServer) -> None:
    store = NoticeStore(db)
    xizang = save(store, "xizang", "xz-77", project_code="xz2024015", published_at=day(12, 16))
    ggzy = save(store, "ggzy", "gg-5", project_code="", published_at=day(12, 12))
    with db.session() as session:
        session.add(Subscription(name="西藏 DNA", recipients=["r@example.org"],
                                 filters=filters_to_json(NoticeFilters(min_score=50))))
    config = Config(values=smtp.config())
    now = dt.datetime.now(SHANGHAI)
    assert [(o.status, o.notices) for o in run_digests(db, config, now=now)] == [("sent", 1)]
    [message] = smtp.inbox.to("r@example.org")
    plain = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    # One entry for the publication (its title may recur in its own snippets), naming both sources.
    assert re.findall(r"^\* \[\d+\] (.+)$", plain, re.MULTILINE) == [TITLE]
    assert "Published on 发布于: xizang, ggzy" in plain
    with db.session() as session:
        assert set(session.scalars(select(DeliveredNotice.notice_id))) == {xizang, ggzy}

    # ccgp publishes the same notice later: a new stored notice, but nothing new for the reader.
    ccgp = save(store, "ccgp", "22001", project_code="XZ-2024-015")
    with db.session() as session:   # it is a candidate (newly matched), and only its copies' delivery keeps it out
        subscription = session.scalars(select(Subscription)).one()
        assert ccgp in {notice.id for notice, _ in candidates(session, subscription)}
    assert [o.status for o in run_digests(db, config, now=now + dt.timedelta(days=1))] == ["nothing new"]

    # A correction of the project, its code written yet another way: an update of the reported notice.
    correction = save(store, "xizang", "xz-80", notice_type="correction", title="Y-STR检测试剂盒采购项目更正公告",
                      project_code="XZ 2024 015", published_at=day(20))
    assert [(o.status, o.notices) for o in run_digests(db, config, now=now + dt.timedelta(days=2))] == [("sent", 1)]
    plain = smtp.inbox.to("r@example.org")[-1].get_body(preferencelist=("plain",)).get_content()  # type: ignore
    assert "== Updates to projects already reported (1) ==" in plain and "Y-STR检测试剂盒采购项目更正公告" in plain
    assert f"UPDATE of “{TITLE}” (reported {now:%Y-%m-%d})" in plain
    with db.session() as session:
        assert correction in set(session.scalars(select(DeliveredNotice.notice_id)))


# ------------------------------------------------------------------------------------------------ exports

def test_exports_keep_one_row_per_stored_notice_with_its_links(sqlite_db: Database) -> None:
    ids = store_award_on_three_sources(sqlite_db)
    store = NoticeStore(sqlite_db)
    alone = save(store, "ccgp", "9", buyer="拉萨市公安局", title="拉萨市公安局DNA测序仪采购", project_code="无")
    rows = {row["notice_id"]: row for row in Selection(NoticeFilters()).rows(sqlite_db)}
    assert len(rows) == 4 and {"group_id", "procurement_id"} <= set(rows[alone])
    assert {rows[i]["group_id"] for i in ids.values()} == {ids["ccgp"]}
    assert len({rows[i]["procurement_id"] for i in ids.values()}) == 1 and rows[ids["ggzy"]]["procurement_id"]
    assert (rows[alone]["group_id"], rows[alone]["procurement_id"]) == (alone, None)
