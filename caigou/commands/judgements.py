"""``caigou judgements export|import``: reviewers' judgements as CSV, to share them between archives or work on
them in a spreadsheet. Notices are named by source and source ID (the same in every archive), not by local IDs."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import click
from sqlalchemy import select

from caigou.context import AppContext, pass_app
from caigou.models import Notice, Review, Source
from caigou.models.errors import CaigouError
from caigou.review import ReviewInput, add_review, parse_tags
from caigou.spreadsheet import neutralise, unneutralise

JUDGEMENT_COLUMNS = ("source", "source_id", "notice_id", "title", "status", "note", "tags", "reviewer", "created_at")


@click.group()
def judgements() -> None:
    """Export or import review judgements as CSV (the whole history: reviews are only ever added)."""


@judgements.command("export")
@click.option("-o", "--output", default="-", show_default=True, help="File to write; - for standard output.")
@pass_app
def export_judgements(app: AppContext, output: str) -> None:
    """Every judgement, oldest first, one row each (UTF-8 with a byte-order mark, formula-looking cells guarded)."""
    try:
        out = sys.stdout if output == "-" else open(output, "w", encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise CaigouError(f"cannot write {output}: {exc.strerror or exc}") from exc
    count = 0
    with app.db.session() as session:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(JUDGEMENT_COLUMNS)
        rows = session.execute(select(Source.name, Notice.source_key, Notice.id, Notice.title, Review)
                               .join(Notice, Notice.id == Review.notice_id).join(Source, Source.id == Notice.source_id)
                               .order_by(Review.id))
        for source, key, notice_id, title, review in rows:
            writer.writerow([neutralise(source), neutralise(key), notice_id, neutralise(title), review.status,
                             neutralise(review.note), neutralise("; ".join(review.tags or [])),
                             neutralise(review.reviewer), review.created_at.isoformat()])
            count += 1
    if out is not sys.stdout:
        out.close()
        click.echo(f"wrote {count} judgements to {output}", err=True)


@judgements.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--reviewer", help="Record them under this name (default: the reviewer column of each row).")
@pass_app
def import_judgements(app: AppContext, file: Path, reviewer: str | None) -> None:
    """Add the judgements of FILE (as written by `caigou judgements export`, or a spreadsheet with at least
    source, source_id and status columns). All or nothing: a bad row changes nothing. A judgement already in the
    history (same notice, status, note, tags and reviewer) is not added twice."""
    if not file.is_file():
        raise CaigouError(f"{file} does not exist")
    added = skipped = 0
    with app.db.session() as session, open(file, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"source", "source_id", "status"} - set(reader.fieldnames or [])
        if missing:
            raise CaigouError(f"{file}: missing column(s) {', '.join(sorted(missing))}")
        for number, row in enumerate(reader, start=2):
            source, key = unneutralise(row["source"] or ""), unneutralise(row["source_id"] or "")
            notice_id = session.scalar(select(Notice.id).join(Source).where(Source.name == source,
                                                                             Notice.source_key == key))
            if notice_id is None:
                raise CaigouError(f"{file}:{number}: no notice {source} {key} in this archive; nothing imported")
            name = reviewer or unneutralise(row.get("reviewer") or "")
            judgement = ReviewInput(row["status"], unneutralise(row.get("note") or ""),
                                    parse_tags(unneutralise(row.get("tags") or "").replace(";", ",")))
            wanted = (judgement.status, judgement.note.strip(), list(judgement.tags), name.strip())
            if any((r.status, r.note, list(r.tags or []), r.reviewer) == wanted
                   for r in session.scalars(select(Review).where(Review.notice_id == notice_id))):
                skipped += 1
                continue
            try:
                add_review(session, notice_id, name, judgement)
            except CaigouError as exc:
                raise CaigouError(f"{file}:{number}: {exc}; nothing imported") from exc
            added += 1
    click.echo(f"imported {file}: {added} judgements added, {skipped} already there")


COMMANDS = [judgements]
