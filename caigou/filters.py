"""The filters every reader of the archive shares: search, digests, exports and the web interface.

``NoticeFilters`` says which notices; ``apply_filters`` turns it into SQL over ``Notice`` (bound parameters only);
``filter_options`` adds the same options to any command. Full-text queries are the search module's business and
are applied there; everything else is here, once.
"""
from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar, TypeVarTuple

import click
from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.orm import Session

from caigou.models import (
    NOTICE_TYPES,
    REVIEW_FIRST_SCORE,
    REVIEW_STATUSES,
    Notice,
    NoticeMatch,
    NoticeScore,
    Review,
    Source,
    Supplier,
)
from caigou.models.errors import CaigouError
from caigou.models.types import SHANGHAI
from caigou.pipelines.matching.watchlist import CATEGORIES
from caigou.pipelines.normalise import parse_date_arg
from caigou.pipelines.regions import code_prefix, regions, tibetan_region_prefixes
from caigou.pipelines.store import SOURCE_TITLES

_Ts = TypeVarTuple("_Ts")  # the columns a select returns, kept through narrowing it

TIBETAN_AREAS = "tibetan"  # the region value meaning "the TAR and every Tibetan autonomous prefecture/county"


# The categories a match can have: buyer types describe the buyer and are never a match of their own.
MATCH_CATEGORIES = tuple(c for c in CATEGORIES if c != "buyer-type")


class FilterError(CaigouError):
    """A filter value that cannot be read (a bad date, an unknown region or status). ``field`` names the web
    parameter it came from, so a form can show the message beside that field."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def did_you_mean(value: str, choices: list[str] | tuple[str, ...]) -> str:
    """" (did you mean 'award'?)" for a near miss among ``choices``, else ""."""
    close = difflib.get_close_matches(value.strip().lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    if not close:
        return ""
    original = next(c for c in choices if c.lower() == close[0])
    return f" (did you mean {original!r}?)"


def known_sources(session: Session) -> list[str]:
    """The sources a filter may name: every portal caigou crawls, and any other already in the archive (an import
    can bring its own)."""
    return sorted(set(SOURCE_TITLES) | set(session.scalars(select(Source.name))))


def check_filters(session: Session, filters: NoticeFilters) -> None:
    """Refuse values that can never match, as crawl refuses them, with a "did you mean" for a near miss. A search
    with a typo would show nothing, which reads as "nothing was bought"; a subscription with one would stay silent
    for ever."""
    for notice_type in filters.notice_types:
        if notice_type not in NOTICE_TYPES:
            raise FilterError(f"unknown notice type {notice_type!r}{did_you_mean(notice_type, NOTICE_TYPES)}; "
                              f"one of {', '.join(NOTICE_TYPES)}", "type")
    for category in filters.categories:
        if category not in MATCH_CATEGORIES:
            raise FilterError(f"unknown category {category!r}{did_you_mean(category, MATCH_CATEGORIES)}; "
                              f"one of {', '.join(MATCH_CATEGORIES)}", "category")
    sources = known_sources(session)
    for source in filters.sources:
        if source not in sources:
            raise FilterError(f"unknown source {source!r}{did_you_mean(source, sources)}; known: "
                              f"{', '.join(sources)}", "source")
    # The region table lists every province but only the Tibetan areas below it: a code is known when its
    # province is (the filters already turned names into codes and refused names they do not know).
    provinces = {region.code[:2]: region.name for region in regions() if region.level == "province"}
    for region in filters.regions:
        if region != TIBETAN_AREAS and not (re.fullmatch(r"\d{6}", region) and region[:2] in provinces):
            raise FilterError(f"unknown region {region!r}: give a code like 540000 (54 西藏, 63 青海, 51 四川), "
                              f"a name like 那曲市 or {TIBETAN_AREAS!r} for every Tibetan area", "region")


@dataclass
class NoticeFilters:
    since: dt.date | None = None              # published on or after
    until: dt.date | None = None              # published on or before
    regions: list[str] = field(default_factory=list)   # region codes (540000 covers its prefectures) or "tibetan"
    sources: list[str] = field(default_factory=list)
    notice_types: list[str] = field(default_factory=list)
    buyer: str = ""                           # substring of the buyer's name
    supplier: str = ""                        # substring of a supplier's name
    terms: list[str] = field(default_factory=list)       # watchlist terms (canonical)
    categories: list[str] = field(default_factory=list)  # watchlist categories
    min_score: int | None = None
    review_statuses: list[str] = field(default_factory=list)  # new, relevant, not_relevant, unsure

    def is_empty(self) -> bool:
        return all(not getattr(self, f.name) and getattr(self, f.name) != 0 for f in fields(self))


def _region_clause(values: list[str]) -> Any:
    prefixes: list[str] = []
    for value in values:
        if value == TIBETAN_AREAS:
            prefixes.extend(tibetan_region_prefixes())
        else:
            prefixes.append(code_prefix(value))
    return or_(*(Notice.region_code.startswith(prefix, autoescape=True) for prefix in prefixes))


def apply_filters(statement: Select[*_Ts], filters: NoticeFilters) -> Select[*_Ts]:
    """Narrow a select over ``Notice`` to the filtered notices."""
    if filters.since:
        statement = statement.where(Notice.published_at >= dt.datetime.combine(filters.since, dt.time(), SHANGHAI))
    if filters.until:
        end = dt.datetime.combine(filters.until + dt.timedelta(days=1), dt.time(), SHANGHAI)
        statement = statement.where(Notice.published_at < end)
    if filters.regions:
        statement = statement.where(_region_clause(filters.regions))
    if filters.sources:
        statement = statement.where(Notice.source_id.in_(select(Source.id).where(Source.name.in_(filters.sources))))
    if filters.notice_types:
        statement = statement.where(Notice.notice_type.in_(filters.notice_types))
    if filters.buyer:
        statement = statement.where(Notice.buyer.contains(filters.buyer, autoescape=True))
    if filters.supplier:
        statement = statement.where(exists().where(
            Supplier.notice_id == Notice.id, Supplier.name.contains(filters.supplier, autoescape=True)))
    if filters.terms:
        statement = statement.where(exists().where(NoticeMatch.notice_id == Notice.id,
                                                   NoticeMatch.term.in_(filters.terms)))
    if filters.categories:
        statement = statement.where(exists().where(NoticeMatch.notice_id == Notice.id,
                                                   NoticeMatch.category.in_(filters.categories)))
    if filters.review_statuses:
        statement = statement.where(_review_clause(filters.review_statuses))
    if filters.min_score:  # 0 means every notice, scored or not
        statement = statement.where(exists().where(NoticeScore.notice_id == Notice.id,
                                                   NoticeScore.score >= filters.min_score))
    return statement


def _review_clause(statuses: list[str]) -> ColumnElement[bool]:
    """The newest review of each notice decides its status; a notice never reviewed is "new"."""
    latest = select(Review.notice_id, func.max(Review.id).label("id")).group_by(Review.notice_id).subquery()
    current = select(Review.notice_id).join(latest, latest.c.id == Review.id).where(Review.status.in_(statuses))
    clause: ColumnElement[bool] = Notice.id.in_(current)
    if "new" in statuses:
        clause = or_(clause, ~exists().where(Review.notice_id == Notice.id))
    return clause


F = TypeVar("F", bound=Callable[..., Any])


def _date(_ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None:
        return None
    try:
        return parse_date_arg(value, f"--{param.name}")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


def filter_options(default_min_score: int | None = None) -> Callable[[F], F]:
    """The shared filter options, collected into ``filters: NoticeFilters`` for the command."""
    options = [
        click.option("--since", callback=_date, metavar="DATE", help="Published on or after DATE (YYYY-MM-DD)."),
        click.option("--until", callback=_date, metavar="DATE", help="Published on or before DATE."),
        click.option("--region", "regions", multiple=True, metavar="CODE",
                     help=f"Region code (54 or 540000 = TAR, 540600 = 那曲) or '{TIBETAN_AREAS}' for every "
                          "Tibetan area; repeatable."),
        click.option("--source", "sources", multiple=True, help="Source name (ccgp, xizang, …); repeatable."),
        click.option("--type", "notice_types", multiple=True, help="Notice type (award, tender, …); repeatable."),
        click.option("--buyer", default="", help="Buyer name contains this text."),
        click.option("--supplier", default="", help="A supplier's name contains this text."),
        click.option("--term", "terms", multiple=True,
                     help="Matched this watchlist term (or one of its aliases: Y-STR); repeatable."),
        click.option("--category", "categories", multiple=True, help="Matched a term of this category; repeatable."),
        click.option("--min-score", type=click.IntRange(0, 100), default=default_min_score, show_default=True,
                     help=f"Score at least this ({REVIEW_FIRST_SCORE}+ means 'review first')."),
        click.option("--status", "review_statuses", multiple=True, type=click.Choice(REVIEW_STATUSES),
                     help="Current review status; repeatable."),
    ]

    def decorate(function: F) -> F:
        def collect(*args: Any, **kwargs: Any) -> Any:
            values = {name: kwargs.pop(name) for name in
                      ("since", "until", "regions", "sources", "notice_types", "buyer", "supplier", "terms",
                       "categories", "min_score", "review_statuses")}
            regions_ = [_normalise_region_option(value) for value in values.pop("regions")]
            kwargs["filters"] = NoticeFilters(
                regions=regions_, sources=list(values.pop("sources")),
                notice_types=list(values.pop("notice_types")), terms=resolve_terms(list(values.pop("terms"))),
                categories=list(values.pop("categories")),
                review_statuses=list(values.pop("review_statuses")), **values)
            return function(*args, **kwargs)

        collect.__name__ = function.__name__
        collect.__doc__ = function.__doc__
        # Options declared below this decorator were attached to ``function``: keep them. (Click's own attribute on
        # a plain function, which no function type declares: hence the ignore.)
        collect.__click_params__ = list(getattr(function, "__click_params__", []))  # type: ignore[attr-defined]
        wrapped: Any = collect
        for option in reversed(options):
            wrapped = option(wrapped)
        return wrapped

    return decorate


def watchlist_spellings() -> dict[str, list[Any]]:
    """Every spelling of every matching watchlist term (each alias, in the variants the matcher accepts:
    ``y-str``, ``ystr``, ``y str``), normalised, to the terms it spells: the map from what a reader types to the
    watchlist. Built once per watchlist (``load_watchlist`` is cached by its files)."""
    from caigou.models.config import load_config
    from caigou.pipelines.matching.watchlist import configured_paths

    config = load_config()
    return _spellings(tuple(configured_paths(config.get("watchlist", "path"), config.get("watchlist", "extra"))))


@functools.cache
def _spellings(paths: tuple[Any, ...]) -> dict[str, list[Any]]:
    from caigou.pipelines.matching.watchlist import load_watchlist, spelling_variants

    watchlist = load_watchlist(paths)
    found: dict[str, list[Any]] = {}
    for term in watchlist.match_terms:
        for spelling in term.spellings:
            for variant in spelling_variants(spelling):
                terms = found.setdefault(variant, [])
                if term not in terms:
                    terms.append(term)
    return found


def resolve_terms(values: list[str]) -> list[str]:
    """The canonical watchlist terms that ``values`` name: a term or any of its aliases, written in any case or
    width and with or without the dash or space the matcher also ignores (``y-str``, ``ＹＳＴＲ`` → Y-STR扩增试剂盒).
    Matches are stored under canonical names only, so an alias left as it is would silently match nothing; an
    unknown term is a ``FilterError`` for the same reason."""
    if not values:
        return []
    from caigou.pipelines.matching.text import normalise
    from caigou.pipelines.matching.watchlist import spelling_variants

    canonical = {variant: [term.term for term in terms] for variant, terms in watchlist_spellings().items()}
    resolved: list[str] = []
    for value in values:
        found = next((canonical[v] for v in (normalise(value.strip()), *sorted(spelling_variants(value.strip())))
                      if v in canonical), None)
        if not value.strip() or found is None:
            raise FilterError(f"unknown watchlist term {value!r}: give a term or alias from `caigou watchlist list`",
                              "term")
        resolved.extend(name for name in found if name not in resolved)
    return resolved


def _normalise_region_option(value: str) -> str:
    value = value.strip()
    if value.lower() in {TIBETAN_AREAS, "tibet-areas", "藏区"}:
        return TIBETAN_AREAS
    if len(value) == 2 and value.isdigit():
        return value + "0000"
    if len(value) == 6 and value.isdigit():
        return value
    from caigou.pipelines.regions import resolve_region

    code, _name = resolve_region(value)
    if code is None:
        raise click.BadParameter(f"unknown region {value!r}: give a code like 540000 or a name like 那曲市",
                                 param_hint="--region")
    return code


def filters_from_params(params: dict[str, list[str]], default_min_score: int | None = None) -> NoticeFilters:
    """Filters from a web query string (``region=540000&region=tibetan&min_score=50``); a bad value is a
    ``FilterError`` naming the parameter."""
    def values(name: str) -> list[str]:
        return [v.strip() for v in params.get(name, []) if v and v.strip()]

    def one(name: str) -> str:
        found = values(name)
        return found[-1] if found else ""

    def date(name: str) -> dt.date | None:
        value = one(name)
        if not value:
            return None
        try:
            return parse_date_arg(value, name)
        except ValueError as exc:
            raise FilterError(str(exc), name) from exc

    min_score: int | None = default_min_score
    if "min_score" in params:
        raw = one("min_score")
        if raw:
            if not raw.isdigit() or not 0 <= int(raw) <= 100:
                raise FilterError(f"min_score must be a whole number from 0 to 100, not {raw!r}", "min_score")
            min_score = int(raw)
        else:
            min_score = None
    statuses = values("status")
    unknown = [s for s in statuses if s not in REVIEW_STATUSES]
    if unknown:
        raise FilterError(f"unknown review status {unknown[0]!r}{did_you_mean(unknown[0], REVIEW_STATUSES)}; "
                          f"one of {', '.join(REVIEW_STATUSES)}", "status")
    regions_: list[str] = []
    for value in values("region"):
        try:
            regions_.append(_normalise_region_option(value))
        except click.BadParameter as exc:
            raise FilterError(exc.message, "region") from exc
    return NoticeFilters(since=date("since"), until=date("until"), regions=regions_, sources=values("source"),
                         notice_types=values("type"), buyer=one("buyer"), supplier=one("supplier"),
                         terms=resolve_terms(values("term")), categories=values("category"), min_score=min_score,
                         review_statuses=statuses)


def filters_to_params(filters: NoticeFilters) -> list[tuple[str, str]]:
    """The inverse of ``filters_from_params``: the query string that selects the same notices."""
    pairs: list[tuple[str, str]] = []
    for name, value in (("since", filters.since), ("until", filters.until)):
        if value:
            pairs.append((name, value.isoformat()))
    for name, items in (("region", filters.regions), ("source", filters.sources), ("type", filters.notice_types),
                        ("term", filters.terms), ("category", filters.categories),
                        ("status", filters.review_statuses)):
        pairs.extend((name, item) for item in items)
    for name, text_value in (("buyer", filters.buyer), ("supplier", filters.supplier)):
        if text_value:
            pairs.append((name, text_value))
    pairs.append(("min_score", "" if filters.min_score is None else str(filters.min_score)))
    return pairs
