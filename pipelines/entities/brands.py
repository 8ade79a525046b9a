"""Brands and makers: which maker (and its country) stands behind the watchlist terms a notice matched.

The data is ``makers.toml`` beside this module. A notice's brands are read from its stored watchlist matches
(``notice_matches``), which already cover its title, body, items and attachments: no text is matched twice.
"""
from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from caigou.models import NoticeMatch

MAKERS_FILE = Path(__file__).with_name("makers.toml")


@dataclass(frozen=True)
class Maker:
    name: str
    country: str
    aliases: tuple[str, ...]
    terms: tuple[str, ...]


@dataclass
class Brand:
    """One maker's products in one notice: the terms matched and where (title, items, attachment:NAME, …)."""

    maker: Maker
    terms: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


@cache
def makers() -> tuple[Maker, ...]:
    with open(MAKERS_FILE, "rb") as handle:
        data = tomllib.load(handle)
    return tuple(Maker(m["name"], m["country"], tuple(m.get("aliases", ())), tuple(m["terms"]))
                 for m in data["maker"])


@cache
def maker_of_term() -> dict[str, Maker]:
    return {term: maker for maker in makers() for term in maker.terms}


def find_maker(name: str) -> Maker | None:
    """The maker a reader means by ``name``: its name, an alias or one of its terms, in any case or width."""
    wanted = _fold(name)
    for maker in makers():
        if wanted in {_fold(n) for n in (maker.name, *maker.aliases, *maker.terms)}:
            return maker
    return None


def notice_brands(session: Session, notice_ids: Iterable[int]) -> dict[int, dict[str, Brand]]:
    """For each notice, its brands by maker name."""
    ids = list(set(notice_ids))
    by_term = maker_of_term()
    found: dict[int, dict[str, Brand]] = {}
    for start in range(0, len(ids), 500):
        for notice_id, term, where in session.execute(
                select(NoticeMatch.notice_id, NoticeMatch.term, NoticeMatch.field)
                .where(NoticeMatch.notice_id.in_(ids[start:start + 500]), NoticeMatch.term.in_(list(by_term)))):
            maker = by_term[term]
            brand = found.setdefault(notice_id, {}).setdefault(maker.name, Brand(maker))
            brand.terms.add(term)
            brand.fields.add(where)
    return found
