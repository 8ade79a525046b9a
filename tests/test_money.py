"""pipelines.money: the pieces the parsers and the matcher share beside ``parse_money`` (which
tests/test_normalise.py covers through normalise, that keeps calling it)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from caigou.pipelines.money import (
    NormaliseError,
    amount_under_label,
    bracketed_unit,
    label_without_unit,
    money_or_none,
    parse_money,
    split_figure,
    sum_disagrees,
    to_yuan,
    unit_in_label,
    unit_matching,
    with_unit,
    yuan_text,
    yuan_under_wan,
)
from caigou.pipelines.normalise import parse_money as normalise_parse_money


def test_normalise_reads_money_here() -> None:
    assert normalise_parse_money is parse_money


def test_to_yuan_is_exact_to_the_fen() -> None:
    assert to_yuan("1,234.5", "万元") == Decimal("12345000.00") and to_yuan("0.005", "元") == Decimal("0.00")


def test_money_or_none_swallows_what_parse_money_refuses() -> None:
    with pytest.raises(NormaliseError):
        parse_money("100万元 200万元")
    assert money_or_none("100万元 200万元") is None and money_or_none("") is None
    assert money_or_none("85.6万元") == Decimal("856000.00")


@pytest.mark.parametrize(("label", "unit"), [("中标金额(万元)", "万元"), ("单价（元）", "元"), ("数量", "")])
def test_unit_in_label(label: str, unit: str) -> None:
    assert unit_in_label(label) == unit


def test_units_put_beside_figures() -> None:
    assert with_unit("237.5", "万元") == "237.5万元" and with_unit("1,200", "元") == "1,200元"
    assert with_unit("详见附件", "万元") == "详见附件" and with_unit("237.5", "") == "237.5"
    assert bracketed_unit("85.6（万元）") == "85.6万元" and bracketed_unit("85.6万元") == "85.6万元"
    assert split_figure("312000") == ("312000", "") and split_figure("48.5万元") == ("48.5", "万元")
    assert split_figure("约48万") is None
    assert yuan_text(569800) == "569800元" and yuan_text("56.98万元") == "56.98万元" and yuan_text(None) == ""
    assert label_without_unit("中标价格（万元）") == "中标价格" and label_without_unit("中标价格") == "中标价格"
    assert amount_under_label("12.5", "中标价格（万元）") == "12.5万元" and amount_under_label("1150000", "中标价格") \
        == "1150000元" and amount_under_label("12.5万元", "中标价格（元）") == "12.5万元"


def test_figures_judged_against_the_award() -> None:
    award = Decimal("312000")
    assert unit_matching(Decimal("312000"), award) == "元" and unit_matching(Decimal("31.2"), award) == "万元"
    assert unit_matching(Decimal("5"), award) == ""
    assert yuan_under_wan(Decimal("312000"), award) and not yuan_under_wan(Decimal("31.2"), award)
    assert sum_disagrees(Decimal("1000000"), [Decimal("600000"), Decimal("400000")]) is None
    assert sum_disagrees(Decimal("1000000"), [Decimal("600000"), Decimal("500000")]) == Decimal("1100000")
