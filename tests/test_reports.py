"""Dossiers (caigou report) on an archive crawled from the demo's sample pages by the real spider: the Thermo
Fisher brand report, a buyer's totals against SQL of the test's own, the HTML in Chromium, and one clear line for
bad input.

PostgreSQL smoke run (``db``, SQLite and PostgreSQL): ``test_brand_and_buyer_dossiers_of_the_demo_archive``, the
richest flow (a crawl, the dossiers, and totals checked against SQL that reads each dialect's amounts). The bad input
and the Chromium view run on SQLite (``sqlite_db``)."""
from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from caigou.commands.demo import DEMO_ARGUMENTS, DEMO_DATA
from caigou.models.db import Database
from caigou.replay import Reply, serving
from caigou.reports.dossier import dossier
from caigou.reports.render import render
from tests.crawling import ROOT, chromium_page, crawl, run_caigou

# A real award page (../shared/real, beside the checkout where present), crawled into the same archive.
REAL_PAGE = ROOT.parent / "shared" / "real" / "ccgp" / "detail_dfgg_zbgg_guizhou_20250627.html"
REAL_URL = "http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202506/t20250627_24871234.htm"


def crawl_demo(db: Database) -> bool:
    """The demo's archive: the sample pages crawled through the real spider and engine into ``db``, and the real
    page when it is there (returns whether it was)."""
    keywords = [arg for keyword in DEMO_ARGUMENTS["keyword"] for arg in ("--keyword", keyword)]
    with serving(DEMO_DATA / "manifest.json") as server:
        result = crawl(db.url, "ccgp", "--since", DEMO_ARGUMENTS["since"], "--until", DEMO_ARGUMENTS["until"],
                       *keywords, proxy=server.url)
        assert result.returncode == 0, result.stderr
        if not REAL_PAGE.is_file():
            return False
        server.add(REAL_URL, Reply(REAL_PAGE.read_bytes()))
        result = crawl(db.url, "ccgp", "--url", REAL_URL, proxy=server.url)
        assert result.returncode == 0, result.stderr
    return True


def buyer_totals_in_sql(db: Database, buyer_like: str) -> tuple[int, Decimal, Decimal]:
    """Purchases, budget and award of the buyers whose notices' buyer field is like ``buyer_like``, computed here
    in SQL from the notices alone: one copy per publication, per procurement the largest budget and award."""
    statement = text("""
        SELECT count(*), coalesce(sum(budget), 0), coalesce(sum(award), 0) FROM (
            SELECT coalesce('P' || l.procurement_id, 'N' || coalesce(l.canonical_id, n.id)) AS purchase,
                   max(n.budget_cny) AS budget, max(n.award_cny) AS award
            FROM notices n LEFT JOIN notice_links l ON l.notice_id = n.id
            WHERE n.buyer LIKE :like AND coalesce(l.group_rank, 0) = 0
            GROUP BY coalesce('P' || l.procurement_id, 'N' || coalesce(l.canonical_id, n.id))) purchases""")
    with db.engine.connect() as connection:
        count, budget, award = connection.execute(statement, {"like": buyer_like}).one()
    if db.engine.dialect.name == "sqlite":  # SQLite keeps whole fen (models.types.Money); PostgreSQL NUMERIC yuan
        return int(count), Decimal(int(budget)) / 100, Decimal(int(award)) / 100
    return int(count), Decimal(budget), Decimal(award)


def test_brand_and_buyer_dossiers_of_the_demo_archive(db: Database, tmp_path: Path) -> None:
    with_real_page = crawl_demo(db)
    with db.session() as session:
        thermo = dossier(session, "brand", "Thermo Fisher")
        if with_real_page:   # a real award of another province: its supplier's own dossier, not Thermo's
            real = dossier(session, "supplier", "江苏新煦光电科技有限公司")
            assert (real.total.award_cny, [line.buyer for line in real.lines]) == (
                Decimal("569800.00"), ["清镇市麦格苗族布依族乡人民政府"])
            assert real.lines[0].evidence[0].url == REAL_URL
        # Spellings and brands lead to the same maker.
        assert dossier(session, "brand", "应用生物系统").subject == dossier(session, "brand", "abi").subject \
            == thermo.subject == "Thermo Fisher Scientific"
        buyer = dossier(session, "buyer", "西藏公安厅")          # written 西藏自治区公安厅 on the notices
        nagqu = dossier(session, "buyer", "那曲市公安局")        # a bureau, through its 刑侦支队
        supplier = dossier(session, "supplier", "无锡中德美联生物技术公司")

    # Thermo Fisher: named on the Nagqu single-source notice's page and items, and only in the TAR bureau's
    # attached equipment list.
    assert [(line.buyer, line.published.isoformat()) for line in thermo.lines] == [
        ("西藏自治区公安厅", "2024-06-05"), ("那曲市公安局刑侦支队", "2024-06-12")]
    assert [(t.label, t.award_cny, t.extra["buyers"]) for t in thermo.suppliers] == [
        ("西藏高原生物科技有限公司", Decimal("1198000.00"), ["那曲市公安局刑侦支队"])]
    assert (thermo.total.purchases, thermo.total.budget_cny, thermo.total.award_cny) == (
        2, Decimal("11230000.00"), Decimal("1198000.00"))
    assert {t.label for t in thermo.buyers} == {"西藏自治区公安厅", "那曲市公安局刑侦支队"}
    attachment_cited = thermo.lines[0].evidence
    assert [e.what for e in attachment_cited] == ["page", "attachment 设备及试剂清单.xlsx"]
    with db.engine.connect() as connection:
        for line in thermo.lines:
            page = line.evidence[0]
            stored = connection.execute(text("SELECT url, raw_sha256 FROM notices WHERE id = :id"),
                                        {"id": line.notice_id}).one()
            assert (page.url, page.sha256) == tuple(stored) and page.fetched_at is not None
            assert connection.execute(text("SELECT count(*) FROM raw_pages WHERE sha256 = :s"),
                                      {"s": page.sha256}).scalar() == 1
        assert connection.execute(text("SELECT raw_sha256 FROM notice_attachments")).scalar() == \
            attachment_cited[1].sha256

    # The buyer's totals equal the SQL above: the tender and its correction are one purchase of ¥10,000,000.
    assert (buyer.total.purchases, buyer.total.budget_cny, buyer.total.award_cny) == \
        buyer_totals_in_sql(db, "西藏自治区公安厅") == (1, Decimal("10000000.00"), Decimal(0))
    assert len(buyer.lines) == 2
    assert (nagqu.total.purchases, nagqu.total.budget_cny, nagqu.total.award_cny) == \
        buyer_totals_in_sql(db, "那曲市公安局%")
    assert [t.label for t in nagqu.subunits] == ["那曲市公安局刑侦支队"]
    # A supplier counts its own lot, not the whole award (¥965,000 for two lots).
    assert supplier.total.award_cny == Decimal("580000.00")
    assert supplier.total.capacity == {"reactions": 6000, "cards": 50000}   # the matcher's capacity summary

    # The command line: CSV rows cite pages; JSON carries the same figures; HTML is one file.
    out = run_caigou("--db", db.url, "report", "brand", "Thermo Fisher", "--format", "csv")
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["buyer"] for r in rows] == ["西藏自治区公安厅", "那曲市公安局刑侦支队"]
    assert all(len(r["sha256"]) == 64 and r["url"].startswith("http://www.ccgp.gov.cn/") for r in rows)
    assert "设备及试剂清单.xlsx" in rows[0]["other_evidence"]
    data = json.loads(run_caigou("--db", db.url, "report", "buyer", "西藏公安厅", "--format", "json").stdout)
    assert data["total"]["budget_cny"] == "10000000.00" and data["title"] == "Buyer dossier: 西藏自治区公安厅"
    target = tmp_path / "thermo.html"
    out = run_caigou("--db", db.url, "report", "brand", "赛默飞", "-o", str(target))
    assert out.returncode == 0 and "wrote the Brand dossier: Thermo Fisher Scientific (2 notices" in out.stderr
    page = target.read_text(encoding="utf-8")
    assert "<script" not in page and "<link" not in page and "西藏高原生物科技有限公司" in page


def test_bad_input_gets_one_clear_line(sqlite_db: Database, tmp_path: Path) -> None:
    out = run_caigou("--db", sqlite_db.url, "report", "buyer", "西藏公安厅")
    assert out.returncode == 2 and out.stderr.strip() == (
        "caigou: error: the archive holds no notices yet: crawl first (caigou crawl …) or try caigou demo")
    from tests.web_data import build_archive

    build_archive(sqlite_db)
    for args, message in [
        (("buyer", "不存在的单位"), "no buyer named '不存在的单位' in the archive"),
        (("supplier", "999999"), "no supplier has ID 999999"),
        (("brand", "Acme"), "no brand or maker named 'Acme'"),
        (("region", "99"), "unknown region code '99'"),
        (("region", "54", "--since", "June"), "Invalid value for '--since'"),
        (("buyer", "西藏公安厅", "-o", str(tmp_path / "missing" / "x.html")), "cannot write"),
    ]:
        out = run_caigou("--db", sqlite_db.url, "report", *args)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)
        # One line says what is wrong (click's usage errors add their usage lines above it).
        assert "Traceback" not in out.stderr and [line for line in out.stderr.splitlines() if "rror" in line] == [
            out.stderr.strip().splitlines()[-1]]


def test_the_brand_report_opens_in_chromium(sqlite_db: Database, tmp_path: Path) -> None:
    crawl_demo(sqlite_db)
    with sqlite_db.session() as session:
        report = render(dossier(session, "brand", "Thermo Fisher"), "html")
    target = tmp_path / "thermo.html"
    target.write_text(report, encoding="utf-8")
    with chromium_page() as page:
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(target.as_uri())
        assert page.title() == "Brand dossier: Thermo Fisher Scientific"
        assert "¥11,230,000.00" in page.inner_text("tr.total")
        assert page.locator("table.notices tr[id]").count() == 2
        assert "西藏高原生物科技有限公司" in page.inner_text("body")
        pdf = page.pdf()          # printable
    assert pdf.startswith(b"%PDF") and not errors
