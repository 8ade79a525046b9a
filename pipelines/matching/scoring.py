"""Scoring a notice 0–100 from its matches, its buyer and its place, with every step's reason in words.

A score of 50 or more (``models.REVIEW_FIRST_SCORE``) means "review first". The weights are judgement, tuned on
the real titles in ../shared/real/ccgp/ (tests/test_matching_titles.py): one strong term with a police buyer is
enough; a weak term never is; a hospital, CDC, university or farm buyer pulls a notice below 50 whatever it buys.
"""
from __future__ import annotations

import bisect
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

import ahocorasick

from caigou.models.constants import REVIEW_FIRST_SCORE
from caigou.pipelines.matching.matcher import Hit, Matcher
from caigou.pipelines.matching.text import normalise, normalise_with_offsets, original_span
from caigou.pipelines.matching.watchlist import FORENSIC, Term, Watchlist
from caigou.pipelines.money import NUMBER, to_yuan
from caigou.pipelines.regions import is_tibetan_area, places_in
from caigou.pipelines.text import is_cjk

FIRST_TERM = {"strong": 40, "medium": 20, "weak": 5}
MORE_TERMS = {"strong": 10, "medium": 5, "weak": 2}  # each further distinct term, up to three of a tier
BUYER_POINTS = {"strong": 30, "medium": 20, "weak": 5}  # police, detention, forest police / 政法委
NEGATIVE_BUYER = -40
NEGATIVE_CONTEXT = -25
TIBETAN_AREA = 15
VENDOR_PRODUCT_KIT = 10
MANY_TERMS = 5  # three or more distinct terms
GENERAL_FIRST = 20  # a general word (DNA, 指纹, 人脸…) in a police or judicial context: with a police buyer, 50
GENERAL_MORE = 5    # each further general word, up to two
GENERAL_WORD = "general-word"  # the category of a counted general word's match (stored, searchable like a term's)
FORENSIC_BAND = (20, 45)  # forensic casework, not DNA/biometric: seen, searchable, never "review first" alone
PROGRAM_ONLY = 45  # a programme or place (警务站, 雪亮工程, 网格化管理) alone is not a purchase of DNA or biometrics
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
    """One match. ``start``/``end`` index the field's original text (``raw[start:end] == matched_text``, the
    spelling as published, e.g. ``ＤＮＡ数据库``), and the snippet is cut from it too."""

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
    capacity: dict[str, Any] = field(default_factory=dict)  # see ``capacity``: reactions, cards, instruments, money


# Quantities belong to what is counted: kits, consumables, instruments (not a vendor or a model number beside them).
COUNTED = ("kit", "consumable", "equipment")
INSTRUMENT_UNITS = ("台", "套", "个", "件")
QUANTITY_REACH = 40  # characters from a term to a count that is still its own
# A clause ends at a comma (not a thousands separator), semicolon, 。, 、 or a line break in the original text:
# "遗传分析仪，办公桌5张" gives the desks' count to no one.
_CLAUSE_END = re.compile(r"[;。、!?]|,(?!\d{3}(?:\D|$))")
AMOUNT = re.compile(r"(?P<label>单价|总价|金额|合价|预算|报价|小计)?[:：]?\s*¥?\s*"
                    rf"(?P<number>{NUMBER})\s*(?P<unit>万元|元)")


def _number(text: str) -> int | float:
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)


class _Clauses:
    """Which clause a position of normalised ``text`` is in. Line breaks are gone from it (normalising removes
    white space next to CJK), so they are read in the original: a break falls before the first character whose
    source lies after the line break."""

    def __init__(self, text: str, original: str, offsets: list[int]) -> None:
        breaks = [match.end() for match in _CLAUSE_END.finditer(text)]
        position = original.find("\n")
        while position != -1:
            breaks.append(bisect.bisect_right(offsets, position, hi=len(text)))
            position = original.find("\n", position + 1)
        self.breaks = sorted(breaks)

    def __getitem__(self, index: int) -> int:
        return bisect.bisect_right(self.breaks, index)


class _Owners:
    """Which hit a number belongs to. The hits of one field are sorted and disjoint (``Matcher.find``), so their
    starts and ends are both sorted: the nearest hit of a category group before a number, and the nearest after
    it, are found by bisection. Only the nearest can qualify: a farther one is farther and no nearer a clause."""

    def __init__(self, hits: list[Hit], clause_of: _Clauses) -> None:
        self.hits, self.clause_of = hits, clause_of
        self.groups: dict[tuple[str, ...], tuple[list[int], list[int], list[int]]] = {}

    def _group(self, categories: Sequence[str]) -> tuple[list[int], list[int], list[int]]:
        key = tuple(categories)
        if key not in self.groups:
            indices = [i for i, hit in enumerate(self.hits) if not categories or hit.term.category in categories]
            self.groups[key] = (indices, [self.hits[i].start for i in indices], [self.hits[i].end for i in indices])
        return self.groups[key]

    def __call__(self, start: int, end: int, owners: Sequence[Sequence[str]]) -> int | None:
        """The index of the hit a number at ``[start, end)`` belongs to: the nearest hit of the first category
        group in ``owners`` that has one in the same clause, before the number if any, else after it, within
        ``QUANTITY_REACH``."""
        clause_of = self.clause_of
        for categories in owners:
            indices, starts, ends = self._group(categories)
            before = bisect.bisect_right(ends, start) - 1
            if before >= 0:
                hit = self.hits[indices[before]]
                if start - hit.end <= QUANTITY_REACH and clause_of[hit.start] == clause_of[end - 1]:
                    return indices[before]
            after = bisect.bisect_left(starts, end)
            if after < len(indices):
                hit = self.hits[indices[after]]
                if hit.start - end <= QUANTITY_REACH and clause_of[start] == clause_of[hit.end - 1]:
                    return indices[after]
        return None


def _inside(spans: list[tuple[int, int]], position: int) -> bool:
    """Whether ``position`` is inside one of ``spans`` (sorted and disjoint)."""
    index = bisect.bisect_right(spans, (position, sys.maxsize)) - 1
    return index >= 0 and position < spans[index][1]


# Who takes a count: a kit, consumable or instrument; failing one, a model number for instruments only ("3500xL
# 2台"; "3500xL 20盒" is nobody's: boxes of what?). Money: the same, failing those any term ("DNA数据库 预算…").
COUNT_OWNERS: tuple[tuple[str, ...], ...] = (COUNTED, ("product-model",))
MONEY_OWNERS: tuple[tuple[str, ...], ...] = (COUNTED, ("product-model",), ())


def quantities(text: str, hits: list[Hit], original: str, offsets: list[int]) -> list[dict[str, Any] | None]:
    """Counts and money for each hit of one field: "Y-STR扩增试剂盒(100人份/盒)60盒" → 60 盒 of 100 人份 = 6000
    reactions; "60盒×100人份" the same; "采血卡(FTA卡)50000张" counts the cards once (for FTA卡, the nearer);
    "单价3500000元" → ``amount_cny`` "3500000.00". A count goes only to a kit, consumable or instrument (台/套 for
    instruments; a model number takes 台/套 when no instrument is named) in the same clause; money to the nearest
    of those, else to the nearest term in the clause."""
    owner_of = _Owners(hits, _Clauses(text, original, offsets))
    found: list[dict[str, Any]] = [{} for _ in hits]
    money_spans: list[tuple[int, int]] = []
    for match in AMOUNT.finditer(text):
        owner = owner_of(match.start("number"), match.end(), MONEY_OWNERS)
        money_spans.append((match.start("number"), match.end()))
        if owner is None or "amount_cny" in found[owner]:
            continue
        value = to_yuan(match.group("number"), match.group("unit"))
        found[owner]["amount_cny"] = str(value)
        found[owner]["amount_label"] = match.group("label") or ""
    hit_spans = [(hit.start, hit.end) for hit in hits]
    for match in QUANTITY.finditer(text):
        if _inside(money_spans, match.start()) or _inside(hit_spans, match.start()):
            continue  # digits of a price or of a model number, not a count
        unit = match.group("unit")
        owners = COUNT_OWNERS if unit in INSTRUMENT_UNITS else COUNT_OWNERS[:1]
        owner = owner_of(match.start(), match.end(), owners)
        if owner is None:
            continue
        quantity, into = _number(match.group("count")), found[owner]
        if hits[owner].term.category == "equipment" and unit not in INSTRUMENT_UNITS:
            continue  # an instrument is not counted in 张 or 盒
        before = text[max(0, match.start() - 3):match.start()].rstrip()
        if unit == "人份/盒" or (unit == "人份" and (before[-1:] in ("×", "x", "*", "/") or before.endswith("每盒"))):
            into.setdefault("per_unit", quantity)
            into.setdefault("per_unit_unit", "人份/盒")
        elif "count" not in into:
            into["count"], into["unit"] = quantity, unit
    for into in found:
        if "per_unit" in into and into.get("unit") == "盒":
            into["reactions"] = into["count"] * into["per_unit"]
        elif into.get("unit") == "人份":
            into["reactions"] = into["count"]
    return [into or None for into in found]


def capacity(found: Sequence[FoundMatch]) -> dict[str, Any]:
    """What a notice buys, summed: reactions (boxes × 人份/盒, or 人份), cards (张 of consumables), instruments
    (台/套 of equipment) and money (单价 × count, else the amount). Summed within a field over distinct lines, then
    the largest field taken, because title, body, items and attachments usually restate the same purchase. Within a
    field, a line that restates another (the same term with the same quantity: the summary "采血卡(FTA卡)50000张"
    and the 主要标的信息 row "FTA采血卡 … 50000张") counts once."""
    per_field: dict[str, dict[str, Decimal]] = {}
    seen: set[tuple[str, str, str, Decimal]] = set()

    def add(field_name: str, term: str, key: str, value: Decimal) -> None:
        if (field_name, term, key, value) in seen:
            return  # a restatement, not a second purchase
        seen.add((field_name, term, key, value))
        sums = per_field.setdefault(field_name, {})
        sums[key] = sums.get(key, Decimal(0)) + value

    for match in found:
        quantity = match.quantity or {}
        per_field.setdefault(match.field, {})
        if "reactions" in quantity:
            add(match.field, match.term, "reactions", Decimal(str(quantity["reactions"])))
        if match.category == "consumable" and quantity.get("unit") == "张":
            add(match.field, match.term, "cards", Decimal(str(quantity["count"])))
        if match.category in ("equipment", "product-model") and quantity.get("unit") in INSTRUMENT_UNITS:
            add(match.field, match.term, "instruments", Decimal(str(quantity["count"])))
        if "amount_cny" in quantity:
            amount = Decimal(quantity["amount_cny"])
            if quantity.get("amount_label") == "单价" and "count" in quantity:
                amount *= Decimal(str(quantity["count"]))
            add(match.field, match.term, "amount_cny", amount)
    summary: dict[str, Any] = {}
    for sums in per_field.values():
        for key, value in sums.items():
            if key not in summary or value > Decimal(str(summary[key])):
                summary[key] = str(value.quantize(Decimal("0.01"))) if key == "amount_cny" else _number(str(value))
    return summary


def capacity_reason(summary: dict[str, Any]) -> str:
    parts = [f"{summary[key]} {label}" for key, label in (("reactions", "reactions (boxes × 人份/盒)"),
                                                        ("cards", "sample cards"), ("instruments", "instruments"))
             if key in summary]
    if "amount_cny" in summary:
        parts.append(f"¥{summary['amount_cny']}")
    return "capacity: " + ", ".join(parts)


def _where(field_name: str) -> str:
    """A match's field in words: "title", or "attachment 设备清单.pdf" for text found in an attachment."""
    name = field_name.removeprefix("attachment:")
    return f"attachment {name}" if name != field_name else field_name


# Where a snippet may end: after a clause's punctuation or white space (a comma between digits is a thousands
# separator, not a clause).
_SNIPPET_BREAK = re.compile(r"[。；;！!？?\s，、]|[,:：](?!\d)")


def _wordlike(char: str) -> bool:
    """A character of a number or a Latin word (full width too), which a snippet must not cut through."""
    return char.isalnum() and not is_cjk(char) or char in ".,%"


def _snippet(text: str, start: int, end: int, words: Callable[[str], Iterable[str]]) -> str:
    """Context around a match, cut from the original text (so it reads as published: ``公安厅ＤＮＡ数据库``). Each side
    ends at the clause boundary nearest ``SNIPPET`` characters out (within twice that); failing one, at that
    distance moved inwards to a word's edge (``words`` segments text): never inside a number, a Latin word or a
    Chinese word ("…(100人份/盒)" rather than "…(100人份/盒)17" of 174盒)."""
    left, right = max(0, start - SNIPPET), min(len(text), end + SNIPPET)
    if left > 0:
        cuts = [m.end() for m in _SNIPPET_BREAK.finditer(text, max(0, start - 2 * SNIPPET), start)]
        left = min(cuts, key=lambda cut: abs(cut - (start - SNIPPET))) if cuts else _edge(text, left, start, words)
    if right < len(text):
        cuts = [m.end() for m in _SNIPPET_BREAK.finditer(text, end, min(len(text), end + 2 * SNIPPET))]
        right = min(cuts, key=lambda cut: abs(cut - (end + SNIPPET))) if cuts else _edge(text, right, end, words)
    return text[left:right].strip()


def _edge(text: str, position: int, limit: int, words: Callable[[str], Iterable[str]]) -> int:
    """The word edge nearest ``position`` on the side of ``limit`` (the match), no further than ``limit``."""
    while position != limit and _wordlike(text[position - 1]) and _wordlike(text[position]):
        position += 1 if limit > position else -1  # out of a number or Latin word
    low, high = max(0, position - 8), min(len(text), position + 8)
    edges, at = [limit], low  # the match's own edge is a word's edge
    for word in words(text[low:high]):
        if at > low:  # the window's ends are where it was cut, not where words end
            edges.append(at)
        at += len(word)
    inward = [e for e in edges if (position <= e <= limit if limit > position else limit <= e <= position)]
    return min(inward, key=lambda edge: abs(edge - position))


def _between_word_edges(text: str, start: int, end: int) -> bool:
    """No Latin letter right before ``start`` or right after ``end``: "dna" is a word in "公安局dna检验", not in
    "cdna"."""
    return not _LATIN.match(text[start - 1:start]) and not _LATIN.match(text[end:end + 1])


_LATIN = re.compile(r"[a-z]")


def _word_pattern(word: str) -> re.Pattern[str]:
    """``word`` in normalised text; a Latin word only between word edges ("str" not inside "structure")."""
    return re.compile(rf"(?<![a-z]){re.escape(word)}(?![a-z])")


def _longest_in(text: str, terms: Sequence[Any]) -> tuple[Any, str] | None:
    """The term (buyer type or negative) with the longest spelling that occurs in ``text``."""
    best: tuple[Any, str] | None = None
    for term in terms:
        for spelling in term.spellings:
            key = normalise(spelling)
            if key and key in text and (best is None or len(key) > len(best[1])):
                best = (term, key)
    return best


# A notice that names no buyer in its buyer field or title usually names it in the body's 采购人 section:
# "一、采购人信息 名称：某市公安局", "采购单位：某县看守所". The buyer is looked for this far after the label.
BUYER_LABEL = re.compile(r"采购人|采购单位")
BUYER_REACH = 60


@dataclass
class _Buyer:
    """Who buys, as far as the notice says: the buyer type found (police or judicial), the negative buyer found,
    and where it was read ("buyer", "title (no buyer given)", "body's 采购人 section")."""

    whose: str
    police: tuple[Term, str] | None
    negative: tuple[Any, str] | None

    @property
    def is_negative(self) -> bool:
        return bool(self.negative and (not self.police or len(self.negative[1]) > len(self.police[1])))

    @property
    def is_police(self) -> bool:
        return bool(self.police) and not self.is_negative


class _Field(NamedTuple):
    """One matched field: its name, its text as published and normalised (normalised once, used by every pass)."""

    name: str
    raw: str
    text: str

    @staticmethod
    def of(notice: MatchInput) -> list[_Field]:
        return [_Field(name, raw, normalise(raw)) for name, raw in notice.fields()]


class Scorer:
    def __init__(self, watchlist: Watchlist, matcher: Matcher | None = None) -> None:
        self.watchlist = watchlist
        self.matcher = matcher or Matcher(watchlist)
        self.buyer_negatives = [n for n in watchlist.negatives if n.kind == "buyer"]
        self.context_negatives = [n for n in watchlist.negatives if n.kind == "context"]
        self.generic_buyers = [normalise(name) for name in watchlist.generic_buyers]
        # Latin markers need word edges: "str" must not fire inside "structure".
        self.markers = [(normalise(m), _word_pattern(normalise(m))) for m in watchlist.forensic_markers]
        self.general = {normalise(word): word for word in watchlist.general_words + watchlist.laboratory_words}
        self.laboratory = set(watchlist.laboratory_words)
        self.general_automaton = ahocorasick.Automaton()
        for key in self.general:
            self.general_automaton.add_word(key, key)
        self.general_automaton.make_automaton()

    def matches(self, notice: MatchInput, naive: bool = False) -> list[FoundMatch]:
        return self._matches(_Field.of(notice), naive)

    def _matches(self, fields: list[_Field], naive: bool = False) -> list[FoundMatch]:
        found = []
        for field_name, raw, text in fields:
            if not text:
                continue
            hits: list[Hit] = self.matcher.find_naive(text) if naive else self.matcher.find(text)
            if not hits:
                continue
            mapped, offsets = normalise_with_offsets(raw)
            if mapped != text:  # cannot happen (tests compare both on random text); never cut a wrong snippet
                raise AssertionError(f"normalise and normalise_with_offsets disagree on {raw[:80]!r}")
            for hit, quantity in zip(hits, quantities(text, hits, raw, offsets), strict=False):
                start, end = original_span(offsets, raw, hit.start, hit.end)
                found.append(FoundMatch(hit.term.term, raw[start:end], hit.term.category, hit.term.tier,
                                        field_name, start, end, _snippet(raw, start, end, self._words), quantity))
        return found

    def _words(self, text: str) -> Iterable[str]:
        return self.matcher.tokenizer.cut(text, HMM=True)

    def buyer(self, notice: MatchInput) -> _Buyer:
        """The buyer field, unless it is empty or only runs the tender (a trading centre, an agent); then the title;
        then the body's 采购人 section."""
        buyer_text = normalise(notice.buyer)
        if buyer_text:
            police = _longest_in(buyer_text, self.watchlist.buyer_types)
            negative = _longest_in(buyer_text, self.buyer_negatives)
            if police or negative or not any(g in buyer_text for g in self.generic_buyers):
                return _Buyer("buyer", police, negative)
            fallback = f"title (buyer {notice.buyer.strip()} only runs the tender)"
        else:
            fallback = "title (no buyer given)"
        title = normalise(notice.title)
        police = _longest_in(title, self.watchlist.buyer_types)
        negative = _longest_in(title, self.buyer_negatives)
        if police or negative:
            return _Buyer(fallback, police, negative)
        body = normalise(notice.body)
        for label in BUYER_LABEL.finditer(body):
            section = body[label.end():label.end() + BUYER_REACH]
            police = _longest_in(section, self.watchlist.buyer_types)
            negative = _longest_in(section, self.buyer_negatives)
            if police or negative:
                return _Buyer("body's 采购人 section", police, negative)
        return _Buyer(fallback, None, None)

    def score(self, notice: MatchInput, naive: bool = False) -> MatchResult:
        version = self.watchlist.version
        fields = _Field.of(notice)
        found = self._matches(fields, naive)
        general = self._general_words(fields)
        if not found and not general:
            return MatchResult(0, [], [], "", version)
        texts = [(field.name, field.text) for field in fields]
        everything = " ".join(text for _, text in texts)
        reasons: list[str] = []
        total = 0
        terms: dict[str, FoundMatch] = {}
        core = any(m.category != FORENSIC for m in found)
        for match in found:
            # Forensic casework words add nothing beside DNA or biometric terms: they are often only the buyer's
            # name (刑事科学技术研究所, 司法鉴定中心).
            if not (core and match.category == FORENSIC):
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

        buyer = self.buyer(notice)
        buyer_type = ""
        if buyer.is_negative:
            assert buyer.negative is not None
            buyer_type = f"not police: {buyer.negative[0].term}"
            total += NEGATIVE_BUYER
            reasons.append(f"{buyer.whose} is {buyer.negative[0].gloss or buyer.negative[0].term} "
                           f"({buyer.negative[1]}): {NEGATIVE_BUYER}")
        elif buyer.police:
            term: Term = buyer.police[0]
            buyer_type = term.term
            points = BUYER_POINTS[term.tier]
            total += points
            reasons.append(f"{buyer.whose} is a {term.gloss or term.term} ({buyer.police[1]}): +{points}")

        tibetan = self._tibetan_place(notice)
        if tibetan:
            total += TIBETAN_AREA
            reasons.append(f"Tibetan area ({tibetan}): +{TIBETAN_AREA}")

        context = _longest_in(everything, self.context_negatives)
        marker = next((m for m, pattern in self.markers if pattern.search(everything)), None)
        negative_context = False
        if context:
            if marker and not context[0].firm:
                reasons.append(f"negative context {context[1]} ({context[0].gloss}) cancelled by forensic marker "
                               f"{marker}: 0")
            else:
                negative_context = True
                total += NEGATIVE_CONTEXT
                reasons.append(f"negative context {context[1]} ({context[0].gloss}): {NEGATIVE_CONTEXT}")

        police_context, unit = self._police_context(buyer, texts, marker)
        general = self._in_context(general, unit, found)
        if not found and not general:  # only laboratory supplies, and no laboratory buying them
            return MatchResult(0, [], [], "", version)
        counted = bool(general) and bool(police_context) and not buyer.is_negative and not negative_context
        if general and counted:
            for index, (word, match) in enumerate(list(general.items())[:3]):
                points = GENERAL_FIRST if index == 0 else GENERAL_MORE
                total += points
                kind = "laboratory supplies" if word in self.laboratory else "general word"
                reasons.append(f"{kind} {word} in {_where(match.field)} counts: {police_context}: +{points}")
        elif general:
            why = ("the buyer is not police" if buyer.is_negative else
                   "a negative context" if negative_context else "no police, judicial or forensic context")
            reasons.append(f"general word {next(iter(general))} not counted: {why}")
            if not found:
                return MatchResult(0, reasons + ["score 0"], [], buyer_type, version)

        summary = capacity(found)
        if summary:
            reasons.append(capacity_reason(summary))
        score = max(0, min(100, total))
        if found and not counted and all(m.category == FORENSIC for m in found):
            # Forensic casework without DNA or biometrics: visible in its own band, never "review first" alone.
            band = (max(FORENSIC_BAND[0], min(FORENSIC_BAND[1], score)) if police_context and not buyer.is_negative
                    else min(FORENSIC_BAND[1], score))
            reasons.append(f"forensic, not DNA/biometric: {FORENSIC_BAND[0]}–{FORENSIC_BAND[1]}"
                           + (f" ({police_context})" if police_context else ""))
            score = band
        elif (score > PROGRAM_ONLY and not counted and terms
              and all(m.category == "program-name" and m.tier == "weak" for m in terms.values())):
            reasons.append(f"only a programme or place named, no purchase of DNA or biometrics: at most {PROGRAM_ONLY}")
            score = PROGRAM_ONLY
        reasons.append(f"score {score}" + (" — review first" if score >= REVIEW_FIRST_SCORE else ""))
        counted_words = list(general.values())[:3] if counted else []
        return MatchResult(score, reasons, found + counted_words, buyer_type, version, summary)

    def _general_words(self, fields: list[_Field]) -> dict[str, FoundMatch]:
        """Each general word that occurs, as a match at its first occurrence (category ``general-word``). One
        Aho–Corasick pass a field; a Latin word only between word edges ("dna" not in "cdna")."""
        found: dict[str, FoundMatch] = {}
        if not self.general:  # a watchlist without general words (an empty automaton cannot search)
            return found
        for field_name, raw, text in fields:
            for last, key in self.general_automaton.iter(text):
                first = last + 1 - len(key)
                word = self.general[key]
                if word in found or key.isascii() and not _between_word_edges(text, first, last + 1):
                    continue
                _, offsets = normalise_with_offsets(raw)
                start, end = original_span(offsets, raw, first, last + 1)
                found[word] = FoundMatch(word, raw[start:end], GENERAL_WORD, "general", field_name, start, end,
                                         _snippet(raw, start, end, self._words))
        return found

    def _police_context(self, buyer: _Buyer, texts: list[tuple[str, str]],
                        marker: str | None) -> tuple[str, tuple[Term, str] | None]:
        """Why a general word counts here, in words ("" when nothing makes the notice police or judicial), and the
        police or judicial unit (buyer type, spelling) that makes it so, if one does."""
        if buyer.is_negative:
            return "", None
        if buyer.is_police:
            assert buyer.police is not None
            return f"police or judicial buyer {buyer.police[1]} ({buyer.whose})", buyer.police
        for field_name, text in texts:
            if field_name in ("title", "body"):
                unit = _longest_in(text, self.watchlist.buyer_types)
                if unit:
                    return f"the {field_name} names {unit[1]}, a police or judicial unit", unit
        if marker:
            return f"forensic marker {marker} in the notice", None
        return "", None

    def _in_context(self, general: dict[str, FoundMatch], unit: tuple[Term, str] | None,
                    found: list[FoundMatch]) -> dict[str, FoundMatch]:
        """The general words this context lets count: laboratory supplies (试剂, 耗材) only when the unit is a police
        forensic laboratory and no forensic casework word stands beside them other than the laboratory's own name
        (理化检验试剂 is casework). Beside a DNA or biometric term they add nothing: the term says what is bought."""
        laboratory = (unit is not None and unit[0].term in self.watchlist.laboratory_buyers
                      and all(m.category == FORENSIC and normalise(m.matched_text) in unit[1] for m in found))
        return {word: match for word, match in general.items()
                if laboratory or word not in self.laboratory}

    @staticmethod
    def _tibetan_place(notice: MatchInput) -> str:
        if is_tibetan_area(notice.region_code):
            return f"region {notice.region_code}"
        for text in (notice.buyer, notice.title):
            for region in places_in(text or ""):
                if is_tibetan_area(region.code):
                    return region.name
        return ""
