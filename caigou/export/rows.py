"""The one column set every export shares (documented in docs/export.md), read from the archive in batches."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVarTuple

from sqlalchemy import Select, func, null, select

from caigou.filters import NoticeFilters, check_filters
from caigou.models import Attachment, Notice, NoticeLink, NoticeMatch, NoticeScore, Review, Source, Supplier
from caigou.models.db import Database
from caigou.pipelines.linking import group_key

_Ts = TypeVarTuple("_Ts")  # the columns a select returns, kept through narrowing it

# Order is the CSV/XLSX column order and the JSON key order. Never reorder or rename: users' scripts read them.
COLUMNS = (
    "notice_id", "source", "source_id", "url", "notice_type", "notice_type_label", "title", "published_at",
    "region_code", "region_name", "buyer", "agency", "project_code", "budget_cny", "award_cny", "suppliers",
    "supplier_details", "score", "reasons", "matched_terms", "categories", "first_seen_at", "last_seen_at",
    "raw_sha256", "body_text", "fields", "line_items", "attachments",
    # Links (pipelines.linking), derived: rows with the same group_id are one notice published on several sources
    # (group_id is the notice_id of its canonical copy, the row's own when it was seen once); rows with the same
    # procurement_id are the notices of one project (empty when no copy carries a project code).
    "group_id", "procurement_id",
    # The newest judgement (caigou review): status (new when never reviewed), its note, tags, who and when.
    "review_status", "review_note", "review_tags", "reviewer", "reviewed_at",
)
# What a spreadsheet reader wants by default (``--columns all`` gives COLUMNS; JSON Lines always has them all).
COMPACT_COLUMNS = ("notice_id", "title", "buyer", "region_name", "published_at", "budget_cny", "award_cny", "score",
                   "matched_terms", "review_status", "url")
MATCH_COLUMNS = ("notice_id", "source", "source_id", "url", "title", "published_at", "buyer", "region_code",
                 "score", "term", "category", "tier", "field", "matched_text", "snippet", "quantity")
LIST_COLUMNS = {"suppliers", "reasons", "matched_terms", "categories", "review_tags"}
JSON_COLUMNS = {"supplier_details", "fields", "line_items", "attachments", "quantity"}
MONEY_COLUMNS = {"budget_cny", "award_cny"}
TIME_COLUMNS = {"published_at", "first_seen_at", "last_seen_at", "reviewed_at"}


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


NOTICE_FIELDS = (Notice.id, Source.name, Notice.source_key, Notice.url, Notice.notice_type,
                 Notice.notice_type_label, Notice.title, Notice.published_at, Notice.region_code, Notice.region_name,
                 Notice.buyer, Notice.agency, Notice.project_code, Notice.budget_cny, Notice.award_cny,
                 Notice.first_seen_at, Notice.last_seen_at, Notice.raw_sha256, Notice.body_text, Notice.fields,
                 Notice.line_items, group_key(), NoticeLink.procurement_id)
# The row column each of NOTICE_FIELDS fills (notice_id and source are always read: paging and the join need them).
FIELD_COLUMNS = ("notice_id", "source", "source_id", "url", "notice_type", "notice_type_label", "title",
                 "published_at", "region_code", "region_name", "buyer", "agency", "project_code", "budget_cny",
                 "award_cny", "first_seen_at", "last_seen_at", "raw_sha256", "body_text", "fields", "line_items",
                 "group_id", "procurement_id")


def notice_fields(columns: frozenset[str]) -> tuple[Any, ...]:
    """NOTICE_FIELDS with NULL in place of what ``columns`` does not write: a compact CSV then neither reads nor
    decodes the body, the JSON structures and the timestamps it leaves out (most of an export's time)."""
    return tuple(field if name in columns or name in {"notice_id", "source"} else null()
                 for name, field in zip(FIELD_COLUMNS, NOTICE_FIELDS, strict=True))


def notice_row(values: Any, suppliers: list[Any], score: Any, matches: list[Any],
               attachments: list[Any]) -> dict[str, Any]:
    """One notice as a row. Built from plain result tuples, not ORM objects: exports touch every notice (hence
    the inline tests: most notices have no supplier, match or attachment, and a call per cell adds up)."""
    (notice_id, source, source_key, url, notice_type, notice_type_label, title, published_at, region_code,
     region_name, buyer, agency, project_code, budget, award, first_seen, last_seen, raw_sha256, body_text,
     fields, line_items, group_id, procurement_id) = values
    return {
        "notice_id": notice_id, "source": source, "source_id": source_key, "url": url, "notice_type": notice_type,
        "notice_type_label": notice_type_label, "title": title,
        "published_at": published_at.isoformat() if published_at else None,
        "region_code": region_code, "region_name": region_name, "buyer": buyer, "agency": agency,
        "project_code": project_code, "budget_cny": budget, "award_cny": award,
        "suppliers": [s.name for s in suppliers] if suppliers else [],
        "supplier_details": [{"name": s.name, "lot": s.lot, "address": s.address,
                              "amount_cny": (float(s.amount_cny)
                                             if s.amount_cny is not None and s.amount_cny.is_finite() else None),
                              "amount_text": s.amount_text} for s in suppliers] if suppliers else [],
        "score": score.score if score else 0, "reasons": list(score.reasons or ()) if score else [],
        "matched_terms": list(dict.fromkeys(m.term for m in matches)) if matches else [],
        "categories": list(dict.fromkeys(m.category for m in matches)) if matches else [],
        "first_seen_at": first_seen.isoformat() if first_seen else None,
        "last_seen_at": last_seen.isoformat() if last_seen else None, "raw_sha256": raw_sha256,
        "body_text": body_text, "fields": fields, "line_items": line_items,
        "attachments": [attachment_dict(a) for a in attachments] if attachments else [],
        "group_id": group_id, "procurement_id": procurement_id,
    }


ATTACHMENT_FIELDS = (Attachment.name, Attachment.url, Attachment.download_status, Attachment.extraction_status,
                     Attachment.content_type, Attachment.size, Attachment.raw_sha256, Attachment.message,
                     Attachment.fetched_at, Attachment.members, Attachment.text)


def attachment_dict(attachment: Any) -> dict[str, Any]:
    """An attachment with its download and extraction outcome and its text: the maker and model are often only
    in the attached equipment list, so without the text an import could not match what the archive matched."""
    (name, url, download_status, extraction_status, content_type, size, raw_sha256, message, fetched_at, members,
     text) = attachment[-len(ATTACHMENT_FIELDS):]
    return {"name": name, "url": url, "download_status": download_status, "extraction_status": extraction_status,
            "content_type": content_type, "size": size, "raw_sha256": raw_sha256, "message": message,
            "fetched_at": _time(fetched_at), "members": members, "text": text}


def latest_reviews(connection: Any, ids: list[int]) -> dict[int, Any]:
    """The newest review of each of ``ids`` (reviews are only ever added: the highest id is the current one)."""
    newest = (select(func.max(Review.id)).where(Review.notice_id.in_(ids)).group_by(Review.notice_id))
    return {row.notice_id: row for row in connection.execute(
        select(Review.notice_id, Review.status, Review.note, Review.tags, Review.reviewer, Review.created_at)
        .where(Review.id.in_(newest)))}


def review_columns(review: Any) -> dict[str, Any]:
    if review is None:
        return {"review_status": "new", "review_note": "", "review_tags": [], "reviewer": "", "reviewed_at": None}
    return {"review_status": review.status, "review_note": review.note, "review_tags": list(review.tags or []),
            "reviewer": review.reviewer, "reviewed_at": _time(review.created_at)}


def match_rows(row: dict[str, Any], matches: list[Any]) -> Iterator[dict[str, Any]]:
    for match in matches:
        yield {**{key: row[key] for key in MATCH_COLUMNS if key in row}, "term": match.term,
               "category": match.category, "tier": match.tier, "field": match.field,
               "matched_text": match.matched_text, "snippet": match.snippet, "quantity": match.quantity}


def _grouped(connection: Any, columns: tuple[Any, ...], key: Any, ids: list[int], order: Any) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    for row in connection.execute(select(key, *columns).where(key.in_(ids)).order_by(key, order)):
        grouped.setdefault(row[0], []).append(row)
    return grouped


@dataclass
class Selection:
    """The notices an export reads: filters and an optional full-text query (the search's syntax), in id order,
    in batches of ``batch``."""

    filters: NoticeFilters
    query: str = ""
    batch: int = 2000

    def narrowed(self, statement: Select[*_Ts], database: Database) -> Select[*_Ts]:
        from caigou.search import filtered, parse_query  # search builds on the same filters

        query = parse_query(self.query) if self.query.strip() else None
        return filtered(statement, self.filters, query, database.engine.dialect.name)

    def count(self, database: Database) -> int:
        """How many notices; a filter that can never match (a typo) is a ``FilterError`` here, before any rows."""
        with database.session() as session:
            check_filters(session, self.filters)
            return session.scalar(self.narrowed(select(func.count(Notice.id)), database)) or 0

    def rows(self, database: Database, per: str = "notice",
             columns: tuple[str, ...] | None = None) -> Iterator[dict[str, Any]]:
        """Rows, streamed: keyset pages by id, one short transaction each (memory stays flat). Each page's
        suppliers, attachments, matches and scores come in one plain Core select each, executed on the connection
        rather than through the ORM session, whose per-row bookkeeping was most of an export's time.

        ``columns``: the ones the caller writes (default all); the others are left empty and not read at all."""
        wanted = frozenset(COLUMNS if columns is None else columns)
        fields = notice_fields(wanted)
        linked = bool(wanted & {"group_id", "procurement_id"})
        last_id = 0
        while True:
            with database.engine.connect() as connection:
                query = select(*fields).join(Source, Source.id == Notice.source_id)
                if linked:
                    query = query.outerjoin(NoticeLink, NoticeLink.notice_id == Notice.id)
                query = (self.narrowed(query, database)
                         .where(Notice.id > last_id).order_by(Notice.id).limit(self.batch))
                notices = connection.execute(query).all()
                if not notices:
                    return
                ids = [n[0] for n in notices]
                suppliers = _grouped(connection, (Supplier.name, Supplier.lot, Supplier.address,
                                                  Supplier.amount_cny, Supplier.amount_text),
                                     Supplier.notice_id, ids, Supplier.position) \
                    if wanted & {"suppliers", "supplier_details"} else {}
                attachments = _grouped(connection, ATTACHMENT_FIELDS, Attachment.notice_id, ids, Attachment.position) \
                    if "attachments" in wanted else {}
                matches = _grouped(connection, (NoticeMatch.term, NoticeMatch.category, NoticeMatch.tier,
                                                NoticeMatch.field, NoticeMatch.matched_text, NoticeMatch.snippet,
                                                NoticeMatch.quantity), NoticeMatch.notice_id, ids, NoticeMatch.id) \
                    if per == "match" or wanted & {"matched_terms", "categories"} else {}
                reviews = latest_reviews(connection, ids) if any(c.startswith("review") or c == "reviewer"
                                                                 for c in wanted) else {}
                scores = {row[0]: row for row in connection.execute(
                    select(NoticeScore.notice_id, NoticeScore.score,
                           NoticeScore.reasons if "reasons" in wanted else null().label("reasons"))
                    .where(NoticeScore.notice_id.in_(ids)))} if wanted & {"score", "reasons"} else {}
            for values in notices:
                notice_id = values[0]
                notice_matches = matches.get(notice_id, [])
                row = notice_row(values, suppliers.get(notice_id, []), scores.get(notice_id), notice_matches,
                                 attachments.get(notice_id, []))
                row.update(review_columns(reviews.get(notice_id)))
                if per == "match":
                    yield from match_rows(row, notice_matches)
                else:
                    yield row
            last_id = notices[-1][0]
