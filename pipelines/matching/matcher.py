"""Finding watchlist terms in text: an Aho–Corasick pass for candidates, jieba only where one occurs.

A match is a run of whole jieba tokens whose text is a spelling of a term (so 帝肯 does not fire inside 上帝肯定,
nor 3500xL inside a price). jieba cuts text into blocks at every character outside
``[\\u4E00-\\u9FD5a-zA-Z0-9+#&._%-]`` and segments each block on its own, so segmenting only the blocks where a
candidate occurs gives exactly the tokens of segmenting everything. ``find_naive`` segments everything; the tests
and ``bench/match.py`` check that both agree.
"""
from __future__ import annotations

import bisect
import logging
import re
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

import ahocorasick

from caigou.pipelines.matching.text import normalise
from caigou.pipelines.matching.watchlist import Term, Watchlist, spelling_variants
from caigou.pipelines.money import UNIT
from caigou.pipelines.text import has_cjk, jieba_han_only

# jieba's own block pattern (jieba.re_han_default): segmentation never crosses these blocks' edges.
BLOCK = re.compile(r"[\u4E00-\u9FD5a-zA-Z0-9+#&._%\-]+")
# What follows a number that is a price or a count, not a model: "3500元", "3500 万元", "3500台", "3500人份".
AFTER_NUMBER = re.compile(rf"\s?(?:{UNIT}|美元|块|台|套|盒|张|支|人份|份|瓶|个|件|%)")
# A bare number among a term's aliases (which `caigou watchlist check` refuses) still matches only beside one of
# the term's context words, or these.
BARE_NUMBER = re.compile(r"[\d.,\s-]+")
MODEL_CONTEXT = ("型", "型号", "xl", "abi")
SHORT_CJK_FREQUENCY = 5  # two-character names: a token where they stand alone, never inside a commoner word


@dataclass(frozen=True)
class Hit:
    term: Term
    text: str       # the spelling as it occurred (normalised)
    start: int
    end: int


@cache
def _jieba() -> Any:
    """jieba, imported quietly on first use: loading it and its dictionary takes a second, and most notices have
    no candidate for it to confirm."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


@cache
def plain_dictionary() -> tuple[dict[str, int], int]:
    """jieba's own dictionary (word → frequency, and their total), read once per process: reading it takes most of
    a second, and every watchlist's tokenizer starts from a copy of it."""
    plain = _jieba().Tokenizer()
    plain.initialize()
    return plain.FREQ, plain.total


class Matcher:
    def __init__(self, watchlist: Watchlist) -> None:
        self.watchlist = watchlist
        self.spellings: dict[str, Term] = {}
        # Spellings that match only beside one of their term's context words (normalised): bare model numbers
        # and short names shared with other companies.
        self.context_of: dict[str, tuple[str, ...]] = {}
        for term in watchlist.match_terms:
            context = tuple(dict.fromkeys(v for word in term.context or MODEL_CONTEXT for v in spelling_variants(word)))
            for spelling in term.spellings:
                for variant in spelling_variants(spelling):
                    if variant not in self.spellings:
                        self.spellings[variant] = term
                        if BARE_NUMBER.fullmatch(variant):  # an alias "3500" is a model number, not a price
                            self.context_of[variant] = context
        for term in watchlist.match_terms:
            context = tuple(dict.fromkeys(v for word in term.context for v in spelling_variants(word)))
            for spelling in term.context_only:
                for variant in spelling_variants(spelling):
                    if variant not in self.spellings:
                        self.spellings[variant] = term
                        self.context_of[variant] = context
        self.automaton = ahocorasick.Automaton()
        for spelling in self.spellings:
            self.automaton.add_word(spelling, spelling)
        self.automaton.make_automaton()
        self.longest = max((len(s) for s in self.spellings), default=0)

    @cached_property
    def tokenizer(self) -> Any:
        """jieba with every spelling in its dictionary, built when a candidate first needs confirming."""
        tokenizer = _jieba().Tokenizer()
        frequencies, total = plain_dictionary()
        tokenizer.FREQ, tokenizer.total = dict(frequencies), total  # a copy: add_word below changes it
        tokenizer.initialized = True
        for spelling in self.spellings:
            if " " in spelling or len(spelling) < 2 or not has_cjk(spelling):
                # Several tokens (matched as a sequence), too short, or Latin only: jieba keeps a run of Latin
                # letters and digits whole, and a Latin word in the dictionary would split "abilities" at "abi".
                continue
            if len(spelling) == 2 and jieba_han_only(spelling):
                tokenizer.add_word(spelling, SHORT_CJK_FREQUENCY)
            else:
                tokenizer.add_word(spelling, max(tokenizer.suggest_freq(spelling, False), 10))
        # Buyers' names are whole tokens too, so a term never matches inside one: 刑事科学技术 (forensic casework)
        # in 刑事科学技术研究所, 司法鉴定 in 司法鉴定中心, is the buyer, not what is bought.
        for term in self.watchlist.buyer_types:
            for spelling in term.spellings:
                key = normalise(spelling)
                if len(key) > 2 and has_cjk(key) and key not in self.spellings:
                    tokenizer.add_word(key, max(tokenizer.suggest_freq(key, False), 10))
        return tokenizer

    # ------------------------------------------------------------------------------------------ fast path

    def find(self, text: str) -> list[Hit]:
        """Matches in normalised ``text``: candidates by Aho–Corasick, confirmed on jieba's token edges."""
        candidates = [(end + 1 - len(spelling), end + 1, spelling) for end, spelling in self.automaton.iter(text)]
        if not candidates:
            return []
        edges = self._edges_near(text, candidates)
        hits = [Hit(self.spellings[s], s, start, end) for start, end, s in candidates
                if start in edges and end in edges and self._allowed(text, s, start, end)]
        return _leftmost_longest(hits)

    def _allowed(self, text: str, spelling: str, start: int, end: int) -> bool:
        """A spelling ending in a digit is not a model before money or a count ("ABI 3500元", "3500台"); a
        context-only spelling needs a context word right before or after it (spaces and colons between)."""
        if spelling[-1].isdigit() and AFTER_NUMBER.match(text, end):
            return False
        context = self.context_of.get(spelling)
        if context is None:
            return True
        before, after = text[max(0, start - 40):start].rstrip(" :"), text[end:end + 40].lstrip(" :")
        return any(before.endswith(word) or after.startswith(word) for word in context)

    def _edges_near(self, text: str, candidates: list[tuple[int, int, str]]) -> set[int]:
        """Token edges of the jieba blocks the candidates touch; characters outside blocks are edges themselves."""
        edges: set[int] = set()
        blocks = [(m.start(), m.end()) for m in BLOCK.finditer(text)]
        starts = [block[0] for block in blocks]
        wanted: set[tuple[int, int]] = set()
        for start, end, _ in candidates:
            for block in _blocks_between(blocks, starts, start, end):
                wanted.add(block)
            edges.update((start, end))  # confirmed below only if they are real edges
        confirmed: set[int] = set()
        inside: set[int] = set()
        for block_start, block_end in wanted:
            inside.update(range(block_start + 1, block_end))
            position = block_start
            for token in self.tokenizer.cut(text[block_start:block_end], HMM=True):
                confirmed.add(position)
                position += len(token)
            confirmed.add(position)
        # An edge is real where jieba put one, or where no block surrounds it (spaces, punctuation).
        return {edge for edge in edges if edge in confirmed or edge not in inside}

    # ------------------------------------------------------------------------------------------ naive path

    def find_naive(self, text: str) -> list[Hit]:
        """The reference: segment all of ``text`` and look every run of tokens up."""
        tokens = []
        position = 0
        for token in self.tokenizer.cut(text, HMM=True):
            tokens.append((position, position + len(token)))
            position += len(token)
        hits = []
        for i, (start, _) in enumerate(tokens):
            for j in range(i, len(tokens)):
                end = tokens[j][1]
                if end - start > self.longest:
                    break
                spelling = text[start:end]
                if spelling in self.spellings and self._allowed(text, spelling, start, end):
                    hits.append(Hit(self.spellings[spelling], spelling, start, end))
        return _leftmost_longest(hits)


def _blocks_between(blocks: list[tuple[int, int]], starts: list[int], start: int, end: int) -> list[tuple[int, int]]:
    """The blocks (sorted, disjoint; ``starts`` their starts) that overlap ``[start, end)``: found by bisection,
    so many candidates cost n log n, not n × blocks."""
    index = max(0, bisect.bisect_right(starts, start) - 1)
    found = []
    while index < len(blocks) and blocks[index][0] < end:
        if start < blocks[index][1]:
            found.append(blocks[index])
        index += 1
    return found


def _leftmost_longest(hits: list[Hit]) -> list[Hit]:
    """Overlapping matches keep the longest (thermo fisher scientific over thermo fisher), then the leftmost.
    Taken positions are marked in a bytearray: each hit is checked in its own length, so n hits cost O(n log n)
    for the sort, not O(n²) comparisons."""
    if not hits:
        return []
    taken = bytearray(max(hit.end for hit in hits))
    chosen: list[Hit] = []
    for hit in sorted(hits, key=lambda h: (-(h.end - h.start), h.start)):
        if not any(taken[hit.start:hit.end]):
            taken[hit.start:hit.end] = b"\x01" * (hit.end - hit.start)
            chosen.append(hit)
    return sorted(chosen, key=lambda h: h.start)
