"""`caigou import` refuses bad input in one line (``line N: what is wrong``) and imports nothing from such a file;
UTF-8 (with or without BOM) and UTF-16 with a BOM are read, GBK refused clearly; a hypothesis fuzz finds no
traceback. Exports write valid JSON even when the archive holds a NaN.

The import checks run on SQLite (``sqlite_db``): a refused file never reaches the database.
``test_exports_never_write_nan`` runs on SQLite and PostgreSQL (``db``): how a NaN gets into each is the database's."""
from __future__ import annotations

import codecs
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from caigou.export.importing import import_file
from caigou.export.rows import COLUMNS, Selection
from caigou.export.writers import write_jsonl, write_ocds
from caigou.filters import NoticeFilters
from caigou.models import Notice
from caigou.models.db import Database
from caigou.models.errors import CaigouError
from caigou.pipelines.store import NoticeStore
from tests.crawling import run_caigou
from tests.test_store import make_record

GOOD = {"source": "ccgp", "source_id": "1", "url": "http://www.ccgp.gov.cn/t1.htm", "title": "公安局 DNA 试剂盒采购",
        "notice_type": "tender", "budget_cny": 1230000.5, "published_at": "2024-06-05T09:00:00+08:00",
        "fields": {"采购方式": "公开招标"}, "attachments": [{"name": "清单.pdf", "url": "http://www.ccgp.gov.cn/a.pdf"}]}


def line(**changes: object) -> str:
    return json.dumps({**GOOD, **changes}, ensure_ascii=False)


def strict_json(value: str) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")
    return json.loads(value, parse_constant=refuse)


NAMED = {  # (file content, what the error says after "line N: ")
    "attachment without url": ((line(source_id="0") + "\n" + line(attachments=[{"name": "x.pdf"}])).encode(),
                               "line 2: attachment 1 has no url"),
    "GBK": (line(title="公安局采购").encode("gbk"), "line 1: not UTF-8 (byte 0xb9 at position"),
    "UTF-16 without BOM": (line().encode("utf-16-le"), "line 1: a NUL byte (UTF-16 without a byte-order mark?"),
    "1e17": (line(budget_cny=1e17).encode(), "line 1: budget_cny: 1e+17 is out of range"),
    "1e400": (line().replace('"budget_cny": 1230000.5', '"budget_cny": 1e400').encode(),
              "line 1: the number 1e400 is out of range"),
    "NaN": (line().replace("1230000.5", "NaN").encode(), "line 1: NaN is not a number JSON allows"),
    "-Infinity": (line().replace("1230000.5", "-Infinity").encode(), "line 1: -Infinity is not a number JSON"),
    "NaN string": (line(award_cny="NaN").encode(), "line 1: award_cny: 'NaN' is out of range"),
    "year 9999": (line(published_at="9999-12-31T23:59:59-12:00").encode(),
                  "line 1: published_at: the year 9999 is out of range"),
    "year 1": (line(first_seen_at="0001-01-01T00:00:00+14:00").encode(),
               "line 1: first_seen_at: the year 1 is out of range"),
    "deep nesting": (("[" * 100_000 + "]" * 100_000).encode(), "line 1: nested more than 20 levels deep"),
    "deep fields": (line(fields=json.loads('{"a":' * 30 + "1" + "}" * 30)).encode(),
                    "line 1: nested more than 20 levels deep"),
    "fields a list": (line(fields=["a"]).encode(), "line 1: fields must be an object, not list"),
    "line_items an object": (line(line_items={"a": 1}).encode(), "line 1: line_items must be a list, not dict"),
    "NUL escaped": (line(title="公安\u0000局").encode(), "line 1: title: a NUL character"),
    "NUL byte": (line().encode()[:30] + b"\x00" + line().encode()[30:], "line 1: a NUL byte"),
    "title a number": (line(title=5).encode(), "line 1: title must be text, not int"),
    "unknown type": (line(notice_type="spam").encode(), "line 1: unknown notice_type 'spam'"),
    "long region": (line(region_code="5" * 40).encode(), "line 1: region_code has 40 characters; at most 12"),
    "supplier without name": (line(supplier_details=[{"lot": "A"}]).encode(), "line 1: supplier 1 has no name"),
    "attachment a string": (line(attachments=["http://x/a.pdf"]).encode(),
                            "line 1: attachments 1 must be an object, not str"),
    "bad size": (line(attachments=[{"url": "http://x/a.pdf", "size": "big"}]).encode(),
                 "line 1: attachment 1: size must be a whole number of bytes"),
    "not an object": (b"[1, 2]", "line 1: not a JSON object"),
    "not JSON": (b'{"source": ', "line 1: not JSON"),
    "UTF-32": (codecs.BOM_UTF32_LE + line().encode("utf-32-le"), "line 1: the file is UTF-32"),
}


def notice_count(db: Database) -> int:
    with db.session() as session:
        return session.scalar(select(func.count(Notice.id))) or 0


@pytest.mark.parametrize("case", list(NAMED))
def test_each_malformed_file_is_one_clear_line_and_nothing_is_imported(sqlite_db: Database, tmp_path: Path,
                                                                        case: str) -> None:
    content, expected = NAMED[case]
    path = tmp_path / "in.jsonl"
    path.write_bytes(content + b"\n")
    with pytest.raises(CaigouError) as refused:
        import_file(sqlite_db, path)
    message = str(refused.value)
    assert message.startswith(expected) and "\n" not in message, message
    assert message.endswith("; nothing was imported (the whole file is checked before any line is stored)")
    assert notice_count(sqlite_db) == 0  # the good line before a bad one is not imported either


def test_the_command_says_it_in_one_line(tmp_path: Path) -> None:
    for case in ("GBK", "attachment without url", "NaN"):
        path = tmp_path / f"{case}.jsonl"
        path.write_bytes(NAMED[case][0] + b"\n")
        result = run_caigou("--db", f"sqlite:///{tmp_path / 'x.db'}", "import", str(path))
        assert result.returncode == 2 and result.stdout == "", result
        assert result.stderr.startswith(f"caigou: error: {NAMED[case][1]}") and result.stderr.count("\n") == 1


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom"])
def test_utf8_and_utf16_with_a_bom_are_read(sqlite_db: Database, tmp_path: Path, encoding: str) -> None:
    content = line() + "\n" + line(source_id="2", title="第二条 Y-STR") + "\n"
    if encoding.endswith("-bom"):
        codec = encoding[:-4]
        data = (codecs.BOM_UTF16_LE if codec.endswith("le") else codecs.BOM_UTF16_BE) + content.encode(codec)
    else:
        data = content.encode(encoding)
    for suffix, payload in ((".jsonl", data),):
        path = tmp_path / f"in{suffix}"
        path.write_bytes(payload)
        assert import_file(sqlite_db, path) == {"new": 2, "updated": 0, "unchanged": 0}
    with sqlite_db.session() as session:
        assert sorted(session.scalars(select(Notice.title))) == ["公安局 DNA 试剂盒采购", "第二条 Y-STR"]


def test_a_csv_with_a_bad_row_says_which_line(sqlite_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("source,source_id,url,title,fields\nccgp,1,http://x/1,t,{}\nccgp,2,http://x/2,t,[1]\n",
                    encoding="utf-8-sig")
    with pytest.raises(CaigouError, match=r"^line 3: fields must be an object, not list; nothing was imported"):
        import_file(sqlite_db, path)
    path.write_text("source,source_id,url,title\nccgp,1,http://x/1,t,extra\n", encoding="utf-8")
    with pytest.raises(CaigouError, match=r"^line 2: more cells than the header has columns"):
        import_file(sqlite_db, path)


KEYS = ["source", "source_id", "url", "title", "notice_type", "budget_cny", "award_cny", "published_at",
        "first_seen_at", "fields", "line_items", "attachments", "supplier_details", "region_code", "notice_id",
        "buyer", "body_text"]
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30) | st.sampled_from(["2024-06-05T09:00:00+08:00", "9999-01-01T00:00:00+00:00", "NaN",
                                              "tender", "http://x/a.pdf", "540000", "1e17", ""]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["url", "name", "size", "lot",
                                                                                 "amount_cny", "x"]), inner,
                                                                max_size=4),
    max_leaves=12)
ROWS = st.fixed_dictionaries({"source": st.just("ccgp"), "source_id": st.text("0123456789", min_size=1, max_size=5),
                              "url": st.just("http://x/1"), "title": st.text(min_size=1, max_size=20)},
                             optional={key: VALUES for key in KEYS[4:]})
ANY_ROWS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=8)  # the required keys of any value, or absent
LINES = st.one_of(ROWS.map(lambda row: json.dumps(row, ensure_ascii=False).encode()),
                  ANY_ROWS.map(lambda row: json.dumps(row, ensure_ascii=False).encode()),
                  ROWS.map(lambda row: json.dumps(row).replace("1", "NaN", 1).encode()),
                  st.binary(max_size=60))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(LINES, min_size=1, max_size=3), bom=st.sampled_from([b"", codecs.BOM_UTF8]))
def test_fuzzed_imports_never_give_a_traceback(sqlite_db: Database, tmp_path: Path, lines: list[bytes],
                                               bom: bytes) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(bom + b"\n".join(lines) + b"\n")
    try:
        import_file(sqlite_db, path)
    except CaigouError as exc:  # anything else fails the test, with its traceback
        assert re.match(r"^line \d+: ", str(exc)) and "\n" not in str(exc), str(exc)


def test_exports_never_write_nan(db: Database) -> None:
    store = NoticeStore(db)
    store.save_notice(make_record(source_key="1", fields={"比例": 0.5}))
    with db.engine.begin() as connection:  # what an archive filled before imports refused NaN may hold
        if db.engine.dialect.name == "postgresql":
            connection.execute(text("UPDATE notices SET budget_cny = 'NaN'"))
            connection.execute(text("UPDATE notice_suppliers SET amount_cny = 'NaN'"))
        else:
            connection.execute(text("UPDATE notices SET fields = '{\"比例\": NaN, \"x\": [Infinity]}'"))
    rows = list(Selection(NoticeFilters()).rows(db))
    jsonl, ocds = io.StringIO(), io.StringIO()
    write_jsonl(rows, COLUMNS, jsonl)
    write_ocds(rows, ocds, "ocds-test-")
    [row] = [strict_json(value) for value in jsonl.getvalue().splitlines()]
    package = strict_json(ocds.getvalue())
    if db.engine.dialect.name == "postgresql":
        assert row["budget_cny"] is None and package["releases"][0]["tender"].get("value") is None
    else:
        assert row["fields"] == {"比例": None, "x": [None]}
    assert Decimal("NaN").is_nan()
