"""Organisations (spelling variants, renames, sub-units, similar names; reviewers' merges and splits that outlive
relinking and re-imports) and brands (makers over the watchlist's terms), stored through the real pipeline.

The one test with a database, ``test_names_merge_with_reasons_and_decisions_outlive_relink_and_reimport``, is this
file's PostgreSQL smoke run (``db``, SQLite and PostgreSQL): organisations, decisions, a relink and a re-import."""
from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DatabaseError

from caigou.models import DECISION_TRIGGERS, Organisation, OrganisationDecision, OrganisationName
from caigou.models.db import Database
from caigou.pipelines.entities.brands import find_maker, makers
from caigou.pipelines.entities.names import buyer_key, similar, supplier_key
from caigou.pipelines.matching.watchlist import DEFAULT_PATH
from caigou.pipelines.record import SupplierRecord
from caigou.pipelines.store import NoticeStore
from tests.crawling import run_caigou
from tests.test_store import make_record


@pytest.mark.parametrize("one, other, reason", [
    ("西藏自治区公安厅", "西藏公安厅", "西藏自治区 = 西藏"),
    ("林芝地区公安处", "林芝市公安局", "renamed: 林芝地区 is now 林芝市"),
    ("那曲市公安局（刑侦支队）", "那曲市公安局(刑侦支队)", ""),
    ("青海省公安厅", "青海公安厅", "青海省 = 青海"),
])
def test_buyer_spellings_share_a_key(one: str, other: str, reason: str) -> None:
    assert buyer_key(one).key == buyer_key(other).key
    assert buyer_key(one).reason == reason


def test_rules_that_keep_apart_and_find_parents() -> None:
    assert buyer_key("那曲市公安局").key != buyer_key("昌都市公安局").key
    assert buyer_key("那曲市公安局刑侦支队").parent_key == "那曲市公安局"
    assert buyer_key("西藏自治区公安厅物证鉴定所").parent_key == "西藏公安厅"
    assert buyer_key("那曲市公安局").parent_key == ""
    assert buyer_key("林芝地区公安处").region.code == "540400"       # the current code of the renamed prefecture
    assert supplier_key("无锡中德美联生物技术有限公司").key == supplier_key("无锡中德美联生物技术公司").key
    assert supplier_key("Thermo Fisher Scientific Co., Ltd.").key == supplier_key("thermo fisher scientific").key
    # rapidfuzz: one character off in a long name is the same; a different number or county is not.
    assert similar("西藏高原生物科枝发展", ["西藏高原生物科技发展"]) is not None
    assert similar("西藏第一测绘技术服务", ["西藏第二测绘技术服务"]) is None
    assert similar("那曲市色尼区公安分局刑侦", ["那曲市安多县公安分局刑侦"]) is None


def test_every_maker_term_is_a_watchlist_term() -> None:
    with open(DEFAULT_PATH, "rb") as handle:
        terms = {entry["term"] for entry in tomllib.load(handle)["term"]}
    assert {t for maker in makers() for t in maker.terms} <= terms
    assert find_maker("ABI").name == find_maker("应用生物系统").name == "Thermo Fisher Scientific"
    assert (find_maker("SureID").name, find_maker("海尔施").country) == ("Healthgene Technologies", "cn")
    assert find_maker("Acme") is None


def save(store: NoticeStore, key: str, buyer: str, suppliers: list[str] | None = None,
         **changes: object) -> int:
    return store.save_notice(make_record(
        source_key=key, url=f"http://www.ccgp.gov.cn/{key}.htm", project_code=f"PC-2024-{key}", buyer=buyer,
        title=f"{buyer}采购{key}", attachments=[],
        suppliers=[SupplierRecord(name, amount_cny=Decimal("1000.00")) for name in suppliers or []],
        **changes)).notice_id


def organisations(db: Database, kind: str = "buyer") -> dict[str, tuple[str, str]]:
    """Each name as written: (its organisation's name, the reason)."""
    with db.session() as session:
        return {name.name: (session.get_one(Organisation, name.organisation_id).name, name.reason)
                for name in session.scalars(select(OrganisationName).where(OrganisationName.kind == kind))}


def test_names_merge_with_reasons_and_decisions_outlive_relink_and_reimport(db: Database) -> None:
    store = NoticeStore(db)
    save(store, "1", "西藏自治区公安厅", ["无锡中德美联生物技术有限公司"])
    save(store, "2", "西藏公安厅", ["无锡中德美联生物技术公司"])
    save(store, "3", "林芝地区公安处")
    save(store, "4", "林芝市公安局")
    save(store, "5", "那曲市公安局刑侦支队", ["西藏高原生物科技发展有限公司"])
    save(store, "6", "那曲市公安局刑侦大队", ["西藏高原生物科枝发展有限公司"])
    found = organisations(db)
    assert found["西藏公安厅"] == ("西藏自治区公安厅", "same name")
    assert found["林芝市公安局"] == ("林芝地区公安处", "same name")
    assert found["林芝地区公安处"][1] == "renamed: 林芝地区 is now 林芝市"
    suppliers = organisations(db, "supplier")
    assert suppliers["无锡中德美联生物技术公司"] == ("无锡中德美联生物技术有限公司", "company suffix 公司 dropped")
    assert suppliers["西藏高原生物科枝发展有限公司"][1].startswith("similar to 西藏高原生物科技发展 (9")
    with db.session() as session:
        units = {o.name: o.parent_id for o in session.scalars(select(Organisation).where(Organisation.kind == "buyer"))}
        bureau = session.scalars(select(Organisation).where(Organisation.key == "那曲市公安局")).one()
        assert units["那曲市公安局刑侦支队"] == units["那曲市公安局刑侦大队"] == bureau.id
        ids_before = {o.key: o.id for o in session.scalars(select(Organisation))}

    # A reviewer: 西藏公安厅 as written on notice 2 is another body; the brigade (大队) is the detachment (支队).
    out = run_caigou("--db", db.url, "org", "split", "西藏公安厅", "--reviewer", "dolma", "--note", "checked")
    assert out.returncode == 0, out.stderr
    out = run_caigou("--db", db.url, "org", "merge", "那曲市公安局刑侦大队", "--into", "那曲市公安局刑侦支队",
                     "--reviewer", "dolma")
    assert out.returncode == 0, out.stderr
    decided = organisations(db)
    assert decided["西藏公安厅"] == ("西藏公安厅", "split by dolma: checked")
    assert decided["西藏自治区公安厅"][0] == "西藏自治区公安厅"
    assert decided["那曲市公安局刑侦大队"] == ("那曲市公安局刑侦支队", "merged by dolma into 那曲市公安局刑侦支队")

    # Relinking and storing the notices again (changed, and a new one) never undo a decision.
    assert run_caigou("--db", db.url, "db", "relink").returncode == 0
    save(store, "2", "西藏公安厅", ["无锡中德美联生物技术公司"], budget_cny=Decimal("5.00"))
    save(store, "7", "西藏公安厅")
    save(store, "8", "那曲市公安局刑侦大队")
    assert organisations(db) == decided
    assert run_caigou("--db", db.url, "db", "relink").returncode == 0
    assert organisations(db) == decided
    with db.session() as session:    # organisations keep their IDs
        after = {o.key: o.id for o in session.scalars(select(Organisation))}
    assert {k: v for k, v in after.items() if k in ids_before} == {k: v for k, v in ids_before.items() if k in after}

    # A merge by ID moves a whole organisation; an unknown name is one line.
    linzhi = next(i for k, i in after.items() if k == "林芝市公安局")
    out = run_caigou("--db", db.url, "org", "merge", str(linzhi), "--into", "西藏自治区公安厅", "--reviewer", "x")
    assert out.returncode == 0, out.stderr
    assert {organisations(db)[n][0] for n in ("林芝地区公安处", "林芝市公安局")} == {"西藏自治区公安厅"}
    out = run_caigou("--db", db.url, "org", "split", "不存在", "--reviewer", "x")
    assert out.returncode == 2 and out.stderr.strip() == "caigou: error: no buyer named '不存在' in the archive " \
        "(give a name as notices write it, or an ID)"

    # The decisions are append-only in the database itself.
    with db.session() as session:
        assert session.scalar(select(OrganisationDecision.id).limit(1)) is not None
    for statement in (update(OrganisationDecision).values(reviewer="mallory"),
                      text("DELETE FROM organisation_decisions")):
        with pytest.raises(DatabaseError, match="append-only"), db.session() as session:
            session.execute(statement)
    triggers = ("SELECT tgname FROM pg_trigger" if db.engine.dialect.name == "postgresql"
                else "SELECT name FROM sqlite_master WHERE type = 'trigger'")
    with db.engine.connect() as connection:
        assert set(DECISION_TRIGGERS) <= set(connection.execute(text(triggers)).scalars())
