"""Screening buyers and suppliers against a list: FollowTheMoney entities as OpenSanctions publishes them (JSON
lines: ``schema``, ``properties.name``/``alias``/``weakAlias``…), or a CSV with a ``name`` column and optionally
``aliases`` (separated by ``;`` or ``|``) and ``id``, in Chinese or English.

An organisation is flagged when one of its names as written, or its key, is a list entry's name or alias by the
organisations' own rules (``pipelines.entities.names``: brackets, province names, renames, company suffixes), or
is that close by rapidfuzz (``names.similar``). Flags are kept per list (screening a list again replaces its flags)
and shown on dossiers and entity pages.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from caigou.models import Organisation, OrganisationName, ScreeningFlag
from caigou.models.errors import CaigouError
from caigou.pipelines.entities.names import name_key, similar
from caigou.pipelines.text import text_key

# FtM schemata an organisation can be on a list as (people and vessels are never buyers or suppliers).
ORGANISATION_SCHEMATA = {"Organization", "Company", "PublicBody", "LegalEntity"}
NAME_PROPERTIES = ("name", "alias", "weakAlias", "previousName")


@dataclass
class Entry:
    entry_id: str
    name: str
    names: list[str]       # name and aliases


def read_list(path: Path) -> list[Entry]:
    """The entries of a list file; a file that is neither FtM JSON lines nor a CSV with a name column is one
    clear error."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise CaigouError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise CaigouError(f"{path} is not UTF-8 text: give FtM JSON lines or a CSV") from None
    if text.lstrip().startswith("{"):
        return _ftm_entries(path, text)
    rows = list(csv.DictReader(text.splitlines()))
    columns = {c.strip().lower() for c in (rows[0].keys() if rows else []) if c}
    if "name" not in columns:
        raise CaigouError(f"{path}: neither FollowTheMoney JSON lines nor a CSV with a 'name' column")
    entries = []
    for number, row in enumerate(rows, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not row.get("name"):
            continue
        aliases = [a.strip() for a in row.get("aliases", "").replace("|", ";").split(";") if a.strip()]
        entries.append(Entry(row.get("id") or f"line {number}", row["name"], [row["name"], *aliases]))
    return entries


def _ftm_entries(path: Path, text: str) -> list[Entry]:
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            schema, properties = data["schema"], data.get("properties", {})
        except (ValueError, KeyError, TypeError, AttributeError):
            raise CaigouError(f"{path}, line {number}: not a FollowTheMoney entity (JSON with schema and "
                              "properties)") from None
        if schema not in ORGANISATION_SCHEMATA or not isinstance(properties, dict):
            continue
        names = [n for p in NAME_PROPERTIES for n in properties.get(p, []) if isinstance(n, str) and n.strip()]
        if names:
            entries.append(Entry(str(data.get("id", f"line {number}")), names[0], names))
    return entries


def screen(session: Session, entries: list[Entry], list_name: str) -> list[ScreeningFlag]:
    """Flag the organisations matching ``entries``, replacing the flags of ``list_name``."""
    session.execute(delete(ScreeningFlag).where(ScreeningFlag.list_name == list_name))
    organisations = list(session.scalars(select(Organisation)))
    written: dict[tuple[str, str], Organisation] = {}
    by_id = {o.id: o for o in organisations}
    for name in session.scalars(select(OrganisationName)):
        written[(name.kind, name.name_key)] = by_id[name.organisation_id]
    keys = {kind: {o.key: o for o in organisations if o.kind == kind} for kind in ("buyer", "supplier")}
    flags: dict[tuple[str, str, str], ScreeningFlag] = {}
    for entry in entries:
        for alias in entry.names:
            for kind in ("buyer", "supplier"):
                found = written.get((kind, text_key(alias)))
                how = "name as written"
                rule_key = name_key(kind, alias).key
                if found is None:
                    found, how = keys[kind].get(rule_key), "same name by the rules"
                if found is None:
                    close = similar(rule_key, list(keys[kind]))
                    if close is not None:
                        found, how = keys[kind][close[0]], f"similar ({close[1]:.0f}/100)"
                if found is not None and (found.kind, found.key, entry.entry_id) not in flags:
                    flags[(found.kind, found.key, entry.entry_id)] = ScreeningFlag(
                        list_name=list_name, kind=found.kind, organisation_key=found.key, entry_id=entry.entry_id,
                        entry_name=entry.name, matched=f"{alias}: {how}")
    session.add_all(flags.values())
    session.flush()
    return list(flags.values())


def flags_for(session: Session, organisation_ids: list[int]) -> list[dict[str, str]]:
    """The screening flags of these organisations, for a dossier."""
    organisations = list(session.scalars(select(Organisation).where(Organisation.id.in_(organisation_ids))))
    if not organisations:
        return []
    names = {(o.kind, o.key): o.name for o in organisations}
    rows = session.scalars(select(ScreeningFlag).where(
        tuple_(ScreeningFlag.kind, ScreeningFlag.organisation_key).in_(list(names))).order_by(ScreeningFlag.id))
    return [{"organisation": names[(f.kind, f.organisation_key)], "list": f.list_name, "entry": f.entry_name,
             "entry_id": f.entry_id, "matched": f.matched} for f in rows]
