"""Money: the one place where amounts as the portals print them become ``Decimal`` yuan, and where a figure's
unit is found or judged.

Portal strings ("￥56.980000 万元（人民币）", "总价形式报价:569800.00(元)", a bare ``237.5`` under a column headed
中标金额(万元), a JSON list's bare budget) are read here, strictly: a value that cannot be read with certainty raises
``NormaliseError`` rather than being guessed. Dirty numbers are how published figures go wrong ("$1,60,000" read
as 1.6 million). The readers of pages (``crawler/parsers``) only put a figure and its unit side by side
(``with_unit``, ``unit_in_label``, ``bracketed_unit``, ``yuan_text``); ``pipelines.normalise`` reads it
(``parse_money``); ccgp's body reader judges a figure against the award it makes up (``unit_matching``,
``yuan_under_wan``, ``sum_disagrees``); the matcher reads amounts in free text with ``NUMBER`` and ``to_yuan``.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from caigou.models.errors import NormaliseError
from caigou.pipelines.text import fold_text

__all__ = ["MAX_AMOUNT", "NUMBER", "NormaliseError", "STORABLE_LIMIT", "UNIT", "YUAN_PER_UNIT", "amount_under_label",
           "bracketed_unit", "label_without_unit", "money_or_none", "parse_money", "split_figure", "sum_disagrees",
           "to_yuan", "unit_in_label", "unit_matching", "with_unit", "yuan_text", "yuan_under_wan"]

# Yuan in one of each unit the portals print.
YUAN_PER_UNIT = {"元": Decimal(1), "万元": Decimal(10_000), "亿元": Decimal(100_000_000), "万": Decimal(10_000),
                 "亿": Decimal(100_000_000)}
# A unit as a regular expression, the longest spelling first.
UNIT = "亿元|万元|元|亿|万"
# A printed number: digits grouped by thousands (1,234,567.5) or not (1234567.5).
NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_AMOUNT = re.compile(rf"(?P<number>{NUMBER})\s*\)?\s*(?P<unit>{UNIT})?")
_NO_AMOUNT = {"", "-", "--", "/", "无", "详见附件", "见附件", "详见公告", "见公告"}
_CENT = Decimal("0.01")
# The largest amount taken as a number: 1万亿元, far above any one purchase, far below what the database holds
# (NUMERIC(18, 2)). A larger one is a typo or a hostile page: kept as text with a warning, never a crash.
MAX_AMOUNT = Decimal("1000000000000")
# What the database's money columns hold (``models.types.Money``, NUMERIC(18, 2)): below 10^16 yuan. An imported
# amount (already yuan, from an export) must be below it.
STORABLE_LIMIT = Decimal(10) ** 16


def to_yuan(number: str, unit: str) -> Decimal:
    """A printed number (thousands grouped or not) in ``unit`` (元, 万元, 亿元, 万, 亿) as yuan to the fen."""
    return (Decimal(number.replace(",", "")) * YUAN_PER_UNIT[unit]).quantize(_CENT)


def parse_money(text: str | None, default_unit: str | None = None) -> Decimal | None:
    """Yuan as a Decimal, from "￥56.980000 万元（人民币）", "总价形式报价:569800.00(元)", "2767万元", "1,234.50元".

    No amount ("", "-", "详见附件") is None. A bare number needs ``default_unit`` (a column headed 单价（元）).
    Rates (下浮率 5%), several different amounts in one cell, digit groups that are not thousands and amounts over
    ``MAX_AMOUNT`` raise ``NormaliseError``.
    """
    cleaned = fold_text(text)
    if cleaned in _NO_AMOUNT:
        return None
    if "%" in cleaned or "折扣" in cleaned and not re.search(r"\d\s*(万?元)", cleaned):
        raise NormaliseError(f"not an amount (a rate or discount): {cleaned!r}")
    if re.search(r"\d,\d{1,2}(?:\D|$)|\d,\d{4,}", cleaned):
        raise NormaliseError(f"digits grouped other than by thousands: {cleaned!r}")
    unit_hint = None
    if re.search(r"\(\s*元\s*\)|（元）", cleaned):
        unit_hint = "元"
    found = []
    for match in _AMOUNT.finditer(cleaned):
        unit = match.group("unit") or unit_hint
        found.append((match.group("number"), unit))
    if not found:
        raise NormaliseError(f"no amount in {cleaned!r}")
    values = set()
    for number, unit in found:
        unit = unit or default_unit
        if unit is None:
            raise NormaliseError(f"amount without a unit: {cleaned!r}")
        try:
            values.add(to_yuan(number, unit))
        except InvalidOperation as exc:
            raise NormaliseError(f"unreadable amount {number!r}") from exc
    if len(values) > 1:
        raise NormaliseError(f"several amounts in one value: {cleaned!r}")
    value = values.pop()
    if value > MAX_AMOUNT:
        raise NormaliseError(f"amount out of range (over 1万亿元): {cleaned!r}")
    return value


def money_or_none(text: str) -> Decimal | None:
    """The amount, or None where there is none or it cannot be read (for judging figures against each other;
    ``pipelines.normalise`` says why on the notice)."""
    try:
        return parse_money(text) if text else None
    except NormaliseError:
        return None


# ---------------------------------------------------------------------------------------------------- units

_LABEL_UNIT = re.compile(r"万元|元")
_BARE = re.compile(r"[\d,]+(?:\.\d+)?")
_FIGURE = re.compile(r"([\d,]+(?:\.\d+)?)(万元|元)?")
_BRACKETED = re.compile(r"[￥¥]?\s*([\d,]+(?:\.\d+)?)\s*\(\s*(万元|元)\s*\)")


def unit_in_label(label: str) -> str:
    """The unit a column or field label gives its bare numbers (``中标金额(万元)`` → 万元), or ""."""
    match = _LABEL_UNIT.search(label)
    return match.group() if match else ""


def with_unit(value: str, unit: str) -> str:
    """A bare number (``237.5``, ``1,200``) with the unit its column or label names (``237.5万元``); anything else,
    or no unit, as it is."""
    return f"{value}{unit}" if unit and _BARE.fullmatch(value) else value


def bracketed_unit(value: str) -> str:
    """``85.6（万元）`` → ``85.6万元``: the unit in brackets after the number, as labelled lines print it."""
    match = _BRACKETED.fullmatch(fold_text(value))
    return f"{match.group(1)}{match.group(2)}" if match else value


def split_figure(printed: str) -> tuple[str, str] | None:
    """A table cell's figure as (number, unit or ""): ``312000`` → ("312000", ""), ``48.5万元`` → ("48.5", "万元");
    None for anything that is not a bare figure."""
    match = _FIGURE.fullmatch(printed)
    return (match.group(1), match.group(2) or "") if match else None


_LABEL_WITH_UNIT = re.compile(r"[（(](万?元)[)）]$")


def label_without_unit(label: str) -> str:
    """``中标价格（万元）`` → ``中标价格``: a field label without the unit it gives its figures."""
    return _LABEL_WITH_UNIT.sub("", label)


def amount_under_label(value: str, label: str) -> str:
    """A labelled amount as money text: one printed with a unit as it is; a bare one with the unit its label names
    (``中标价格（万元）``), else as yuan (a guess, as ``yuan_text``)."""
    if not value or re.search(r"[元万]", value):
        return value
    unit = unit_in_label(label)
    return f"{value}{unit}" if unit else yuan_text(value)


def yuan_text(value: Any) -> str:
    """A JSON list's amount as money text: bare numbers are taken as yuan (a guess for every portal that sends
    them: FreeCMS, gpcms), so ``parse_money`` reads them like the 元 amounts of the pages."""
    if value in (None, ""):
        return ""
    text = str(value)
    return text if re.search(r"[元万]", text) else f"{text}元"


# ------------------------------------------------------------------------------------------ figures that disagree

def unit_matching(figure: Decimal, reference: Decimal) -> str:
    """The unit that makes a bare ``figure`` the ``reference`` amount (yuan) to within 1%: 元, 万元, or ""."""
    if abs(figure - reference) <= reference / 100:
        return "元"
    if abs(figure * 10_000 - reference) <= reference / 100:
        return "万元"
    return ""


def yuan_under_wan(figure: Decimal, reference: Decimal) -> bool:
    """Whether a ``figure`` printed under a 万元 header is in fact yuan: read as 万元 it is over a hundred times the
    ``reference`` (yuan) it makes up, read as yuan it is no more than 1% over it (312000 where the award is
    31.2万元)."""
    return figure * 10_000 > reference * 100 and figure <= reference * Decimal("1.01")


def sum_disagrees(total: Decimal, parts: list[Decimal]) -> Decimal | None:
    """The parts' sum when it is not the ``total`` (beyond 1 yuan or half a percent, whichever is more), else
    None."""
    part_sum = sum(parts, Decimal(0))
    return part_sum if abs(part_sum - total) > max(Decimal(1), total / 200) else None
