"""``caigou export --public``: a SQLite copy of the archive that can be published (e.g. served with Datasette).

What goes in is an allowlist — the published record and what caigou derived from it — so a table added later
(accounts, subscriptions, logs …) stays out until someone decides it is public. Left out: users (names, password
hashes, sessions), subscriptions (recipients; their names key the feed tokens), subscription events, deliveries,
delivered notices, health alerts, scheduler jobs, crawl runs, crawl errors, watermarks, organisation decisions
(reviewers' merge/split work), score history, revisions and the archived raw pages (the notices keep their SHA-256).
Reviews keep their status, tags and time; the reviewer's name and the note only with ``with_reviewers``.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Float, ForeignKey, MetaData, String, Table, create_engine, select
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeEngine

from caigou.export.rows import Selection
from caigou.models.db import Database
from caigou.models.errors import CaigouError
from caigou.models.types import AwareDateTime, Money

# Tables keyed by notice: copied for the selected notices only.
NOTICE_TABLES = ("notices", "notice_links", "notice_scores", "notice_suppliers", "notice_attachments",
                 "notice_matches", "notice_organisations", "reviews")
# Reference tables copied whole: the portals and the organisations (public bodies and companies, as named in notices).
WHOLE_TABLES = ("sources", "organisations", "organisation_names")
# procurements: only those the selected notices belong to.
PUBLIC_TABLES = (*WHOLE_TABLES, "procurements", *NOTICE_TABLES)
# Columns left out of public tables: raw_page_id points into the raw pages, which are not copied.
DROPPED = {"notice_attachments": {"raw_page_id"}}
REVIEWER_COLUMNS = {"reviews": {"reviewer", "note"}}
# A name merged or split by a reviewer says who and why ("split by dolma: note"): without --with-reviewers only what.
DECIDED = re.compile(r"^(split|merged) by ")


def _anonymous_reason(reason: str | None) -> str | None:
    match = DECIDED.match(reason or "")
    return f"{match.group(1)} by a reviewer" if match else reason


REVIEWER_TEXT: dict[tuple[str, str], Callable[[Any], Any]] = {("organisation_names", "reason"): _anonymous_reason}


def _plain(kind: TypeEngine[Any]) -> tuple[TypeEngine[Any], Callable[[Any], Any] | None]:
    """The column type for readers other than caigou (sqlite3, Datasette), and how a value becomes it: times as
    ISO 8601 text in Asia/Shanghai with the offset (as the CSV writes them; one offset, so they sort), amounts as
    yuan (caigou's own SQLite keeps whole fen in an integer)."""
    if isinstance(kind, AwareDateTime):
        return String(40), lambda value: value.isoformat() if value is not None else None
    if isinstance(kind, Money):
        return Float(), lambda value: float(value) if value is not None else None
    if isinstance(kind, JSON):  # no value is SQL NULL, not the text 'null'
        return JSON(none_as_null=True), None
    return kind, None


def check_target(output: str) -> Path:
    """A new file in a folder that exists: never overwrite (a published archive is replaced deliberately)."""
    if output == "-":
        raise CaigouError("--public writes a SQLite file: give -o FILE.db")
    target = Path(output).expanduser()
    if target.exists():
        raise CaigouError(f"cannot write {output}: it already exists (remove it or choose another name)")
    if not target.parent.is_dir():
        raise CaigouError(f"cannot write {output}: the folder {target.parent} does not exist")
    if not os.access(target.parent, os.W_OK):
        raise CaigouError(f"cannot write {output}: permission denied")
    return target


def public_tables(source: MetaData, with_reviewers: bool) -> tuple[MetaData, dict[str, Table]]:
    """Copies of the public tables without the dropped columns; foreign keys kept between copied tables (Datasette
    links them), indexes and triggers left out (a read-only copy)."""
    target = MetaData()
    tables: dict[str, Table] = {}
    for name in PUBLIC_TABLES:
        original = source.tables[name]
        dropped = DROPPED.get(name, set()) | (set() if with_reviewers else REVIEWER_COLUMNS.get(name, set()))
        columns = []
        for column in original.columns:
            if column.name in dropped:
                continue
            keys = [ForeignKey(f"{fk.column.table.name}.{fk.column.name}") for fk in column.foreign_keys
                    if fk.column.table.name in PUBLIC_TABLES]
            columns.append(Column(column.name, _plain(column.type)[0], *keys, primary_key=column.primary_key,
                                  nullable=column.nullable or not column.primary_key))
        tables[name] = Table(name, target, *columns)
    return target, tables


def write_public(database: Database, selection: Selection, output: str, with_reviewers: bool = False,
                 progress: Callable[[int], None] | None = None) -> int:
    """Write the selected notices and their public neighbours to a new SQLite file; returns the notices written.
    The file is written under a temporary name and renamed at the end, so a failed export leaves nothing behind."""
    from caigou import models  # registers every table on Base.metadata

    target = check_target(output)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    metadata, tables = public_tables(models.Base.metadata, with_reviewers)
    # JSON as written, not \\u-escaped: Chinese stays readable (and searchable) in the published file.
    engine = create_engine(f"sqlite:///{partial}",
                           json_serializer=lambda value: json.dumps(value, ensure_ascii=False))
    count = 0
    try:
        metadata.create_all(engine)
        with engine.begin() as out, database.engine.connect() as source:
            scrub = {} if with_reviewers else REVIEWER_TEXT
            for name in WHOLE_TABLES:
                _copy(source, out, tables[name], select(*_source_columns(tables[name])), scrub)
            procurement_ids: set[int] = set()
            for ids in _notice_batches(database, selection):
                for name in NOTICE_TABLES:
                    key = models.Base.metadata.tables[name].c["id" if name == "notices" else "notice_id"]
                    _copy(source, out, tables[name], select(*_source_columns(tables[name])).where(key.in_(ids)))
                links = models.Base.metadata.tables["notice_links"]
                procurement_ids.update(p for p in source.scalars(
                    select(links.c.procurement_id).where(links.c.notice_id.in_(ids))) if p is not None)
                count += len(ids)
                if progress:
                    progress(len(ids))
            procurements = models.Base.metadata.tables["procurements"]
            wanted = sorted(procurement_ids)
            for start in range(0, len(wanted), 1000):
                _copy(source, out, tables["procurements"], select(*_source_columns(tables["procurements"]))
                      .where(procurements.c.id.in_(wanted[start:start + 1000])))
        engine.dispose()
        try:
            os.link(partial, target)  # fails if the target appeared meanwhile: never overwrite
        except FileExistsError as exc:
            raise CaigouError(f"cannot write {output}: it already exists") from exc
        except OSError:
            if target.exists():
                raise CaigouError(f"cannot write {output}: it already exists") from None
            os.replace(partial, target)  # a file system without hard links
    finally:
        engine.dispose()
        partial.unlink(missing_ok=True)
    return count


def _source_columns(table: Table) -> list[Column[Any]]:
    from caigou import models

    original = models.Base.metadata.tables[table.name]
    return [original.c[column.name] for column in table.columns]


def _notice_batches(database: Database, selection: Selection) -> Iterable[list[int]]:
    """The selected notice IDs in keyset pages (the export's filters and order)."""
    from caigou.models import Notice

    last_id = 0
    while True:
        with database.engine.connect() as connection:
            ids = list(connection.scalars(selection.narrowed(select(Notice.id), database)
                                          .where(Notice.id > last_id).order_by(Notice.id).limit(selection.batch)))
        if not ids:
            return
        yield ids
        last_id = ids[-1]


def _copy(source: Connection, out: Connection, table: Table, query: Any,
          scrub: dict[tuple[str, str], Callable[[Any], Any]] | None = None) -> None:
    """Insert what ``query`` reads into ``table``, in partitions (a whole table such as organisations can be big);
    ``scrub`` rewrites named columns' values."""
    names = [column.name for column in table.columns]
    converters = [(scrub or {}).get((table.name, column.name)) or _plain(column.type)[1]
                  for column in query.selected_columns]
    for partition in source.execution_options(yield_per=2000).execute(query).partitions():
        out.execute(table.insert(), [{name: convert(value) if convert else value
                                      for name, convert, value in zip(names, converters, row, strict=True)}
                                     for row in partition])
