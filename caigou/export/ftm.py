"""``caigou export --format ftm``: FollowTheMoney entities as JSON lines, built with the ``followthemoney`` library,
for Aleph, OpenSanctions' tools and anything else that reads FtM.

* a buyer organisation → ``PublicBody`` (its sub-units with ``parent``); a supplier → ``Company``; the names the
  notices write are their ``alias``es;
* a purchase (one procurement, or a notice of none: ``caigou.reports.dossier``'s rule) → ``Contract``, with the
  buyer as ``authority``, the project code, the largest budget as ``amount`` (CNY);
* each supplier row of a notice → ``ContractAward`` (``supplier``, ``contract``, amount, lot, date);
* each notice → ``Article`` (title, publication date, URL, fetch time, and the SHA-256 of the archived page in its
  ``description`` — FtM's ``contentHash`` holds SHA-1 only) and a ``Documentation`` tying it to its contract.

IDs are hashes of stable keys (an organisation's key, a procurement's normalised key, a notice's source and key),
never of database row IDs, so the same archive exports the same IDs every time and in every database.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

from followthemoney import model
from followthemoney.proxy import EntityProxy
from sqlalchemy import func, select

from caigou.export.rows import Selection
from caigou.models import (
    Notice,
    NoticeLink,
    NoticeOrganisation,
    Organisation,
    OrganisationName,
    Procurement,
    RawPage,
    Source,
    Supplier,
)
from caigou.models.db import Database

PREFIX = "caigou"
COUNTRY = "cn"


def _entity(schema: str, *key: Any) -> EntityProxy:
    entity = model.make_entity(schema)
    entity.make_id(PREFIX, schema, *map(str, key))
    return entity


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def organisation_entity(organisation: Organisation, aliases: list[str], parent: Organisation | None) -> EntityProxy:
    entity = _entity("PublicBody" if organisation.kind == "buyer" else "Company", organisation.kind,
                     organisation.key)
    entity.add("name", organisation.name)
    entity.add("alias", [a for a in aliases if a != organisation.name])
    entity.add("country", COUNTRY)
    if organisation.kind == "buyer":
        entity.add("jurisdiction", COUNTRY)
        if organisation.region_name:
            entity.add("address", organisation.region_name)
        if parent is not None:
            entity.add("parent", organisation_id(parent))
    return entity


def organisation_id(organisation: Organisation) -> str:
    return _entity("PublicBody" if organisation.kind == "buyer" else "Company", organisation.kind,
                   organisation.key).id or ""


def entities(database: Database, selection: Selection) -> Iterator[EntityProxy]:
    """Every entity of the selected notices: organisations first (once each), then per notice its contract,
    awards, article and documentation."""
    with database.session() as session:
        ids = list(session.scalars(selection.narrowed(select(Notice.id), database).order_by(Notice.id)))
        sources = dict(session.execute(select(Source.id, Source.name)).all())
        seen: set[str] = set()
        contracts: dict[str, EntityProxy] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            notices = list(session.scalars(select(Notice).where(Notice.id.in_(chunk)).order_by(Notice.id)))
            links = {row.notice_id: row for row in session.scalars(select(NoticeLink).where(
                NoticeLink.notice_id.in_(chunk)))}
            procurement_keys = dict(session.execute(select(Procurement.id, Procurement.key).where(
                Procurement.id.in_({link.procurement_id for link in links.values() if link.procurement_id}))).all())
            parties = list(session.scalars(select(NoticeOrganisation).where(NoticeOrganisation.notice_id.in_(chunk))))
            organisations = {o.id: o for o in session.scalars(select(Organisation).where(
                Organisation.id.in_({p.organisation_id for p in parties})))}
            parents = {o.id: o for o in session.scalars(select(Organisation).where(
                Organisation.id.in_({o.parent_id for o in organisations.values() if o.parent_id})))}
            organisations.update(parents)
            aliases: dict[int, list[str]] = {}
            for name in session.scalars(select(OrganisationName).where(
                    OrganisationName.organisation_id.in_(list(organisations)))):
                aliases.setdefault(name.organisation_id, []).append(name.name)
            fetched = dict(session.execute(select(RawPage.sha256, func.min(RawPage.first_fetched_at)).where(
                RawPage.sha256.in_({n.raw_sha256 for n in notices if n.raw_sha256})).group_by(RawPage.sha256)).all())
            suppliers: dict[int, list[Supplier]] = {}
            for row in session.scalars(select(Supplier).where(Supplier.notice_id.in_(chunk))):
                suppliers.setdefault(row.notice_id, []).append(row)

            for organisation in sorted(organisations.values(), key=lambda o: o.id):
                entity = organisation_entity(organisation, sorted(aliases.get(organisation.id, [])),
                                             organisations.get(organisation.parent_id or -1))
                if entity.id not in seen:
                    seen.add(entity.id or "")
                    yield entity
            for notice in notices:
                link = links.get(notice.id)
                source = sources.get(notice.source_id, "")
                if link is not None and link.procurement_id in procurement_keys:
                    contract_key: tuple[Any, ...] = ("procurement", procurement_keys[link.procurement_id])
                else:
                    contract_key = ("notice", source, notice.source_key)
                buyer = next((organisations[p.organisation_id] for p in parties
                              if p.notice_id == notice.id and p.role == "buyer"), None)
                contract = contracts.get(repr(contract_key))
                if contract is None:
                    contract = contracts[repr(contract_key)] = _entity("Contract", *contract_key)
                    contract.add("title", notice.title)
                    contract.add("procedureNumber", notice.project_code or None)
                    contract.add("country", COUNTRY)
                    contract.add("currency", "CNY")
                    if buyer is not None:
                        contract.add("authority", organisation_id(buyer))
                if notice.budget_cny is not None:
                    budgets = [Decimal(a) for a in contract.get("amount")] + [notice.budget_cny]
                    contract.set("amount", _amount(max(budgets)))
                if notice.published_at is not None:
                    contract.add("contractDate", notice.published_at.date().isoformat())
                contract.add("sourceUrl", notice.url)
                contract.add("noticeId", f"{source}:{notice.source_key}")
                yield contract

                article = _entity("Article", "notice", source, notice.source_key)
                article.add("title", notice.title)
                article.add("fileName", f"{source}-{notice.source_key}.html")
                article.add("sourceUrl", notice.url)
                article.add("publisher", source)
                article.add("language", "zho")
                if notice.published_at is not None:
                    article.add("publishedAt", notice.published_at.isoformat(timespec="seconds"))
                when = fetched.get(notice.raw_sha256)
                if when is not None:
                    article.add("retrievedAt", when.isoformat(timespec="seconds"))
                if notice.raw_sha256:
                    article.add("description", f"SHA-256 of the archived page: {notice.raw_sha256}")
                article.add("bodyText", notice.body_text or None)
                yield article

                documentation = _entity("Documentation", "notice", source, notice.source_key, "contract")
                documentation.add("document", article.id)
                documentation.add("entity", contract.id)
                documentation.add("role", notice.notice_type_label or notice.notice_type)
                yield documentation

                by_position = {p.position: organisations[p.organisation_id] for p in parties
                               if p.notice_id == notice.id and p.role == "supplier"}
                for row in sorted(suppliers.get(notice.id, []), key=lambda r: r.position):
                    supplier = by_position.get(row.position)
                    if supplier is None:
                        continue
                    award = _entity("ContractAward", "notice", source, notice.source_key, row.position)
                    award.add("contract", contract.id)
                    award.add("supplier", organisation_id(supplier))
                    award.add("amount", _amount(row.amount_cny))
                    award.add("currency", "CNY")
                    award.add("lotNumber", row.lot or None)
                    award.add("sourceUrl", notice.url)
                    award.add("role", notice.notice_type_label or None)
                    if notice.published_at is not None:
                        award.add("date", notice.published_at.date().isoformat())
                    yield award


def write_ftm(database: Database, selection: Selection, out: IO[str]) -> int:
    """Write the entities as JSON lines (a contract appears again, more complete, with each of its notices: FtM
    readers merge fragments of one ID). Returns the number of lines."""
    count = 0
    for entity in entities(database, selection):
        out.write(json.dumps(entity.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
        count += 1
    return count
