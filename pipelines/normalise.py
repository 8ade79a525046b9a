"""The one place where portal strings become typed values: times and notice types here (money is read in
``pipelines.money``, text in ``pipelines.text``, regions in ``pipelines.regions``), and ``record_from_item``, which
applies them all.

Every function is strict: a value it cannot read with certainty raises ``NormaliseError`` (the pipeline records
the message on the notice and goes on) rather than guessing. Dirty numbers are how published figures go wrong
("$1,60,000" read as 1.6 million).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal
from typing import Any

from caigou.models.constants import SHANGHAI
from caigou.models.errors import NormaliseError
from caigou.pipelines.money import parse_money
from caigou.pipelines.regions import places_in, resolve_region
from caigou.pipelines.text import clean_text, drop_controls, fold_text, label_key, squeeze_cjk

# ---------------------------------------------------------------------------------------------------- times

_DATE_TIME = re.compile(
    r"(?P<y>\d{4})\s*[年\-./:]\s*(?P<m>\d{1,2})\s*[月\-./:]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*T?\s*(?P<H>\d{1,2})\s*[:时]\s*(?P<M>\d{1,2})(?:\s*[:分]\s*(?P<S>\d{1,2}))?)?")


# Publication years taken as dates; outside them (year 1, year 9999) a date is a typo or a hostile page, kept as
# text with a warning (year 1 in Beijing time is not even a year in UTC: it cannot be stored).
FIRST_YEAR, YEARS_AHEAD = 1980, 5


def parse_published(text: str | None) -> dt.datetime | None:
    """An aware datetime in Asia/Shanghai from the portals' many forms; epoch milliseconds are UTC instants. A
    year outside ``FIRST_YEAR`` .. five years from now raises NormaliseError."""
    parsed = _parse_time(text)
    if parsed is not None and not FIRST_YEAR <= parsed.year <= dt.date.today().year + YEARS_AHEAD:
        raise NormaliseError(f"date out of range (year {parsed.year}): {fold_text(text)!r}")
    return parsed


def _parse_time(text: str | None) -> dt.datetime | None:
    cleaned = fold_text(text)
    if not cleaned:
        return None
    if re.fullmatch(r"\d{12,13}", cleaned):
        return dt.datetime.fromtimestamp(int(cleaned) / 1000, tz=dt.UTC).astimezone(SHANGHAI)
    try:
        parsed = dt.datetime.fromisoformat(cleaned)
        if parsed.tzinfo is not None:
            return parsed.astimezone(SHANGHAI)
    except (ValueError, OverflowError):
        pass
    match = _DATE_TIME.search(cleaned)
    if not match:
        raise NormaliseError(f"not a date: {cleaned!r}")
    parts = {key: int(value) for key, value in match.groupdict().items() if value is not None}
    try:
        return dt.datetime(parts["y"], parts["m"], parts["d"], parts.get("H", 0), parts.get("M", 0),
                           parts.get("S", 0), tzinfo=SHANGHAI)
    except ValueError as exc:
        raise NormaliseError(f"not a valid date: {cleaned!r} ({exc})") from exc


def parse_date_arg(text: str, name: str = "date") -> dt.date:
    """A date given on the command line or as a spider argument: YYYY-MM-DD (also YYYY/MM/DD, YYYYMMDD)."""
    cleaned = fold_text(text)
    for pattern in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d"):
        try:
            return dt.datetime.strptime(cleaned, pattern).date()
        except ValueError:
            continue
    raise NormaliseError(f"{name} {text!r} is not a date like 2024-01-31")


# ---------------------------------------------------------------------------------------------------- notice types

# Checked in order: the most specific labels first (中标 before 招标, 更正 before everything it corrects).
_TYPE_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("意向", "intention"), ("更正", "correction"), ("变更", "correction"), ("澄清", "correction"),
    ("终止", "termination"), ("废标", "termination"), ("流标", "termination"), ("失败", "termination"),
    ("中标", "award"), ("成交", "award"), ("结果", "award"), ("合同", "contract"),
    ("单一来源", "single_source"), ("资格预审", "prequalification"), ("邀请", "invitation"),
    ("磋商", "consultation"), ("谈判", "negotiation"), ("询价", "inquiry"), ("招标", "tender"),
    ("采购公告", "tender"), ("其他", "other"),
)


def notice_type_from_label(label: str | None) -> str | None:
    """The normalised type for a site's label (中标公告 → award), or None when the label says nothing."""
    cleaned = squeeze_cjk(label or "")
    for keyword, notice_type in _TYPE_KEYWORDS:
        if keyword in cleaned:
            return notice_type
    return None


# ---------------------------------------------------------------------------------------------------- items

def record_from_item(item: Any) -> Any:
    """A spider's ``NoticeItem`` (strings as the site wrote them) as a typed ``NoticeRecord``.

    Every value that cannot be read is left empty and explained in ``warnings``, its text kept in ``fields`` under
    its label (an award of 99999999999999亿元 or a date in year 9999 is kept as text, never a number); the notice is
    still stored, because a notice with an unreadable amount is still evidence. Every string is passed through
    ``drop_controls``.
    """
    from caigou.pipelines.record import AttachmentRecord, NoticeRecord, SupplierRecord

    warnings: list[str] = []
    unread: dict[str, str] = {}  # label → the text of a value that could not be read

    def money(text: str, what: str, label: str = "", default_unit: str | None = None) -> Decimal | None:
        try:
            return parse_money(text, default_unit)
        except NormaliseError as exc:
            warnings.append(f"{what}: {exc}")
            if label:
                unread[label] = clean_text(text)
            return None

    try:
        published_at = parse_published(item.published_text)
    except NormaliseError as exc:
        warnings.append(f"published time: {exc}")
        unread["发布时间"] = clean_text(item.published_text)
        published_at = None
    region_code, region_name = resolve_region(item.region_text)
    # Portals often give only the province; the buyer's name usually says where in it (昌都市公安局 → 昌都市).
    for place in places_in(item.buyer):
        if region_code and place.code != region_code and place.code.startswith(region_code.rstrip("0")[:2]) \
                and len(place.code.rstrip("0")) > len(region_code.rstrip("0")):
            region_code, region_name = place.code, place.name
            break
    notice_type = item.notice_type or notice_type_from_label(item.notice_type_label) \
        or notice_type_from_label(item.title) or "other"
    def fit(text: str, size: int, what: str) -> str:
        """A value cut to its column's size (a hostile page's 1,000-character region must not make the notice
        unstorable on PostgreSQL); the cut is a warning."""
        if len(text) > size:
            warnings.append(f"{what}: longer than {size} characters; cut")
            return text[:size]
        return text

    suppliers = [SupplierRecord(name=squeeze_cjk(s.name), lot=fit(clean_text(s.lot), 100, "supplier lot"),
                                address=clean_text(s.address),
                                amount_cny=money(s.amount_text, f"supplier {s.name} amount"),
                                amount_text=clean_text(s.amount_text))
                 for s in item.suppliers if clean_text(s.name)]
    award = money(item.award_text, "award amount", "中标金额")
    if award is None and not item.award_text and suppliers and all(s.amount_cny is not None for s in suppliers):
        award = sum((s.amount_cny for s in suppliers if s.amount_cny is not None), Decimal("0.00"))
    budget = money(item.budget_text, "budget", "预算金额")
    fields = {label_key(key): squeeze_cjk(value) for key, value in item.fields.items()}
    for label, text in unread.items():
        fields.setdefault(label, text)
    record = NoticeRecord(
        source=item.source, source_key=str(item.source_key), url=item.url, title=squeeze_cjk(item.title),
        notice_type=notice_type, notice_type_label=fit(clean_text(item.notice_type_label), 100, "notice type label"),
        published_at=published_at, region_code=region_code, region_name=fit(region_name, 100, "region"),
        buyer=squeeze_cjk(item.buyer), agency=squeeze_cjk(item.agency),
        project_code=fit(clean_text(item.project_code), 200, "project code"),
        budget_cny=budget, award_cny=award, suppliers=suppliers,
        line_items=[{key: clean_text(str(value)) for key, value in row.items()} for row in item.line_items],
        body_text=item.body_text.strip(), fields=fields,
        attachments=[AttachmentRecord(url=a.url, name=clean_text(a.name)) for a in item.attachments],
        raw_sha256=item.raw_sha256, warnings=warnings,
    )
    return without_controls(record)


def without_controls(value: Any) -> Any:
    """``value`` with ``drop_controls`` applied to every string in it: a record (any dataclass), its lists and
    dictionaries (keys too), in place for dataclasses."""
    if isinstance(value, str):
        return drop_controls(value)
    if isinstance(value, list):
        return [without_controls(v) for v in value]
    if isinstance(value, dict):
        return {without_controls(k): without_controls(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for spec in dataclasses.fields(value):
            setattr(value, spec.name, without_controls(getattr(value, spec.name)))
    return value
