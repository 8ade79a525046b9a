"""``caigou watchlist check``'s look at how spellings tokenise: a spelling that never comes out of jieba whole never
matches, and one that is a common word matches everywhere. It builds a ``Matcher``, so it lives beside the
watchlist's parser rather than in it (the matcher imports the watchlist)."""
from __future__ import annotations

import re
from typing import Any

from caigou.pipelines.matching.matcher import Matcher, plain_dictionary
from caigou.pipelines.matching.text import normalise
from caigou.pipelines.matching.watchlist import Problem, Watchlist
from caigou.pipelines.text import has_cjk

# Contexts a spelling must come out of jieba whole in: between common words, as notices use it.
TOKEN_CONTEXTS = ("采购{}一批", "关于{}项目的", "公安局{}和")
LATIN_CONTEXTS = ("采购{}一批", "采购 {} 一批", "the {} system")
COMMON_WORD = 300  # jieba's own count (of 60 million) above which a Chinese word is ordinary prose (肯定: 6227)
_BARE_NUMBER = re.compile(r"[\d.,\s-]+")


def check_tokens(watchlist: Watchlist) -> list[Problem]:
    """Spellings that would never match, or match everywhere: bare numbers and single characters (a model number
    goes under ``context_only``, matched beside its context), spellings that start or end with punctuation or have
    no Latin word of two letters, common words, and spellings jieba does not cut out whole between common words."""
    matcher = Matcher(watchlist)
    plain_frequencies, _ = plain_dictionary()  # jieba's own, without ours: how common a word is in ordinary text
    problems: list[Problem] = []
    for term in watchlist.match_terms:
        for spelling in term.spellings:
            key = normalise(spelling)
            reason = _spelling_problem(key, plain_frequencies) or _tokens_problem(matcher, key)
            if reason:
                problems.append(Problem(term.source, term.line_of(spelling), f"{term.term}: {spelling!r} {reason}"))
        for spelling in term.context_only:
            key = normalise(spelling)
            if not term.context or len(key) < 2:
                continue  # reported by parse_watchlist / below
            word = normalise(term.context[0])
            texts = [f"采购{word}{key}一台", f"采购{key}{word}一台", f"采购{word} {key} 一台"]
            if not any(any(h.term is term and t[h.start:h.end] == key for h in matcher.find(t)) for t in texts):
                problems.append(Problem(term.source, term.line, f"{term.term}: {spelling!r} does not match beside "
                                        f"its context {word!r} ({' / '.join(texts)})"))
    return problems


def _spelling_problem(key: str, base: dict[str, int]) -> str | None:
    if _BARE_NUMBER.fullmatch(key):
        return "is a bare number (prices and counts look the same): list it under `context_only` with `context`"
    if len(key.replace(" ", "")) < 2:
        return "is a single character"
    if not (key[0].isalnum() and key[-1].isalnum()):
        return "starts or ends with punctuation"
    if not has_cjk(key) and max(len(w) for w in re.findall(r"[a-z0-9]+", key) or [""]) < 2:
        return "has no Latin word of two letters or more"
    if has_cjk(key) and base.get(key, 0) >= COMMON_WORD:
        return f"is a common word (jieba has seen it {base[key]} times): it would match ordinary prose"
    return None


def _tokens_problem(matcher: Any, key: str) -> str | None:
    contexts = TOKEN_CONTEXTS if has_cjk(key) else LATIN_CONTEXTS
    for context in contexts:
        text = context.format(key)
        at = text.index(key)
        hits = matcher.find(text)
        # A longer spelling that takes the context in ("Spectrum CE" in "spectrum ce system") still matches it.
        if not any(h.start <= at and at + len(key) <= h.end for h in hits):
            tokens = "/".join(matcher.tokenizer.cut(text, HMM=True))
            return f"does not come out of jieba as whole tokens in {text!r} ({tokens})"
    return None
