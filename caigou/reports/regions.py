"""Region × year: purchases, money and capacity of a region's prefectures (or a prefecture's counties, or every
province), year by year, counted by the dossiers' rules (``caigou.reports.dossier``), and drawn as SVG with pygal.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

import pygal
from pygal.style import Style
from sqlalchemy import select
from sqlalchemy.orm import Session

from caigou.models import Notice
from caigou.pipelines.regions import Region, code_prefix, region_by_code, regions
from caigou.reports.dossier import CAPACITY_KEYS, Line, Tally, build, purchase_year, tally, within

MEASURES = ("count", "money", "capacity")


@dataclass
class RegionYears:
    region: Region | None                 # None: every province
    parents: list[Region]                 # province (and prefecture) above it, for the breadcrumb
    years: list[str]
    total: dict[str, Tally]               # by year
    rows: list[tuple[Region, dict[str, Tally]]] = field(default_factory=list)   # each child region, by year


def _child_code(code: str, region: Region | None) -> str:
    if region is None:
        return code[:2] + "0000"
    if region.code.endswith("0000"):
        return code[:4] + "00"
    return code


def region_years(session: Session, code: str | None, since: dt.date | None = None,
                 until: dt.date | None = None) -> RegionYears:
    region = region_by_code(code) if code else None
    prefix = "" if region is None else code_prefix(region.code)
    statement = within(select(Notice.id).where(Notice.region_code.is_not(None),
                                                Notice.region_code.startswith(prefix)), since, until)
    lines = build(session, "region", region.name if region else "", set(session.scalars(statement))).lines
    years = sorted({purchase_year(lines, line.purchase) for line in lines})
    by_child: dict[str, list[Line]] = {}
    for line in lines:
        by_child.setdefault(_child_code(line.region_code, region), []).append(line)

    def yearly(members: list[Line]) -> dict[str, Tally]:
        year_of = {line.purchase: purchase_year(lines, line.purchase) for line in members}
        return {year: tally(year, [m for m in members if year_of[m.purchase] == year]) for year in years}

    rows = []
    for child_code, members in sorted(by_child.items()):
        child = region_by_code(child_code) or Region(child_code, child_code, "", "", "", False)
        rows.append((child, yearly(members)))
    parents = []
    if region is not None and not region.code.endswith("0000"):
        parents = [r for r in (region_by_code(region.code[:2] + "0000"),
                               region_by_code(region.code[:4] + "00")) if r is not None and r.code != region.code]
    return RegionYears(region, parents, years, yearly(lines), rows)


def has_children(region: Region) -> bool:
    return region.level in {"province", "prefecture"} and any(r.parent == region.code for r in regions())


_SCRIPT = re.compile(rb"<script\b.*?</script>", re.S)
_STYLE = Style(background="white", plot_background="white", font_family="sans-serif",
               colors=("#8a1c1c", "#1f4e99", "#c98a1c", "#4b7a3a"))


def series(view: RegionYears, measure: str) -> dict[str, list[float]]:
    """The numbers a chart draws, by series, one value per year (what tests compare with SQL)."""
    totals = [view.total[year] for year in view.years]
    if measure == "count":
        return {"purchases": [t.purchases for t in totals]}
    if measure == "money":
        return {"budget ¥": [float(t.budget_cny) for t in totals], "awarded ¥": [float(t.award_cny) for t in totals]}
    return {key: [t.capacity.get(key, 0) for t in totals] for key in CAPACITY_KEYS}


def chart(view: RegionYears, measure: str) -> bytes:
    """An SVG bar chart of one measure by year (no script: it is shown as an image)."""
    titles = {"count": "Purchases", "money": "Budget and award (¥)", "capacity": "Capacity"}
    bars = pygal.Bar(style=_STYLE, js=[], width=640, height=320, title=titles[measure], legend_at_bottom=True,
                     print_values=True, value_formatter=lambda v: f"{v:,.0f}", disable_xml_declaration=False)
    bars.x_labels = view.years
    for name, values in series(view, measure).items():
        bars.add(name, values)
    # pygal always writes its configuration as a <script> for its optional tooltips: not wanted (and never run in
    # an <img>), so it goes.
    return _SCRIPT.sub(b"", bars.render())


def money(value: Decimal) -> str:
    return f"¥{value:,.0f}"
