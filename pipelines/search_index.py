"""The full-text index: notices segmented with jieba at index time, kept in sync by the store.

Chinese has no spaces, so a database tokenizer alone finds nothing (SQLite's unicode61 sees a run of Chinese as
one token; trigrams miss two-character words). Each notice's title, buyer, agency, suppliers, body and
attachments' text are cut with
jieba's ``cut_for_search`` (sub-words too: 公安厅 also indexes 公安) by the same tokenizer the watchlist uses (its
terms come out whole), and the tokens are stored space-separated: an FTS5 table on SQLite, a tsvector with a GIN
index on PostgreSQL (migration 0003). Queries are cut by the same tokenizer (``search_tokens``).

Quoted phrases need adjacent positions, which ``cut_for_search`` does not give (it emits sub-words before the
word), and a phrase cut on its own may be segmented differently than the same characters in a sentence. So a second
stream (``phrase_tokens``, migration 0007) holds the normalised text as one token per CJK character and per run of
Latin letters or digits, in order: a phrase matches wherever its normalised characters occur in sequence, whatever
jieba makes of the context. It needs no tokenizer, so the migration can fill it for stored notices.

PostgreSQL limits a tsvector to 1 MB of distinct lexemes, 256 positions per lexeme and position 16383; the word
stream is capped below the first (``_capped``), and the phrase stream puts title, buyer, agency and suppliers before
the body and attachments, so the positions that get clamped on a huge notice are the least useful ones.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from caigou.models import Notice
from caigou.models.db import Database
from caigou.pipelines.matching.text import normalise
from caigou.pipelines.text import CJK

WORD = re.compile(f"[0-9a-z{CJK}]")
RUNS = re.compile(f"[0-9a-z]+|[{CJK}]+")
# Letters and digits apart (3500xl: 3500, xl), and a hyphenated Latin word without its hyphens (y-str: ystr, the
# spelling the watchlist matcher also accepts).
ALNUM_PARTS = re.compile(r"[0-9]+|[a-z]+")
HYPHENATED = re.compile(r"[0-9a-z]+(?:-[0-9a-z]+)+")
# One phrase token: a CJK character, or a run of letters, or a run of digits (everything else separates).
PHRASE_TOKEN = re.compile(f"[{CJK}]|[a-z]+|[0-9]+")
# PostgreSQL's tsvector holds at most 1 MB of distinct lexemes. Its parser can split one of our tokens in up to three
# lexemes (y-str数据库: y-str数据库, y, str数据库), so distinct tokens are kept to a third of that.
TSVECTOR_TOKEN_BYTES = 330_000


@functools.cache
def _traditional_to_simplified() -> dict[int, str]:
    """OpenCC's character table (TSCharacters: 4,000 traditional characters, each to its usual simplified one), as
    a ``str.translate`` table: one character for one, so the phrase stream keeps its positions, and fast enough
    for every notice's text. OpenCC's phrase tables are left out: they would change lengths, and the index needs
    the same folding of text and query, not the best rendering."""
    from importlib.resources import files

    table: dict[int, str] = {}
    for line in files("opencc").joinpath("dictionary", "TSCharacters.txt").read_text(encoding="utf-8").splitlines():
        traditional, _, simplified = line.partition("\t")
        target = simplified.split(" ")[0]
        if len(traditional) == 1 and len(target) == 1 and traditional != target:
            table[ord(traditional)] = target
    return table


def fold(value: str) -> str:
    """Traditional characters folded to simplified (遺傳分析儀 → 遗传分析仪), for the index and the query alike:
    Hong Kong and Taiwan spellings and notices typed in traditional characters are found by simplified queries and
    the other way round."""
    return value.translate(_traditional_to_simplified())


def _tokenizer() -> Any:
    from caigou.pipelines.matching.store import configured_scorer

    return configured_scorer().matcher.tokenizer


def search_tokens(value: str, for_index: bool = False) -> list[str]:
    """Tokens of ``value`` as the index holds them: normalised, jieba-cut (with sub-words when indexing)."""
    normal = normalise(fold(value))
    tokenizer = _tokenizer()
    cut = tokenizer.cut_for_search(normal) if for_index else tokenizer.cut(normal)
    tokens = [token for token in (t.strip() for t in cut) if token and WORD.search(token)]
    if not for_index:
        return tokens
    # Mixed tokens (y-str扩增试剂盒, 3500xl) also index their Latin and CJK runs, which a query cuts apart.
    extra = [run for token in tokens for run in RUNS.findall(token) if run != token]
    extra += [part for token in tokens for run in RUNS.findall(token) for part in ALNUM_PARTS.findall(run)
              if part != run]
    extra += [run.replace("-", "") for token in tokens for run in HYPHENATED.findall(token)]
    # cut_for_search gives the 2- and 3-character words inside a long one; longer words inside it (中德美联 in
    # 无锡中德美联生物技术有限公司) are indexed too, so a vendor is found inside its company's full name.
    words = tokenizer.FREQ
    for token in tokens:
        for size in range(4, len(token)):
            extra += [token[i:i + size] for i in range(len(token) - size + 1) if words.get(token[i:i + size])]
    return tokens + extra


def phrase_tokens(value: str) -> list[str]:
    """The phrase stream of ``value``: normalised, one token per CJK character or Latin/digit run, in order."""
    return PHRASE_TOKEN.findall(normalise(fold(value)))


def notice_text(notice: Notice) -> str:
    """Every searched field of a notice in one text, the short identifying fields first."""
    parts = [notice.title, notice.buyer, notice.agency, notice.project_code,
             " ".join(s.name for s in notice.suppliers), notice.body_text]
    # Attachments' names and extracted text: the equipment list is often only there.
    parts += [f"{a.name}\n{a.text}" for a in notice.attachments if a.text]
    return " \n ".join(p for p in parts if p)


def document(notice: Notice) -> str:
    return " ".join(search_tokens(notice_text(notice), for_index=True))


def _capped(tokens: list[str], budget: int = TSVECTOR_TOKEN_BYTES) -> list[str]:
    """``tokens`` without the occurrences of lexemes first seen after ``budget`` bytes of distinct ones: a huge
    notice (an attachment of a million characters) still fits a tsvector, and repeated words keep their counts
    for ranking. PostgreSQL only; FTS5 has no such limit."""
    seen: set[str] = set()
    used = 0
    kept = []
    for token in tokens:
        if token not in seen:
            size = len(token.encode()) + 8   # the lexeme and its entry header, roughly
            if used + size > budget:
                continue
            seen.add(token)
            used += size
        kept.append(token)
    return kept


def index_notice(session: Session, notice: Notice) -> None:
    """(Re)index one notice; called by the store whenever a notice is new or changed."""
    value = notice_text(notice)
    words = search_tokens(value, for_index=True)
    phrases = phrase_tokens(value)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("INSERT INTO notice_fts (notice_id, document, phrases) "
                             "VALUES (:id, to_tsvector('simple', :t), to_tsvector('simple', :p)) "
                             "ON CONFLICT (notice_id) DO UPDATE SET document = EXCLUDED.document, "
                             "phrases = EXCLUDED.phrases"),
                        {"id": notice.id, "t": " ".join(_capped(words)), "p": " ".join(_capped(phrases))})
    else:
        session.execute(text("DELETE FROM notice_fts WHERE rowid = :id"), {"id": notice.id})
        session.execute(text("INSERT INTO notice_fts (rowid, tokens, phrases) VALUES (:id, :t, :p)"),
                        {"id": notice.id, "t": " ".join(words), "p": " ".join(phrases)})


def reindex_archive(database: Database, progress: Callable[[int, int], None] | None = None,
                    batch: int = 1000) -> int:
    """Re-index every stored notice, one short transaction per batch; ``progress(done, total)``."""
    with database.session() as session:
        total = session.scalar(select(func.count(Notice.id))) or 0
    done, last_id = 0, 0
    if progress:
        progress(0, total)
    while True:
        with database.session() as session:
            notices = list(session.scalars(select(Notice).where(Notice.id > last_id).order_by(Notice.id)
                                           .limit(batch)))
            if not notices:
                break
            for notice in notices:
                index_notice(session, notice)
            last_id = notices[-1].id
        done += len(notices)
        if progress:
            progress(done, total)
    return done
