"""Scoring a notice 0–100 from its matches, its buyer and its place, with every step's reason in words.

A score of 50 or more (``models.REVIEW_FIRST_SCORE``) means "review first". The weights are judgement, tuned on
the real titles in ../shared/real/ccgp/ (tests/test_matching_titles.py): one strong term with a police buyer is
enough; a weak term never is; a hospital, CDC, university or farm buyer pulls a notice below 50 whatever it buys.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pipelines.matching.matcher import Hit, Matcher
from pipelines.matching.text import normalise
from pipelines.matching.watchlist import Term, Watchlist
from pipelines.normalise import is_tibetan_area, places_in

FIRST_TERM = {"strong": 40, "medium": 20, "weak": 5}
MORE_TERMS = {"strong": 10, "medium": 5, "weak": 2}  # each further distinct term, up to three of a tier
BUYER_POINTS = {"strong": 30, "medium": 20, "weak": 5}  # police, detention, forest police / 政法委
NEGATIVE_BUYER = -40
NEGATIVE_CONTEXT = -25
TIBETAN_AREA = 15
VENDOR_PRODUCT_KIT = 10
MANY_TERMS = 5  # three or more distinct terms
SNIPPET = 30
QUANTITY = re.compile(r"(?P<count>\d+(?:\.\d+)?)\s*(?P<unit>人份/盒|人份|台|套|盒|张|支|个|份|瓶|块|片|管|根)")


@dataclass
class MatchInput:
    """The fields of one notice that are matched, as plain text."""

    title: str = ""
    body: str = ""
    buyer: str = ""
    suppliers: str = ""
    items: list[str] = field(default_factory=list)
    attachments: dict[str, str] = field(default_factory=dict)   # attachment name → extracted text
    region_code: str | None = None

    def fields(self) -> Iterable[tuple[str, str]]:
        yield "title", self.title
        yield "body", self.body
        yield "buyer", self.buyer
        yield "suppliers", self.suppliers
        for item in self.items:
            yield "items", item
        for name, text in self.attachments.items():
            yield f"attachment:{name}", text


@dataclass
class FoundMatch:
    term: str
    matched_text: str
    category: str
    tier: str
    field: str
    start: int
    end: int
    snippet: str
    quantity: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"term": self.term, "category": self.category, "field": self.field, "start": self.start,
                "end": self.end, "snippet": self.snippet, "matched_text": self.matched_text, "tier": self.tier,
                **({"quantity": self.quantity} if self.quantity else {})}


@dataclass
class MatchResult:
    score: int
    reasons: list[str]
    matches: list[FoundMatch]
    buyer_type: str
    watchlist_version: str


def quantity_after(text: str, end: int, limit: int = 40) -> dict[str, Any] | None:
    """Counts right after a matched term: "Y-STR扩增试剂盒(100人份/盒)60盒" → 60 盒 of 100 人份 = 6000 reactions."""
    window = re.split(r"[。;；\n]", text[end:end + limit], maxsplit=1)[0]
    found: dict[str, Any] = {}
    for match in QUANTITY.finditer(window):
        number = Decimal(match.group("count"))
        unit = match.group("unit")
        value: int | float = int(number) if number == number.to_integral_value() else float(number)
        if unit == "人份/盒":
            found.setdefault("per_unit", value)
            found.setdefault("per_unit_unit", unit)
        elif "count" not in found:
            found["count"], found["unit"] = value, unit
    if "per_unit" in found and found.get("unit") == "盒":
        found["reactions"] = found["count"] * found["per_unit"]
    return found or None


def _where(field_name: str) -> str:
    """A match's field in words: "title", or "attachment 设备清单.pdf" for text found in an attachment."""
    name = field_name.removeprefix("attachment:")
    return f"attachment {name}" if name != field_name else field_name


def _snippet(text: str, start: int, end: int) -> str:
    return text[max(0, start - SNIPPET):end + SNIPPET]


def _longest_in(text: str, terms: Sequence[Any]) -> tuple[Any, str] | None:
    """The term (buyer type or negative) with the longest spelling that occurs in ``text``."""
    best: tuple[Any, str] | None = None
    for term in terms:
        for spelling in term.spellings:
            key = normalise(spelling)
            if key and key in text and (best is None or len(key) > len(best[1])):
                best = (term, key)
    return best


class Scorer:
    def __init__(self, watchlist: Watchlist, matcher: Matcher | None = None) -> None:
        self.watchlist = watchlist
        self.matcher = matcher or Matcher(watchlist)
        self.buyer_negatives = [n for n in watchlist.negatives if n.kind == "buyer"]
        self.context_negatives = [n for n in watchlist.negatives if n.kind == "context"]
        # Latin markers need word edges: "str" must not fire inside "structure".
        self.markers = [(normalise(m), re.compile(rf"(?<![a-z]){re.escape(normalise(m))}(?![a-z])"))
                        for m in watchlist.forensic_markers]

    def matches(self, notice: MatchInput, naive: bool = False) -> list[FoundMatch]:
        found = []
        for field_name, raw in notice.fields():
            text = normalise(raw)
            if not text:
                continue
            hits: list[Hit] = self.matcher.find_naive(text) if naive else self.matcher.find(text)
            for hit in hits:
                found.append(FoundMatch(hit.term.term, hit.text, hit.term.category, hit.term.tier, field_name,
                                        hit.start, hit.end, _snippet(text, hit.start, hit.end),
                                        quantity_after(text, hit.end)))
        return found

    def score(self, notice: MatchInput, naive: bool = False) -> MatchResult:
        found = self.matches(notice, naive)
        version = self.watchlist.version
        if not found:
            return MatchResult(0, [], [], "", version)
        reasons: list[str] = []
        total = 0
        terms: dict[str, FoundMatch] = {}
        for match in found:
            terms.setdefault(match.term, match)
        for tier in ("strong", "medium", "weak"):
            of_tier = [m for m in terms.values() if m.tier == tier]
            for index, match in enumerate(of_tier[:4]):
                points = FIRST_TERM[tier] if index == 0 else MORE_TERMS[tier]
                total += points
                reasons.append(f"{tier} term {match.term} ({match.category}) in {_where(match.field)}: +{points}")
        if len(terms) >= 3:
            total += MANY_TERMS
            reasons.append(f"{len(terms)} distinct terms: +{MANY_TERMS}")
        categories = {m.category for m in terms.values()}
        if {"vendor", "product-model", "kit"} <= categories:
            total += VENDOR_PRODUCT_KIT
            reasons.append(f"vendor, product model and kit together: +{VENDOR_PRODUCT_KIT}")

        buyer_text = normalise(notice.buyer) or normalise(notice.title)
        whose = "buyer" if notice.buyer.strip() else "title (no buyer given)"
        police = _longest_in(buyer_text, self.watchlist.buyer_types)
        negative = _longest_in(buyer_text, self.buyer_negatives)
        buyer_type = ""
        if negative and (not police or len(negative[1]) > len(police[1])):
            buyer_type = f"not police: {negative[0].term}"
            total += NEGATIVE_BUYER
            reasons.append(f"{whose} is {negative[0].gloss or negative[0].term} ({negative[1]}): {NEGATIVE_BUYER}")
        elif police:
            term: Term = police[0]
            buyer_type = term.term
            points = BUYER_POINTS[term.tier]
            total += points
            reasons.append(f"{whose} is a {term.gloss or term.term} ({police[1]}): +{points}")

        tibetan = self._tibetan_place(notice)
        if tibetan:
            total += TIBETAN_AREA
            reasons.append(f"Tibetan area ({tibetan}): +{TIBETAN_AREA}")

        everything = " ".join(normalise(text) for _, text in notice.fields())
        context = _longest_in(everything, self.context_negatives)
        if context:
            marker = next((m for m, pattern in self.markers if pattern.search(everything)), None)
            if marker:
                reasons.append(f"negative context {context[1]} ({context[0].gloss}) cancelled by forensic marker "
                               f"{marker}: 0")
            else:
                total += NEGATIVE_CONTEXT
                reasons.append(f"negative context {context[1]} ({context[0].gloss}): {NEGATIVE_CONTEXT}")
        score = max(0, min(100, total))
        reasons.append(f"score {score}" + (" — review first" if score >= 50 else ""))
        return MatchResult(score, reasons, found, buyer_type, version)

    @staticmethod
    def _tibetan_place(notice: MatchInput) -> str:
        if is_tibetan_area(notice.region_code):
            return f"region {notice.region_code}"
        for text in (notice.buyer, notice.title):
            for region in places_in(text or ""):
                if is_tibetan_area(region.code):
                    return region.name
        return ""
