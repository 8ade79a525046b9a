"""A dossier as a self-contained HTML page (printable: no scripts, no outside files), CSV or JSON."""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from caigou.reports.dossier import CAPACITY_KEYS, Dossier
from caigou.spreadsheet import neutralise

FORMATS = ("html", "csv", "json")
CAPACITY_LABELS = {"reactions": ("reaction", "reactions"), "cards": ("sample card", "sample cards"),
                   "instruments": ("instrument", "instruments")}
_environment = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")),
                           autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def yuan(value: Decimal | None) -> str:
    return "" if value is None else f"¥{value:,.2f}"


def capacity_text(capacity: dict[str, int]) -> str:
    return ", ".join(f"{capacity[k]:,} {CAPACITY_LABELS[k][capacity[k] != 1]}" for k in CAPACITY_KEYS
                     if capacity.get(k))


_environment.filters["yuan"] = yuan
_environment.filters["capacity"] = capacity_text


def html(dossier: Dossier) -> str:
    """The HTML page with its styles inline: a file to keep, mail or print to PDF."""
    return _environment.get_template("dossier.html").render(d=dossier, web=False)


def html_body(dossier: Dossier) -> Markup:
    """The dossier as a part of a web page, its buyers, suppliers, brands and notices linked."""
    return Markup(_environment.get_template("_dossier_body.html").render(d=dossier, web=True))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def as_json(dossier: Dossier) -> str:
    data = dataclasses.asdict(dossier)
    data["title"] = dossier.title
    return json.dumps(data, ensure_ascii=False, indent=2, default=_plain)


CSV_COLUMNS = ("notice_id", "published", "notice_type", "title", "region_code", "region_name", "buyer_id", "buyer",
               "suppliers", "budget_cny", "award_cny", "brands", "reactions", "cards", "instruments", "url",
               "fetched_at", "sha256", "other_evidence")


def as_csv(dossier: Dossier) -> str:
    """One row per notice with its evidence; the dossier's totals are the sums by the rules in ``dossier``."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for line in dossier.lines:
        page, *others = line.evidence
        row: list[Any] = [
            line.notice_id, line.published or "", line.notice_type, line.title, line.region_code, line.region_name,
            line.buyer_id or "", line.buyer,
            "; ".join(f"{s['organisation']} (ID {s['id']}){' ' + yuan(s['amount_cny']) if s['amount_cny'] else ''}"
                      for s in line.suppliers),
            "" if line.budget_cny is None else format(line.budget_cny, "f"),
            "" if line.award_cny is None else format(line.award_cny, "f"), "; ".join(line.brands),
            *(line.capacity.get(k, "") for k in CAPACITY_KEYS), page.url,
            page.fetched_at.isoformat() if page.fetched_at else "", page.sha256,
            "; ".join(f"{e.what} {e.url} sha256:{e.sha256}" for e in others)]
        writer.writerow([cell if not isinstance(cell, str) else neutralise(cell) for cell in row])
    return out.getvalue()


def render(dossier: Dossier, fmt: str) -> str:
    return {"html": html, "csv": as_csv, "json": as_json}[fmt](dossier)
