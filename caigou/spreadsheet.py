"""The formula guard for text cells that spreadsheets open: one rule for every CSV caigou writes (exports, the
digest's attachment, search results) and its inverse for ``caigou import``.

A cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return is run as a formula by Excel, LibreOffice
and others (``=HYPERLINK(…)`` from a hostile portal page), so it gets a leading apostrophe. A text that itself
starts with an apostrophe gets one too, which makes the guard reversible: ``'=x`` is written ``''=x`` and reads
back as ``'=x``, where removing "an apostrophe before a formula character" would have turned it into ``=x``.
"""
from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_GUARDED = (*FORMULA_STARTS, "'")


def neutralise(text: str) -> str:
    """``text`` as a cell no spreadsheet runs as a formula (see the module's note for the rule)."""
    return "'" + text if text.startswith(_GUARDED) else text


def unneutralise(text: str) -> str:
    """The inverse of ``neutralise``: the text as it was before the export wrote it."""
    return text[1:] if text.startswith("'") and text[1:2] and text[1] in _GUARDED else text
