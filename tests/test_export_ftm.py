"""``caigou export --format ftm``: every entity checked against followthemoney's model, and the IDs stable across
exports and relinking.

Its one test is this file's PostgreSQL smoke run (``db``, SQLite and PostgreSQL): entity IDs from stored keys
that must not change with the database or a relink."""
from __future__ import annotations

import json
from pathlib import Path

from followthemoney import model

from caigou.models.db import Database
from tests.crawling import run_caigou
from tests.web_data import build_archive


def export(db: Database, path: Path, *args: str) -> list[dict]:
    out = run_caigou("--db", db.url, "export", "--format", "ftm", "-o", str(path), *args)
    assert out.returncode == 0, out.stderr
    lines = path.read_text(encoding="utf-8").splitlines()
    assert out.stderr.strip().endswith(f"wrote {len(lines)} entities to {path}")
    return [json.loads(line) for line in lines]


def check(entity: dict) -> None:
    """One entity as followthemoney's model has it: a known schema, its required properties, and every value
    valid for its property's type."""
    schema = model.get(entity["schema"])
    assert schema is not None and not schema.abstract, entity
    assert schema.validate(entity) is None, entity
    for name in schema.required:
        assert entity["properties"].get(name), (name, entity)
    for name, values in entity["properties"].items():
        prop = schema.get(name)
        assert prop is not None, (name, entity)
        for value in values:
            assert prop.type.validate(value), (name, value, entity)
    proxy = model.get_proxy(entity)
    assert proxy.id == entity["id"] and proxy.to_dict()["properties"] == entity["properties"]


def test_ftm_entities_validate_and_keep_their_ids(db: Database, tmp_path: Path) -> None:
    build_archive(db)
    first = export(db, tmp_path / "a.jsonl")
    for entity in first:
        check(entity)
    by_id = {e["id"]: e for e in first}
    schemata = {e["schema"] for e in first}
    assert {"PublicBody", "Company", "Contract", "ContractAward", "Article", "Documentation"} <= schemata
    # References point at exported entities: awards at contracts and companies, contracts at public bodies.
    for entity in first:
        schema = model.get(entity["schema"])
        for name, values in entity["properties"].items():
            if schema.get(name).type.name == "entity":
                assert all(v in by_id for v in values), (name, entity)
    award = next(e for e in first if e["schema"] == "ContractAward")
    assert by_id[award["properties"]["supplier"][0]]["properties"]["name"] == ["西藏某科技有限公司"]
    assert award["properties"]["amount"] == ["2860000.00"] and award["properties"]["currency"] == ["CNY"]
    contract = by_id[award["properties"]["contract"][0]]
    assert by_id[contract["properties"]["authority"][0]]["properties"]["name"] == ["西藏自治区公安厅"]
    hostile = next(e for e in first if e["schema"] == "Article" and e["properties"]["sourceUrl"] == [
        "http://www.ccgp.gov.cn/cggg/dfgg/zbgg/202406/t20240620_105.htm"])
    assert hostile["properties"]["description"][0].startswith("SHA-256 of the archived page: ")
    assert hostile["properties"]["retrievedAt"]
    # The tender and the award of one project are one contract.
    assert len({e["id"] for e in first if e["schema"] == "Contract"}) == 4
    nagqu = next(e for e in first if e["schema"] == "PublicBody" and e["properties"]["name"] == ["那曲市公安局刑侦支队"])
    assert by_id[nagqu["properties"]["parent"][0]]["properties"]["name"] == ["那曲市公安局"]

    # The same archive, exported again and after relinking, gives the same entities and IDs.
    assert run_caigou("--db", db.url, "db", "relink").returncode == 0
    assert export(db, tmp_path / "b.jsonl") == first
    assert run_caigou("--db", db.url, "export", "--format", "ftm", "--per", "match").stderr.strip() == \
        "caigou: error: FTM has no place for watchlist matches: use --per notice"
