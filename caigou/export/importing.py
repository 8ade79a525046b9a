"""Importing this project's JSON Lines (or CSV with the same columns): a colleague's archive merged, or an archive
moved from SQLite to PostgreSQL. Every notice goes through ``NoticeStore``, so it is matched and indexed like a
crawled one; IDs and first-seen times are kept where the target database has them free."""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import json
import math
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError

from caigou.models import NOTICE_TYPES, Notice, Source
from caigou.models.db import Database
from caigou.models.errors import CaigouError
from caigou.models.types import SHANGHAI
from caigou.pipelines.money import STORABLE_LIMIT
from caigou.pipelines.record import AttachmentRecord, NoticeRecord, SupplierRecord
from caigou.pipelines.store import NoticeStore
from caigou.spreadsheet import unneutralise


class ImportError_(CaigouError):
    """A line of an import file that cannot be read."""


MAX_DEPTH = 20                         # nesting of a line's JSON: exports nest 4 deep
YEARS = (1949, 2100)                   # a time outside these is a typo or a hostile file, not a notice
# Text columns of fixed width: longer values would be refused by PostgreSQL and cut by nothing on SQLite.
WIDTHS = {"source": 40, "source_id": 200, "notice_type_label": 100, "region_code": 12, "region_name": 100,
          "project_code": 200, "raw_sha256": 64}
ATTACHMENT_WIDTHS = {"download_status": 20, "content_type": 20, "extraction_status": 20, "raw_sha256": 64}


def _refuse_constant(name: str) -> Any:
    raise ImportError_(f"{name} is not a number JSON allows")


def _finite(text_value: str) -> float:
    number = float(text_value)
    if not math.isfinite(number):
        raise ImportError_(f"the number {text_value} is out of range")
    return number


def _loads(value: str) -> Any:
    """JSON as the standard allows it: NaN, Infinity and numbers beyond a float are refused, not read."""
    try:
        return json.loads(value, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError as exc:
        raise ImportError_(f"nested more than {MAX_DEPTH} levels deep") from exc


def _check_tree(value: Any) -> None:
    """No NUL character anywhere (PostgreSQL cannot store one) and no deeper nesting than MAX_DEPTH."""
    pending: list[tuple[Any, int, str]] = [(value, 0, "")]
    while pending:
        item, depth, name = pending.pop()
        if depth > MAX_DEPTH:
            raise ImportError_(f"nested more than {MAX_DEPTH} levels deep")
        if isinstance(item, str):
            if "\x00" in item:
                raise ImportError_(f"{name or 'a value'}: a NUL character, which no text may hold")
        elif isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in str(key):
                    raise ImportError_("a key with a NUL character")
                pending.append((inner, depth + 1, name or str(key)))
        elif isinstance(item, list):
            pending.extend((inner, depth + 1, name) for inner in item)


def _text(row: dict[str, Any], key: str, required: bool = False, numbers: bool = False) -> str:
    value = row.get(key)
    if value is None or value == "":
        if required:
            raise ImportError_(f"missing {key}")
        return ""
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ImportError_(f"{key} must be text, not {type(value).__name__}")
    width = WIDTHS.get(key)
    if width is not None and len(value) > width:
        raise ImportError_(f"{key} has {len(value)} characters; at most {width}")
    return value


def _money(value: Any, key: str) -> Decimal | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ImportError_(f"{key}: not an amount: {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ImportError_(f"{key}: not an amount: {value!r}") from exc
    if not amount.is_finite() or abs(amount) >= STORABLE_LIMIT:
        raise ImportError_(f"{key}: {value!r} is out of range (at most {STORABLE_LIMIT:,} yuan)")
    return amount.quantize(Decimal("0.01"))


def _time(value: Any, key: str) -> dt.datetime | None:
    if not value:
        return None
    if not isinstance(value, str):
        raise ImportError_(f"{key}: not an ISO 8601 time: {value!r}")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ImportError_(f"{key}: not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise ImportError_(f"{key}: time without an offset: {value!r}")
    if not YEARS[0] <= parsed.year <= YEARS[1]:
        raise ImportError_(f"{key}: the year {parsed.year} is out of range ({YEARS[0]}–{YEARS[1]})")
    return parsed.astimezone(SHANGHAI)


def _structured(row: dict[str, Any], key: str, kind: type) -> Any:
    """A column holding JSON (a string in CSV, the value itself in JSON Lines), of the ``kind`` asked for."""
    value = row.get(key)
    if isinstance(value, str):
        written = value
        try:
            value = _loads(written) if written else None
        except json.JSONDecodeError as exc:
            raise ImportError_(f"{key}: not JSON: {written[:60]!r}") from exc
        _check_tree(value)
    if value is None:
        return kind()
    if not isinstance(value, kind):
        wanted = "an object" if kind is dict else "a list"
        raise ImportError_(f"{key} must be {wanted}, not {type(value).__name__}")
    return value


def _objects(row: dict[str, Any], key: str) -> list[dict[str, Any]]:
    items = _structured(row, key, list)
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ImportError_(f"{key} {number} must be an object, not {type(item).__name__}")
    return items


def record_from_row(row: dict[str, Any]) -> NoticeRecord:
    """The notice a row describes; an ``ImportError_`` says what is wrong (the caller adds the line)."""
    missing = [key for key in ("source", "source_id", "url", "title") if row.get(key) in (None, "")]
    if missing:
        hint = ("; this looks like a compact export (the default for CSV and XLSX): export with --columns all "
                "to import it" if "source" not in row and "notice_id" in row else "")
        raise ImportError_(f"missing {', '.join(missing)}{hint}")
    notice_type = _text(row, "notice_type") or "other"
    if notice_type not in NOTICE_TYPES:
        raise ImportError_(f"unknown notice_type {notice_type[:40]!r}; one of {', '.join(NOTICE_TYPES)}")
    suppliers = []
    for number, detail in enumerate(_objects(row, "supplier_details"), start=1):
        if not isinstance(detail.get("name"), str) or not detail["name"]:
            raise ImportError_(f"supplier {number} has no name")
        lot = _text(detail, "lot")
        if len(lot) > 100:
            raise ImportError_(f"supplier {number}: lot has {len(lot)} characters; at most 100")
        suppliers.append(SupplierRecord(name=detail["name"], lot=lot, address=_text(detail, "address"),
                                        amount_cny=_money(detail.get("amount_cny"), f"supplier {number} amount_cny"),
                                        amount_text=_text(detail, "amount_text")))
    attachments = []
    for number, item in enumerate(_objects(row, "attachments"), start=1):
        if not isinstance(item.get("url"), str) or not item["url"]:
            raise ImportError_(f"attachment {number} has no url")
        attachments.append(AttachmentRecord(url=item["url"], name=_text(item, "name")))
    notice_id = str(row.get("notice_id") or "")
    preferred = int(notice_id) if notice_id.isdigit() and 0 < int(notice_id) < 2**31 else None
    region_code = _text(row, "region_code")
    return NoticeRecord(
        source=_text(row, "source", required=True), source_key=_text(row, "source_id", required=True, numbers=True),
        url=_text(row, "url", required=True), title=_text(row, "title", required=True), notice_type=notice_type,
        published_at=_time(row.get("published_at"), "published_at"), region_code=region_code or None,
        budget_cny=_money(row.get("budget_cny"), "budget_cny"), award_cny=_money(row.get("award_cny"), "award_cny"),
        suppliers=suppliers, line_items=_objects(row, "line_items"), fields=_structured(row, "fields", dict),
        attachments=attachments, preferred_id=preferred,
        first_seen_at=_time(row.get("first_seen_at"), "first_seen_at"),
        last_seen_at=_time(row.get("last_seen_at"), "last_seen_at"),
        # The free text columns, read (and so refused) in this order.
        notice_type_label=_text(row, "notice_type_label"), region_name=_text(row, "region_name"),
        buyer=_text(row, "buyer"), agency=_text(row, "agency"), project_code=_text(row, "project_code"),
        body_text=_text(row, "body_text"), raw_sha256=_text(row, "raw_sha256"),
    )


# What an export says of an attachment beyond its name and URL (caigou.export.rows.attachment_dict).
_ATTACHMENT_STATE = ("download_status", "extraction_status", "content_type", "size", "raw_sha256", "message",
                     "fetched_at", "members", "text")


def attachment_states(row: dict[str, Any]) -> list[dict[str, Any]]:
    """The attachments' download and extraction outcomes and text as the file gives them, in order."""
    states = []
    for number, item in enumerate(_objects(row, "attachments"), start=1):
        state = {key: item[key] for key in _ATTACHMENT_STATE if key in item}
        for key, width in ATTACHMENT_WIDTHS.items():
            value = state.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > width):
                raise ImportError_(f"attachment {number}: {key} must be text of at most {width} characters")
        for key in ("message", "text"):
            if state.get(key) is not None and not isinstance(state[key], str):
                raise ImportError_(f"attachment {number}: {key} must be text")
        if state.get("members") is not None and not isinstance(state["members"], list):
            raise ImportError_(f"attachment {number}: members must be a list")
        if "fetched_at" in state:
            state["fetched_at"] = _time(state["fetched_at"], f"attachment {number} fetched_at")
        if "size" in state and state["size"] not in (None, ""):
            size = state["size"]
            if isinstance(size, bool) or not str(size).isdigit() or int(size) >= 2**62:
                raise ImportError_(f"attachment {number}: size must be a whole number of bytes: {size!r}")
            state["size"] = int(size)
        states.append(state)
    return states


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a file in UTF-8 (with or without a byte-order mark) or UTF-16 with one; another
    encoding (GBK, UTF-16 without a mark) is refused at the first line it shows in."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise ImportError_("line 1: the file is UTF-32; save it as UTF-8")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        number = 0
        with open(path, encoding="utf-16", newline="") as text_handle:
            try:
                for number, line in enumerate(text_handle, start=1):
                    if "\x00" in line:
                        raise ImportError_(f"line {number}: a NUL character, which no text may hold")
                    yield number, line
            except UnicodeDecodeError as exc:
                raise ImportError_(f"line {number + 1}: not UTF-16 text, though the file starts as "
                                   f"UTF-16 ({exc.reason})") from exc
        return
    with open(path, "rb") as handle:
        if head.startswith(codecs.BOM_UTF8):
            handle.read(len(codecs.BOM_UTF8))
        for number, raw in enumerate(handle, start=1):
            if b"\x00" in raw:
                hint = " (UTF-16 without a byte-order mark? save it as UTF-8)" if len(raw) > 1 and (
                    raw.count(b"\x00") * 3 >= len(raw)) else ""
                raise ImportError_(f"line {number}: a NUL byte{hint}")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                try:
                    raw.decode("gb18030")
                    hint = ("it looks like GBK/GB18030; convert the file to UTF-8, e.g. "
                            "iconv -f GB18030 -t UTF-8")
                except UnicodeDecodeError:
                    hint = "caigou reads UTF-8 (with or without a byte-order mark) or UTF-16 with one"
                raise ImportError_(f"line {number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at position "
                                   f"{exc.start + 1}); {hint}") from exc
            yield number, line


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) from a .jsonl or .csv file (a CSV written with or without the byte-order mark)."""
    if path.suffix.lower() == ".csv":
        csv.field_size_limit(max(csv.field_size_limit(), 256 * 1024 * 1024))  # a notice's whole text is one cell
        lines = _lines(path)
        reader = csv.DictReader(line for _, line in lines)
        try:
            for row in reader:
                if None in row:
                    raise ImportError_(f"line {reader.line_num}: more cells than the header has columns")
                yield reader.line_num, {k: unneutralise(v) if v is not None else None for k, v in row.items()}
        except csv.Error as exc:
            raise ImportError_(f"line {reader.line_num}: not CSV: {exc}") from exc
        return
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            row = _loads(line)
        except json.JSONDecodeError as exc:
            raise ImportError_(f"line {number}: not JSON: {exc.msg}") from exc
        except ImportError_ as exc:
            raise ImportError_(f"line {number}: {exc}") from exc
        if not isinstance(row, dict):
            raise ImportError_(f"line {number}: not a JSON object")
        yield number, row


def read_notices(path: Path) -> Iterator[tuple[int, NoticeRecord, list[dict[str, Any]]]]:
    """(line number, notice, attachment outcomes) for each line; the first bad line raises ``ImportError_``
    saying "line N: what is wrong"."""
    for number, row in read_rows(path):
        try:
            _check_tree(row)
            record, states = record_from_row(row), attachment_states(row)
        except ImportError_ as exc:
            raise ImportError_(f"line {number}: {exc}") from exc
        yield number, record, states


def _seen_times(database: Database, record: NoticeRecord) -> tuple[dt.datetime, dt.datetime] | None:
    with database.session() as session:
        found = session.execute(select(Notice.first_seen_at, Notice.last_seen_at).join(Source)
                                .where(Source.name == record.source, Notice.source_key == record.source_key)).first()
    return (found[0], found[1]) if found is not None else None


def _restore(database: Database, notice_id: int, record: NoticeRecord, states: list[dict[str, Any]],
             before: tuple[dt.datetime, dt.datetime] | None) -> None:
    """What ``NoticeStore.save_notice`` does not take from a file: the attachments' outcomes and text (then the
    notice is matched and indexed again, so what the archive found in an attachment is found again) and the
    times the notice was seen (an import is not a sighting: it must not move ``last_seen_at``)."""
    from caigou.pipelines.matching.store import apply_matches
    from caigou.pipelines.search_index import index_notice

    with database.session() as session:
        notice = session.get_one(Notice, notice_id)
        if before is not None:  # already stored: the earliest and latest sighting of the two archives
            firsts = [t for t in (before[0], record.first_seen_at) if t is not None]
            lasts = [t for t in (before[1], record.last_seen_at) if t is not None]
            notice.first_seen_at, notice.last_seen_at = min(firsts), max(lasts)
        restored = False
        for attachment, state in zip(sorted(notice.attachments, key=lambda a: a.position), states, strict=False):
            # An attachment this archive downloaded itself keeps its own outcome (and its archived bytes).
            if attachment.download_status == "ok" or not state.get("download_status"):
                continue
            for key, value in state.items():
                if value is None and key not in {"size", "fetched_at"}:  # the columns that may be empty
                    value = [] if key == "members" else ""
                setattr(attachment, key, value)
            attachment.raw_page_id = None  # the bytes are not in the file; raw_sha256 names them
            restored = True
        if restored:
            session.flush()
            apply_matches(session, notice, "import")
            index_notice(session, notice)


def check_file(path: Path) -> None:
    """Read and check every line; the first bad one raises ``line N: what is wrong; nothing was imported``."""
    if not path.is_file():
        raise CaigouError(f"{path} does not exist")
    try:
        for _ in read_notices(path):
            pass
    except ImportError_ as exc:
        raise ImportError_(f"{exc}; nothing was imported (the whole file is checked before any line is stored)") \
            from exc


def import_file(database: Database, path: Path, progress: Any = None, checked: bool = False) -> dict[str, int]:
    """Import a file in two passes: every line is read and checked first (``check_file``; ``checked`` says the
    caller did), and only a file without a bad line is stored, so a malformed line imports nothing. Should the
    database refuse a line while storing (it should not: the checks are its limits), the lines before it stay
    imported and the error says how many."""
    if not checked:
        check_file(path)
    store = NoticeStore(database, origin="import")
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    try:
        for number, record, states in read_notices(path):
            before = _seen_times(database, record)
            try:
                result = store.save_notice(record)
                _restore(database, result.notice_id, record, states, before)
            except SQLAlchemyError as exc:
                done = sum(counts.values())
                reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
                raise ImportError_(f"line {number}: the database refused it ({reason}); the {done} line"
                                   f"{'s' * (done != 1)} before it stay imported") from exc
            counts[result.outcome] += 1
            if progress:
                progress(1)
    finally:
        if database.engine.dialect.name == "postgresql":
            # Explicit IDs were inserted: move the sequence past them (after a partial import too).
            with database.engine.begin() as connection:
                connection.execute(text("SELECT setval(pg_get_serial_sequence('notices', 'id'), "
                                        "GREATEST((SELECT MAX(id) FROM notices), 1))"))
    return counts
