"""The full-text index: notices segmented with jieba at index time, kept in sync by the store.

Chinese has no spaces, so a database tokenizer alone finds nothing (SQLite's unicode61 sees a run of Chinese as
one token; trigrams miss two-character words). Each notice's title, buyer, agency, suppliers, body and
attachments' text are cut with
jieba's ``cut_for_search`` (sub-words too: 公安厅 also indexes 公安) by the same tokenizer the watchlist uses (its
terms come out whole), and the tokens are stored space-separated: an FTS5 table on SQLite, a tsvector with a GIN
index on PostgreSQL (migration 0003). Queries are cut by the same tokenizer (``search_tokens``).
"""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from models import Notice
from pipelines.matching.text import normalise

WORD = re.compile(r"[0-9a-z\u3400-\u9fff]")
RUNS = re.compile(r"[0-9a-z]+|[\u3400-\u9fff]+")


def _tokenizer() -> Any:
    from pipelines.matching.store import configured_scorer

    return configured_scorer().matcher.tokenizer


def search_tokens(value: str, for_index: bool = False) -> list[str]:
    """Tokens of ``value`` as the index holds them: normalised, jieba-cut (with sub-words when indexing)."""
    normal = normalise(value)
    tokenizer = _tokenizer()
    cut = tokenizer.cut_for_search(normal) if for_index else tokenizer.cut(normal)
    tokens = [token for token in (t.strip() for t in cut) if token and WORD.search(token)]
    if not for_index:
        return tokens
    # Mixed tokens (y-str扩增试剂盒, 3500xl) also index their Latin and CJK runs, which a query cuts apart.
    extra = [run for token in tokens for run in RUNS.findall(token) if run != token]
    # cut_for_search gives the 2- and 3-character words inside a long one; longer words inside it (中德美联 in
    # 无锡中德美联生物技术有限公司) are indexed too, so a vendor is found inside its company's full name.
    words = tokenizer.FREQ
    for token in tokens:
        for size in range(4, len(token)):
            extra += [token[i:i + size] for i in range(len(token) - size + 1) if words.get(token[i:i + size])]
    return tokens + extra


def document(notice: Notice) -> str:
    parts = [notice.title, notice.buyer, notice.agency, notice.project_code,
             " ".join(s.name for s in notice.suppliers), notice.body_text]
    # Attachments' names and extracted text: the equipment list is often only there.
    parts += [f"{a.name}\n{a.text}" for a in notice.attachments if a.text]
    return " ".join(search_tokens(" \n ".join(p for p in parts if p), for_index=True))


def index_notice(session: Session, notice: Notice) -> None:
    """(Re)index one notice; called by the store whenever a notice is new or changed."""
    tokens = document(notice)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("INSERT INTO notice_fts (notice_id, document) VALUES (:id, to_tsvector('simple', :t)) "
                             "ON CONFLICT (notice_id) DO UPDATE SET document = EXCLUDED.document"),
                        {"id": notice.id, "t": tokens})
    else:
        session.execute(text("DELETE FROM notice_fts WHERE rowid = :id"), {"id": notice.id})
        session.execute(text("INSERT INTO notice_fts (rowid, tokens) VALUES (:id, :t)"), {"id": notice.id, "t": tokens})


def reindex(session: Session, notices: Any) -> int:
    count = 0
    for notice in notices:
        index_notice(session, notice)
        count += 1
    return count
