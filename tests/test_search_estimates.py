"""Facets over a large hit set are counted on a sample and scaled, and say so (caigou.search.facets_of)."""
from __future__ import annotations

import pytest

import caigou.search
from caigou.models.db import Database
from caigou.pipelines.store import NoticeStore
from caigou.search import search
from tests.test_store import make_record

COUNT = 200


@pytest.fixture
def many(db: Database) -> Database:
    store = NoticeStore(db)
    for n in range(COUNT):
        kind, buyer = ("tender", "那曲市公安局") if n % 2 else ("award", "拉萨市公安局")
        store.save_notice(make_record(source_key=str(n), title=f"公安局采购项目{n}", buyer=buyer, notice_type=kind,
                                      body_text="采购物证设备。", project_code=f"P-{n}"))
    return db


def test_facets_over_many_hits_are_estimates_marked_as_such(many: Database,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    exact = search(many, "公安局")
    assert exact.total == COUNT and not exact.facets_estimated
    assert dict((v, n) for v, _, n in exact.facets["type"]) == {"tender": COUNT // 2, "award": COUNT // 2}

    monkeypatch.setattr(caigou.search, "FACET_SAMPLE", 50)
    estimated = search(many, "公安局")
    assert estimated.total == COUNT and estimated.facets_estimated  # the total stays exact
    counts = dict((v, n) for v, _, n in estimated.facets["type"])
    assert set(counts) == {"tender", "award"}
    # Scaled to the whole: each half within 40% of its true size, the sum near the total.
    assert all(60 <= n <= 140 for n in counts.values()) and abs(sum(counts.values()) - COUNT) <= 2, counts
    assert [h.notice.id for h in estimated.hits] == [h.notice.id for h in exact.hits]  # the page is unchanged


def test_the_search_page_says_its_facet_counts_are_estimates(many: Database,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_web import client_for

    with client_for(many, anonymous_read=True) as web:
        exact = web.get("/search", params={"q": "公安局", "min_score": ""})
        assert exact.status_code == 200 and 'data-facet="type"' in exact.text and "≈" not in exact.text
        monkeypatch.setattr(caigou.search, "FACET_SAMPLE", 50)
        page = web.get("/search", params={"q": "公安局", "min_score": ""})
        assert "≈ counts estimated from a sample of the 200 hits" in page.text
