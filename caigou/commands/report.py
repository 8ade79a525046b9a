"""``caigou report``: dossiers on a buyer, a supplier, a brand or a region; ``caigou org``: reviewers' merges and
splits of organisations."""
from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from caigou.commands.export import check_writable
from caigou.context import AppContext, pass_app
from caigou.filters import _date
from caigou.models.errors import CaigouError
from caigou.reports.render import FORMATS

_F = TypeVar("_F", bound=Callable[..., Any])
_OPTIONS = [
    click.option("--format", "fmt", type=click.Choice(FORMATS), default="html", show_default=True,
                 help="A self-contained HTML page (print it to PDF), CSV (one row per notice) or JSON."),
    click.option("-o", "--output", default="-", show_default=True, help="File to write; - for standard output."),
]


def _options(function: _F) -> _F:
    for option in reversed(_OPTIONS):
        function = option(function)
    return function


def _write(app: AppContext, kind: str, wanted: str, fmt: str, output: str, since: dt.date | None = None,
           until: dt.date | None = None) -> None:
    from caigou.reports.dossier import dossier
    from caigou.reports.render import render

    if output != "-":
        check_writable(output)
    with app.db.session() as session:
        found = dossier(session, kind, wanted, since, until)
        text = render(found, fmt)
    if output == "-":
        sys.stdout.write(text)
        return
    try:
        Path(output).expanduser().write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CaigouError(f"cannot write {output}: {exc.strerror or exc}") from exc
    click.echo(f"wrote the {found.title} ({len(found.lines)} notices, {found.total.purchases} purchases) to "
               f"{output}", err=True)


@click.group()
def report() -> None:
    """Dossiers: everything the archive holds on one buyer, supplier, brand or region — purchases by year, budget
    and award totals apart, capacity, the brands, suppliers and buyers involved, sub-units — each figure citing its
    notices' URLs, fetch times and the SHA-256 of the archived pages."""


@report.command()
@click.argument("name")
@_options
@pass_app
def buyer(app: AppContext, name: str, fmt: str, output: str) -> None:
    """A buyer's dossier, by NAME (as a notice writes it, or a spelling variant) or organisation ID; its sub-units'
    purchases included."""
    _write(app, "buyer", name, fmt, output)


@report.command()
@click.argument("name")
@_options
@pass_app
def supplier(app: AppContext, name: str, fmt: str, output: str) -> None:
    """A supplier's dossier, by NAME or organisation ID: what it was awarded, by whom."""
    _write(app, "supplier", name, fmt, output)


@report.command()
@click.argument("name")
@_options
@pass_app
def brand(app: AppContext, name: str, fmt: str, output: str) -> None:
    """A brand's dossier, by maker or brand NAME ("Thermo Fisher", ABI, 赛默飞, Promega): which suppliers sold its
    products to which buyers, where, when, for how much."""
    _write(app, "brand", name, fmt, output)


@report.command()
@click.argument("code")
@click.option("--since", callback=_date, metavar="DATE", help="Published on or after DATE (YYYY-MM-DD).")
@click.option("--until", callback=_date, metavar="DATE", help="Published on or before DATE.")
@_options
@pass_app
def region(app: AppContext, code: str, since: dt.date | None, until: dt.date | None, fmt: str,
           output: str) -> None:
    """A region's dossier by CODE (54 Tibet, 540600 Nagqu, a county's code), its prefectures and counties
    included."""
    _write(app, "region", code, fmt, output, since, until)


# ------------------------------------------------------------------------------------------------ organisations

@click.group()
def org() -> None:
    """Organisations (buyers, suppliers): list them, show why names were merged, and record a reviewer's merge or
    split. Decisions are append-only and outlive every relink and re-import."""


@org.command("list")
@click.option("--kind", type=click.Choice(["buyer", "supplier"]), default="buyer", show_default=True)
@pass_app
def list_(app: AppContext, kind: str) -> None:
    """Every organisation of a kind with its ID, region, parent and the names merged into it, with the reason."""
    from sqlalchemy import select

    from caigou.models import Organisation, OrganisationName

    with app.db.session() as session:
        names: dict[int, list[OrganisationName]] = {}
        for name in session.scalars(select(OrganisationName).where(OrganisationName.kind == kind)
                                    .order_by(OrganisationName.id)):
            names.setdefault(name.organisation_id, []).append(name)
        for organisation in session.scalars(select(Organisation).where(Organisation.kind == kind)
                                            .order_by(Organisation.id)):
            parent = f"  part of #{organisation.parent_id}" if organisation.parent_id else ""
            click.echo(f"#{organisation.id} {organisation.name}  [{organisation.region_name or '—'}]{parent}")
            for name in names.get(organisation.id, []):
                click.echo(f"    {name.name}: {name.reason}")


def _decide(app: AppContext, kind: str, action: str, name: str, into: str | None, reviewer: str,
            note: str) -> None:
    from caigou.pipelines.entities.organisations import decide, relink_organisations
    from caigou.reports.dossier import find_organisation

    with app.db.session() as session:
        subject = find_organisation(session, kind, name)   # the name must be known
        target = find_organisation(session, kind, into) if into else None
        if target is not None and target.id == subject.id:
            raise CaigouError(f"{name!r} is already part of {target.name} (#{target.id})")
        # A merge by ID moves the whole organisation (its key); by name, that name only.
        written = subject.key if name.strip().isdigit() else name
        decide(session, kind, action, written, reviewer, target, note)
        count = relink_organisations(session)
    click.echo(f"{action}: {name} {'into ' + target.name if target else 'on its own'}; {count} organisations")


@org.command()
@click.argument("name")
@click.option("--into", required=True, metavar="NAME|ID", help="The organisation it is part of.")
@click.option("--kind", type=click.Choice(["buyer", "supplier"]), default="buyer", show_default=True)
@click.option("--reviewer", required=True, help="Who decides (kept with the decision).")
@click.option("--note", default="", help="Why (kept with the decision).")
@pass_app
def merge(app: AppContext, name: str, into: str, kind: str, reviewer: str, note: str) -> None:
    """Merge NAME (a name as written: that spelling; an ID: the whole organisation) into another organisation."""
    _decide(app, kind, "merge", name, into, reviewer, note)


@org.command()
@click.argument("name")
@click.option("--kind", type=click.Choice(["buyer", "supplier"]), default="buyer", show_default=True)
@click.option("--reviewer", required=True, help="Who decides (kept with the decision).")
@click.option("--note", default="", help="Why (kept with the decision).")
@pass_app
def split(app: AppContext, name: str, kind: str, reviewer: str, note: str) -> None:
    """Split the name NAME (as written) out of its organisation: an organisation of its own from now on."""
    if name.strip().isdigit():
        raise CaigouError("split takes a name as written, not an ID: see caigou org list")
    _decide(app, kind, "split", name, None, reviewer, note)


COMMANDS = [report, org]
