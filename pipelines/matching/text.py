"""Matching text: one normal form for notices and watchlist alike.

It runs over every character of the archive at each re-match, so it is written for speed: one NFKC pass, one
case fold, and white space handled only where there is some.
"""
from __future__ import annotations

import re
import unicodedata

_DASHES = re.compile(r"[\u2010-\u2015\u2212]")
# NFKC changes neither ASCII nor CJK ideographs, so only the runs of other characters (full-width forms,
# punctuation) go through it: five times faster on Chinese text. (A combining mark after an ASCII letter is left
# uncomposed; no watchlist term has one.)
_NEEDS_NFKC = re.compile(r"[^\u4e00-\u9fff\x00-\x7f]+")
_SPACES = re.compile(r"\s+")


def _is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff"


def _space(match: re.Match[str]) -> str:
    """White space next to a CJK character is typography ("DNA 数据库", "总中标金 额"): removed. Between Latin
    words it separates them: one space."""
    text, start, end = match.string, match.start(), match.end()
    if start == 0 or end == len(text) or _is_cjk(text[start - 1]) or _is_cjk(text[end]):
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
