"""Buyer, supplier and brand pages and the region × year view with its SVG charts, through the real ASGI
application; the charts' numbers against SQL of the test's own.

PostgreSQL smoke run (``db``, SQLite and PostgreSQL): ``test_entity_pages_and_region_charts``, whose SQL reads each
dialect's amounts and years. The Chromium view uses the ``served`` archive (SQLite)."""
from __future__ import annotations

from decimal import Decimal
from urllib.parse import quote

from sqlalchemy import text

from caigou.models.db import Database
from tests.crawling import chromium_page
from tests.test_web import client_for, log_in
from tests.web_data import PASSWORD, build_archive


def years_in_sql(db: Database, prefix: str) -> dict[str, tuple[int, Decimal, Decimal]]:
    """Purchases, budget and award by year of a region's notices, computed here from the notices alone: one copy
    per publication; per procurement (else notice) the largest budget and award, in the year of its first
    notice."""
    year = ("strftime('%Y', min(n.published_at), '+8 hours')" if db.engine.dialect.name == "sqlite"
            else "to_char(min(n.published_at) AT TIME ZONE 'Asia/Shanghai', 'YYYY')")
    statement = text(f"""
        SELECT year, count(*), sum(budget), sum(award) FROM (
            SELECT {year} AS year, coalesce(max(n.budget_cny), 0) AS budget, coalesce(max(n.award_cny), 0) AS award
            FROM notices n LEFT JOIN notice_links l ON l.notice_id = n.id
            WHERE n.region_code LIKE :prefix AND coalesce(l.group_rank, 0) = 0
            GROUP BY coalesce('P' || l.procurement_id, 'N' || coalesce(l.canonical_id, n.id))) purchases
        GROUP BY year ORDER BY year""")
    scale = 100 if db.engine.dialect.name == "sqlite" else 1   # SQLite keeps fen (models.types.Money)
    with db.engine.connect() as connection:
        return {y: (int(c), Decimal(b) / scale, Decimal(a) / scale)
                for y, c, b, a in connection.execute(statement, {"prefix": prefix + "%"})}


def test_entity_pages_and_region_charts(db: Database) -> None:
    build_archive(db)
    with client_for(db) as web:
        assert web.get("/regions/54").status_code == 303        # readers log in first
        log_in(web)

        # From a notice to its buyer's dossier and on to the supplier's.
        notice = web.get("/notices/2").text
        assert "/organisations?kind=buyer&amp;name=" + quote("西藏自治区公安厅") in notice
        found = web.get("/organisations", params={"kind": "buyer", "name": "西藏公安厅"})
        assert found.status_code == 303 and found.headers["location"].startswith("/buyers/")
        buyer = web.get(found.headers["location"])
        assert buyer.status_code == 200 and "Buyer dossier: 西藏自治区公安厅" in buyer.text
        assert "¥2,860,000.00" in buyer.text and "/suppliers/" in buyer.text
        assert "<script" not in buyer.text
        csv_download = web.get(found.headers["location"] + "?format=csv")
        assert csv_download.headers["content-type"].startswith("text/csv") and "西藏某科技有限公司" in \
            csv_download.text
        brand = web.get("/brands/" + quote("赛默飞"))
        assert brand.status_code == 200 and "Brand dossier: Thermo Fisher Scientific" in brand.text
        assert web.get("/brands/Acme").status_code == 404
        assert web.get("/organisations", params={"kind": "buyer", "name": "不存在"}).status_code == 404

        # Region × year: Tibet's prefectures, drilling down to Nagqu's counties.
        tibet = web.get("/regions/54")
        assert tibet.status_code == 200 and 'href="/regions/540600"' in tibet.text
        assert '<img class="chart" id="chart-money" src="/regions/54/money.svg"' in tibet.text
        assert web.get("/regions/540600").status_code == 200
        assert "All provinces" in web.get("/regions").text
        assert web.get("/regions/99").status_code == 404
        numbers = web.get("/api/regions/54/years").json()
        expected = years_in_sql(db, "54")
        assert numbers["years"] == list(expected)
        assert numbers["count"]["purchases"] == [c for c, _, _ in expected.values()]
        assert numbers["money"]["budget ¥"] == [float(b) for _, b, _ in expected.values()]
        assert numbers["money"]["awarded ¥"] == [float(a) for _, _, a in expected.values()]
        assert sum(numbers["count"]["purchases"]) == 4    # 2022 hospital; 2024 the project, Nagqu's two
        svg = web.get("/regions/54/money.svg")
        assert svg.headers["content-type"] == "image/svg+xml" and "<script" not in svg.text
        for _, budget, award in expected.values():       # the values printed on the bars
            for value in (budget, award):
                if value:
                    assert f"{value:,.0f}" in svg.text
        since = web.get("/api/regions/54/years?since=2024-01-01").json()
        assert since["years"] == ["2024"]


def test_region_charts_show_in_chromium_under_the_csp(served: tuple[str, dict[str, int]]) -> None:
    base, _ = served
    with chromium_page() as page:
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        page.goto(f"{base}/login?next=/regions/54")
        page.fill("input[name=name]", "anna")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/regions/54")
        for measure in ("count", "money", "capacity"):   # drawn: the SVG loaded as an image
            assert page.eval_on_selector(f"#chart-{measure}", "img => img.complete && img.naturalWidth") > 0
        page.click("#region-years a[href='/regions/540600']")
        page.wait_for_url("**/regions/540600")
        assert "那曲市: purchases by year" in page.inner_text("h1")
        page.click("nav.crumbs a:has-text('西藏自治区')")
        page.wait_for_url("**/regions/540000")
    assert not [m for m in console if "Content Security Policy" in m], console
