"""Exports built for spreadsheets (issue 15): judgements in the columns, a compact default column set, an XLSX with
widths, autofilter, frozen header, wrapped titles and real dates, downloads named after what they hold. LibreOffice
reads the XLSX back where it is installed (.ci/run installs it).

Two PostgreSQL smoke runs (``db``, SQLite and PostgreSQL), each on a different storage path:
``test_csv_is_compact_by_default_and_carries_the_judgement`` (the latest review joined to each notice) and
``test_the_web_downloads_xlsx_and_csv_named_after_the_selection`` (an export selected by a free-text query, the
per-dialect full-text clause). The XLSX flows run on SQLite (``sqlite_db``)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook

from caigou.export.rows import COLUMNS, COMPACT_COLUMNS
from caigou.models.db import Database
from caigou.review import ReviewInput, add_review
from tests.crawling import run_caigou
from tests.test_web import client_for, log_in
from tests.web_data import build_archive


def reviewed_archive(db: Database) -> dict[str, int]:
    ids = build_archive(db)
    with db.session() as session:
        add_review(session, ids["analyzer"], "anna", ReviewInput("unsure", "check the supplier"))
        add_review(session, ids["analyzer"], "bob", ReviewInput("relevant", "公安DNA实验室", ("3500xL", "那曲")))
    return ids


def test_csv_is_compact_by_default_and_carries_the_judgement(db: Database, tmp_path: Path) -> None:
    ids = reviewed_archive(db)
    compact = run_caigou("--db", db.url, "export", "--format", "csv", "--min-score", "0", "--encoding", "utf-8")
    assert compact.returncode == 0, compact.stderr
    rows = list(csv.DictReader(io.StringIO(compact.stdout)))
    assert tuple(rows[0]) == COMPACT_COLUMNS
    by_id = {int(r["notice_id"]): r for r in rows}
    assert by_id[ids["analyzer"]]["review_status"] == "relevant" and by_id[ids["tender"]]["review_status"] == "new"
    full = run_caigou("--db", db.url, "export", "--format", "csv", "--columns", "all", "--encoding", "utf-8")
    row = next(r for r in csv.DictReader(io.StringIO(full.stdout)) if int(r["notice_id"]) == ids["analyzer"])
    assert tuple(row) == COLUMNS
    assert (row["review_note"], row["review_tags"], row["reviewer"]) == ("公安DNA实验室", "3500xL; 那曲", "bob")
    assert row["reviewed_at"][:4] == str(dt.date.today().year)
    jsonl = run_caigou("--db", db.url, "export", "--format", "jsonl")   # JSON Lines keeps everything
    assert '"review_status": "relevant"' in jsonl.stdout and '"body_text"' in jsonl.stdout
    # A compact CSV cannot be imported: the error says why and what to do.
    path = tmp_path / "compact.csv"
    path.write_text(compact.stdout, encoding="utf-8")
    refused = run_caigou("--db", f"sqlite:///{tmp_path / 'other.db'}", "import", str(path))
    assert refused.returncode == 2 and "export with --columns all to import it" in refused.stderr


def check_sheet(path: Path, analyzer_title: str, frozen: bool = True) -> None:
    book = load_workbook(path)
    sheet = book.active
    header = [c.value for c in sheet[1]]
    assert header == list(COMPACT_COLUMNS)
    assert sheet.auto_filter.ref == f"A1:{chr(ord('A') + len(header) - 1)}{sheet.max_row}"
    if frozen:
        assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["B"].width >= 50   # the title
    row = next(r for r in sheet.iter_rows(min_row=2) if r[1].value == analyzer_title)
    cells = dict(zip(header, row, strict=False))
    assert cells["title"].alignment.wrap_text
    published = cells["published_at"]
    assert published.is_date and published.value == dt.datetime(2024, 6, 12, 9, 0)
    assert "yy" in published.number_format   # shown as a date, and the column is wide enough for it
    assert sheet.column_dimensions["E"].width >= 16


def test_xlsx_is_ready_for_a_spreadsheet(sqlite_db: Database, tmp_path: Path) -> None:
    reviewed_archive(sqlite_db)
    target = tmp_path / "out.xlsx"
    result = run_caigou("--db", sqlite_db.url, "export", "--format", "xlsx", "--min-score", "0", "-o", str(target))
    assert result.returncode == 0, result.stderr
    check_sheet(target, "那曲市公安局刑侦支队遗传分析仪升级单一来源公示")


@pytest.mark.skipif(shutil.which("soffice") is None and os.environ.get("CAIGOU_REQUIRE_LIBREOFFICE") != "1",
                    reason="LibreOffice (soffice) is not installed; .ci/run installs libreoffice-calc")
def test_libreoffice_opens_the_xlsx_with_readable_dates_and_an_autofilter(sqlite_db: Database,
                                                                          tmp_path: Path) -> None:
    reviewed_archive(sqlite_db)
    source = tmp_path / "in" / "export.xlsx"
    source.parent.mkdir()
    result = run_caigou("--db", sqlite_db.url, "export", "--format", "xlsx", "--min-score", "0", "-o", str(source))
    assert result.returncode == 0, result.stderr
    # LibreOffice opens it and saves it again as XLSX: what it understood is what comes back.
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to",
                    "xlsx", "--outdir", str(tmp_path), str(source)], check=True, capture_output=True, timeout=180)
    # Headless LibreOffice has no window, so it writes no view settings: a frozen header does not survive its
    # round trip even for a file it made itself (the file as written is checked for it above and below).
    check_sheet(tmp_path / "export.xlsx", "那曲市公安局刑侦支队遗传分析仪升级单一来源公示", frozen=False)
    # And as text, the dates are dates a reader can read, not ###.
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to",
                    "csv", "--outdir", str(tmp_path), str(source)], check=True, capture_output=True, timeout=180)
    text = (tmp_path / "export.csv").read_text(encoding="utf-8", errors="replace")
    assert "2024-06-12 09:00" in text and "###" not in text


def test_the_web_downloads_xlsx_and_csv_named_after_the_selection(db: Database, tmp_path: Path) -> None:
    reviewed_archive(db)
    with client_for(db) as web:
        log_in(web)
        params = {"q": "遗传分析仪", "region": "540000", "min_score": "", "until": "2024-06-30"}
        page = web.get("/search", params=params).text
        assert 'id="export-xlsx"' in page
        answer = web.get("/export.xlsx", params=params)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        disposition = answer.headers["content-disposition"]
        assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == "caigou-西藏-遗传分析仪-2024-06-30.xlsx"
        target = tmp_path / "web.xlsx"
        target.write_bytes(answer.content)
        check_sheet(target, "那曲市公安局刑侦支队遗传分析仪升级单一来源公示")
        as_csv = web.get("/export.csv", params=params)
        assert unquote(as_csv.headers["content-disposition"].split("filename*=UTF-8''", 1)[1]) == \
            "caigou-西藏-遗传分析仪-2024-06-30.csv"
        assert tuple(next(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))) == COMPACT_COLUMNS
        assert web.get("/export.xlsx", params={"type": "awrd"}).status_code == 400
