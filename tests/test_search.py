"""Chinese full-text search with filters and facets, on SQLite (FTS5) and PostgreSQL (tsvector)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from caigou.filters import TIBETAN_AREAS, NoticeFilters
from caigou.models import Review
from caigou.models.db import Database
from caigou.models.types import SHANGHAI
from caigou.pipelines.record import SupplierRecord
from caigou.pipelines.store import NoticeStore
from caigou.search import QueryError, highlight, search
from tests.test_store import make_record

NOTICES = [
    ("1", "那曲市公安局刑侦支队遗传分析仪升级单一来源公示", "那曲市公安局刑侦支队", "540600", "single_source",
     "原有3500xL遗传分析仪升级，赛默飞世尔。", "西藏高原生物科技有限公司", 2024),
    ("2", "西藏自治区公安厅DNA数据库建设项目公开招标公告", "西藏自治区公安厅", "540000", "tender",
     "DNA数据库建设，Y-STR数据库。", "", 2023),
    ("3", "某市人民医院遗传分析仪采购项目", "某市人民医院", "440100", "award", "临床遗传病检测用遗传分析仪。",
     "广州某医疗器械有限公司", 2024),
    ("4", "拉萨市疾病预防控制中心荧光定量PCR仪采购", "拉萨市疾病预防控制中心", "540100", "tender",
     "用于新冠病毒核酸检测。", "", 2022),
    ("5", "昌都市公安局Y-STR扩增试剂盒采购中标公告", "昌都市公安局", "540300", "award",
     "Y-STR扩增试剂盒(100人份/盒)60盒。", "无锡中德美联生物技术有限公司", 2024),
]


def fill(db: Database) -> Database:
    store = NoticeStore(db)
    for key, title, buyer, region, kind, body, supplier, year in NOTICES:
        store.save_notice(make_record(
            source_key=key, title=title, buyer=buyer, region_code=region, notice_type=kind, body_text=body,
            project_code=f"P-{key}", published_at=dt.datetime(year, 6, 1, tzinfo=SHANGHAI),
            suppliers=[SupplierRecord(supplier, amount_cny=Decimal("1000.00"))] if supplier else []))
    return db


@pytest.fixture
def archive(db: Database) -> Database:
    return fill(db)


def keys(results) -> set[str]:  # type: ignore[no-untyped-def]
    return {hit.notice.source_key for hit in results.hits}


def test_chinese_words_and_sub_words(archive: Database) -> None:
    assert keys(search(archive, "遗传分析仪")) == {"1", "3"}
    assert keys(search(archive, "公安")) == {"1", "2", "5"}          # 公安 finds 公安厅 and 公安局
    assert keys(search(archive, "公安厅")) == {"2"}
    assert keys(search(archive, "分析仪")) == {"1", "3"}             # a sub-word of 遗传分析仪
    assert keys(search(archive, "Y-STR")) == {"2", "5"}
    assert keys(search(archive, "ｙ－ｓｔｒ")) == {"2", "5"}          # full width, any case
    assert keys(search(archive, "中德美联")) == {"5"}                 # suppliers are searched


def test_phrases_exclusions_or(archive: Database) -> None:
    assert keys(search(archive, '"DNA数据库建设"')) == {"2"}
    assert keys(search(archive, "遗传分析仪 -医院")) == {"1"}
    assert keys(search(archive, '遗传分析仪 -"人民医院"')) == {"1"}
    assert keys(search(archive, "核酸检测 OR 试剂盒")) == {"4", "5"}


def test_filters_and_facets(archive: Database) -> None:
    tibet = search(archive, "", NoticeFilters(regions=[TIBETAN_AREAS]))
    assert keys(tibet) == {"1", "2", "4", "5"}
    assert keys(search(archive, "公安", NoticeFilters(regions=["540600"]))) == {"1"}
    assert keys(search(archive, "", NoticeFilters(notice_types=["award"]))) == {"3", "5"}
    assert keys(search(archive, "", NoticeFilters(since=dt.date(2024, 1, 1)))) == {"1", "3", "5"}
    assert keys(search(archive, "", NoticeFilters(supplier="中德美联"))) == {"5"}
    assert keys(search(archive, "", NoticeFilters(min_score=50))) == {"1", "2", "5"}
    assert keys(search(archive, "", NoticeFilters(terms=["遗传分析仪"]))) == {"1", "3"}
    results = search(archive, "遗传分析仪")
    facets = results.facets
    assert ("tibetan", "Tibetan areas 藏区", 1) in facets["region"]
    assert ("540000", "西藏自治区", 1) in facets["region"] and ("440000", "广东省", 1) in facets["region"]
    assert dict((v, n) for v, _, n in facets["type"]) == {"single_source": 1, "award": 1}
    assert dict((v, n) for v, _, n in facets["term"])["遗传分析仪"] == 2
    assert dict((v, n) for v, _, n in facets["review"]) == {"new": 2}
    assert dict((v, n) for v, _, n in facets["score"]) == {"50": 1, "0": 1}
    assert facets["year"] == [("2024", "2024", 2)]
    everything = search(archive, "", NoticeFilters(min_score=0)).facets["year"]
    assert everything == [("2024", "2024", 3), ("2023", "2023", 1), ("2022", "2022", 1)]


def test_year_facet_counts_the_year_in_china(archive: Database) -> None:
    # 1 January 00:30 in Shanghai is 31 December in UTC: it counts in the new year, as the --since filter says.
    NoticeStore(archive).save_notice(make_record(
        source_key="ny", title="新年公安局采购", body_text="", attachments=[], suppliers=[],
        published_at=dt.datetime(2025, 1, 1, 0, 30, tzinfo=SHANGHAI)))
    NoticeStore(archive).save_notice(make_record(
        source_key="undated", title="无日期公安局采购", body_text="", attachments=[], suppliers=[],
        published_at=None))
    years = dict((v, n) for v, _, n in search(archive, "公安局", NoticeFilters(min_score=0)).facets["year"])
    assert years == {"2025": 1, "2024": 2}
    assert keys(search(archive, "公安局", NoticeFilters(since=dt.date(2025, 1, 1), min_score=0))) == {"ny"}


def test_review_status_filter(archive: Database) -> None:
    first = next(h.notice.id for h in search(archive, "公安厅").hits)
    with archive.session() as session:
        session.add(Review(notice_id=first, reviewer="dolma", status="unsure"))
        session.add(Review(notice_id=first, reviewer="dolma", status="relevant"))
    assert keys(search(archive, "", NoticeFilters(review_statuses=["relevant"]))) == {"2"}
    assert "2" not in keys(search(archive, "", NoticeFilters(review_statuses=["new"])))
    assert keys(search(archive, "", NoticeFilters(review_statuses=["unsure"]))) == set()


def test_sorting(archive: Database) -> None:
    by_date = [h.notice.source_key for h in search(archive, "", sort="date").hits]
    assert by_date[-1] == "4"
    by_score = [h.score for h in search(archive, "", sort="score").hits]
    assert by_score == sorted(by_score, reverse=True)
    assert search(archive, "遗传分析仪 公安", sort="relevance").hits[0].notice.source_key == "1"


@pytest.mark.parametrize("query", ['"遗传分析仪', "OR 公安", "公安 OR", "-公安", "   "])
def test_malformed_queries_are_clear(archive: Database, query: str) -> None:
    with pytest.raises(QueryError):
        search(archive, query) if query.strip() else search(archive, query, sort="nonsense")


def test_highlight_escapes_hostile_text() -> None:
    marked = highlight('<script>alert(1)</script> 遗传分析仪 <img src=x onerror=alert(1)>', ["遗传分析仪"])
    assert "<script>" not in marked and "<img" not in marked
    assert "<mark>遗传分析仪</mark>" in marked and "&lt;script&gt;" in marked


def test_updates_are_reindexed(archive: Database) -> None:
    NoticeStore(archive).save_notice(make_record(source_key="3", title="某市人民医院离心机采购项目",
                                                 body_text="离心机", buyer="某市人民医院"))
    assert keys(search(archive, "遗传分析仪")) == {"1"}
    assert keys(search(archive, "离心机")) == {"3"}


def _add(db: Database, key: str, title: str, body: str, supplier: str = "") -> int:
    return NoticeStore(db).save_notice(make_record(
        source_key=key, title=title, buyer="某单位", body_text=body, attachments=[], project_code=f"P-{key}",
        suppliers=[SupplierRecord(supplier)] if supplier else [])).notice_id


def test_phrases_ignore_case_width_and_spaces(archive: Database) -> None:
    # The title has "DNA数据库": any case, full width, or a space where jieba would cut still finds it.
    assert keys(search(archive, '"dna数据库"')) == {"2"}
    assert keys(search(archive, '"ＤＮＡ数据库"')) == {"2"}
    assert keys(search(archive, '"公安厅 DNA数据库"')) == {"2"}
    assert keys(search(archive, '"公安厅 数据库"')) == set()            # not adjacent: no match
    assert keys(search(archive, '"数据库建设项目"')) == {"2"}             # across jieba's word boundaries
    assert keys(search(archive, '"建设数据库"')) == set()                # the words, in another order


def test_phrases_in_suppliers_and_attachments(archive: Database) -> None:
    assert keys(search(archive, '"中德美联生物"')) == {"5"}
    notice_id = _add(archive, "7", "某县采购项目", "详见附件。")
    with archive.session() as session:
        from caigou.models import Attachment, Notice
        from caigou.pipelines.search_index import index_notice

        notice = session.get(Notice, notice_id)
        notice.attachments.append(Attachment(url="http://x.example/list.xlsx", name="清单.xlsx",
                                             text="序号 名称 型号\n1 全自动核酸提取仪 Auto-Pure96"))
        session.flush()
        index_notice(session, notice)
    assert keys(search(archive, '"核酸提取仪 auto-pure96"')) == {"7"}
    assert keys(search(archive, '"提取仪auto"')) == {"7"}


def test_phrase_kept_in_every_alternative(archive: Database) -> None:
    _add(archive, "6", "某县采血卡采购", "采血卡500张")
    _add(archive, "8", "援藏项目", "持续建设西藏的基层实验室")
    # Notice 2 has 建设 and 西藏 but not "建设西藏": the phrase must still be checked in its branch.
    assert keys(search(archive, '"建设西藏" OR 采血卡')) == {"6", "8"}
    assert keys(search(archive, '采血卡 OR "建设西藏" 实验室')) == {"6", "8"}
    assert keys(search(archive, '西藏 -"建设西藏"')) & {"8"} == set()
    assert "2" in keys(search(archive, '西藏 -"建设西藏"'))


def test_mixed_letters_and_digits_are_searchable_apart(archive: Database) -> None:
    assert keys(search(archive, "3500")) == {"1"}                        # 3500xL
    assert keys(search(archive, "xl")) == {"1"}
    assert keys(search(archive, "3500xl")) == {"1"}
    assert keys(search(archive, "ystr")) == {"2", "5"}                   # Y-STR
    assert keys(search(archive, "3501")) == set()


def test_a_huge_notice_is_stored_and_found(archive: Database) -> None:
    # ~1.2 million characters with ~100,000 distinct tokens: past PostgreSQL's 1 MB tsvector limit uncapped.
    codes = "".join(f"序列号sn{i:06d}，" for i in range(100_000))
    body = "本项目采购全自动遗传分析仪一台，附设备清单：" + codes
    assert len(body) > 1_200_000
    notice_id = _add(archive, "9", "某州公安局设备采购", body)
    assert keys(search(archive, "遗传分析仪 sn000007")) == {"9"}
    assert keys(search(archive, '"全自动遗传分析仪"')) == {"9"}
    with archive.session() as session:
        from caigou.models import Notice

        assert len(session.get(Notice, notice_id).body_text) == len(body)


def test_command_line_minus_words_are_query_text_and_options_work_anywhere(sqlite_db: Database) -> None:
    import json

    from tests.crawling import run_caigou

    fill(sqlite_db)

    def found(*args: str) -> set[str]:
        answer = run_caigou("--db", sqlite_db.url, "search", *args, "--format", "jsonl")
        assert answer.returncode == 0, answer.stderr
        return {json.loads(line)["title"][:2] for line in answer.stdout.splitlines()}

    # The documented example: -医院 excludes, --region after the words still filters.
    assert found("遗传分析仪", "公安", "-医院", "--region", "tibetan", "--min-score", "0") == {"那曲"}
    assert found("--min-score=0", "遗传分析仪", "-医院") == {"那曲"}
    assert found("遗传分析仪", '-"人民医院"', "--min-score", "0", "--region", "440100") == set()
    assert found("遗传分析仪", "--min-score", "0", "--region", "440100") == {"某市"}
    table = run_caigou("--db", sqlite_db.url, "search", "遗传分析仪", "--min-score", "0")
    assert table.returncode == 0 and "year: 2024 2" in table.stdout and "type: " in table.stdout, table.stderr
    typo = run_caigou("--db", sqlite_db.url, "search", "公安", "--regoin", "tibetan")
    assert typo.returncode == 2 and "No such option" in typo.stderr and "Traceback" not in typo.stderr


@pytest.mark.parametrize("query", ["公安", '"DNA数据库" OR 试剂盒', "公安 -医院", '遗传分析仪 -"人民医院"', "ystr"])
def test_starting_from_the_score_filter_finds_the_same(archive: Database, query: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import caigou.search as searching

    review_first = NoticeFilters(min_score=50)
    monkeypatch.setattr(searching, "PROBE_COST", 10**9)          # never probe: read the index's hits first
    from_index = search(archive, query, review_first)
    monkeypatch.setattr(searching, "PROBE_COST", 0)              # always probe (on SQLite)
    with archive.session() as session:
        assert searching._probe_is_cheaper(session, review_first, searching.parse_query(query)) == (
            archive.engine.dialect.name == "sqlite")
    probed = search(archive, query, review_first)
    assert keys(probed) == keys(from_index) and probed.total == from_index.total
    assert [h.notice.id for h in probed.hits] == [h.notice.id for h in from_index.hits]   # same ranking
    assert probed.facets == from_index.facets
