"""Exports and imports: CSV that spreadsheets open correctly and safely, XLSX, JSON Lines, OCDS, round trips
between SQLite and PostgreSQL.

On SQLite and PostgreSQL (``db``), for what the database does: the round trips (imports with explicit IDs, which
move PostgreSQL's sequence) and ``test_csv_is_safe_and_exact`` (amounts read back exactly through each dialect's
money type), which is also the PostgreSQL smoke run of the exports. The other export flows run on SQLite
(``sqlite_db``)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from caigou.export.importing import import_file
from caigou.export.rows import COLUMNS, Selection
from caigou.export.writers import write_csv, write_jsonl, write_ocds
from caigou.filters import NoticeFilters
from caigou.models import Attachment, NoticeMatch
from caigou.models.db import Database
from caigou.models.types import SHANGHAI
from caigou.pipelines.record import AttachmentRecord, SupplierRecord
from caigou.pipelines.store import NoticeStore
from tests.crawling import run_caigou
from tests.test_store import make_record

HOSTILE = '=HYPERLINK("http://evil.example","点我"), "引号", 逗号\n换行'


def fill(db: Database) -> None:
    store = NoticeStore(db)
    store.save_notice(make_record(source_key="1"))
    store.save_notice(make_record(
        source_key="2", title=HOSTILE, buyer="+某县公安局", agency="@代理", project_code="-P-2",
        body_text="正文\t含制表符", budget_cny=Decimal("106185203.89"), notice_type="award",
        published_at=dt.datetime(2025, 7, 14, 1, 59, tzinfo=SHANGHAI),
        suppliers=[SupplierRecord("中建八局第二建设有限公司", lot="A", amount_cny=Decimal("28378613.89")),
                   SupplierRecord("中铁十局集团有限公司", lot="B", amount_cny=Decimal("24350000.00"))]))


def rows(db: Database) -> list[dict]:
    return list(Selection(NoticeFilters()).rows(db))


def test_csv_is_safe_and_exact(db: Database) -> None:
    fill(db)
    out = io.StringIO()
    assert write_csv(rows(db), COLUMNS, out) == 2
    text = out.getvalue()
    assert "\r\n" in text
    parsed = list(csv.DictReader(io.StringIO(text)))
    hostile = parsed[1]
    assert hostile["title"] == "'" + HOSTILE  # a formula no more, the text intact after the apostrophe
    assert hostile["buyer"] == "'+某县公安局" and hostile["agency"] == "'@代理" and hostile["project_code"] == "'-P-2"
    assert hostile["budget_cny"] == "106185203.89"   # amounts stay plain numbers
    assert hostile["suppliers"] == "中建八局第二建设有限公司; 中铁十局集团有限公司"
    assert hostile["published_at"] == "2025-07-14T01:59:00+08:00"
    assert json.loads(hostile["supplier_details"])[0] == {"name": "中建八局第二建设有限公司", "lot": "A", "address": "",
                                                          "amount_cny": 28378613.89, "amount_text": ""}


def test_command_writes_a_bom_and_filters(sqlite_db: Database, tmp_path: Path) -> None:
    fill(sqlite_db)
    target = tmp_path / "out.csv"
    result = run_caigou("--db", sqlite_db.url, "export", "--format", "csv", "--min-score", "50", "--columns", "all",
                        "-o", str(target))
    assert result.returncode == 0, result.stderr
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [r["source_id"] for r in parsed] == ["1"]  # the genetic analyzer notice; the other scores lower
    assert int(parsed[0]["score"]) >= 50 and "遗传分析仪" in parsed[0]["matched_terms"]
    plain = run_caigou("--db", sqlite_db.url, "export", "--format", "csv", "--encoding", "utf-8")
    assert not plain.stdout.startswith("\ufeff") and plain.stdout.startswith("notice_id,")
    per_match = run_caigou("--db", sqlite_db.url, "export", "--format", "jsonl", "--per", "match", "--term", "遗传分析仪")
    lines = [json.loads(line) for line in per_match.stdout.splitlines()]
    assert lines and all(line["term"] == "遗传分析仪" and line["field"] for line in lines)


def test_xlsx_keeps_types_and_never_makes_formulas(sqlite_db: Database, tmp_path: Path) -> None:
    fill(sqlite_db)
    target = tmp_path / "out.xlsx"
    result = run_caigou("--db", sqlite_db.url, "export", "--format", "xlsx", "--columns", "all", "-o", str(target))
    assert result.returncode == 0, result.stderr
    sheet = load_workbook(target).active
    header = [c.value for c in sheet[1]]
    assert header == list(COLUMNS) and sheet.freeze_panes == "A2"
    row = {header[i]: cell for i, cell in enumerate(sheet[3])}
    assert row["title"].value == HOSTILE and row["title"].data_type == "s"
    assert row["budget_cny"].value == pytest.approx(106185203.89) and row["budget_cny"].data_type == "n"
    assert row["published_at"].value == dt.datetime(2025, 7, 14, 1, 59)
    assert isinstance(row["notice_id"].value, int)


OCDS_SCHEMAS = Path(__file__).with_name("data") / "ocds-1.1.5"


def validate_ocds(package: dict) -> None:
    """Validate a release package against the official OCDS 1.1.5 schemas (tests/data/ocds-1.1.5/README.md), the
    release schema served from the folder under the URL the package schema refers to it by: no network."""
    from referencing import Registry, Resource

    schemas = [json.loads((OCDS_SCHEMAS / name).read_text(encoding="utf-8"))
               for name in ("release-package-schema.json", "release-schema.json")]
    assert all(schema["id"].startswith("https://standard.open-contracting.org/schema/1__1__") for schema in schemas)
    registry = Registry().with_resources((schema["id"], Resource.from_contents(schema)) for schema in schemas)
    validator = jsonschema.Draft4Validator(schemas[0], registry=registry,
                                           format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(package), key=lambda e: list(e.absolute_path))
    assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


def test_the_official_ocds_schema_rejects_what_it_should() -> None:
    """The schemas really are applied: a release without its tag, and an unknown currency, are refused."""
    release = {"ocid": "ocds-x-1", "id": "1", "date": "2024-06-01T00:00:00+08:00", "tag": ["tender"],
               "initiationType": "tender", "tender": {"id": "1", "value": {"amount": 1.0, "currency": "CNY"}}}
    validate_ocds({"version": "1.1", "releases": [release]})
    for broken in ({**release, "tag": []}, {**release, "tender": {"id": "1", "value": {"currency": "RMB"}}},
                   {**release, "date": "2024-06-01"}):
        with pytest.raises(AssertionError):
            validate_ocds({"version": "1.1", "releases": [broken]})


def test_ocds_validates(sqlite_db: Database) -> None:
    fill(sqlite_db)
    out = io.StringIO()
    assert write_ocds(rows(sqlite_db), out, "ocds-test-") == 2
    package = json.loads(out.getvalue())
    validate_ocds(package)
    tender, award = package["releases"]
    assert tender["ocid"] == "ocds-test-XZNQ-2024-017" and tender["tag"] == ["tender"]
    assert tender["tender"]["procurementMethod"] == "direct"
    assert tender["tender"]["value"] == {"amount": 1230000.0, "currency": "CNY"}
    assert award["tag"] == ["award"]
    assert [a["value"]["amount"] for a in award["awards"]] == [28378613.89, 24350000.0]
    assert {p["name"]: p["roles"] for p in award["parties"]}["中铁十局集团有限公司"] == ["supplier"]
    assert "score" not in json.dumps(package) and "matches" not in json.dumps(package)


def test_jsonl_round_trip_sqlite_to_postgres_and_back(db: Database, tmp_path: Path,
                                                      sqlite_template: Path) -> None:
    fill(db)
    first = tmp_path / "first.jsonl"
    with open(first, "w", encoding="utf-8") as out:
        write_jsonl(rows(db), COLUMNS, out)
    other_path = tmp_path / "other.db"
    shutil.copy(sqlite_template, other_path)
    other = Database(f"sqlite:///{other_path}")
    assert import_file(other, first) == {"new": 2, "updated": 0, "unchanged": 0}
    second = tmp_path / "second.jsonl"
    with open(second, "w", encoding="utf-8") as out:
        write_jsonl(rows(other), COLUMNS, out)
    assert second.read_text(encoding="utf-8") == first.read_text(encoding="utf-8")
    assert import_file(other, first) == {"new": 0, "updated": 0, "unchanged": 2}  # importing again changes nothing


def fill_with_attachment(db: Database) -> int:
    """A notice whose page names nothing on the watchlist, with the demo's equipment list attached (the maker and
    the analyzer's model are only there): its matches come from the attachment alone."""
    from caigou.pipelines.attachments import extract

    store = NoticeStore(db)
    url = "https://download.ccgp.gov.cn/oss/download?uuid=0f3c2b1a-22000102"
    saved = store.save_notice(make_record(
        source_key="3", title="某市公安局设备采购项目", body_text="详见附件。", line_items=[], project_code="P-3",
        attachments=[AttachmentRecord(url=url, name="设备及试剂清单.xlsx")]))
    body = (Path(__file__).resolve().parent.parent / "caigou" / "demo_data" / "ccgp" / "attachment_22000102.xlsx"
            ).read_bytes()
    with db.session() as session:
        [attachment_id] = session.scalars(select(Attachment.id).where(Attachment.notice_id == saved.notice_id))
    store.save_attachment(url, url, body, extract(body), [attachment_id])
    return saved.notice_id


def test_attachment_text_and_seen_times_survive_sqlite_to_database_round_trip(
        db: Database, tmp_path: Path, sqlite_template: Path) -> None:
    origin_path = tmp_path / "origin.db"
    shutil.copy(sqlite_template, origin_path)
    origin = Database(f"sqlite:///{origin_path}")
    fill(origin)
    notice_id = fill_with_attachment(origin)
    with origin.session() as session:
        fields = {m.field for m in session.scalars(select(NoticeMatch).where(NoticeMatch.notice_id == notice_id))}
    assert fields == {"attachment:设备及试剂清单.xlsx"}  # nothing on the page itself
    first = tmp_path / "first.jsonl"
    with open(first, "w", encoding="utf-8") as out:
        write_jsonl(rows(origin), COLUMNS, out)
    [exported] = [json.loads(line) for line in first.read_text(encoding="utf-8").splitlines()
                  if json.loads(line)["notice_id"] == notice_id]
    [attachment] = exported["attachments"]
    assert attachment["download_status"] == "ok" and attachment["extraction_status"] == "ok"
    assert "赛默飞" in attachment["text"] and attachment["raw_sha256"]
    assert "3500xL" in exported["matched_terms"]

    assert import_file(db, first) == {"new": 3, "updated": 0, "unchanged": 0}  # SQLite → this test's database
    second = tmp_path / "second.jsonl"
    with open(second, "w", encoding="utf-8") as out:
        write_jsonl(rows(db), COLUMNS, out)
    assert second.read_text(encoding="utf-8") == first.read_text(encoding="utf-8")
    with db.session() as session:
        assert {m.field for m in session.scalars(select(NoticeMatch).where(
            NoticeMatch.notice_id == notice_id))} == fields

    # Importing the same file again is no new sighting: last_seen_at stays as the file says.
    assert import_file(db, first) == {"new": 0, "updated": 0, "unchanged": 3}
    third = tmp_path / "third.jsonl"
    with open(third, "w", encoding="utf-8") as out:
        write_jsonl(rows(db), COLUMNS, out)
    assert third.read_text(encoding="utf-8") == first.read_text(encoding="utf-8")
    origin.dispose()


def _csv_into_fresh_database(db: Database, tmp_path: Path, sqlite_template: Path) -> tuple[Path, Database]:
    """``db`` exported as CSV, and a new SQLite database that imported that file."""
    target = tmp_path / "a.csv"
    with open(target, "w", encoding="utf-8-sig", newline="") as out:
        write_csv(rows(db), COLUMNS, out)
    other_path = tmp_path / "other.db"
    shutil.copy(sqlite_template, other_path)
    other = Database(f"sqlite:///{other_path}")
    import_file(other, target)
    return target, other


def test_csv_round_trip(db: Database, tmp_path: Path, sqlite_template: Path) -> None:
    fill(db)
    target, other = _csv_into_fresh_database(db, tmp_path, sqlite_template)
    again = tmp_path / "b.csv"
    with open(again, "w", encoding="utf-8-sig", newline="") as out:
        write_csv(rows(other), COLUMNS, out)
    assert again.read_bytes() == target.read_bytes()


def test_bad_import_lines_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"source": "ccgp", "source_id": "1", "url": "http://x", "title": "t", "budget_cny": "lots"}\n',
                   encoding="utf-8")
    result = run_caigou("--db", f"sqlite:///{tmp_path / 'x.db'}", "import", str(bad))
    assert result.returncode == 2 and "caigou: error: line 1: budget_cny: not an amount: 'lots'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(shutil.which("soffice") is None and os.environ.get("CAIGOU_REQUIRE_LIBREOFFICE") != "1",
                    reason="LibreOffice (soffice) is not installed; .ci/run installs libreoffice-calc")
def test_libreoffice_reads_the_csv_safely(sqlite_db: Database, tmp_path: Path) -> None:
    fill(sqlite_db)
    source = tmp_path / "export.csv"
    with open(source, "w", encoding="utf-8-sig", newline="") as out:
        write_csv(rows(sqlite_db), COLUMNS, out)
    subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile", "--convert-to",
                    "xlsx", "--infilter=CSV:44,34,76,1", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=180)
    sheet = load_workbook(tmp_path / "export.xlsx").active
    header = [c.value for c in sheet[1]]
    title = sheet.cell(row=3, column=header.index("title") + 1)
    assert title.data_type == "s" and "HYPERLINK" in title.value and "点我" in title.value
    assert not title.value.startswith("=")
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    assert sheet.cell(row=2, column=header.index("buyer") + 1).value == "那曲市公安局刑侦支队"


def test_term_aliases_resolve_and_unknown_terms_are_refused(sqlite_db: Database) -> None:
    fill(sqlite_db)

    def exported(*terms: str) -> list[str]:
        result = run_caigou("--db", sqlite_db.url, "export", "--format", "jsonl",
                            *[arg for term in terms for arg in ("--term", term)])
        assert result.returncode == 0, result.stderr
        return [json.loads(line)["source_id"] for line in result.stdout.splitlines()]

    assert exported("遗传分析仪") == ["1"]
    # An alias, another case and full-width letters all mean the canonical term the matches are stored under.
    assert exported("基因分析仪") == exported("GENETIC ANALYZER") == exported("ｇｅｎｅｔｉｃ analyzer") == ["1"]
    search = run_caigou("--db", sqlite_db.url, "search", "--term", "genetic analyzer", "--format", "jsonl")
    assert search.returncode == 0, search.stderr
    assert [json.loads(line)["notice_id"] for line in search.stdout.splitlines()] == [1]
    for command in (["export", "--format", "jsonl"], ["search"], ["subscriptions", "add", "typo", "--to",
                                                                   "r@example.org"]):
        refused = run_caigou("--db", sqlite_db.url, *command, "--term", "遗传分析议")
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
        assert refused.stderr.strip() == ("caigou: error: unknown watchlist term '遗传分析议': give a term or alias "
                                          "from `caigou watchlist list`")
    added = run_caigou("--db", sqlite_db.url, "subscriptions", "add", "kits", "--to", "r@example.org",
                       "--term", "y-str")
    assert added.returncode == 0, added.stderr
    shown = run_caigou("--db", sqlite_db.url, "subscriptions", "show", "kits")
    assert "Y-STR扩增试剂盒" in shown.stdout, shown.stdout


def test_the_formula_guard_is_reversible_for_text_that_starts_with_an_apostrophe(
        sqlite_db: Database, tmp_path: Path, sqlite_template: Path) -> None:
    from caigou.spreadsheet import neutralise, unneutralise

    texts = ["=SUM(A1)", "'=不是公式", "'引号开头", "''两个", "-P-2", "普通", "'", ""]
    assert [unneutralise(neutralise(t)) for t in texts] == texts
    assert neutralise("'=不是公式") == "''=不是公式" and neutralise("普通") == "普通"
    NoticeStore(sqlite_db).save_notice(make_record(source_key="9", title="'=不是公式", buyer="'引号开头", agency="@代理"))
    target, other = _csv_into_fresh_database(sqlite_db, tmp_path, sqlite_template)
    [row] = rows(other)
    assert (row["title"], row["buyer"], row["agency"]) == ("'=不是公式", "'引号开头", "@代理")
    other.dispose()
