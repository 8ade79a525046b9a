"""Organisation names as compared: the rules that make two spellings one buyer or one supplier, in one place.

* Every name is compared after NFKC (full-width ``（）`` read as ``()``), case folding and removing everything but
  letters, digits and CJK (``pipelines.text.text_key``): brackets and spaces never tell two names apart.
* **Buyers**: a province's full name is its short one (西藏自治区公安厅 = 西藏公安厅, 青海省公安厅 = 青海公安厅); a
  place renamed (``former`` in ``pipelines/data/regions.csv``: 林芝地区 → 林芝市) is read under its new name, and its
  police 公安处 (the office of a 地区) is the 公安局 of the city that replaced it (林芝地区公安处 → 林芝市公安局).
  A name that goes on after its bureau (那曲市公安局刑侦支队, …公安局物证鉴定所) is a **sub-unit** of that bureau.
* **Suppliers**: company suffixes (有限公司, 股份有限公司, 有限责任公司, Co., Ltd.) are dropped.
* Names still different are compared with rapidfuzz (``SIMILAR``): a name this close to a known organisation's key
  of the same kind joins it, with the score as its reason — but never when the two differ in a number (digits or
  Chinese numerals) or a place.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from rapidfuzz import fuzz, process

from caigou.pipelines.regions import Region, regions, short_region_name
from caigou.pipelines.text import text_key

SIMILAR = 90          # rapidfuzz ratio (0–100) from which two keys are one organisation
MIN_SIMILAR_LENGTH = 8  # shorter keys are never merged by similarity: one character is too much of them

BUREAUS = ("公安厅", "公安局", "公安处")
_COMPANY_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "集团公司", "公司", "coltd", "co", "ltd", "limited",
                     "inc", "corporation", "corp", "gmbh")


@dataclass(frozen=True)
class NameKey:
    key: str                  # the organisation key the name gives
    reason: str               # why it is the key it is, when a rule rewrote it ("" for the plain name)
    parent_key: str = ""      # a sub-unit's bureau
    region: Region | None = None


@cache
def _renames() -> dict[str, str]:
    """Former region names (林芝地区) to the names that replaced them (林芝市), by short name and level."""
    current = {(r.short_name, r.level): r.name for r in regions() if not r.former}
    return {r.name: current[(r.short_name, r.level)] for r in regions()
            if r.former and (r.short_name, r.level) in current and current[(r.short_name, r.level)] != r.name}


@cache
def _provinces() -> dict[str, str]:
    return {r.name: short_region_name(r.name) for r in regions() if r.level == "province"}


@cache
def _places() -> list[tuple[str, Region]]:
    """Region names and short names, longest first, current names before former ones."""
    found: dict[str, Region] = {}
    for region in sorted(regions(), key=lambda r: (r.former, {"county": 0, "prefecture": 1}.get(r.level, 2))):
        for name in (region.name, region.short_name):
            if len(name) >= 2:
                found.setdefault(name, region)
    return sorted(found.items(), key=lambda item: -len(item[0]))


def region_of(name: str) -> Region | None:
    """The most specific region a name starts with (西藏自治区那曲市公安局 → 那曲市)."""
    best: Region | None = None
    rest = name
    while rest:
        for place, region in _places():
            if rest.startswith(place):
                if best is None or len(region.code.rstrip("0")) >= len(best.code.rstrip("0")):
                    best = region
                rest = rest[len(place):]
                break
        else:
            break
    return best


def buyer_key(name: str) -> NameKey:
    text = text_key(name)
    reasons: list[str] = []
    for former, current in _renames().items():
        if former in text:
            renamed = text.replace(former, current)
            if former.endswith("地区") and "公安处" in renamed:
                renamed = renamed.replace("公安处", "公安局", 1)
            reasons.append(f"renamed: {former} is now {current}")
            text = renamed
    for full, short in _provinces().items():
        if text.startswith(full) and full != short:
            text = short + text[len(full):]
            reasons.append(f"{full} = {short}")
            break
    parent = ""
    for bureau in BUREAUS:
        at = text.find(bureau)
        if at > 0 and at + len(bureau) < len(text):
            parent = text[:at + len(bureau)]
            break
    return NameKey(text, "; ".join(reasons), parent, region_of(text))


def supplier_key(name: str) -> NameKey:
    text = text_key(name)
    dropped = ""
    for _ in range(2):  # "… Co., Ltd." is two suffixes
        for suffix in _COMPANY_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix) + 1:
                text, dropped = text[: -len(suffix)], dropped or suffix
                break
    return NameKey(text, f"company suffix {dropped} dropped" if dropped else "", "", region_of(text))


def name_key(kind: str, name: str) -> NameKey:
    return buyer_key(name) if kind == "buyer" else supplier_key(name)


_NUMERALS = set("〇零一二三四五六七八九十百千两")


def _digits(text: str) -> str:
    """The numbers in a name, Chinese numerals too (第一 and 第二 are two companies, not a typo)."""
    return "".join(c for c in text if c.isdigit() or c in _NUMERALS)


def similar(key: str, known: list[str]) -> tuple[str, float] | None:
    """The known key ``key`` is most similar to, with its score, if it is close enough to be the same (see the
    module's rules)."""
    if len(key) < MIN_SIMILAR_LENGTH or not known:
        return None
    found = process.extractOne(key, known, scorer=fuzz.ratio, score_cutoff=SIMILAR)
    if found is None:
        return None
    other, score = found[0], float(found[1])
    place, other_place = region_of(key), region_of(other)
    if _digits(key) != _digits(other) or (place and other_place and place.code != other_place.code):
        return None
    return other, score


_SPACE = re.compile(r"\s+")


def display(name: str) -> str:
    """A name as shown: white space squeezed."""
    return _SPACE.sub(" ", name).strip()
