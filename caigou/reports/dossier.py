"""Dossiers: everything the archive says about one buyer, supplier, brand or region, each figure with its evidence.

How figures are counted (the rules, in one place; tests/test_reports.py computes them again in SQL):

* **Notices**: one per publication (the best-ranked stored copy; the other copies are the same notice).
* **Purchases**: the notices of one procurement (tender, correction, award of one project) are one purchase; a
  notice of no procurement is a purchase of its own. A purchase's year is that of its first dated notice.
* **Budget** (预算) and **award** (中标/成交) are kept apart. A purchase's budget is the largest budget its
  notices state (a correction restates the tender's); its award likewise the largest award. In a supplier
  dossier the award is what that supplier's rows state (a lot's amount), else the notice's award when the
  supplier is its only one.
* **Capacity** is the matcher's summary (``notice_scores.capacity``: reactions, sample cards, instruments), the
  largest per purchase, summed over purchases.
* Every notice line cites its URL, the fetch time and SHA-256 of the archived page it was parsed from; brands found
  in an attachment cite the attachment's too.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caigou.models import (
    Attachment,
    Notice,
    NoticeLink,
    NoticeOrganisation,
    NoticeScore,
    Organisation,
    OrganisationName,
    RawPage,
    Supplier,
)
from caigou.models.errors import CaigouError
from caigou.models.types import SHANGHAI, now
from caigou.pipelines.entities.brands import Maker, find_maker, makers, notice_brands
from caigou.pipelines.entities.names import name_key, similar
from caigou.pipelines.regions import code_prefix, region_by_code
from caigou.pipelines.text import text_key

CAPACITY_KEYS = ("reactions", "cards", "instruments")
KIND_LABELS = {"buyer": "Buyer", "supplier": "Supplier", "brand": "Brand", "region": "Region"}


@dataclass
class Evidence:
    url: str
    fetched_at: dt.datetime | None
    sha256: str
    what: str = "page"          # page | attachment NAME


@dataclass
class Line:
    """One notice, as the dossier cites it."""

    notice_id: int
    purchase: str
    title: str
    notice_type: str
    published: dt.date | None
    region_code: str
    region_name: str
    buyer_id: int | None
    buyer: str
    buyer_type: str
    suppliers: list[dict[str, Any]]
    budget_cny: Decimal | None
    award_cny: Decimal | None      # for the subject (a supplier's own amount in a supplier dossier)
    brands: list[str]
    capacity: dict[str, int]
    evidence: list[Evidence]


@dataclass
class Tally:
    """Figures of a year, a party or the whole dossier, with the notices they come from."""

    label: str
    purchases: int = 0
    budget_cny: Decimal = Decimal(0)
    award_cny: Decimal = Decimal(0)
    capacity: dict[str, int] = field(default_factory=dict)
    first: dt.date | None = None
    last: dt.date | None = None
    notices: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Dossier:
    kind: str
    subject: str
    subject_id: int | None
    details: dict[str, str]
    lines: list[Line]
    total: Tally
    years: list[Tally]
    buyers: list[Tally]
    suppliers: list[Tally]
    brands: list[Tally]
    subunits: list[Tally]
    flags: list[dict[str, str]] = field(default_factory=list)
    generated_at: dt.datetime | None = None

    @property
    def title(self) -> str:
        return f"{KIND_LABELS[self.kind]} dossier: {self.subject}"


# ------------------------------------------------------------------------------------------------ subjects

def _archive_not_empty(session: Session) -> None:
    if not session.scalar(select(func.count(Notice.id))):
        raise CaigouError("the archive holds no notices yet: crawl first (caigou crawl …) or try caigou demo")


def find_organisation(session: Session, kind: str, wanted: str) -> Organisation:
    """An organisation by ID or by name (as written, by its rules' key, or the most similar key)."""
    _archive_not_empty(session)
    wanted = wanted.strip()
    if wanted.isdigit():
        found = session.get(Organisation, int(wanted)) if int(wanted) < 2**31 else None
        if found is None or found.kind != kind:
            raise CaigouError(f"no {kind} has ID {wanted}")
        return found
    written = text_key(wanted)
    organisation_id = session.scalar(select(OrganisationName.organisation_id).where(
        OrganisationName.kind == kind, OrganisationName.name_key == written))
    if organisation_id is None:
        key = name_key(kind, wanted).key
        organisation_id = session.scalar(select(Organisation.id).where(Organisation.kind == kind,
                                                                       Organisation.key == key))
        if organisation_id is None and key:
            keys = list(session.scalars(select(Organisation.key).where(Organisation.kind == kind)))
            close = similar(key, keys)
            if close is not None:
                organisation_id = session.scalar(select(Organisation.id).where(Organisation.kind == kind,
                                                                               Organisation.key == close[0]))
    if organisation_id is None:
        raise CaigouError(f"no {kind} named {wanted!r} in the archive (give a name as notices write it, or an ID)")
    return session.get_one(Organisation, organisation_id)


def descendants(session: Session, organisation: Organisation) -> list[Organisation]:
    """The organisation's sub-units, and theirs."""
    found: list[Organisation] = []
    frontier = [organisation.id]
    while frontier:
        children = list(session.scalars(select(Organisation).where(Organisation.parent_id.in_(frontier))
                                        .order_by(Organisation.id)))
        children = [c for c in children if c.id != organisation.id and c not in found]
        found.extend(children)
        frontier = [c.id for c in children]
    return found


def _region_prefix(code: str) -> str:
    region = region_by_code(code)
    if region is None:
        raise CaigouError(f"unknown region code {code!r}: give a province (54), prefecture (540600) or county code")
    return code_prefix(region.code)


# ------------------------------------------------------------------------------------------------ building

def _one_per_publication(session: Session, ids: Iterable[int]) -> list[int]:
    """The best-ranked copy of each publication among ``ids``."""
    ids = sorted(set(ids))
    best: dict[int, tuple[int, int]] = {}
    for start in range(0, len(ids), 500):
        for notice_id, canonical, rank in session.execute(
                select(Notice.id, func.coalesce(NoticeLink.canonical_id, Notice.id),
                       func.coalesce(NoticeLink.group_rank, 0))
                .outerjoin(NoticeLink, NoticeLink.notice_id == Notice.id)
                .where(Notice.id.in_(ids[start:start + 500]))):
            if canonical not in best or (rank, notice_id) < best[canonical]:
                best[canonical] = (rank, notice_id)
    return sorted(notice_id for _, notice_id in best.values())


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), 500):
        yield ids[start:start + 500]


def _evidence(session: Session, notices: list[Notice], brand_fields: dict[int, set[str]]) -> dict[int,
                                                                                                 list[Evidence]]:
    shas = {n.raw_sha256 for n in notices if n.raw_sha256}
    fetched: dict[str, dt.datetime] = {}
    for sha, when in session.execute(select(RawPage.sha256, func.min(RawPage.first_fetched_at))
                                     .where(RawPage.sha256.in_(shas)).group_by(RawPage.sha256)):
        fetched[sha] = when
    found = {n.id: [Evidence(n.url, fetched.get(n.raw_sha256), n.raw_sha256)] for n in notices}
    wanted = {(notice_id, f.split(":", 1)[1]) for notice_id, fields in brand_fields.items() for f in fields
              if f.startswith("attachment:")}
    if wanted:
        for attachment in session.scalars(select(Attachment).where(
                Attachment.notice_id.in_({w[0] for w in wanted}))):
            if (attachment.notice_id, attachment.name) in {(n, name.split("/")[0]) for n, name in wanted}:
                found[attachment.notice_id].append(Evidence(attachment.url, attachment.fetched_at,
                                                            attachment.raw_sha256, f"attachment {attachment.name}"))
    return found


def build(session: Session, kind: str, subject: str, notice_ids: Iterable[int], *, subject_id: int | None = None,
          details: dict[str, str] | None = None, supplier_ids: set[int] | None = None,
          subunits: list[Organisation] | None = None, brand: Maker | None = None) -> Dossier:
    """The dossier of the notices ``notice_ids`` (``supplier_ids``: whose amounts count as the award)."""
    ids = _one_per_publication(session, notice_ids)
    notices: list[Notice] = []
    for chunk in _chunks(ids):
        notices.extend(session.scalars(select(Notice).where(Notice.id.in_(chunk))))
    links = {row.notice_id: row for chunk in _chunks(ids)
             for row in session.scalars(select(NoticeLink).where(NoticeLink.notice_id.in_(chunk)))}
    scores = {row.notice_id: row for chunk in _chunks(ids)
              for row in session.scalars(select(NoticeScore).where(NoticeScore.notice_id.in_(chunk)))}
    parties: dict[int, list[NoticeOrganisation]] = {}
    for chunk in _chunks(ids):
        for row in session.scalars(select(NoticeOrganisation).where(NoticeOrganisation.notice_id.in_(chunk))):
            parties.setdefault(row.notice_id, []).append(row)
    org_ids = {row.organisation_id for rows in parties.values() for row in rows}
    organisations = {o.id: o for chunk in _chunks(sorted(org_ids))
                     for o in session.scalars(select(Organisation).where(Organisation.id.in_(chunk)))}
    brands = notice_brands(session, ids)
    brand_fields = {nid: {f for b in found.values() for f in b.fields} for nid, found in brands.items()}
    if brand is not None:
        brand_fields = {nid: found[brand.name].fields for nid, found in brands.items() if brand.name in found}
    evidence = _evidence(session, notices, brand_fields)
    supplier_rows: dict[int, list[Supplier]] = {}
    for chunk in _chunks(ids):
        for supplier_row in session.scalars(select(Supplier).where(Supplier.notice_id.in_(chunk))):
            supplier_rows.setdefault(supplier_row.notice_id, []).append(supplier_row)

    lines: list[Line] = []
    for notice in sorted(notices, key=lambda n: (n.published_at is None, n.published_at or now(), n.id)):
        link = links.get(notice.id)
        purchase = (f"P{link.procurement_id}" if link is not None and link.procurement_id is not None
                    else f"N{link.canonical_id if link is not None and link.canonical_id else notice.id}")
        buyer_row = next((r for r in parties.get(notice.id, []) if r.role == "buyer"), None)
        by_position = {r.position: organisations[r.organisation_id] for r in parties.get(notice.id, [])
                       if r.role == "supplier"}
        suppliers = [{"id": by_position[s.position].id if s.position in by_position else None,
                      "name": s.name, "organisation": by_position[s.position].name if s.position in by_position
                      else s.name, "lot": s.lot, "amount_cny": s.amount_cny}
                     for s in sorted(supplier_rows.get(notice.id, []), key=lambda s: s.position)]
        award = notice.award_cny if supplier_ids is None else own_award(suppliers, notice.award_cny, supplier_ids)
        capacity = {k: int(v) for k, v in ((scores[notice.id].capacity or {}) if notice.id in scores else {}).items()
                    if k in CAPACITY_KEYS and v}
        lines.append(Line(
            notice_id=notice.id, purchase=purchase, title=notice.title, notice_type=notice.notice_type,
            published=notice.published_at.date() if notice.published_at else None,
            region_code=notice.region_code or "", region_name=notice.region_name,
            buyer_id=buyer_row.organisation_id if buyer_row else None,
            buyer=organisations[buyer_row.organisation_id].name if buyer_row else notice.buyer,
            buyer_type=scores[notice.id].buyer_type if notice.id in scores else "",
            suppliers=suppliers, budget_cny=notice.budget_cny, award_cny=award,
            brands=sorted(brands.get(notice.id, {})), capacity=capacity, evidence=evidence[notice.id]))

    def party_tallies(key: Any, label: Any, extra: Any = None) -> list[Tally]:
        keyed: dict[Any, list[Line]] = {}
        for line in lines:
            for k in key(line):
                keyed.setdefault(k, []).append(line)
        tallies = [tally(label(k), members) for k, members in keyed.items()]
        for t, k in zip(tallies, keyed, strict=False):
            t.extra = {"id": k} if extra is None else extra(k)
        return sorted(tallies, key=lambda t: (-(t.award_cny + t.budget_cny), t.label))

    years = party_tallies(lambda line: [purchase_year(lines, line.purchase)], str, lambda k: {})
    years.sort(key=lambda t: t.label)
    buyers = party_tallies(lambda line: [line.buyer_id] if line.buyer_id else [],
                           lambda k: organisations[k].name,
                           lambda k: {"id": k, "region": organisations[k].region_name})
    # A supplier's figures count its own amounts, not the whole notice's (two lots, two suppliers).
    supplier_lines: dict[int, list[Line]] = {}
    for line in lines:
        for supplier_id in {s["id"] for s in line.suppliers if s["id"]}:
            supplier_lines.setdefault(supplier_id, []).append(
                replace(line, award_cny=own_award(line.suppliers, line.award_cny, {supplier_id})))
    supplier_tallies: list[Tally] = []
    for supplier_id, members in supplier_lines.items():
        figures = tally(organisations[supplier_id].name, members)
        figures.extra = {"id": supplier_id, "buyers": sorted({m.buyer for m in members})}
        supplier_tallies.append(figures)
    supplier_tallies.sort(key=lambda t: (-t.award_cny, t.label))
    makers_by_name = {m.name: m for m in makers()}
    brand_tallies = party_tallies(lambda line: line.brands, str,
                                  lambda k: {"country": makers_by_name[k].country.upper()})
    unit_ids = {u.id for u in subunits or []}
    units = [t for t in buyers if t.extra["id"] in unit_ids]
    from caigou.reports.screening import flags_for

    # Screening flags of the subject and of every buyer and supplier involved.
    flags = flags_for(session, sorted(org_ids | {subject_id or 0} | unit_ids))
    return Dossier(kind=kind, subject=subject, subject_id=subject_id, details=details or {}, lines=lines,
                   total=tally("Total", lines), years=years, buyers=buyers, suppliers=supplier_tallies,
                   brands=brand_tallies, subunits=units, flags=flags, generated_at=now())


def own_award(suppliers: list[dict[str, Any]], notice_award: Decimal | None,
              supplier_ids: set[int]) -> Decimal | None:
    """What the suppliers ``supplier_ids`` were awarded in one notice: their rows' amounts, else the notice's award
    when they are its only supplier."""
    own = [s for s in suppliers if s["id"] in supplier_ids]
    amounts = [s["amount_cny"] for s in own if s["amount_cny"] is not None]
    if amounts:
        return sum(amounts, Decimal(0))
    return notice_award if own and len(suppliers) == 1 else None


def purchase_year(lines: list[Line], purchase: str) -> str:
    dates = [line.published for line in lines if line.purchase == purchase and line.published]
    return str(min(dates).year) if dates else "undated"


def tally(label: str, lines: list[Line]) -> Tally:
    """Figures of ``lines`` by the module's rules: per purchase the largest budget, award and capacity."""
    result = Tally(label)
    purchases: dict[str, list[Line]] = {}
    for line in lines:
        purchases.setdefault(line.purchase, []).append(line)
        result.notices.append(line.notice_id)
        if line.published:
            result.first = min(result.first or line.published, line.published)
            result.last = max(result.last or line.published, line.published)
    result.purchases = len(purchases)
    for members in purchases.values():
        result.budget_cny += max((m.budget_cny for m in members if m.budget_cny is not None), default=Decimal(0))
        result.award_cny += max((m.award_cny for m in members if m.award_cny is not None), default=Decimal(0))
        for key in CAPACITY_KEYS:
            most = max((m.capacity.get(key, 0) for m in members), default=0)
            if most:
                result.capacity[key] = result.capacity.get(key, 0) + most
    return result


# ------------------------------------------------------------------------------------------------ the four kinds

def organisation_dossier(session: Session, kind: str, wanted: str) -> Dossier:
    organisation = find_organisation(session, kind, wanted)
    units = descendants(session, organisation) if kind == "buyer" else []
    members = [organisation.id] + [u.id for u in units]
    ids = set(session.scalars(select(NoticeOrganisation.notice_id).where(
        NoticeOrganisation.role == kind, NoticeOrganisation.organisation_id.in_(members))))
    names = list(session.scalars(select(OrganisationName).where(OrganisationName.organisation_id == organisation.id)
                                 .order_by(OrganisationName.id)))
    parent = session.get(Organisation, organisation.parent_id) if organisation.parent_id else None
    details = {"ID": str(organisation.id), "Region": f"{organisation.region_name} ({organisation.region_code})"
               if organisation.region_code else "",
               "Names as written": "; ".join(f"{n.name} ({n.reason})" for n in names)}
    if parent is not None:
        details["Part of"] = f"{parent.name} (ID {parent.id})"
    return build(session, kind, organisation.name, ids, subject_id=organisation.id, details=details,
                 supplier_ids={organisation.id} if kind == "supplier" else None, subunits=units)


def brand_dossier(session: Session, wanted: str) -> Dossier:
    _archive_not_empty(session)
    maker = find_maker(wanted)
    if maker is None:
        known = ", ".join(m.name for m in makers())
        raise CaigouError(f"no brand or maker named {wanted!r} (known: {known})")
    from caigou.models import NoticeMatch

    ids = set(session.scalars(select(NoticeMatch.notice_id).where(NoticeMatch.term.in_(maker.terms)).distinct()))
    details = {"Maker": maker.name, "Country": maker.country.upper(),
               "Known as": ", ".join(maker.aliases), "Watchlist terms": ", ".join(maker.terms)}
    return build(session, "brand", maker.name, ids, details=details, brand=maker)


def region_dossier(session: Session, code: str, since: dt.date | None = None,
                   until: dt.date | None = None) -> Dossier:
    _archive_not_empty(session)
    prefix = _region_prefix(code)
    region = region_by_code(code)
    assert region is not None
    statement = select(Notice.id).where(Notice.region_code.startswith(prefix))
    statement = within(statement, since, until)
    details = {"Code": region.code, "Period": f"{since or '…'} – {until or '…'}"}
    return build(session, "region", region.name, set(session.scalars(statement)), details=details)


def within(statement: Any, since: dt.date | None, until: dt.date | None) -> Any:
    """``statement`` narrowed to notices published from ``since`` to ``until`` (both days included, China time)."""
    if since is not None:
        statement = statement.where(Notice.published_at >= dt.datetime.combine(since, dt.time(), SHANGHAI))
    if until is not None:
        statement = statement.where(Notice.published_at < dt.datetime.combine(until + dt.timedelta(days=1),
                                                                            dt.time(), SHANGHAI))
    return statement


def dossier(session: Session, kind: str, wanted: str, since: dt.date | None = None,
            until: dt.date | None = None) -> Dossier:
    if kind in ("buyer", "supplier"):
        return organisation_dossier(session, kind, wanted)
    if kind == "brand":
        return brand_dossier(session, wanted)
    return region_dossier(session, wanted, since, until)

