"""Linking notices: one publication seen on several sources, and the notices of one procurement.

The same notice is often published on ccgp, on a provincial portal and on ggzy. Each copy stays a stored notice of
its own source (the evidence), and linking says they are one **publication group**, so search and digests count it
once. The notices of one project (intention → tender → correction → award) are linked as one **procurement**.

What counts as the same (the rules, in one place):

* **Project codes** are compared normalised (``project_code_key``): NFKC (full-width to ASCII), upper case, without
  white space, dashes of any kind, underscores, dots, slashes or brackets (【】[]〔〕()《》), a leading label
  (项目编号：) or a trailing 号. So ``XZ-2024-015``, ``xz2024015``, ``ＸＺ－２０２４－０１５`` and ``【XZ2024-015】``
  are one code; ``XZ-2024-15`` is not ``XZ-2024-015`` (leading zeros are not guessed). Placeholders (无, /, -, 暂无,
  见附件, …) and anything shorter than five characters or without a digit are no code at all.
* **Titles and buyers** are compared after NFKC, case folding and removing everything but letters, digits and CJK
  (white space and punctuation, full- or half-width, do not matter); nothing else is rewritten.
* **Same publication**: different sources (two notices of one source are never merged — a source does not publish
  one notice twice), the same notice type, and either
  - the same project code, the buyers equal or one of them unknown, published within 7 days of each other (or a
    date unknown) — the window keeps a project's second correction from merging with its first; or
  - the same title and the same (known) buyer, published within 3 days of each other;
  and never when both carry project codes that differ, or buyers that differ.
  A group holds at most one notice per source; its canonical notice is ccgp's copy when there is one, else the copy
  stored first (``first_seen_at``, then ID). Grouping is a deterministic function of each connected set of
  candidates, so linking one notice at a time and ``relink`` give the same groups.
* **Same procurement**: the same project code, any type; and the same buyer when both are known. A notice without a
  buyer joins the code's procurement when the code has exactly one buyer, else it stays in the code's buyer-less
  procurement. A notice without a code takes the procurement of its publication group, if a copy has a code;
  otherwise it belongs to no procurement (titles across types are too loose to link by).

Links are derived data in ``notice_links`` and ``procurements``; linking never changes a notice or its evidence.
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, delete, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from caigou.models import Notice, NoticeLink, Procurement, Source
from caigou.models.types import now
from caigou.pipelines.text import PLACEHOLDERS, text_key

CANONICAL_SOURCE = "ccgp"                   # the national portal: the copy investigators cite
CODE_WINDOW = dt.timedelta(days=7)          # same code, same type: copies published this close are one notice
TITLE_WINDOW = dt.timedelta(days=3)         # same title and buyer: copies published this close are one notice
MIN_CODE_LENGTH = 5

_CODE_LABEL = re.compile(r"^(?:项目编号|项目代码|采购编号|采购项目编号|招标编号|计划编号|编号)\s*[:：]?\s*")
_CODE_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―−﹣－_.·・/\\|【】\[\]〔〕［］()（）<>《》〈〉{}]+")


# ------------------------------------------------------------------------------------------------ normalising

def project_code_key(code: str | None) -> str:
    """A project code as compared: see the module's rules. Empty for no code or a placeholder."""
    text = unicodedata.normalize("NFKC", code or "").strip().upper()
    if text in PLACEHOLDERS:
        return ""
    text = _CODE_LABEL.sub("", text)
    text = _CODE_SEPARATORS.sub("", text).removesuffix("号")
    if text in PLACEHOLDERS or len(text) < MIN_CODE_LENGTH or not any(c.isdigit() for c in text):
        return ""
    if len(set(text)) == 1:  # 00000, 11111: a filler, not a code
        return ""
    return text[:200]


# ------------------------------------------------------------------------------------------------ the rules

def _days_apart(a: NoticeLink, b: NoticeLink) -> dt.timedelta | None:
    if a.published_at is None or b.published_at is None:
        return None
    return abs(a.published_at - b.published_at)


def conflicts(a: NoticeLink, b: NoticeLink) -> bool:
    """Two notices that cannot be one publication, whatever else they share."""
    apart = _days_apart(a, b)
    return (a.source_id == b.source_id or a.notice_type != b.notice_type
            or bool(a.code_key and b.code_key and a.code_key != b.code_key)
            or bool(a.buyer_key and b.buyer_key and a.buyer_key != b.buyer_key)
            or (apart is not None and apart > CODE_WINDOW))


def strength(a: NoticeLink, b: NoticeLink) -> int:
    """How surely ``a`` and ``b`` are one publication: 3 code and title, 2 code, 1 title, 0 not the same."""
    if conflicts(a, b):
        return 0
    apart = _days_apart(a, b)
    by_code = bool(a.code_key and a.code_key == b.code_key)   # the window is checked by conflicts()
    by_title = bool(a.title_key and a.title_key == b.title_key and a.buyer_key and b.buyer_key
                    and apart is not None and apart <= TITLE_WINDOW)
    return 2 * by_code + by_title


def _closeness(a: NoticeLink, b: NoticeLink) -> tuple[int, float]:
    apart = _days_apart(a, b)
    return strength(a, b), -(apart.total_seconds() if apart is not None else float("inf"))


def cluster(nodes: Iterable[NoticeLink], source_names: dict[int, str]) -> list[list[NoticeLink]]:
    """Publication groups of one connected set of candidates, deterministic.

    Notices are taken in canonical order (ccgp first, then the first stored); each joins the group it is most
    surely the same as (a link to any member, no conflict with any), or starts a group. So a group's first member
    is its canonical notice and holds at most one notice per source.
    """
    groups: list[list[NoticeLink]] = []
    for node in sorted(nodes, key=lambda n: preference(n, source_names)):
        best: tuple[tuple[int, float], int] | None = None
        for index, group in enumerate(groups):
            if any(conflicts(node, member) for member in group):
                continue
            closeness = max(_closeness(node, member) for member in group)
            if closeness[0] and (best is None or closeness > best[0]):
                best = (closeness, index)
        if best is None:
            groups.append([node])
        else:
            groups[best[1]].append(node)
    return groups


def preference(node: NoticeLink, source_names: dict[int, str]) -> tuple[int, dt.datetime, int]:
    return (source_names.get(node.source_id) != CANONICAL_SOURCE, node.first_seen_at, node.notice_id)


def procurement_key(code_key: str, buyer_key: str, code_buyers: set[str]) -> str:
    """``code|buyer``; a buyer-less notice takes the code's only buyer, if it has exactly one."""
    if not buyer_key and len(code_buyers) == 1:
        buyer_key = next(iter(code_buyers))
    return f"{code_key}|{buyer_key}"


# ------------------------------------------------------------------------------------------------ the links

def _snapshot(notice: Any) -> dict[str, Any]:
    """What linking looks at, from a ``Notice`` or a row with the same attributes."""
    return {"source_id": notice.source_id, "notice_type": notice.notice_type, "published_at": notice.published_at,
            "first_seen_at": notice.first_seen_at, "code_key": project_code_key(notice.project_code),
            "title_key": text_key(notice.title), "buyer_key": text_key(notice.buyer)}


def _refresh(session: Session, notice: Any, row: NoticeLink | None) -> NoticeLink:
    values = _snapshot(notice)
    if row is None:
        row = NoticeLink(notice_id=notice.id, canonical_id=notice.id, group_rank=0, **values)
        session.add(row)
    else:
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
    return row


def _candidates(session: Session, row: NoticeLink) -> list[NoticeLink]:
    """Stored notices that could be one publication with ``row`` (an edge of the candidate graph)."""
    keys = []
    if row.code_key:
        keys.append(NoticeLink.code_key == row.code_key)
    if row.title_key and row.buyer_key:
        keys.append(and_(NoticeLink.title_key == row.title_key, NoticeLink.buyer_key == row.buyer_key))
    if not keys:
        return []
    found = session.scalars(select(NoticeLink).where(
        NoticeLink.notice_type == row.notice_type, NoticeLink.source_id != row.source_id,
        NoticeLink.notice_id != row.notice_id, or_(*keys))).all()
    return [other for other in found if strength(row, other)]


def _component(session: Session, start: NoticeLink) -> dict[int, NoticeLink]:
    """Every notice connected to ``start`` through candidate edges."""
    seen = {start.notice_id: start}
    queue = [start]
    while queue:
        for other in _candidates(session, queue.pop()):
            if other.notice_id not in seen:
                seen[other.notice_id] = other
                queue.append(other)
    return seen


def _components(rows: Iterable[NoticeLink]) -> list[list[NoticeLink]]:
    """The connected sets among ``rows`` (pairs compared directly: the sets handed here are small)."""
    rows = list(rows)
    parent = {row.notice_id: row.notice_id for row in rows}

    def root(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            if strength(a, b):
                parent[root(a.notice_id)] = root(b.notice_id)
    sets: dict[int, list[NoticeLink]] = {}
    for row in rows:
        sets.setdefault(root(row.notice_id), []).append(row)
    return list(sets.values())


def _assign_groups(groups: Iterable[list[NoticeLink]], stamp: dt.datetime) -> None:
    for group in groups:
        canonical = group[0].notice_id
        for rank, row in enumerate(group):
            if row.canonical_id != canonical or row.group_rank != rank:
                row.canonical_id, row.group_rank, row.linked_at = canonical, rank, stamp


def _source_names(session: Session) -> dict[int, str]:
    return {source_id: name for source_id, name in session.execute(select(Source.id, Source.name))}


def _set_procurements(session: Session, rows: list[NoticeLink], stamp: dt.datetime,
                      procurements: dict[str, Procurement]) -> set[int]:
    """Procurements of the notices with a code, by the rules; ``rows`` holds every notice of each code it covers.

    Returns the IDs of procurements that may have lost their last notice."""
    buyers: dict[str, set[str]] = {}
    for row in rows:
        if row.buyer_key:
            buyers.setdefault(row.code_key, set()).add(row.buyer_key)
    keyed: dict[str, list[NoticeLink]] = {}
    for row in rows:
        keyed.setdefault(procurement_key(row.code_key, row.buyer_key, buyers.get(row.code_key, set())),
                         []).append(row)
    written = _written(session, [row.notice_id for row in rows])
    missing = [key for key in keyed if key not in procurements]
    for start in range(0, len(missing), 500):
        for stored in session.scalars(select(Procurement).where(Procurement.key.in_(missing[start:start + 500]))):
            procurements[stored.key] = stored
    maybe_orphaned: set[int] = set()
    for key, members in keyed.items():
        in_order = sorted(members, key=lambda r: (written[r.notice_id][2] is None, written[r.notice_id][2] or stamp,
                                                  r.notice_id))
        code = written[in_order[0].notice_id][0]
        buyer = next((written[r.notice_id][1] for r in in_order if r.buyer_key), "") if key.split("|", 1)[1] else ""
        procurement = procurements.get(key)
        if procurement is None:
            procurement = procurements[key] = _new_procurement(session, key, code[:200], buyer[:300], stamp)
        elif (procurement.project_code, procurement.buyer) != (code[:200], buyer[:300]):
            procurement.project_code, procurement.buyer, procurement.updated_at = code[:200], buyer[:300], stamp
        for row in members:
            if row.procurement_id != procurement.id:
                if row.procurement_id is not None:
                    maybe_orphaned.add(row.procurement_id)
                row.procurement_id, row.linked_at = procurement.id, stamp
    return maybe_orphaned


def _new_procurement(session: Session, key: str, code: str, buyer: str, stamp: dt.datetime) -> Procurement:
    """The procurement of ``key``, created unless another process just did (two crawls storing copies of one
    project at the same moment must not fail a notice's save on the unique key)."""
    values = {"key": key, "project_code": code, "buyer": buyer, "updated_at": stamp}
    dialect = session.get_bind().dialect.name
    if dialect in {"postgresql", "sqlite"}:
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert(Procurement).values(**values).on_conflict_do_nothing(index_elements=["key"]))
        return session.scalars(select(Procurement).where(Procurement.key == key)).one()
    procurement = Procurement(**values)
    session.add(procurement)
    session.flush()
    return procurement


def _written(session: Session, ids: list[int]) -> dict[int, tuple[str, str, dt.datetime | None]]:
    """Project code, buyer and date as the notices write them (for a procurement's display)."""
    found: dict[int, tuple[str, str, dt.datetime | None]] = {}
    for start in range(0, len(ids), 1000):
        for notice_id, code, buyer, published in session.execute(
                select(Notice.id, Notice.project_code, Notice.buyer, Notice.published_at)
                .where(Notice.id.in_(ids[start:start + 1000]))):
            found[notice_id] = (code, buyer, published)
    return found


def _borrow(groups: Iterable[list[NoticeLink]], stamp: dt.datetime) -> set[int]:
    """Notices without a code take the procurement of the best-ranked copy in their group that has one."""
    maybe_orphaned: set[int] = set()
    for group in groups:
        lender = next((row.procurement_id for row in sorted(group, key=lambda r: r.group_rank)
                       if row.code_key and row.procurement_id is not None), None)
        for row in group:
            if not row.code_key and row.procurement_id != lender:
                if row.procurement_id is not None:
                    maybe_orphaned.add(row.procurement_id)
                row.procurement_id, row.linked_at = lender, stamp
    return maybe_orphaned


def _drop_orphans(session: Session, ids: set[int]) -> None:
    if ids:
        session.flush()
        session.execute(delete(Procurement).where(
            Procurement.id.in_(ids), ~exists().where(NoticeLink.procurement_id == Procurement.id)))


def link_notice(session: Session, notice: Notice) -> NoticeLink:
    """(Re)link one stored notice after it was saved, new or changed; its old partners are relinked too."""
    stamp = now()
    session.flush()
    row = session.get(NoticeLink, notice.id)
    before: dict[int, NoticeLink] = {}
    old_code = ""
    if row is not None:
        before = _component(session, row)   # what it was linked with, by its old keys
        old_code = row.code_key
    row = _refresh(session, notice, row)
    session.flush()
    affected = {**before, **_component(session, row)}
    # Old groups of the affected notices (a member may have left the candidate graph) are looked at again too.
    canonicals = {r.canonical_id for r in affected.values() if r.canonical_id is not None}
    for member in session.scalars(select(NoticeLink).where(NoticeLink.canonical_id.in_(canonicals))):
        if member.notice_id not in affected:
            affected.update(_component(session, member))
    names = _source_names(session)
    groups = [group for component in _components(affected.values()) for group in cluster(component, names)]
    _assign_groups(groups, stamp)

    codes = {r.code_key for r in affected.values() if r.code_key} | ({old_code} if old_code else set())
    coded = list(session.scalars(select(NoticeLink).where(NoticeLink.code_key.in_(codes)))) if codes else []
    orphans = _set_procurements(session, coded, stamp, {})
    # Groups whose coded copies may have moved lend again to their code-less copies.
    lenders = {r.canonical_id for r in coded} | {group[0].notice_id for group in groups}
    members = session.scalars(select(NoticeLink).where(NoticeLink.canonical_id.in_(lenders))).all()
    by_group: dict[int, list[NoticeLink]] = {}
    for member in members:
        by_group.setdefault(member.canonical_id or member.notice_id, []).append(member)
    orphans |= _borrow(by_group.values(), stamp)
    _drop_orphans(session, orphans)
    from caigou.pipelines.entities.organisations import link_organisations

    link_organisations(session, notice)
    return row


# ------------------------------------------------------------------------------------------------ relinking

LINKED_FIELDS = (Notice.id, Notice.source_id, Notice.notice_type, Notice.published_at, Notice.first_seen_at,
                 Notice.project_code, Notice.title, Notice.buyer)


@dataclass
class RelinkCounts:
    notices: int = 0
    groups: int = 0              # publication groups of more than one notice
    grouped_notices: int = 0     # notices in those groups
    procurements: int = 0
    changed: int = 0             # notices whose group or procurement changed
    organisations: int = 0       # buyers and suppliers (pipelines.entities)

    def line(self) -> str:
        return (f"{self.notices} notices: {self.groups} publications on several sources ({self.grouped_notices} "
                f"notices), {self.procurements} procurements; {self.changed} notices' links changed; "
                f"{self.organisations} organisations")


def relink(session: Session, progress: Callable[[int, int], None] | None = None,
           batch: int = 1000) -> RelinkCounts:
    """Recompute every link from the stored notices (idempotent: unchanged links are left as they are)."""
    stamp = now()
    total = session.scalar(select(func.count(Notice.id))) or 0
    rows: dict[int, NoticeLink] = {row.notice_id: row for row in session.scalars(select(NoticeLink))}
    before = {key: (row.canonical_id, row.group_rank, row.procurement_id) for key, row in rows.items()}
    done, last_id = 0, 0
    while True:
        notices = session.execute(select(*LINKED_FIELDS).where(Notice.id > last_id).order_by(Notice.id)
                                  .limit(batch)).all()
        if not notices:
            break
        for notice in notices:
            rows[notice.id] = _refresh(session, notice, rows.get(notice.id))
        last_id = notices[-1].id
        done += len(notices)
        session.flush()
        if progress:
            progress(done, total)
    names = _source_names(session)

    # Candidate edges by shared keys, then connected sets (union-find), then groups per set.
    parent = {key: key for key in rows}

    def root(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    buckets: dict[tuple[str, str, str], list[NoticeLink]] = {}
    for row in rows.values():
        if row.code_key:
            buckets.setdefault(("code", row.notice_type, row.code_key), []).append(row)
        if row.title_key and row.buyer_key:
            buckets.setdefault(("title", row.notice_type, row.title_key + "|" + row.buyer_key), []).append(row)
    for members in buckets.values():
        for i, a in enumerate(members):
            for b in members[i + 1:]:
                if root(a.notice_id) != root(b.notice_id) and strength(a, b):
                    parent[root(a.notice_id)] = root(b.notice_id)
    components: dict[int, list[NoticeLink]] = {}
    for row in rows.values():
        components.setdefault(root(row.notice_id), []).append(row)
    groups = [group for component in components.values() for group in cluster(component, names)]
    _assign_groups(groups, stamp)

    existing = {p.key: p for p in session.scalars(select(Procurement))}
    coded = [row for row in rows.values() if row.code_key]
    _set_procurements(session, coded, stamp, existing)
    _borrow(groups, stamp)
    session.flush()
    session.execute(delete(Procurement).where(~exists().where(NoticeLink.procurement_id == Procurement.id)))
    counts = RelinkCounts(notices=len(rows))
    for group in groups:
        if len(group) > 1:
            counts.groups += 1
            counts.grouped_notices += len(group)
    counts.procurements = session.scalar(select(func.count(Procurement.id))) or 0
    counts.changed = sum(1 for key, row in rows.items()
                         if before.get(key) != (row.canonical_id, row.group_rank, row.procurement_id))
    from caigou.pipelines.entities.organisations import relink_organisations

    counts.organisations = relink_organisations(session)
    return counts


# ------------------------------------------------------------------------------------------------ reading

def group_key() -> Any:
    """SQL: the publication group of ``Notice`` (its canonical notice's ID; a notice not linked is its own).
    Use with ``.outerjoin(NoticeLink, NoticeLink.notice_id == Notice.id)``."""
    return func.coalesce(NoticeLink.canonical_id, Notice.id)


def group_rank() -> Any:
    return func.coalesce(NoticeLink.group_rank, 0)


def publication_group(session: Session, notice_id: int) -> list[Notice]:
    """Every stored copy of the publication ``notice_id`` belongs to (itself included), canonical first."""
    canonical = session.scalar(select(NoticeLink.canonical_id).where(NoticeLink.notice_id == notice_id))
    if canonical is None:
        notice = session.get(Notice, notice_id)
        return [notice] if notice is not None else []
    return list(session.scalars(select(Notice).join(NoticeLink, NoticeLink.notice_id == Notice.id)
                                .where(NoticeLink.canonical_id == canonical).order_by(NoticeLink.group_rank)))


def sources_of_groups(session: Session, canonical_ids: Iterable[int]) -> dict[int, list[str]]:
    """For each publication group (by canonical ID), the names of the sources it was seen on, canonical first."""
    ids = list(set(canonical_ids))
    found: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        for canonical, name in session.execute(
                select(NoticeLink.canonical_id, Source.name).join(Source, Source.id == NoticeLink.source_id)
                .where(NoticeLink.canonical_id.in_(ids[start:start + 500]))
                .order_by(NoticeLink.canonical_id, NoticeLink.group_rank)):
            assert canonical is not None  # selected by canonical_id IN (ids)
            found.setdefault(canonical, []).append(name)
    return found


def other_copies(session: Session, notice_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """For each notice, the other stored copies of its publication as (notice ID, source name), best-ranked first:
    what a result shows as "also on: ggzy, xizang"."""
    ids = list(set(notice_ids))
    this, other = aliased(NoticeLink), aliased(NoticeLink)
    found: dict[int, list[tuple[int, str]]] = {}
    for start in range(0, len(ids), 500):
        for notice_id, other_id, name in session.execute(
                select(this.notice_id, other.notice_id, Source.name)
                .join(other, other.canonical_id == this.canonical_id).join(Source, Source.id == other.source_id)
                .where(this.notice_id.in_(ids[start:start + 500]), other.notice_id != this.notice_id)
                .order_by(this.notice_id, other.group_rank)):
            found.setdefault(notice_id, []).append((other_id, name))
    return found


def procurement_notices(session: Session, notice_id: int, one_per_publication: bool = True) -> list[Notice]:
    """The notices of the procurement ``notice_id`` belongs to, in publication order (itself included).

    With ``one_per_publication`` a notice seen on several sources appears once (its best-ranked copy). A notice
    of no procurement (no project code on any of its copies) gives an empty list."""
    procurement_id = session.scalar(select(NoticeLink.procurement_id).where(NoticeLink.notice_id == notice_id))
    if procurement_id is None:
        return []
    statement = (select(Notice).join(NoticeLink, NoticeLink.notice_id == Notice.id)
                 .where(NoticeLink.procurement_id == procurement_id))
    if one_per_publication:
        ranked = (select(NoticeLink.canonical_id, func.min(NoticeLink.group_rank).label("rank"))
                  .where(NoticeLink.procurement_id == procurement_id).group_by(NoticeLink.canonical_id).subquery())
        statement = statement.join(ranked, and_(ranked.c.canonical_id == NoticeLink.canonical_id,
                                                ranked.c.rank == NoticeLink.group_rank))
    order = case((Notice.published_at.is_(None), 1), else_=0)
    return list(session.scalars(statement.order_by(order, Notice.published_at, Notice.id)))
