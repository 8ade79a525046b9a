"""Regions: the administrative divisions (``data/regions.csv``), names and codes read from pages, places named in
text, code prefixes (a province or prefecture with everything under it) and the Tibetan areas — the one home of
each."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from caigou.pipelines.text import fold_text


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: str          # province | prefecture | county | stat_zone
    parent: str
    tibetan: str        # yes | partial | no
    former: bool        # a name (and code) replaced in 2015, e.g. 林芝地区

    @property
    def province_code(self) -> str:
        return self.code[:2] + "0000"

    @property
    def short_name(self) -> str:
        return short_region_name(self.name)


_SUFFIXES = ("维吾尔自治区", "壮族自治区", "回族自治区", "生产建设兵团", "自治区", "蒙古族藏族自治州",
             "藏族羌族自治州", "藏族自治州", "藏族自治县", "自治州", "自治县", "地区", "省", "市", "县", "区")


def short_region_name(name: str) -> str:
    """西藏自治区 → 西藏, 甘孜藏族自治州 → 甘孜, 林芝地区 → 林芝; never shorter than two characters (索县 stays)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


@cache
def regions() -> tuple[Region, ...]:
    # importlib.resources: read from a Scrapyd egg (a zip) as from a folder.
    with resources.files(__package__).joinpath("data", "regions.csv").open(encoding="utf-8") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return tuple(Region(r["code"], r["name"], r["level"], r["parent"], r["tibetan"], r["former"] == "yes")
                     for r in rows)


@cache
def _regions_by_name() -> dict[str, Region]:
    index: dict[str, Region] = {}
    # Current names before former ones, higher levels before lower, so 那曲 resolves to 那曲市, not 那曲县.
    order = {"province": 0, "prefecture": 1, "stat_zone": 2, "county": 3}
    for region in sorted(regions(), key=lambda r: (r.former, order.get(r.level, 9), r.code)):
        for key in (region.name, region.short_name):
            index.setdefault(key, region)
    return index


def region_by_code(code: str) -> Region | None:
    code = code.strip()
    if re.fullmatch(r"\d{2}", code):
        code += "0000"
    return next((r for r in regions() if r.code == code), None)


def resolve_region(text: str | None) -> tuple[str | None, str]:
    """(code, name) for a region field: a name (西藏自治区, 那曲市, 西藏), a code (54, 540600) or "省 市" pairs, the
    most precise part winning. An unknown name keeps its text with no code."""
    cleaned = fold_text(text)
    if not cleaned:
        return None, ""
    if re.fullmatch(r"\d{2}|\d{6}", cleaned):
        region = region_by_code(cleaned)
        return (region.code, region.name) if region else (None, cleaned)
    best: Region | None = None
    for part in re.split(r"[\s,，/·\-|>»]+", cleaned):
        region = _regions_by_name().get(part)
        if region and (best is None or len(region.code.rstrip("0")) > len(best.code.rstrip("0"))):
            best = region
    if best is None:
        best = _regions_by_name().get(cleaned)
    return (best.code, best.name) if best else (None, cleaned)


@cache
def _place_pattern() -> re.Pattern[str]:
    names = sorted((name for name in _regions_by_name() if len(name) >= 2), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, names)))


def places_in(text: str) -> list[Region]:
    """Every known region named in free text (a buyer's name, a title), the longest name at each place."""
    found: list[Region] = []
    for match in _place_pattern().finditer(text):
        region = _regions_by_name()[match.group()]
        if region not in found:
            found.append(region)
    return found


def is_tibetan_area(code: str | None) -> bool:
    """True for the TAR and the Tibetan autonomous prefectures and counties (not for a whole province like 青海)."""
    if not code:
        return False
    by_code = {r.code: r for r in regions()}
    while code and code != "000000":
        region = by_code.get(code)
        if region is None:
            # A county code we do not list: try its prefecture, then its province.
            parent = code[:4] + "00" if code[4:] != "00" else code[:2] + "0000"
            if parent == code:
                return False
            code = parent
            continue
        if region.tibetan == "yes":
            return True
        code = region.parent
    return False


def code_prefix(code: str) -> str:
    """The code prefix a region's code covers: 540000 (a province) → 54, 540600 (a prefecture) → 5406, a county its
    own code. Every notice of a region has a ``region_code`` starting with it."""
    code = code.strip()
    return code[:2] if code.endswith("0000") else code[:4] if code.endswith("00") else code


def tibetan_region_prefixes() -> list[str]:
    """Code prefixes of the Tibetan areas: the TAR as a whole, each Tibetan prefecture, each Tibetan county."""
    prefixes = {code_prefix(region.code) for region in regions() if region.tibetan == "yes"}
    # A county inside an already-listed prefecture adds nothing.
    return sorted(p for p in prefixes if not any(p != q and p.startswith(q) for q in prefixes))


@cache
def _divisions() -> dict[str, list[str]]:
    """Every prefecture and county of China (data/divisions.csv): name → codes."""
    names: dict[str, list[str]] = {}
    with resources.files(__package__).joinpath("data", "divisions.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(line for line in handle if not line.startswith("#")):
            names.setdefault(row["name"], []).append(row["code"])
    return names


def prefecture_of(county: str, province_code: str) -> str | None:
    """The prefecture a county of this province belongs to (甘南县 in 黑龙江 → 齐齐哈尔市), or None where the name
    is not a county there, or names two (the national table knows prefectures and counties; regions.csv only the
    Tibetan areas)."""
    divisions = _divisions()
    codes = [code for code in divisions.get(county, []) if code[:2] == province_code[:2] and code[4:] != "00"]
    if len(codes) != 1:
        return None
    prefecture = codes[0][:4] + "00"
    name = next((name for name, found in divisions.items() if prefecture in found), None)
    # A municipality's districts sit under a placeholder (市辖区, 县), not a prefecture.
    return None if name in (None, "市辖区", "县") else name
