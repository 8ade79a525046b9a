"""Matching text: one normal form for notices and watchlist alike.

It runs over every character of the archive at each re-match, so it is written for speed: one NFKC pass, one
case fold, and white space handled only where there is some.
"""
from __future__ import annotations

import re
import unicodedata

from caigou.pipelines.text import IDEOGRAPHS, is_cjk

_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
# NFKC changes neither ASCII nor CJK ideographs, so only the runs of other characters (full-width forms,
# punctuation) go through it: five times faster on Chinese text. (A combining mark after an ASCII letter is left
# uncomposed; no watchlist term has one.)
_NEEDS_NFKC = re.compile(f"[^{IDEOGRAPHS}\\x00-\\x7f]+")
_SPACES = re.compile(r"\s+")


def _space(match: re.Match[str]) -> str:
    """White space next to a CJK character is typography ("DNA 数据库", "总中标金 额"): removed. Between Latin
    words it separates them: one space."""
    text, start, end = match.string, match.start(), match.end()
    if start == 0 or end == len(text) or is_cjk(text[start - 1]) or is_cjk(text[end]):
        return ""
    return " "


def _nfkc(match: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", match.group())


def normalise(text: str | None) -> str:
    """NFKC (full-width ``Ｙ－ＳＴＲ`` → ``y-str``), dashes unified, Latin case-folded, white space next to CJK
    removed and elsewhere collapsed to one space. Offsets of matches refer to this form of a field."""
    if not text:
        return ""
    text = _NEEDS_NFKC.sub(_nfkc, text).lower()
    if _DASHES.search(text):
        text = _DASHES.sub("-", text)
    return _SPACES.sub(_space, text)


def normalise_with_offsets(text: str | None) -> tuple[str, list[int]]:
    """``normalise(text)`` and, for each of its characters, the index in ``text`` it came from (plus one entry for
    the end, ``len(text)``), built character by character because NFKC (``㎏`` → ``kg``), case folding (``İ``) and
    white space change lengths. Slower than ``normalise``: called only for fields that have a match."""
    if not text:
        return "", [0]
    chars: list[str] = []
    sources: list[int] = []
    position = 0
    for run in _NEEDS_NFKC.finditer(text):
        chars.extend(text[position:run.start()])
        sources.extend(range(position, run.start()))
        whole = unicodedata.normalize("NFKC", run.group())
        pieces = [unicodedata.normalize("NFKC", char) for char in run.group()]
        if "".join(pieces) == whole:
            for index, piece in enumerate(pieces):
                chars.extend(piece)
                sources.extend([run.start() + index] * len(piece))
        else:  # characters composed across the run (half-width kana and their marks): the run's start stands for all
            chars.extend(whole)
            sources.extend([run.start()] * len(whole))
        position = run.end()
    chars.extend(text[position:])
    sources.extend(range(position, len(text)))
    lowered = "".join(chars).lower()
    if len(lowered) != len(chars):
        # A character whose lower case is longer (İ → i̇): lengths one by one, but the text folded as a whole, as
        # normalise does (final sigma depends on its neighbours, not its length).
        sources = [source for char, source in zip(chars, sources, strict=False) for _ in char.lower()]
    if _DASHES.search(lowered):
        lowered = _DASHES.sub("-", lowered)
    out: list[str] = []
    out_sources: list[int] = []
    position = 0
    for space in _SPACES.finditer(lowered):
        out.append(lowered[position:space.start()])
        out_sources.extend(sources[position:space.start()])
        replacement = _space(space)
        if replacement:
            out.append(replacement)
            out_sources.append(sources[space.start()])
        position = space.end()
    out.append(lowered[position:])
    out_sources.extend(sources[position:])
    out_sources.append(len(text))
    return "".join(out), out_sources


def original_span(offsets: list[int], original: str, start: int, end: int) -> tuple[int, int]:
    """The span of ``original`` that normalised ``[start, end)`` came from. The end runs to the next normalised
    character's source, but not over white space that normalising dropped ("DNA 数据库": "DNA", not "DNA ")."""
    first = offsets[start]
    last = offsets[end - 1] + 1 if end > start else first
    limit = offsets[end]
    while last < limit and not original[last].isspace():
        last += 1
    return first, last
