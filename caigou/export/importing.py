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

from sqlalchemy import select, text

from caigou.spreadsheet import unneutralise
from models import Attachment, Notice, Source
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
        hint = ("; this looks like a compact export (the default for CSV and XLSX): export with --columns all "
                "to import it" if "source" not in row and "notice_id" in row else "")
        raise ImportError_(f"{where}: missing {', '.join(missing)}{hint}")
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


# What an export says of an attachment beyond its name and URL (caigou.export.rows.attachment_dict).
_ATTACHMENT_STATE = ("download_status", "extraction_status", "content_type", "size", "raw_sha256", "message",
                     "fetched_at", "members", "text")


def attachment_states(row: dict[str, Any], where: str) -> list[dict[str, Any]]:
    """The attachments' download and extraction outcomes and text as the file gives them, in order."""
    states = []
    for item in _structured(row.get("attachments"), where) or []:
        state = {key: item[key] for key in _ATTACHMENT_STATE if key in item}
        if "fetched_at" in state:
            state["fetched_at"] = _time(state["fetched_at"], where)
        if "size" in state and state["size"] not in (None, ""):
            state["size"] = int(state["size"])
        states.append(state)
    return states


def read_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) from a .jsonl or .csv file (a CSV written with or without the byte-order mark)."""
    if path.suffix.lower() == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                yield f"{path}:{number}", {k: unneutralise(v) for k, v in row.items()}
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
    from pipelines.matching.store import apply_matches
    from pipelines.search_index import index_notice

    with database.session() as session:
        notice = session.get_one(Notice, notice_id)
        if before is not None:  # already stored: the earliest and latest sighting of the two archives
            firsts = [t for t in (before[0], record.first_seen_at) if t is not None]
            lasts = [t for t in (before[1], record.last_seen_at) if t is not None]
            notice.first_seen_at, notice.last_seen_at = min(firsts), max(lasts)
        restored = False
        for attachment, state in zip(sorted(notice.attachments, key=lambda a: a.position), states):
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


def import_file(database: Database, path: Path, progress: Any = None) -> dict[str, int]:
    if not path.is_file():
        raise CaigouError(f"{path} does not exist")
    store = NoticeStore(database, origin="import")
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    try:
        for where, row in read_rows(path):
            record = record_from_row(row, where)
            states = attachment_states(row, where)
            before = _seen_times(database, record)
            result = store.save_notice(record)
            _restore(database, result.notice_id, record, states, before)
            counts[result.outcome] += 1
            if progress:
                progress(1)
    except ImportError_ as exc:
        # Each notice is committed as it is read: say what happened to the lines before the bad one.
        done = sum(counts.values())
        if done:
            raise ImportError_(f"{exc} — the {done} notice{'s' if done != 1 else ''} before it "
                               f"({counts['new']} new, {counts['updated']} updated, {counts['unchanged']} "
                               "unchanged) were imported and stay; fix the line and import the file again "
                               "(notices already stored are not duplicated)") from exc
        raise ImportError_(f"{exc} — nothing was imported") from exc
    finally:
        if database.engine.dialect.name == "postgresql":
            # Explicit IDs were inserted: move the sequence past them (after a partial import too).
            with database.engine.begin() as connection:
                connection.execute(text("SELECT setval(pg_get_serial_sequence('notices', 'id'), "
                                        "GREATEST((SELECT MAX(id) FROM notices), 1))"))
    return counts
