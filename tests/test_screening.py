"""``caigou screen``: buyers and suppliers flagged from a small fixture list (FtM JSON lines as OpenSanctions
publishes them, and a CSV), the flags on dossiers and entity pages, and one clear line for a malformed file.

Its one test is this file's PostgreSQL smoke run (``db``, SQLite and PostgreSQL)."""
from __future__ import annotations

import json
from pathlib import Path

from caigou.models.db import Database
from tests.crawling import run_caigou
from tests.test_web import client_for, log_in
from tests.web_data import build_archive

FIXTURE = Path(__file__).with_name("data") / "screening_list.ftm.jsonl"


def test_screening_flags_buyers_and_suppliers(db: Database, tmp_path: Path) -> None:
    build_archive(db)
    out = run_caigou("--db", db.url, "screen", "--list", str(FIXTURE), "--name", "CSL")
    assert out.returncode == 0, out.stderr
    # The public body by its Chinese alias, the company by its weak alias without its suffix; a Person named like
    # a bureau and a company not in the archive are not flagged.
    assert out.stdout.splitlines() == [
        "buyer 西藏公安厅: on CSL as Tibet Autonomous Region Public Security Bureau [NK-tar-psb] "
        "(西藏自治区公安厅: name as written)",
        "supplier 西藏某科技: on CSL as Xizang Mou Technology Co., Ltd. [NK-xzkj] (西藏某科技公司: same name by the "
        "rules)"]
    assert out.stderr.strip() == "screened 3 entries of CSL: 2 organisations flagged"

    report = json.loads(run_caigou("--db", db.url, "report", "buyer", "西藏公安厅", "--format", "json").stdout)
    assert {(f["organisation"], f["list"], f["entry_id"]) for f in report["flags"]} == {
        ("西藏自治区公安厅", "CSL", "NK-tar-psb"), ("西藏某科技有限公司", "CSL", "NK-xzkj")}
    with client_for(db) as web:
        log_in(web)
        page = web.get("/organisations", params={"kind": "buyer", "name": "西藏自治区公安厅"}, follow_redirects=True)
        assert "Screening:" in page.text and "Tibet Autonomous Region Public Security Bureau" in page.text

    # A CSV list under the same name replaces the list's flags; its aliases are Chinese or English.
    listing = tmp_path / "list.csv"
    listing.write_text("id,name,aliases\n1,Nagqu PSB,那曲市公安局; Nagqu Public Security\n", encoding="utf-8")
    out = run_caigou("--db", db.url, "screen", "--list", str(listing), "--name", "CSL")
    assert out.returncode == 0 and out.stdout.splitlines() == [
        "buyer 那曲市公安局: on CSL as Nagqu PSB [1] (那曲市公安局: name as written)"]
    report = json.loads(run_caigou("--db", db.url, "report", "buyer", "西藏公安厅", "--format", "json").stdout)
    assert report["flags"] == []

    for content, message in [
        ('{"schema": "Company", "properties": {"name": ["x"]}}\n{not json\n', ", line 2: not a FollowTheMoney entity"),
        ("organisation,country\nx,cn\n", "neither FollowTheMoney JSON lines nor a CSV with a 'name' column"),
    ]:
        bad = tmp_path / "bad.txt"
        bad.write_text(content, encoding="utf-8")
        out = run_caigou("--db", db.url, "screen", "--list", str(bad))
        assert out.returncode == 2 and out.stderr.count("\n") == 1 and message in out.stderr, out.stderr
