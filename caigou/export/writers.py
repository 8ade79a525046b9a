"""Writers for each export format. Each takes an iterator of rows (``caigou.export.rows``) and streams it out."""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import IO, Any

from caigou.export.rows import JSON_COLUMNS, LIST_COLUMNS, MONEY_COLUMNS, TIME_COLUMNS
from caigou.models.types import now
from caigou.spreadsheet import FORMULA_STARTS, neutralise  # re-exported: the export's guard

XLSX_CELL_LIMIT = 32_767


def _json(value: Any) -> str:
    """Valid JSON, always: NaN and Infinity (which ``json`` writes by default and no JSON reader accepts) are
    written as null. Imports refuse them, but an archive filled before that, or by hand, may hold one."""
    try:
        return json.dumps(value, ensure_ascii=False, default=_default, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), ensure_ascii=False, default=_default, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(inner) for inner in value]
    return value


def amount_number(value: Decimal | float | None) -> float | None:
    """An amount as a JSON number, or None when there is none or it is not a finite number."""
    if value is None:
        return None
    number = float(value)  # repr(float) is the shortest exact round trip for two-decimal yuan amounts
    return number if math.isfinite(number) else None


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return amount_number(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def flat_cell(column: str, value: Any) -> str:
    """One value as CSV text: lists joined with "; ", structures as JSON, amounts as plain numbers."""
    if value is None:
        return ""
    if column in LIST_COLUMNS:
        return "; ".join(str(v) for v in value)
    if column in JSON_COLUMNS:
        return _json(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _cell_writer(column: str) -> Callable[[Any], str]:
    """The function that writes one column's values as CSV text: ``flat_cell`` then the formula guard, chosen once
    per column instead of tested per cell (an export writes millions of cells)."""
    numeric = column in MONEY_COLUMNS or column in {"notice_id", "score"}  # plain numbers, never guarded
    if column in LIST_COLUMNS:
        return lambda value: "" if value is None else neutralise("; ".join(str(v) for v in value))
    if column in JSON_COLUMNS:
        return lambda value: "" if value is None else neutralise(_json(value))
    if numeric:  # flat_cell's answer for a number, without its tests of the column
        return lambda value: ("" if value is None else format(value, "f") if isinstance(value, Decimal)
                              else str(value))

    def text(value: Any) -> str:
        if value is None:
            return ""
        if type(value) is not str:
            value = format(value, "f") if isinstance(value, Decimal) else str(value)
        return neutralise(value) if value[:1] in _GUARD_FIRST else value
    return text


_GUARD_FIRST = frozenset((*FORMULA_STARTS, "'"))  # caigou.spreadsheet.neutralise's first characters


def csv_chunks(rows: Iterable[dict[str, Any]], columns: tuple[str, ...], chunk_rows: int = 500) -> Iterator[str]:
    """RFC 4180 CSV (CRLF, quotes where needed) as text chunks of about ``chunk_rows`` rows, header first; text
    cells that look like formulas are neutralised. Amounts and IDs stay plain numbers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    cells = [(column, _cell_writer(column)) for column in columns]
    for index, row in enumerate(rows, start=1):
        writer.writerow([write(row.get(column)) for column, write in cells])
        if index % chunk_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_csv(rows: Iterable[dict[str, Any]], columns: tuple[str, ...], out: IO[str]) -> int:
    counted = Counted(rows)
    for chunk in csv_chunks(counted, columns):
        out.write(chunk)
    return counted.count


class Counted:
    """An iterable that counts what passed through it."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self.rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self.rows:
            self.count += 1
            yield row


def write_jsonl(rows: Iterable[dict[str, Any]], columns: tuple[str, ...], out: IO[str]) -> int:
    count = 0
    for row in rows:
        out.write(_json({column: row.get(column) for column in columns}) + "\n")
        count += 1
    return count


# Column widths in characters (Chinese characters count about two): wide enough to read, narrow enough to scan.
XLSX_WIDTHS = {"title": 60, "buyer": 30, "agency": 30, "region_name": 12, "published_at": 17, "first_seen_at": 17,
               "last_seen_at": 17, "reviewed_at": 17, "budget_cny": 16, "award_cny": 16, "score": 7,
               "matched_terms": 30, "url": 40, "review_note": 40, "reasons": 50, "suppliers": 30,
               "body_text": 60, "notice_id": 9, "review_status": 13}
XLSX_WRAPPED = {"title", "review_note"}


def write_xlsx(rows: Iterable[dict[str, Any]], columns: tuple[str, ...], path: str) -> int:
    """XLSX in openpyxl's write-only mode, made for reading in a spreadsheet: numbers as numbers, times as real
    dates (Asia/Shanghai wall time, which Excel cannot zone) wide enough never to show ``###``, column widths, the
    header frozen and bold with an autofilter, titles wrapped; text never becomes a formula; cells over Excel's
    limit are cut with a marker (JSON Lines keeps everything)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    sheet = book.create_sheet("notices")
    sheet.freeze_panes = "A2"
    for index, column in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = XLSX_WIDTHS.get(column, 14)
    bold = Font(bold=True)
    header = []
    for column in columns:
        cell = WriteOnlyCell(sheet, value=column)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    wrapped = Alignment(wrap_text=True, vertical="top")
    count = 0
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column)
            if column in TIME_COLUMNS and value:
                cell = WriteOnlyCell(sheet, value=dt.datetime.fromisoformat(value).replace(tzinfo=None))
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(value, Decimal):
                cell = WriteOnlyCell(sheet, value=float(value))
                cell.number_format = "#,##0.00"
            elif isinstance(value, int) and not isinstance(value, bool):
                cell = WriteOnlyCell(sheet, value=value)
            else:
                text = flat_cell(column, value)
                if len(text) > XLSX_CELL_LIMIT:
                    text = text[:XLSX_CELL_LIMIT - 20] + " …[cut: see JSONL]"
                cell = WriteOnlyCell(sheet, value=text)
                cell.data_type = "s"  # never a formula, whatever the text starts with
                if column in XLSX_WRAPPED:
                    cell.alignment = wrapped
            cells.append(cell)
        sheet.append(cells)
        count += 1
    if columns:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{count + 1}"
    book.save(path)
    return count


# ------------------------------------------------------------------------------------------------ OCDS

OCDS_TAGS = {
    "intention": ["planning"], "tender": ["tender"], "invitation": ["tender"], "prequalification": ["tender"],
    "consultation": ["tender"], "negotiation": ["tender"], "inquiry": ["tender"], "single_source": ["tender"],
    "correction": ["tenderAmendment"], "termination": ["tenderCancellation"], "award": ["award"],
    "contract": ["contract"], "other": ["tender"],
}
PROCUREMENT_METHODS = {
    "tender": ("open", "公开招标"), "invitation": ("selective", "邀请招标"),
    "prequalification": ("selective", "资格预审"), "consultation": ("selective", "竞争性磋商"),
    "negotiation": ("selective", "竞争性谈判"), "inquiry": ("selective", "询价"),
    "single_source": ("direct", "单一来源"),
}


def _party_id(role: str, name: str) -> str:
    return f"{role}-{hashlib.sha1(name.encode()).hexdigest()[:12]}"


def _value(amount: Any) -> dict[str, Any] | None:
    number = amount_number(amount)
    return {"amount": number, "currency": "CNY"} if number is not None else None


def ocds_release(row: dict[str, Any], prefix: str) -> dict[str, Any]:
    """One OCDS 1.1 release for one notice. Watchlist matches and review state stay out."""
    process = row["project_code"] or f"{row['source']}-{row['source_id']}"
    release: dict[str, Any] = {
        "ocid": f"{prefix}{process}", "id": f"{row['source']}-{row['source_id']}",
        "date": row["published_at"] or row["first_seen_at"], "tag": OCDS_TAGS.get(row["notice_type"], ["tender"]),
        "initiationType": "tender", "language": "zh", "parties": [],
    }
    if row["buyer"]:
        buyer = {"id": _party_id("buyer", row["buyer"]), "name": row["buyer"]}
        release["buyer"] = buyer
        release["parties"].append({**buyer, "roles": ["buyer"],
                                   **({"address": {"region": row["region_name"]}} if row["region_name"] else {})})
    tender: dict[str, Any] = {"id": process, "title": row["title"]}
    if row["agency"]:
        agency = {"id": _party_id("agency", row["agency"]), "name": row["agency"]}
        tender["procuringEntity"] = agency
        release["parties"].append({**agency, "roles": ["procuringEntity"]})
    if row["budget_cny"] is not None:
        tender["value"] = _value(row["budget_cny"])
    method = PROCUREMENT_METHODS.get(row["notice_type"])
    if method:
        tender["procurementMethod"], tender["procurementMethodDetails"] = method
    items = [{"id": str(index), "description": item.get("name") or item.get("model") or "",
              **({"quantity": _number(item["quantity"])} if _number(item.get("quantity")) is not None else {})}
             for index, item in enumerate(row["line_items"], start=1)]
    if items:
        tender["items"] = items
    if row["notice_type"] == "termination":
        tender["status"] = "cancelled"
    release["tender"] = tender
    if row["notice_type"] == "award":
        awards: list[dict[str, Any]] = []  # OCDS award objects, as JSON
        for index, supplier in enumerate(row["supplier_details"], start=1):
            party = {"id": _party_id("supplier", supplier["name"]), "name": supplier["name"]}
            if not any(p["id"] == party["id"] for p in release["parties"]):
                release["parties"].append({**party, "roles": ["supplier"]})
            award: dict[str, Any] = {"id": f"{release['id']}-{index}", "status": "active", "suppliers": [party]}
            if supplier["lot"]:
                award["title"] = f"标包 {supplier['lot']}"
            if supplier["amount_cny"] is not None:
                award["value"] = _value(supplier["amount_cny"])
            awards.append(award)
        if not awards and row["award_cny"] is not None:
            awards.append({"id": f"{release['id']}-1", "status": "active", "value": _value(row["award_cny"])})
        if awards:
            release["awards"] = awards
    return release


def _number(text: Any) -> float | None:
    import re

    match = re.match(r"\s*(\d+(?:\.\d+)?)", str(text or ""))
    return float(match.group(1)) if match else None


def write_ocds(rows: Iterable[dict[str, Any]], out: IO[str], prefix: str,
               on_release: Callable[[], None] | None = None) -> int:
    """A release package, streamed release by release."""
    head = {"uri": f"urn:caigou:export:{now().strftime('%Y%m%dT%H%M%S')}", "version": "1.1",
            "publishedDate": now().isoformat(timespec="seconds"),
            "publisher": {"name": "caigou (collected from Chinese government procurement portals)"}}
    out.write(_json(head)[:-1] + ', "releases": [\n')
    count = 0
    for row in rows:
        out.write((",\n" if count else "") + _json(ocds_release(row, prefix)))
        count += 1
        if on_release:
            on_release()
    out.write("\n]}\n")
    return count
