"""Full-text search in Chinese over the archive, with filters, facets, sorting and highlighting.

Query syntax: words (all must occur; ``AND`` between them may be written), ``"exact phrases"`` (their characters
in this order, in any field, any
case or width, spaces and punctuation ignored), ``-excluded`` words or phrases, and ``OR`` between
alternatives: ``遗传分析仪 公安 -医院``, ``"DNA数据库" OR Y-STR``. Words are cut by the index's own jieba
tokenizer, so 公安 finds 公安厅. A malformed query raises ``QueryError`` with a one-line message.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVarTuple

from markupsafe import Markup, escape
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnClause,
    ColumnElement,
    Integer,
    MetaData,
    Select,
    Table,
    and_,
    case,
    cast,
    column,
    exists,
    extract,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.orm import selectinload

from caigou.filters import NoticeFilters, apply_filters, check_filters
from caigou.labels import notice_type_label
from caigou.models import Notice, NoticeLink, NoticeMatch, NoticeScore, Review, Source, Supplier
from caigou.models.db import Database
from caigou.models.errors import CaigouError
from caigou.pipelines.linking import group_key, group_rank, other_copies
from caigou.pipelines.regions import region_by_code, tibetan_region_prefixes
from caigou.pipelines.search_index import phrase_tokens, search_tokens

_Ts = TypeVarTuple("_Ts")  # the columns a select returns, kept through narrowing it

SORTS = ("relevance", "date", "score")
SIMPLE: ColumnClause[Any] = literal_column("'simple'::regconfig")  # PostgreSQL's text search configuration
FTS = table("notice_fts", column("rowid"), column("notice_id"), column("document"), column("phrases"),
            column("tokens"))


class QueryError(CaigouError):
    """A query that cannot be read."""


@dataclass
class Term:
    text: str
    phrase: bool
    tokens: list[str]
    # The other spellings of the watchlist term this word or phrase spells ("Thermo Fisher" → 赛默飞世尔, 赛默飞, …),
    # each a phrase: the term matches when any of them occurs.
    also: list[Term] = field(default_factory=list)


@dataclass
class Query:
    alternatives: list[list[Term]] = field(default_factory=list)   # OR of AND-groups
    excluded: list[Term] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        """What to highlight: the words and phrases asked for, and the other spellings searched with them."""
        return [t.text for group in self.alternatives for term in group for t in (term, *term.also)]

    @property
    def also_searched(self) -> list[str]:
        """The other spellings searched because a word is a watchlist alias, once each, in watchlist order."""
        return list(dict.fromkeys(t.text for group in self.alternatives for term in group for t in term.also))


_PART = re.compile(r'(-?)"([^"]*)"|(\S+)')


def parse_query(raw: str, expand: bool = True) -> Query:
    """Words, "phrases", -exclusions and OR, into a Query; errors say what is wrong in one line. With ``expand``,
    a word that is a watchlist alias also finds the term's other spellings (``with_watchlist_spellings``)."""
    if raw.count('"') % 2:
        raise QueryError('unbalanced quote in the query: close every "phrase"')
    query = Query()
    group: list[Term] = []
    previous_or = True
    pending_and = False
    for match in _PART.finditer(raw.strip()):
        negated, phrase, word = match.group(1), match.group(2), match.group(3)
        if word == "AND":  # words must all occur anyway: AND is allowed, as other search engines allow it
            if not group or pending_and:
                raise QueryError("AND needs words on both sides")
            pending_and = True
            continue
        if word == "OR":
            if previous_or or not group or pending_and:
                raise QueryError("OR needs words on both sides" if not pending_and else
                                 "AND needs words on both sides")
            query.alternatives.append(group)
            group, previous_or = [], True
            continue
        excluded = bool(negated) or (word is not None and word.startswith("-") and len(word) > 1)
        value = phrase if phrase is not None else word.lstrip("-") if excluded else word
        if not value or not value.strip():
            continue
        # A phrase is matched on the phrase stream (characters in order), a word on the jieba word stream.
        tokens = phrase_tokens(value) if phrase is not None else search_tokens(value)
        if not tokens:
            raise QueryError(f"nothing to search for in {value!r}")
        term = Term(value.strip(), phrase is not None, tokens)
        if excluded:
            query.excluded.append(term)
        else:
            group.append(term)
            previous_or = pending_and = False
    if pending_and:
        raise QueryError("AND needs words on both sides")
    if previous_or and query.alternatives:
        raise QueryError("OR needs words on both sides")
    if group:
        query.alternatives.append(group)
    if not query.alternatives:
        raise QueryError("the query has nothing to find (only exclusions?)" if query.excluded else "empty query")
    if expand:
        query.alternatives = [with_watchlist_spellings(group) for group in query.alternatives]
        query.excluded = with_watchlist_spellings(query.excluded)
    return query


LONGEST_ALIAS_WORDS = 4   # "Thermo Fisher Scientific" is three words; the watchlist has none longer than four


def _spelled_terms(value: str) -> list[Any]:
    from caigou.filters import watchlist_spellings
    from caigou.pipelines.matching.text import normalise
    from caigou.pipelines.matching.watchlist import spelling_variants

    spellings = watchlist_spellings()
    for variant in (normalise(value), *sorted(spelling_variants(value))):
        if variant in spellings:
            return spellings[variant]
    return []


def with_watchlist_spellings(terms: list[Term]) -> list[Term]:
    """``terms`` with each word or phrase that spells a watchlist term (its name or any alias, in any case or
    width) also matching the term's other spellings. Consecutive words are tried together first, longest first, so
    ``Thermo Fisher`` typed without quotes is the vendor, not two words."""
    out: list[Term] = []
    index = 0
    while index < len(terms):
        for size in range(min(LONGEST_ALIAS_WORDS, len(terms) - index), 0, -1):
            run = terms[index:index + size]
            if size > 1 and any(term.phrase for term in run):
                continue
            text_ = " ".join(term.text for term in run)
            spelled = _spelled_terms(text_)
            if not spelled:
                continue
            first = run[0] if size == 1 else Term(text_, False, [t for term in run for t in term.tokens])
            typed = set(phrase_tokens(text_))
            also: list[Term] = []
            seen = [phrase_tokens(text_)]
            for watched in spelled:
                for spelling in watched.spellings:
                    tokens = phrase_tokens(spelling)
                    if tokens and tokens not in seen and set(tokens) != typed:
                        seen.append(tokens)
                        also.append(Term(spelling, True, tokens))
            # A spelling that contains a shorter one searched anyway adds nothing (赛默飞 covers 赛默飞世尔科技).
            shorter = [first.tokens if not first.phrase else phrase_tokens(text_), *(t.tokens for t in also)]
            also = [t for t in also if not any(_contains(t.tokens, other) for other in shorter
                                               if other is not t.tokens)]
            out.append(Term(first.text, first.phrase, first.tokens, also))
            index += size
            break
        else:
            out.append(terms[index])
            index += 1
    return out


def _contains(tokens: list[str], part: list[str]) -> bool:
    """Whether ``part`` occurs in ``tokens`` as a run (and is shorter)."""
    size = len(part)
    return 0 < size < len(tokens) and any(tokens[i:i + size] == part for i in range(len(tokens) - size + 1))


def suggest(raw: str) -> str:
    """For a query that found nothing: the watchlist spelling closest to one of its words (遗传分析议 →
    遗传分析仪), as the query with that word replaced; "" when nothing is close."""
    import difflib

    from caigou.filters import watchlist_spellings

    known = list(watchlist_spellings())
    for word in raw.split():
        bare = word.lstrip("-").strip('"')
        if not bare or bare in {"OR", "AND"} or _spelled_terms(bare):
            continue
        close = difflib.get_close_matches(bare.lower(), known, n=1, cutoff=0.75)
        if close:
            spelling = next(s for term in watchlist_spellings()[close[0]] for s in term.spellings
                            if s.lower() == close[0] or spelling_matches(s, close[0]))
            return raw.replace(bare, spelling, 1)
    return ""


def spelling_matches(spelling: str, variant: str) -> bool:
    from caigou.pipelines.matching.watchlist import spelling_variants

    return variant in spelling_variants(spelling)


# ------------------------------------------------------------------------------------------------ SQL

def _fts5(query: Query) -> str:
    """The FTS5 MATCH expression: words in the ``tokens`` column, phrases as FTS5 phrases in ``phrases``."""
    def quoted(tokens: list[str]) -> str:
        return '"' + " ".join(tokens).replace('"', '""') + '"'

    def plain(term: Term) -> str:
        if term.phrase:
            return f"phrases : {quoted(term.tokens)}"
        return " AND ".join(f"tokens : {quoted([token])}" for token in term.tokens)

    def one(term: Term) -> str:
        if term.also:
            return " OR ".join(f"({plain(t)})" for t in (term, *term.also))
        return plain(term)

    def all_of(terms: list[Term]) -> str:
        return " AND ".join(f"({one(term)})" for term in terms)

    expression = " OR ".join(f"({all_of(group)})" for group in query.alternatives)
    if query.excluded:
        expression = f"({expression}) NOT ({' OR '.join(f'({one(t)})' for t in query.excluded)})"
    return expression


def _lexeme(token: str) -> str:
    """A quoted tsquery lexeme; quotes and backslashes inside are escaped (a token is scraped or typed text)."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _ts_term(term: Term) -> ColumnElement[bool]:
    """One term on PostgreSQL: words in ``document``, a phrase as adjacent lexemes (<->) in ``phrases``; a
    watchlist alias or any of its term's other spellings."""
    if term.also:
        return or_(*(_ts_term(t) for t in (Term(term.text, term.phrase, term.tokens), *term.also)))
    if term.phrase:
        return FTS.c.phrases.op("@@")(func.to_tsquery(SIMPLE, " <-> ".join(_lexeme(t) for t in term.tokens)))
    return FTS.c.document.op("@@")(func.to_tsquery(SIMPLE, " & ".join(_lexeme(t) for t in term.tokens)))


def _ts_clause(query: Query) -> ColumnElement[bool]:
    """The query over one notice_fts row (both columns), as SQL: OR of AND-groups, without the excluded terms."""
    clause = or_(*[and_(*[_ts_term(term) for term in group]) for group in query.alternatives])
    return and_(clause, *[not_(_ts_term(term)) for term in query.excluded])


def _ts_rank(query: Query) -> ColumnElement[Any]:
    """Rank by every wanted word and phrase (whichever alternative matched)."""
    terms = [term for group in query.alternatives for term in group]
    words = [_lexeme(t) for term in terms if not term.phrase for t in term.tokens]
    phrases = [" <-> ".join(_lexeme(t) for t in term.tokens) for term in terms if term.phrase]
    score: ColumnElement[Any] = literal_column("0.0")
    if words:
        score = score + func.ts_rank(FTS.c.document, func.to_tsquery(SIMPLE, " | ".join(words)))
    if phrases:
        score = score + func.ts_rank(FTS.c.phrases, func.to_tsquery(SIMPLE, " | ".join(f"({p})" for p in phrases)))
    return score


def fulltext_clause(query: Query, dialect: str, probe: bool = False) -> ColumnElement[bool]:
    """Notice.id among the full-text hits (words and phrases both answered by the index). With ``probe`` (SQLite),
    each candidate notice is looked up in the index instead of reading every hit first (``_probe_is_cheaper``)."""
    if dialect == "postgresql":
        return Notice.id.in_(select(FTS.c.notice_id).where(_ts_clause(query)))
    match = text("notice_fts MATCH :fts").bindparams(fts=_fts5(query))
    if probe:
        return exists(select(literal_column("1")).select_from(FTS).where(match, FTS.c.rowid == Notice.id))
    return Notice.id.in_(select(FTS.c.rowid).where(match))


def filtered(statement: Select[*_Ts], filters: NoticeFilters, query: Query | None, dialect: str,
             probe: bool = False) -> Select[*_Ts]:
    statement = apply_filters(statement, filters)
    if query is not None:
        if probe and filters.min_score:
            # Start from the few notices of this score (its index), then ask the full-text index about each.
            statement = statement.where(Notice.id.in_(
                select(NoticeScore.notice_id).where(NoticeScore.score >= filters.min_score)))
        statement = statement.where(fulltext_clause(query, dialect, probe and bool(filters.min_score)))
    return statement


# Looking one notice up in the FTS5 index costs about four times reading one hit from a doclist (bench/search.py,
# 100,000 notices: 82 candidates probed in 1.5 ms; 6,401 hits of 公安 read in 30 ms).
PROBE_COST = 4


def _index_hits_estimate(session: Any, query: Query) -> int:
    """An upper bound of the full-text hits from the index's own document counts (fts5vocab, a per-connection
    temporary table): per alternative its rarest token, summed over the alternatives."""
    connection = session.connection()
    connection.execute(text("CREATE VIRTUAL TABLE IF NOT EXISTS temp.search_vocab "
                            "USING fts5vocab(main, notice_fts, row)"))
    counts: dict[str, int] = {}

    def docs(token: str) -> int:
        if token not in counts:
            counts[token] = connection.execute(text("SELECT doc FROM temp.search_vocab WHERE term = :t"),
                                               {"t": token}).scalar() or 0
        return counts[token]

    # FTS5 cuts a token like y-str again (y, str): the rarest of those parts bounds it too.
    def term_docs(term: Term) -> int:
        own = min(docs(part) for token in term.tokens for part in re.findall(r"\w+", token) or [token])
        return own + sum(term_docs(t) for t in term.also)   # any spelling matches: their hits add up

    return sum(min(term_docs(term) for term in group) for group in query.alternatives)


def _probe_is_cheaper(session: Any, filters: NoticeFilters, query: Query | None) -> bool:
    """Whether to start from the score filter: a very common word (公安) with "review first" (score ≥ 50) has tens of
    thousands of hits in a large archive but a few hundred candidates. SQLite only; PostgreSQL's planner has the
    statistics to choose by itself."""
    if query is None or not filters.min_score or session.get_bind().dialect.name != "sqlite":
        return False
    candidates = session.scalar(select(func.count()).select_from(NoticeScore)
                                .where(NoticeScore.score >= filters.min_score)) or 0
    return candidates * PROBE_COST < _index_hits_estimate(session, query)


# ------------------------------------------------------------------------------------------------ results

@dataclass
class Hit:
    notice: Notice
    score: int
    reasons: list[str]
    terms: list[str]
    status: str
    snippet: Markup
    copies: list[tuple[int, str]] = field(default_factory=list)   # the same notice on other sources: (id, source)

    @property
    def also_on(self) -> list[str]:
        """The other sources this notice was published on ("also on: ggzy, xizang")."""
        return list(dict.fromkeys(name for _, name in self.copies))


@dataclass
class Results:
    total: int
    hits: list[Hit]
    facets: dict[str, list[tuple[str, str, int]]]   # facet → [(value, label, count)]
    query: Query | None
    facets_estimated: bool = False   # counted on a sample of a large hit set and scaled (``facets_of``)
    suggestion: str = ""   # nothing found: the query with a word replaced by the closest watchlist spelling

    @property
    def also_searched(self) -> list[str]:
        return self.query.also_searched if self.query else []


def latest_status_subquery() -> Any:
    latest = select(Review.notice_id, func.max(Review.id).label("id")).group_by(Review.notice_id).subquery()
    return select(Review.notice_id, Review.status).join(latest, latest.c.id == Review.id).subquery()


def search(database: Database, raw_query: str = "", filters: NoticeFilters | None = None, sort: str = "relevance",
           limit: int = 20, offset: int = 0, facets: bool = True) -> Results:
    filters = filters or NoticeFilters()
    query = parse_query(raw_query) if raw_query.strip() else None
    dialect = database.engine.dialect.name
    if sort not in SORTS:
        raise QueryError(f"sort must be one of {', '.join(SORTS)}")
    with database.session() as session:
        check_filters(session, filters)   # a typo in a filter is an error, not an empty result
        probe = _probe_is_cheaper(session, filters, query)
        ids = filtered(select(Notice.id), filters, query, dialect, probe).subquery()
        try:
            # The hits are computed once into temporary tables; the count, the page and every facet read them.
            members_table = _materialise(session, MEMBERS, _members(ids))
            shown_table = _materialise(session, SHOWN, _shown(members_table))
            total = session.scalar(select(func.count()).select_from(shown_table)) or 0
            statement = (select(Notice).join(shown_table, shown_table.c.id == Notice.id)
                         .outerjoin(NoticeScore, NoticeScore.notice_id == Notice.id))
            if sort == "relevance" and query is not None:
                rank = _rank(query, dialect)
                statement = statement.join(rank, rank.c.id == Notice.id).order_by(
                    rank.c.rank.asc(), Notice.published_at.desc().nulls_last())
            elif sort == "score" or (sort == "relevance" and query is None):
                statement = statement.order_by(NoticeScore.score.desc().nulls_last(),
                                               Notice.published_at.desc().nulls_last())
            else:
                statement = statement.order_by(Notice.published_at.desc().nulls_last(), Notice.id.desc())
            statement = statement.options(selectinload(Notice.source), selectinload(Notice.suppliers))
            notices = session.scalars(statement.limit(limit).offset(offset)).unique().all()
            hits = _hits(session, notices, query)
            facet_counts, estimated = facets_of(session, members_table, shown_table, total) if facets else ({}, False)
        finally:
            for temporary in (MEMBERS, SHOWN):
                _drop(session.connection(), temporary)
    return Results(total, hits, facet_counts, query, estimated, suggest(raw_query) if query and not total else "")


# Per-search scratch tables (temporary: private to the connection, gone with it). Not part of the schema.
_SCRATCH = MetaData()
MEMBERS = Table("search_members", _SCRATCH, Column("id", Integer, primary_key=True), Column("group_id", Integer),
                Column("rank", Integer), prefixes=["TEMPORARY"])
SHOWN = Table("search_shown", _SCRATCH, Column("id", Integer, primary_key=True), Column("group_id", Integer),
              prefixes=["TEMPORARY"])


def _drop(connection: Any, scratch: Table) -> None:
    """DROP … IF EXISTS in one statement: ``Table.drop(checkfirst=True)`` asks the catalogue first, two queries per
    table and search, a fifth of a small search's time on PostgreSQL."""
    prefix = "temp." if connection.dialect.name == "sqlite" else "pg_temp."
    connection.execute(text(f"DROP TABLE IF EXISTS {prefix}{scratch.name}"))


def _materialise(session: Any, scratch: Table, statement: Any) -> Table:
    connection = session.connection()
    _drop(connection, scratch)
    scratch.create(connection, checkfirst=False)
    connection.execute(scratch.insert().from_select([c.name for c in scratch.columns], statement))
    # Fresh statistics, so the planner reads the hits first and looks notices up by key, instead of scanning a
    # whole index of notices to avoid a sort (ten times slower on a large archive).
    connection.execute(text(f"ANALYZE {'temp.' if connection.dialect.name == 'sqlite' else ''}{scratch.name}"))
    return scratch


def _members(ids: Any) -> Select[Any]:
    """Every hit with its publication group and its rank in it (``pipelines.linking``: a notice seen on several
    sources is one publication, counted and shown once)."""
    return (select(ids.c.id, group_key().label("group_id"), group_rank().label("rank"))
            .select_from(ids).join(Notice, Notice.id == ids.c.id)
            .outerjoin(NoticeLink, NoticeLink.notice_id == ids.c.id))


def _shown(members: Table) -> Select[Any]:
    """Per group, the best-ranked hit: the canonical copy unless the filters or the query left it out."""
    best = (select(members.c.group_id, func.min(members.c.rank).label("rank"))
            .group_by(members.c.group_id)).subquery()
    return (select(members.c.id, members.c.group_id)
            .join(best, and_(best.c.group_id == members.c.group_id, best.c.rank == members.c.rank)))


def _rank(query: Query, dialect: str) -> Any:
    """(id, rank) of every full-text hit, lower rank first; one pass over the index, not one per row."""
    if dialect == "postgresql":
        return (select(FTS.c.notice_id.label("id"), (-_ts_rank(query)).label("rank"))
                .where(_ts_clause(query))).subquery()
    return (select(FTS.c.rowid.label("id"), literal_column("bm25(notice_fts)").label("rank"))
            .where(text("notice_fts MATCH :rank_fts").bindparams(rank_fts=_fts5(query)))).subquery()


def _hits(session: Any, notices: Sequence[Notice], query: Query | None) -> list[Hit]:
    ids = [n.id for n in notices]
    scores = {s.notice_id: s for s in session.scalars(select(NoticeScore).where(NoticeScore.notice_id.in_(ids)))}
    terms: dict[int, list[str]] = {}
    for notice_id, term in session.execute(select(NoticeMatch.notice_id, NoticeMatch.term)
                                           .where(NoticeMatch.notice_id.in_(ids)).order_by(NoticeMatch.id)):
        if term not in terms.setdefault(notice_id, []):
            terms[notice_id].append(term)
    statuses = latest_statuses(session, ids)
    copies = other_copies(session, ids)
    hits = []
    for notice in notices:
        score = scores.get(notice.id)
        hits.append(Hit(notice, score.score if score else 0, list(score.reasons) if score else [],
                        terms.get(notice.id, []), statuses.get(notice.id, "new"),
                        snippet(notice.body_text, (query.words if query else []) + terms.get(notice.id, [])),
                        copies.get(notice.id, [])))
    return hits


def latest_statuses(session: Any, ids: list[int]) -> dict[int, str]:
    latest = latest_status_subquery()
    return dict(session.execute(select(latest.c.notice_id, latest.c.status).where(latest.c.notice_id.in_(ids))).all())


SCORE_BANDS = (("50", "50–100 review first"), ("1", "1–49"), ("0", "0 / not matched"))


@functools.cache
def _tibetan_prefixes() -> tuple[str, ...]:
    """The Tibetan areas' code prefixes, computed once: the region table is static and working them out costs
    about 8 ms, a tenth of a search's budget."""
    return tuple(tibetan_region_prefixes())


def _year(dialect: str) -> ColumnElement[Any]:
    """The year of publication in China (Asia/Shanghai, UTC+8 without daylight saving since 1991) as an integer:
    a notice of 1 January 00:30 there is stored as 31 December UTC and counts in the new year."""
    if dialect == "postgresql":
        return cast(extract("year", func.timezone("Asia/Shanghai", Notice.published_at)), Integer)
    return cast(func.strftime("%Y", Notice.published_at, "+8 hours"), Integer)


# Over more publications than this, facets are counted on an even sample of about this many and scaled: counting
# every facet over 60,000 hits of a common word takes a second at 1,000,000 notices (bench/search.py).
FACET_SAMPLE = 2_000


def facets_of(session: Any, members: Any, shown: Any, total: int) -> tuple[dict[str, list[tuple[str, str, int]]],
                                                                            bool]:
    """The facet counts, and whether they are estimates: exact up to ``FACET_SAMPLE`` publications; above it,
    counted on about one publication in k (picked by a hash of the group id: the same sample for the same query)
    and scaled by total / sampled. The page says so ("≈")."""
    if total <= FACET_SAMPLE:
        return _facets(session, members, shown), False
    step = -(-total // FACET_SAMPLE)

    def sample(scratch: Any) -> Any:
        # A multiplicative hash of the group id, not the id itself: ids follow the order of crawling, and a plain
        # "every k-th id" would pick up any period in it (a channel crawled in turns).
        hashed = cast(scratch.c.group_id, BigInteger) * literal(2654435761, BigInteger) % 4294967291
        return select(scratch).where(hashed % step == 0).subquery()

    sampled_shown = sample(shown)
    sampled = session.scalar(select(func.count()).select_from(sampled_shown)) or 0
    if not sampled:
        return _facets(session, members, shown), False
    factor = total / sampled
    counts = _facets(session, sample(members), sampled_shown)
    return {name: [(value, label, max(1, round(n * factor))) for value, label, n in values]
            for name, values in counts.items()}, True


def _province_name(prefix: str) -> str:
    """The name of the province whose code starts with these two digits, or the digits where none is known."""
    region = region_by_code(prefix + "0000")
    return region.name if region else prefix


def _facets(session: Any, members: Any, shown: Any) -> dict[str, list[tuple[str, str, int]]]:
    """Facet counts count publications: a notice on three sources counts once under its type or buyer, and once
    under each source it was seen on. Score bands and review statuses are those of the hit shown."""
    def grouped(column_: Any, join: Any = None, limit: int = 12, over: Any = shown) -> list[tuple[str, int]]:
        # ``shown`` has one row per publication; a join that can repeat it (matches, suppliers, the sources of
        # ``members``) counts each publication once.
        count = func.count(func.distinct(over.c.group_id))
        statement = select(column_, count).select_from(over)
        for target, on in join or []:
            statement = statement.join(target, on(over))
        statement = statement.group_by(column_).order_by(count.desc()).limit(limit)
        return [(value, n) for value, n in session.execute(statement) if value not in (None, "")]

    notice = (Notice, lambda over: Notice.id == over.c.id)
    # One pass over the hits' region codes gives both the provinces and the Tibetan areas.
    by_code = grouped(func.coalesce(Notice.region_code, ""), [notice], 100_000)
    tibetan = _tibetan_prefixes()
    provinces: dict[str, int] = {}
    for code, n in by_code:
        provinces[code[:2]] = provinces.get(code[:2], 0) + n
    tibetan_count = sum(n for code, n in by_code if code.startswith(tibetan))
    regions = [(code + "0000", _province_name(code), n)
               for code, n in sorted(provinces.items(), key=lambda kv: -kv[1])[:40]]
    band = case((NoticeScore.score >= 50, "50"), (NoticeScore.score >= 1, "1"), else_="0")
    bands = dict(grouped(band, [(NoticeScore, lambda over: NoticeScore.notice_id == over.c.id)], 3))
    unscored = session.scalar(select(func.count()).select_from(shown).outerjoin(
        NoticeScore, NoticeScore.notice_id == shown.c.id).where(NoticeScore.notice_id.is_(None))) or 0
    bands["0"] = bands.get("0", 0) + unscored
    latest = latest_status_subquery()
    reviewed = dict(grouped(latest.c.status, [(latest, lambda over: latest.c.notice_id == over.c.id)], 5))
    total = session.scalar(select(func.count()).select_from(shown)) or 0
    reviewed["new"] = reviewed.get("new", 0) + total - sum(reviewed.values())
    years = sorted(grouped(_year(session.get_bind().dialect.name), [notice], 1000), reverse=True)
    matched = (NoticeMatch, lambda over: NoticeMatch.notice_id == over.c.id)
    source = (Source, lambda _over: Source.id == Notice.source_id)
    supplier = (Supplier, lambda over: Supplier.notice_id == over.c.id)
    return {
        "region": ([("tibetan", "Tibetan areas 藏区", tibetan_count)] if tibetan_count else []) + regions,
        "source": [(v, v, n) for v, n in grouped(Source.name, [notice, source], over=members)],
        "type": [(v, notice_type_label(v), n) for v, n in grouped(Notice.notice_type, [notice])],
        "buyer": [(v, v, n) for v, n in grouped(Notice.buyer, [notice], 10)],
        "supplier": [(v, v, n) for v, n in grouped(Supplier.name, [supplier], 10)],
        "term": [(v, v, n) for v, n in grouped(NoticeMatch.term, [matched], 15)],
        "category": [(v, v, n) for v, n in grouped(NoticeMatch.category, [matched])],
        "year": [(str(year), str(year), n) for year, n in years],
        "score": [(value, label, bands.get(value, 0)) for value, label in SCORE_BANDS if bands.get(value, 0)],
        "review": [(v, v, n) for v, n in sorted(reviewed.items(), key=lambda kv: -kv[1]) if n],
    }


# ------------------------------------------------------------------------------------------------ highlighting

def highlight(value: str, needles: list[str]) -> Markup:
    """``value`` escaped, with every needle (case-insensitive) wrapped in <mark>: scraped text stays inert."""
    needles = sorted({n for n in needles if n}, key=len, reverse=True)
    if not needles or not value:
        return escape(value or "")
    pattern = re.compile("|".join(re.escape(n) for n in needles), re.IGNORECASE)
    out: list[str] = []
    last = 0
    for match in pattern.finditer(value):
        out.append(str(escape(value[last:match.start()])))
        out.append(f"<mark>{escape(match.group())}</mark>")
        last = match.end()
    out.append(str(escape(value[last:])))
    return Markup("".join(out))


def snippet(body: str, needles: list[str], width: int = 80) -> Markup:
    """A piece of ``body`` around the first needle, highlighted."""
    if not body:
        return Markup("")
    lower = body.lower()
    positions = [lower.find(n.lower()) for n in needles if n and lower.find(n.lower()) >= 0]
    start = max(0, min(positions) - width // 2) if positions else 0
    end = start + width * 2
    # Never cut a number (¥1,280,000.00 must not read as 280,000.00): widen to the whole figure.
    while 0 < start and _FIGURE.match(body[start - 1]) and _FIGURE.match(body[start]):
        start -= 1
    while end < len(body) and _FIGURE.match(body[end - 1]) and _FIGURE.match(body[end]):
        end += 1
    piece = body[start:end].replace("\n", " ")
    return highlight(("…" if start else "") + piece + ("…" if end < len(body) else ""), needles)


_FIGURE = re.compile(r"[0-9０-９.,，．]")
