"""Attachments: type sniffing, text extraction within limits (unit), and real crawls that download, archive, read
and match them through the real Scrapy engine against the replay server.

The PostgreSQL smoke run is ``test_a_crawl_downloads_archives_reads_and_matches_attachments`` (``db``, both
databases): the downloaded files as archived bytes, the attachment rows and their matches, and attachment text
found by full-text search, which differs by database. ``caigou attachments fetch`` reads and stores through the same
code, so its flow runs on SQLite."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from caigou.models import Attachment, Notice, NoticeMatch, NoticeScore, RawPage
from caigou.models.db import Database
from caigou.pipelines.attachments import Limits, extract, sniff
from caigou.pipelines.matching.store import archive_parts
from caigou.replay import ReplayServer, Reply
from caigou.search import search
from tests import documents
from tests.crawling import FAST, ROOT, crawl, run_caigou

SAMPLES = ROOT / "caigou" / "demo_data" / "ccgp"
DOWNLOAD = "http://download.ccgp.gov.cn/oss/download?uuid="
EQUIPMENT = [["采购设备清单"], ["遗传分析仪 Applied Biosystems 3500xL 1台", "品牌：Thermo Fisher"]]


# ------------------------------------------------------------------------------------------------ files

@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    pdf = documents.pdf(EQUIPMENT)
    docx = documents.docx(["技术参数", "Y-STR扩增试剂盒(100人份/盒)60盒"],
                          [["名称", "品牌", "型号"], ["遗传分析仪", "应用生物系统", "3500xL"]])
    xlsx = documents.xlsx([["序号", "名称", "数量"], [1, "GlobalFiler试剂盒", 20], [2, "采血卡", 5000]])
    return {
        "pdf": pdf, "docx": docx, "xlsx": xlsx,
        "zip": documents.zip_of({"设备清单.pdf": pdf, "参数/技术参数.docx": docx, "报价表.xlsx": xlsx,
                                 "说明.bin": bytes(range(256))}, gbk_names=True),
        "bomb": documents.zip_bomb(64),
        "html_as_pdf": documents.html_named_pdf(),
        "encrypted_pdf": documents.encrypted_pdf([["机密 3500xL"]]),
    }


# ------------------------------------------------------------------------------------------------ unit

def test_types_come_from_the_bytes_not_the_name(files: dict[str, bytes]) -> None:
    assert {name: sniff(data) for name, data in files.items()} == {
        "pdf": "pdf", "docx": "docx", "xlsx": "xlsx", "zip": "zip", "bomb": "zip", "html_as_pdf": "html",
        "encrypted_pdf": "pdf"}
    assert sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100 + "WordDocument".encode("utf-16-le")) == "doc"
    assert sniff(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100 + "Workbook".encode("utf-16-le")) == "xls"
    assert sniff("采购需求：遗传分析仪一台\n".encode("gb18030")) == "text"
    assert sniff(b"Rar!\x1a\x07\x00") == "rar" and sniff(bytes(range(256)) * 4) == "unknown"


def test_text_of_each_type(files: dict[str, bytes]) -> None:
    pdf = extract(files["pdf"])
    assert (pdf.content_type, pdf.status) == ("pdf", "ok")
    assert "Applied Biosystems 3500xL 1台" in pdf.text and "采购设备清单" in pdf.text
    docx = extract(files["docx"])
    assert docx.status == "ok" and "Y-STR扩增试剂盒(100人份/盒)60盒" in docx.text
    assert "遗传分析仪 | 应用生物系统 | 3500xL" in docx.text  # tables in body order, cells kept apart
    xlsx = extract(files["xlsx"])
    assert xlsx.status == "ok" and "2 | 采血卡 | 5000" in xlsx.text and "【设备清单】" in xlsx.text
    html = extract(files["html_as_pdf"])
    assert (html.content_type, html.status) == ("html", "ok")
    assert "GlobalFiler 试剂盒 20盒" in html.text and "Identifiler" not in html.text  # scripts are not text


def test_zip_members_are_read_with_their_chinese_names(files: dict[str, bytes]) -> None:
    result = extract(files["zip"])
    assert (result.content_type, result.status) == ("zip", "ok")
    assert "【设备清单.pdf】" in result.text and "3500xL" in result.text
    assert "【参数/技术参数.docx】" in result.text and "GlobalFiler试剂盒" in result.text
    assert [(m["name"], m["type"], m["status"]) for m in result.members] == [
        ("设备清单.pdf", "pdf", "ok"), ("参数/技术参数.docx", "docx", "ok"), ("报价表.xlsx", "xlsx", "ok"),
        ("说明.bin", "unknown", "unsupported")]


def test_archive_limits(files: dict[str, bytes]) -> None:
    bomb = extract(files["bomb"])
    assert (bomb.status, bomb.text) == ("zip_bomb", "") and "expands 10" in bomb.message
    too_big = extract(files["zip"], Limits(max_uncompressed=10_000))
    assert too_big.status == "too_large" and "cap 10000" in too_big.message
    assert extract(files["zip"], Limits(max_members=3)).status == "too_large"
    # The cap covers everything an attachment expands to: a DOCX is an archive too.
    assert extract(files["docx"], Limits(max_uncompressed=1_000)).status == "too_large"
    nested = documents.zip_of({"a.zip": documents.zip_of({"b.zip": documents.zip_of({"c.txt": b"Y-STR"})})})
    result = extract(nested)
    assert result.text == "" and result.status == "zip_bomb"
    assert {"name": "a.zip/b.zip", "type": "zip", "status": "zip_bomb",
            "message": "archive nested more than 2 deep: not opened"} in result.members
    assert "Y-STR" in extract(nested, Limits(max_depth=3)).text


def test_page_and_character_caps(files: dict[str, bytes]) -> None:
    first_page = extract(files["pdf"], Limits(max_pages=1))
    assert first_page.status == "truncated" and first_page.message == "first 1 of 2 pages read"
    assert "采购设备清单" in first_page.text and "3500xL" not in first_page.text
    short = extract(files["docx"], Limits(max_chars=10))
    assert short.status == "truncated" and len(short.text) <= 10


def test_failures_are_statuses(files: dict[str, bytes]) -> None:
    assert extract(files["encrypted_pdf"]).status == "encrypted"
    corrupt = extract(files["pdf"][:400])
    assert corrupt.status == "corrupt" and corrupt.message.startswith("pdf could not be read")
    assert extract(files["zip"][:200]).status == "corrupt"
    assert extract(b"").status == "no_text"
    blank = extract(documents.pdf([[" "]]))
    assert blank.status == "no_text" and "no OCR" in blank.message
    fake_doc = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100 + "WordDocument".encode("utf-16-le")
    result = extract(fake_doc, Limits(converters=()))
    assert (result.content_type, result.status) == ("doc", "no_converter")
    assert result.message.startswith("not extracted: no converter")
    assert extract(b"Rar!\x1a\x07\x00" + b"\0" * 50).status == "unsupported"


@pytest.mark.skipif(shutil.which("soffice") is None and os.environ.get("CAIGOU_REQUIRE_LIBREOFFICE") != "1",
                    reason="LibreOffice (soffice) is not installed; .ci/run installs it")
def test_legacy_word_through_libreoffice(tmp_path: Path, files: dict[str, bytes]) -> None:
    source = tmp_path / "参数.docx"
    source.write_bytes(files["docx"])
    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path}/profile", "--headless", "--convert-to",
                    "doc", "--outdir", str(tmp_path), str(source)], capture_output=True, timeout=180)
    if not (tmp_path / "参数.doc").is_file():
        if os.environ.get("CAIGOU_REQUIRE_LIBREOFFICE") == "1":
            pytest.fail("LibreOffice cannot write .doc here (CAIGOU_REQUIRE_LIBREOFFICE=1): install libreoffice-writer")
        pytest.skip("LibreOffice cannot write .doc here (libreoffice-writer is not installed)")
    legacy = (tmp_path / "参数.doc").read_bytes()
    result = extract(legacy, Limits(converters=("soffice",)))
    assert (result.content_type, result.status) == ("doc", "ok")
    assert "Y-STR扩增试剂盒" in result.text and "converted by soffice" in result.message


# ------------------------------------------------------------------------------------------------ crawls

def notice_page(sample: str, attachments: dict[str, str], replace: dict[str, str] | None = None) -> bytes:
    """A sample ccgp detail page with its attachment list (``ul.fjxx``) replaced by ``attachments``."""
    html = (SAMPLES / sample).read_text(encoding="utf-8")
    for old, new in (replace or {}).items():
        html = html.replace(old, new)
    links = "".join(f'<li><p><a href="{url}" ignore=1>{name}</a></p></li>' for name, url in attachments.items())
    listing = f"<p class='fjxx'>附件信息：</p><ul class=\"fjxx\">{links}</ul>"
    if '<ul class="fjxx">' in html:
        start = html.index("<p class='fjxx'>")
        end = html.index("</ul>", start) + len("</ul>")
        return (html[:start] + listing + html[end:]).encode("utf-8")
    return html.replace("</div></div></div></div>", listing + "</div></div></div></div>", 1).encode("utf-8")


MATCHED_URL = "http://www.ccgp.gov.cn/cggg/dfgg/gkzb/202406/t20240605_22000102.htm"
PLAIN_URL = "http://www.ccgp.gov.cn/cggg/dfgg/gkzb/202406/t20240603_22000205.htm"
MATCHED_ATTACHMENTS = {
    "设备清单.pdf": "pdf", "技术参数.docx": "docx", "报价表.xlsx": "xlsx", "招标文件.zip": "zip",
    "采购需求.pdf": "html_as_pdf", "清单.zip": "bomb", "加密.pdf": "encrypted_pdf", "图纸.pdf": "big", "丢失.pdf": "",
}


@pytest.fixture
def server(files: dict[str, bytes]) -> Iterator[ReplayServer]:
    replay = ReplayServer()
    served = {**files, "big": b"%PDF-1.4\n" + os.urandom(150_000)}
    matched = {}
    for number, (name, key) in enumerate(MATCHED_ATTACHMENTS.items()):
        url = f"{DOWNLOAD}a{number}"
        matched[name] = url
        if key:  # 丢失.pdf is not there: a 404
            replay.add(url, Reply(served[key], content_type="application/octet-stream"))
    replay.add(MATCHED_URL, Reply(notice_page("detail_22000102.html", matched)))
    # A notice that says nothing the watchlist knows: its equipment list is only in the attachment.
    replay.add(PLAIN_URL, Reply(notice_page("detail_22000105.html", {"设备清单.pdf": f"{DOWNLOAD}plain"}, {
        "拉萨市疾病预防控制中心荧光定量PCR仪采购项目": "日喀则市公安局办公设备采购项目",
        "拉萨市疾病预防控制中心": "日喀则市公安局",
        "用于新冠病毒核酸检测及呼吸道传染病监测，采购荧光定量PCR仪3台、全自动核酸提取仪2台。": "采购设备一批，详见附件。"})))
    replay.add(f"{DOWNLOAD}plain", Reply(files["pdf"], content_type="application/pdf"))
    replay.start()
    yield replay
    replay.stop()


def attachments_by_name(db: Database, url: str) -> dict[str, Attachment]:
    with db.session() as session:
        notice = session.scalars(select(Notice).where(Notice.url == url)).one()
        rows = {a.name: a for a in notice.attachments}
        session.expunge_all()
        return rows


def downloads(server: ReplayServer) -> int:
    return sum(1 for key in server.requests if key.startswith("download.ccgp.gov.cn/"))


def test_a_crawl_downloads_archives_reads_and_matches_attachments(db: Database, server: ReplayServer,
                                                                  files: dict[str, bytes]) -> None:
    result = crawl(db.url, "ccgp", "--url", MATCHED_URL, "--url", PLAIN_URL,
                   "--set", "CAIGOU_ATTACHMENT_MAXSIZE=100000", proxy=server.url)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "2 new" in result.stdout and "0 errors, 7 attachments (2 failed)" in result.stdout
    rows = attachments_by_name(db, MATCHED_URL)
    states = {name: (a.download_status, a.content_type, a.extraction_status) for name, a in rows.items()}
    assert states == {
        "设备清单.pdf": ("ok", "pdf", "ok"), "技术参数.docx": ("ok", "docx", "ok"), "报价表.xlsx": ("ok", "xlsx", "ok"),
        "招标文件.zip": ("ok", "zip", "ok"), "采购需求.pdf": ("ok", "html", "ok"), "清单.zip": ("ok", "zip", "zip_bomb"),
        "加密.pdf": ("ok", "pdf", "encrypted"), "图纸.pdf": ("too_large", "", "too_large"),
        "丢失.pdf": ("failed", "", ""),
    }
    assert rows["丢失.pdf"].message == "HTTP 404" and "100000 bytes" in rows["图纸.pdf"].message
    assert "3500xL" in rows["设备清单.pdf"].text and "GlobalFiler试剂盒" in rows["报价表.xlsx"].text
    assert "【参数/技术参数.docx】" in rows["招标文件.zip"].text
    assert [m["name"] for m in rows["招标文件.zip"].members][:2] == ["设备清单.pdf", "参数/技术参数.docx"]

    with db.session() as session:
        # Evidence: each downloaded file archived with its SHA-256 and time, linked from its attachment row.
        for name, key in MATCHED_ATTACHMENTS.items():
            row = rows[name]
            if row.download_status != "ok":
                assert row.raw_page_id is None
                continue
            page = session.get_one(RawPage, row.raw_page_id)
            assert page.body == files[key] and page.kind == "attachment"
            assert page.sha256 == row.raw_sha256 == hashlib.sha256(files[key]).hexdigest()
            assert row.size == len(files[key]) and row.fetched_at is not None and page.first_fetched_at is not None
        notice = session.scalars(select(Notice).where(Notice.url == MATCHED_URL)).one()
        matches = {(m.term, m.field) for m in session.scalars(select(NoticeMatch).where(
            NoticeMatch.notice_id == notice.id))}
        assert ("3500xL", "attachment:设备清单.pdf") in matches
        assert ("Y-STR扩增试剂盒", "attachment:技术参数.docx") in matches
        assert ("GlobalFiler", "attachment:采购需求.pdf") in matches  # the HTML named .pdf was read as HTML
        # Inside the ZIP, a match names the member it was found in.
        assert ("3500xL", "attachment:招标文件.zip/设备清单.pdf") in matches
        assert ("Y-STR扩增试剂盒", "attachment:招标文件.zip/参数/技术参数.docx") in matches
        assert not any(field == "attachment:招标文件.zip" for _, field in matches)

        # The notice that matched nothing on its page: its attachment is not downloaded by default.
        plain = session.scalars(select(Notice).where(Notice.url == PLAIN_URL)).one()
        assert session.get_one(NoticeScore, plain.id).score == 0
        assert [a.download_status for a in plain.attachments] == [""]
    assert f"{DOWNLOAD}plain".removeprefix("http://") not in server.requests

    # Attachment text is searchable.
    assert {hit.notice.url for hit in search(db, "3500xL").hits} == {MATCHED_URL}

    # A second run, for all notices: nothing already downloaded is fetched again (the 404 is tried again), and
    # the plain notice's attachment is read now — and makes it match, for reasons naming the file.
    before = downloads(server)
    again = crawl(db.url, "ccgp", "--url", MATCHED_URL, "--url", PLAIN_URL, "--refresh", "--attachments", "all",
                  proxy=server.url)
    assert again.returncode == 0, again.stderr
    assert "2 unchanged" in again.stdout and "1 attachments (1 failed)" in again.stdout
    assert downloads(server) == before + 2
    assert attachments_by_name(db, MATCHED_URL)["设备清单.pdf"].raw_sha256 == rows["设备清单.pdf"].raw_sha256
    with db.session() as session:
        plain = session.scalars(select(Notice).where(Notice.url == PLAIN_URL)).one()
        score = session.get_one(NoticeScore, plain.id)
        assert score.score > 0 and score.first_matched_at is not None
        assert any(reason.startswith("strong term 3500xL (product-model) in attachment 设备清单.pdf")
                   for reason in score.reasons), score.reasons


def test_fetch_command_reads_attachments_of_stored_notices(sqlite_db: Database, server: ReplayServer) -> None:
    db = sqlite_db
    stored = crawl(db.url, "ccgp", "--url", PLAIN_URL, "--url", MATCHED_URL, "--attachments", "off",
                   proxy=server.url)
    assert stored.returncode == 0 and downloads(server) == 0

    plain_only = run_caigou("--db", db.url, "attachments", "fetch", "--notice", "1", *FAST, proxy=server.url)
    assert plain_only.returncode == 0, plain_only.stderr
    assert "1 attachments downloaded, 0 failed" in plain_only.stdout
    with db.session() as session:
        plain = session.scalars(select(Notice).where(Notice.url == PLAIN_URL)).one()
        assert plain.id == 1 and plain.attachments[0].extraction_status == "ok"
        score = session.get_one(NoticeScore, plain.id)
        # Found only in the attachment, the notice now matches, with a police buyer and a Tibetan place.
        assert score.score >= 50 and score.first_matched_at is not None
        assert any("in attachment 设备清单.pdf" in reason for reason in score.reasons)
        assert session.get_one(RawPage, plain.attachments[0].raw_page_id).kind == "attachment"

    rest = run_caigou("--db", db.url, "attachments", "fetch", "--set", "CAIGOU_ATTACHMENT_MAXSIZE=100000", *FAST,
                      proxy=server.url)
    assert rest.returncode == 0, rest.stderr
    assert "7 attachments downloaded, 2 failed" in rest.stdout
    fetched = downloads(server)

    # Nothing new to fetch but the 404, which is tried again; downloaded files are not fetched twice.
    again = run_caigou("--db", db.url, "attachments", "fetch", "--all", *FAST, proxy=server.url)
    assert again.returncode == 0 and "0 attachments downloaded, 1 failed" in again.stdout
    assert downloads(server) == fetched + 1

    listed = run_caigou("--db", db.url, "attachments", "list", "--status", "zip_bomb")
    assert listed.returncode == 0 and "清单.zip\tok/zip_bomb\tzip" in listed.stdout


def test_bad_attachment_mode_is_one_line(sqlite_db: Database) -> None:
    result = run_caigou("--db", sqlite_db.url, "crawl", "ccgp", "--url", MATCHED_URL,
                        env={"CAIGOU_CRAWL_ATTACHMENTS": "some"})
    assert result.returncode == 2
    assert result.stderr.strip() == "caigou: error: [crawl] attachments must be one of matched, all, off, not 'some'"
    missing = run_caigou("--db", sqlite_db.url, "attachments", "fetch", "--notice", "99")
    assert missing.returncode == 2 and missing.stderr.strip() == "caigou: error: no notice 99"


def test_an_archive_s_text_is_split_by_member_and_only_by_its_members() -> None:
    members = [{"name": "a.pdf"}, {"name": "b/c.docx"}]
    text = "【a.pdf】\n遗传分析仪\n\n【b/c.docx】\n第一段\n【注意】\n不是文件名\n\n"
    assert archive_parts("x.zip", text, members) == {
        "x.zip/a.pdf": "遗传分析仪\n\n", "x.zip/b/c.docx": "第一段\n【注意】\n不是文件名\n\n"}
    assert archive_parts("y.pdf", "【a.pdf】\n正文", []) == {"y.pdf": "【a.pdf】\n正文"}
