"""Money, times, regions and notice types: the one place portal strings become typed values."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from caigou.crawler.items import NoticeItem, SupplierItem
from caigou.models.errors import NormaliseError
from caigou.models.types import SHANGHAI
from caigou.pipelines.money import parse_money
from caigou.pipelines.normalise import (
    notice_type_from_label,
    parse_date_arg,
    parse_published,
    record_from_item,
)
from caigou.pipelines.regions import is_tibetan_area, places_in, resolve_region
from caigou.pipelines.text import clean_text, fold_text, label_key, squeeze_cjk


@pytest.mark.parametrize(("text", "expected"), [
    ("￥56.980000 万元（人民币）", "569800.00"),
    ("总价形式报价:569800.00(元)", "569800.00"),
    ("2837.861389万元", "28378613.89"),
    ("2767万元", "27670000.00"),
    ("￥10618.520389 万元（人民币）", "106185203.89"),
    ("1,234.50元", "1234.50"),
    ("１２３元", "123.00"),          # full-width digits
    ("1.5亿元", "150000000.00"),
])
def test_money_is_exact_yuan(text: str, expected: str) -> None:
    assert parse_money(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["", "-", "详见附件", None])
def test_no_amount_is_none(text: str | None) -> None:
    assert parse_money(text) is None


@pytest.mark.parametrize("text", ["1,60,000元", "下浮率5%", "100万元 200万元", "3500", "约三千元"])
def test_doubtful_amounts_raise(text: str) -> None:
    with pytest.raises(NormaliseError):
        parse_money(text)


def test_bare_number_takes_the_column_unit() -> None:
    assert parse_money("569800", default_unit="元") == Decimal("569800.00")


@pytest.mark.parametrize(("text", "expected"), [
    ("2025年06月27日  17:52", dt.datetime(2025, 6, 27, 17, 52, tzinfo=SHANGHAI)),
    ("2025-06-27 17:52", dt.datetime(2025, 6, 27, 17, 52, tzinfo=SHANGHAI)),
    ("2025.05.14 16:00:19", dt.datetime(2025, 5, 14, 16, 0, 19, tzinfo=SHANGHAI)),
    ("2024-06-12", dt.datetime(2024, 6, 12, tzinfo=SHANGHAI)),
    ("1718000000000", dt.datetime(2024, 6, 10, 14, 13, 20, tzinfo=SHANGHAI)),  # epoch ms, an instant
    ("2024-06-12T08:00:00+00:00", dt.datetime(2024, 6, 12, 16, 0, tzinfo=SHANGHAI)),
])
def test_published_times_are_aware_shanghai(text: str, expected: dt.datetime) -> None:
    parsed = parse_published(text)
    assert parsed == expected and parsed.utcoffset() == dt.timedelta(hours=8)


@pytest.mark.parametrize("text", ["明天", "2025年13月40日", "20250631"])
def test_bad_dates_raise(text: str) -> None:
    with pytest.raises(NormaliseError):
        parse_published(text)


def test_date_arguments() -> None:
    assert parse_date_arg("2024-01-31") == dt.date(2024, 1, 31)
    with pytest.raises(NormaliseError, match="since '2024-13-01' is not a date"):
        parse_date_arg("2024-13-01", "since")


def test_labels_with_stray_white_space() -> None:
    assert label_key("总中标金 额：") == "总中标金额"
    assert squeeze_cjk("济南大学中心校区学生公寓 改造提升项目") == "济南大学中心校区学生公寓改造提升项目"
    assert squeeze_cjk("Thermo  Fisher 3500 xL") == "Thermo Fisher 3500 xL"
    assert fold_text("ＤＮＡ\u3000Ｙ－ＳＴＲ") == "DNA Y-STR"
    assert clean_text("（人民币）\u00a0 ￥") == "（人民币） ￥"  # stored text keeps the site's characters


@pytest.mark.parametrize(("text", "code", "name"), [
    ("贵州省", "520000", "贵州省"),
    ("西藏自治区 那曲市", "540600", "那曲市"),
    ("54", "540000", "西藏自治区"),
    ("540600", "540600", "那曲市"),
    ("林芝地区", "542600", "林芝地区"),   # the name before 2015
    ("西藏", "540000", "西藏自治区"),
    ("火星", None, "火星"),
])
def test_regions(text: str, code: str | None, name: str) -> None:
    assert resolve_region(text) == (code, name)


def test_tibetan_areas() -> None:
    assert is_tibetan_area("540600") and is_tibetan_area("542621") and is_tibetan_area("513422")  # 木里
    assert is_tibetan_area("632700")  # 玉树
    assert not is_tibetan_area("630000") and not is_tibetan_area("520000") and not is_tibetan_area(None)
    assert [r.code for r in places_in("那曲市公安局刑侦支队")] == ["540600"]
    assert places_in("清华大学") == []


@pytest.mark.parametrize(("label", "expected"), [
    ("中标公告", "award"), ("成交公告", "award"), ("中标(成交)结果公告", "award"), ("更正公告", "correction"),
    ("公开招标公告", "tender"), ("竞争性磋商公告", "consultation"), ("单一来源公示", "single_source"),
    ("终止公告", "termination"), ("采购意向公开", "intention"), ("", None),
])
def test_notice_types(label: str, expected: str | None) -> None:
    assert notice_type_from_label(label) == expected


def test_item_to_record_keeps_bad_values_as_warnings() -> None:
    item = NoticeItem(source="ccgp", source_key="1", url="http://x/t20240101_1.htm", title="某 项目 中标公告",
                      notice_type_label="中标公告", published_text="不是日期", region_text="西藏自治区",
                      budget_text="下浮率5%", suppliers=[SupplierItem("甲公司", lot="A", amount_text="100万元"),
                                                      SupplierItem("乙公司", lot="B", amount_text="50万元")])
    record = record_from_item(item)
    assert record.notice_type == "award" and record.region_code == "540000"
    assert record.published_at is None and record.budget_cny is None
    assert record.award_cny == Decimal("1500000.00")  # the lots' sum when no total is given
    assert [w.split(":")[0] for w in record.warnings] == ["published time", "budget"]
    assert record.title == "某项目中标公告"
    assert record.fields == {"发布时间": "不是日期", "预算金额": "下浮率5%"}  # the unread text is kept


@pytest.mark.parametrize("text", ["99999999999999亿元", "1000000000000.01元", "100000001万元"])
def test_amounts_out_of_range_raise(text: str) -> None:
    with pytest.raises(NormaliseError, match="out of range"):
        parse_money(text)


def test_the_largest_plausible_amount_is_a_number() -> None:
    assert parse_money("100000000万元") == Decimal("1000000000000.00")


@pytest.mark.parametrize("text", ["9999-06-20 11:05", "0001-01-01 00:00", "0001-01-01T00:00:00+08:00",
                                  "1979年12月31日", "99991231"])
def test_dates_out_of_range_raise(text: str) -> None:
    with pytest.raises(NormaliseError):
        parse_published(text)


def test_control_characters_are_dropped_from_every_string_of_a_record() -> None:
    from caigou.pipelines.text import drop_controls

    assert drop_controls("a\x1b[31mb\x00c\x7f\x9bd\te\r\nf\rg") == "a[31mbcd\te\nf\ng"
    item = NoticeItem(source="ccgp", source_key="1\x00", url="http://x/t20240101_1.htm", title="那曲\x1b]0;x\x07公安局",
                      body_text="第一行\x1b\n\t第二行", fields={"品目\x1b": "货物\x08"},
                      line_items=[{"name": "试剂盒\x1b"}], suppliers=[SupplierItem("甲\x1b公司", address="拉萨\x07")])
    record = record_from_item(item)
    assert (record.source_key, record.title, record.body_text) == ("1", "那曲]0;x公安局", "第一行\n\t第二行")
    assert record.fields == {"品目": "货物"} and record.line_items == [{"name": "试剂盒"}]
    assert [(s.name, s.address) for s in record.suppliers] == [("甲公司", "拉萨")]


def test_values_longer_than_their_columns_are_cut_with_a_warning() -> None:
    item = NoticeItem(source="ccgp", source_key="1", url="http://x/t20240101_1.htm", title="中标公告",
                      region_text="某" * 300, notice_type_label="公告" * 80, project_code="X" * 250,
                      suppliers=[SupplierItem("甲公司", lot="包" * 120)])
    record = record_from_item(item)
    assert (len(record.region_name), len(record.notice_type_label), len(record.project_code)) == (100, 100, 200)
    assert len(record.suppliers[0].lot) == 100
    assert [w.split(":")[0] for w in record.warnings] == ["supplier lot", "notice type label", "region",
                                                          "project code"]
