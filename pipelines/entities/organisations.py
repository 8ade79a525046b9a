"""Linking notices to organisations: each buyer and supplier name is put in an organisation, with the reason.

In order, a name (``kind`` buyer or supplier) goes:

1. where a reviewer's newest decision on the name, or on the key the rules give it, says (``merge`` into another
   organisation's key; ``split``: an organisation of its own, keyed ``=name``) — so no rule and no re-run can undo
   a decision;
2. to the organisation of its key (``pipelines.entities.names``: brackets, province names, renames, suffixes);
3. to the known organisation whose key is most similar (rapidfuzz, ``names.similar``), unless it is a sub-unit;
4. to a new organisation.

A sub-unit's bureau (那曲市公安局 for 那曲市公安局刑侦支队) is an organisation too, its ``parent``.
``link_organisations`` runs for every saved notice (from ``pipelines.linking.link_notice``);
``relink_organisations`` recomputes all of it (``caigou db relink``, from ``pipelines.linking.relink``).
"""
from __future__ import annotations

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session, selectinload

from caigou.models import Notice, NoticeOrganisation, Organisation, OrganisationDecision, OrganisationName
from caigou.pipelines.entities.names import NameKey, display, name_key, similar
from caigou.pipelines.text import text_key

SPLIT_PREFIX = "="   # an organisation a reviewer split out: its key is the name's, marked so no rule key equals it


class Linker:
    """Resolves names to organisations within one session, with what it has looked up kept at hand."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.organisations: dict[tuple[str, str], Organisation] = {}
        self.names: dict[tuple[str, str], Organisation] = {}
        self.decisions: dict[tuple[str, str], OrganisationDecision] = {}
        for decision in session.scalars(select(OrganisationDecision).order_by(OrganisationDecision.id)):
            self.decisions[(decision.kind, decision.name_key)] = decision   # the newest wins
        self._keys: dict[str, list[str]] | None = None

    def load_all(self) -> None:
        for organisation in self.session.scalars(select(Organisation)):
            self.organisations[(organisation.kind, organisation.key)] = organisation

    def _known_keys(self, kind: str) -> list[str]:
        if self._keys is None:
            self._keys = {"buyer": [], "supplier": []}
            for org_kind, key in self.session.execute(select(Organisation.kind, Organisation.key)):
                if not key.startswith(SPLIT_PREFIX) and (org_kind, key) not in self.decisions:
                    self._keys.setdefault(org_kind, []).append(key)
        return self._keys.setdefault(kind, [])

    def _organisation(self, kind: str, key: str, name: str, region_code: str | None,
                      region_name: str) -> Organisation:
        found = self.organisations.get((kind, key))
        if found is None:
            found = self.session.scalar(select(Organisation).where(Organisation.kind == kind,
                                                                   Organisation.key == key))
        if found is None:
            found = Organisation(kind=kind, key=key, name=display(name), region_code=region_code,
                                 region_name=region_name)
            self.session.add(found)
            self.session.flush()
            if not key.startswith(SPLIT_PREFIX) and (kind, key) not in self.decisions:
                self._known_keys(kind).append(key)
        self.organisations[(kind, key)] = found
        return found

    def _decided(self, kind: str, written: str, rule_key: str) -> tuple[str, str] | None:
        """(organisation key, reason) a reviewer's decision gives: on the name as written (merge or split), else on
        the key the rules give it (a merge of that whole organisation); merges of merges are followed."""
        decision = self.decisions.get((kind, written))
        if decision is None:
            decision = self.decisions.get((kind, rule_key))
            if decision is not None and decision.action != "merge":
                decision = None
        if decision is None:
            return None
        if decision.action == "split":
            return SPLIT_PREFIX + decision.name_key, f"split by {decision.reviewer}: {decision.note}".rstrip(": ")
        target, seen = decision.target_key, {decision.name_key}
        while target not in seen and (following := self.decisions.get((kind, target))) is not None \
                and following.action == "merge":
            seen.add(target)
            target = following.target_key
        return target, f"merged by {decision.reviewer} into {decision.target_name}: {decision.note}".rstrip(": ")

    def resolve(self, kind: str, name: str, region_code: str | None = None,
                region_name: str = "") -> Organisation | None:
        written = text_key(name)
        if not written:
            return None
        cached = self.names.get((kind, written))
        if cached is not None:
            return cached
        stored = self.session.scalar(select(OrganisationName).where(OrganisationName.kind == kind,
                                                                    OrganisationName.name_key == written))
        if stored is not None:
            organisation = self.session.get_one(Organisation, stored.organisation_id)
            self.names[(kind, written)] = organisation
            return organisation
        rules = name_key(kind, name)
        key, reason = self._key(kind, written, rules)
        if rules.region is not None:
            region_code, region_name = rules.region.code, rules.region.name
        organisation = self._organisation(kind, key, name, region_code, region_name)
        if rules.parent_key and not key.startswith(SPLIT_PREFIX):
            parent = self.resolve(kind, rules.parent_key, region_code, region_name)
            if parent is not None and parent.id != organisation.id and organisation.parent_id != parent.id:
                organisation.parent_id = parent.id
        self.session.add(OrganisationName(kind=kind, name_key=written, name=display(name),
                                          organisation_id=organisation.id, reason=reason[:2000]))
        self.names[(kind, written)] = organisation
        return organisation

    def _key(self, kind: str, written: str, rules: NameKey) -> tuple[str, str]:
        decided = self._decided(kind, written, rules.key)
        if decided is not None:
            return decided
        if (kind, rules.key) in self.organisations or self.session.scalar(
                select(Organisation.id).where(Organisation.kind == kind, Organisation.key == rules.key)):
            return rules.key, rules.reason or "same name"
        # A sub-unit's name differs from its siblings' by the unit (刑侦支队 / 刑侦大队): never merged by similarity.
        close = None if rules.parent_key else similar(rules.key, self._known_keys(kind))
        if close is not None:
            return close[0], f"similar to {close[0]} ({close[1]:.0f}/100)"
        return rules.key, rules.reason or "first name of the organisation"

    def link(self, notice: Notice) -> None:
        """Set the organisations of one notice: its buyer and each supplier row."""
        self.session.execute(delete(NoticeOrganisation).where(NoticeOrganisation.notice_id == notice.id))
        buyer = self.resolve("buyer", notice.buyer, notice.region_code, notice.region_name)
        if buyer is not None:
            self.session.add(NoticeOrganisation(notice_id=notice.id, role="buyer", position=0,
                                                organisation_id=buyer.id))
        seen: set[int] = set()
        for supplier in notice.suppliers:
            organisation = self.resolve("supplier", supplier.name)
            if organisation is not None and supplier.position not in seen:
                seen.add(supplier.position)
                self.session.add(NoticeOrganisation(notice_id=notice.id, role="supplier",
                                                    position=supplier.position, organisation_id=organisation.id))
        self.session.flush()


def link_organisations(session: Session, notice: Notice) -> None:
    Linker(session).link(notice)


def relink_organisations(session: Session, batch: int = 500) -> int:
    """Recompute every notice's organisations (reviewers' decisions first). Organisations keep their IDs; those no
    name leads to any more are removed. Returns the number of organisations."""
    session.execute(delete(NoticeOrganisation))
    session.execute(delete(OrganisationName))
    session.flush()
    linker = Linker(session)
    linker.load_all()
    for organisation in linker.organisations.values():
        organisation.parent_id = None
    last_id = 0
    while True:
        notices = list(session.scalars(select(Notice).options(selectinload(Notice.suppliers))
                                       .where(Notice.id > last_id).order_by(Notice.id).limit(batch)))
        if not notices:
            break
        for notice in notices:
            linker.link(notice)
        last_id = notices[-1].id
    session.flush()
    unused = ~exists().where(OrganisationName.organisation_id == Organisation.id)
    session.execute(update(Organisation).where(
        Organisation.parent_id.in_(select(Organisation.id).where(unused).scalar_subquery())).values(parent_id=None))
    session.execute(delete(Organisation).where(unused))
    return len(session.scalars(select(Organisation.id)).all())


def decide(session: Session, kind: str, action: str, name: str, reviewer: str, target: Organisation | None = None,
           note: str = "") -> OrganisationDecision:
    """Record a reviewer's merge (``name`` into ``target``) or split (``name`` on its own); the caller relinks."""
    decision = OrganisationDecision(kind=kind, action=action, name_key=text_key(name), name=display(name),
                                    target_key=target.key if target is not None else "",
                                    target_name=target.name if target is not None else "", reviewer=reviewer,
                                    note=note)
    session.add(decision)
    session.flush()
    return decision
