"""Importing this project's JSON Lines (or CSV with the same columns): a colleague's archive merged, or an archive
moved from SQLite to PostgreSQL. Every notice goes through ``NoticeStore``, so it is matched and indexed like a
crawled one; IDs and first-seen times are kept where the target database has them free."""
from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import text

from models.db import Database
from models.errors import CaigouError
from models.types import SHANGHAI
from pipelines.record import AttachmentRecord, NoticeRecord, SupplierRecord
from pipelines.store import NoticeStore


class ImportError_(CaigouError):
    """A line of an import file that cannot be read."""


def _money(value: Any, where: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise ImportError_(f"{where}: not an amount: {value!r}") from exc


def _time(value: Any, where: str) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ImportError_(f"{where}: not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise ImportError_(f"{where}: time without an offset: {value!r}")
    return parsed.astimezone(SHANGHAI)


def _structured(value: Any, where: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value) if value else None
        except json.JSONDecodeError as exc:
            raise ImportError_(f"{where}: not JSON: {value[:60]!r}") from exc
    return value


def record_from_row(row: dict[str, Any], where: str) -> NoticeRecord:
    missing = [key for key in ("source", "source_id", "url", "title") if not row.get(key)]
    if missing:
        raise ImportError_(f"{where}: missing {', '.join(missing)}")
    details = _structured(row.get("supplier_details"), where) or []
    suppliers = [SupplierRecord(name=d["name"], lot=d.get("lot") or "", address=d.get("address") or "",
                                amount_cny=_money(d.get("amount_cny"), where), amount_text=d.get("amount_text") or "")
                 for d in details]
    attachments = [AttachmentRecord(url=a["url"], name=a.get("name") or "")
                   for a in _structured(row.get("attachments"), where) or []]
    notice_id = row.get("notice_id")
    return NoticeRecord(
        source=row["source"], source_key=str(row["source_id"]), url=row["url"], title=row["title"],
        notice_type=row.get("notice_type") or "other", notice_type_label=row.get("notice_type_label") or "",
        published_at=_time(row.get("published_at"), where), region_code=row.get("region_code") or None,
        region_name=row.get("region_name") or "", buyer=row.get("buyer") or "", agency=row.get("agency") or "",
        project_code=row.get("project_code") or "", budget_cny=_money(row.get("budget_cny"), where),
        award_cny=_money(row.get("award_cny"), where), suppliers=suppliers,
        line_items=_structured(row.get("line_items"), where) or [], body_text=row.get("body_text") or "",
        fields=_structured(row.get("fields"), where) or {}, attachments=attachments,
        raw_sha256=row.get("raw_sha256") or "", preferred_id=int(notice_id) if str(notice_id or "").isdigit() else None,
        first_seen_at=_time(row.get("first_seen_at"), where), last_seen_at=_time(row.get("last_seen_at"), where),
    )


def read_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) from a .jsonl or .csv file (a CSV written with or without the byte-order mark)."""
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                yield f"{path}:{number}", {k: _unneutralise(v) for k, v in row.items()}
        return
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ImportError_(f"{path}:{number}: not JSON: {exc.msg}") from exc
            if not isinstance(row, dict):
                raise ImportError_(f"{path}:{number}: not a JSON object")
            yield f"{path}:{number}", row


def _unneutralise(value: str) -> str:
    """Undo the export's formula guard (a leading apostrophe before = + - @ tab CR)."""
    return value[1:] if value.startswith("'") and value[1:2] in {"=", "+", "-", "@", "\t", "\r"} else value


def import_file(database: Database, path: Path, progress: Any = None) -> dict[str, int]:
    if not path.is_file():
        raise CaigouError(f"{path} does not exist")
    store = NoticeStore(database, origin="import")
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    for where, row in read_rows(path):
        counts[store.save_notice(record_from_row(row, where)).outcome] += 1
        if progress:
            progress(1)
    if database.engine.dialect.name == "postgresql":
        # Explicit IDs were inserted: move the sequence past them.
        with database.engine.begin() as connection:
            connection.execute(text("SELECT setval(pg_get_serial_sequence('notices', 'id'), "
                                    "GREATEST((SELECT MAX(id) FROM notices), 1))"))
    return counts
