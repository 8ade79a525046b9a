"""Text as the portals write it: what counts as a Chinese character (the one home of the CJK ranges, for parsing,
matching and search alike), control characters, white space and full-width forms."""
from __future__ import annotations

import re
import unicodedata

# CJK Extension A and the Unified Ideographs (with the Yijing symbols between them): NFKC leaves these as they are.
IDEOGRAPHS = "\u3400-\u9fff"
# The compatibility ideographs, which NFKC maps onto unified ones (so text after NFKC holds none).
COMPATIBILITY_IDEOGRAPHS = "\uf900-\ufaff"
CJK = IDEOGRAPHS + COMPATIBILITY_IDEOGRAPHS
"""The body of a regular-expression class: ``f"[{CJK}]"``."""
# jieba's own idea of a Han character (its ``re_han_default``): the characters it cuts as Chinese words.
JIEBA_HAN = "\u4e00-\u9fd5"

CJK_CHAR = re.compile(f"[{CJK}]")
_JIEBA_HAN_ONLY = re.compile(f"[{JIEBA_HAN}]+")


def is_cjk(char: str) -> bool:
    return CJK_CHAR.match(char) is not None


def has_cjk(text: str) -> bool:
    return CJK_CHAR.search(text) is not None


def jieba_han_only(text: str) -> bool:
    """Every character one jieba cuts as Chinese (a two-character word of these can be given a low frequency)."""
    return _JIEBA_HAN_ONLY.fullmatch(text) is not None


# Control characters (Unicode category Cc) but tab and newline: an ESC from a portal page would reach a terminal
# raw and make a feed ill-formed XML; a NUL breaks PostgreSQL text.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def drop_controls(text: str) -> str:
    """``text`` without control characters other than tab and newline (a carriage return ends a line: newline).

    The one function that cleans text at the door: ``record_from_item`` passes every string of a notice through
    it, and migration 0009 cleaned the notices stored before."""
    if not _CONTROLS.search(text):
        return text
    return _CONTROLS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def clean_text(text: str | None) -> str:
    """White space folded (non-breaking and ideographic spaces too), characters kept as the site wrote them."""
    if not text:
        return ""
    return re.sub(r"[\s\u00a0\u3000]+", " ", drop_controls(text)).strip()


def fold_text(text: str | None) -> str:
    """``clean_text`` after NFKC, so full-width ``ＤＮＡ``, ``１２３`` and ``：`` read as ASCII: for parsing values."""
    return clean_text(unicodedata.normalize("NFKC", text or ""))


_CJK_OR_PUNCTUATION = f"[{CJK}（）：，、]"


def squeeze_cjk(text: str) -> str:
    """Remove white space between CJK characters ("总中标金 额" → "总中标金额"), keep it between Latin words."""
    return re.sub(rf"(?<={_CJK_OR_PUNCTUATION})\s+(?={_CJK_OR_PUNCTUATION})", "", clean_text(text))


def label_key(label: str) -> str:
    """A table label as a dictionary key: NFKC, squeezed, without trailing colons."""
    return squeeze_cjk(fold_text(label)).rstrip(":：").strip()


# What portals write where a value is missing: no title, buyer or code at all.
PLACEHOLDERS = {"", "无", "暂无", "待定", "不详", "详见公告", "见公告", "详见附件", "见附件", "详见采购文件", "NONE",
                "NULL", "NA", "N/A", "NIL", "/", "-", "--", "—", "0"}
_NOT_WORD = re.compile(r"[\W_]+")


def text_key(value: str | None, size: int = 300) -> str:
    """A title or buyer as compared: NFKC, case-folded, letters, digits and CJK only."""
    folded = fold_text(value).casefold()
    if folded.upper() in PLACEHOLDERS:
        return ""
    return _NOT_WORD.sub("", folded)[:size]
