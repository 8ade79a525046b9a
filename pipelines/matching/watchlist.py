"""The watchlist as data: loading, extending, validating (line-precise) and versioning it."""
from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from models.errors import CaigouError
from pipelines.matching.text import normalise

DEFAULT_PATH = Path(__file__).with_name("watchlist.toml")
CATEGORIES = ("equipment", "consumable", "kit", "software-database", "program-name", "biometric-other", "vendor",
              "product-model", "buyer-type")
TIERS = ("strong", "medium", "weak")
NEGATIVE_KINDS = ("buyer", "context")


@dataclass(frozen=True)
class Term:
    term: str
    category: str
    tier: str
    aliases: tuple[str, ...] = ()
    gloss: str = ""
    line: int = 0
    source: str = ""

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.term, *self.aliases)


@dataclass(frozen=True)
class Negative:
    term: str
    kind: str
    aliases: tuple[str, ...] = ()
    gloss: str = ""
    line: int = 0

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.term, *self.aliases)


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class Watchlist:
    terms: list[Term] = field(default_factory=list)
    negatives: list[Negative] = field(default_factory=list)
    forensic_markers: list[str] = field(default_factory=list)
    version: str = ""
    paths: list[str] = field(default_factory=list)

    @property
    def match_terms(self) -> list[Term]:
        """Terms that count as matches (buyer types only describe the buyer)."""
        return [t for t in self.terms if t.category != "buyer-type"]

    @property
    def buyer_types(self) -> list[Term]:
        return [t for t in self.terms if t.category == "buyer-type"]


def _table_lines(text: str, header: str) -> list[int]:
    """Line numbers (1-based) of each ``[[header]]`` table, in order."""
    return [number for number, line in enumerate(text.splitlines(), start=1)
            if line.strip() == f"[[{header}]]"]


def _read(path: Path) -> tuple[dict[str, object], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CaigouError(f"watchlist file {path} does not exist") from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise CaigouError(f"{path}: not valid TOML: {exc}") from exc


def parse_watchlist(paths: list[Path]) -> tuple[Watchlist, list[Problem]]:
    """Read one or more files (a base and its extensions) into a Watchlist, with the problems found."""
    watchlist = Watchlist(paths=[str(p) for p in paths])
    problems: list[Problem] = []
    digest = hashlib.sha256()
    for path in paths:
        data, text = _read(path)
        digest.update(text.encode())
        term_lines = _table_lines(text, "term")
        for index, raw in enumerate(data.get("term", [])):  # type: ignore[union-attr]
            line = term_lines[index] if index < len(term_lines) else 0
            name = str(raw.get("term", "")).strip()
            category, tier = raw.get("category", ""), raw.get("tier", "")
            if not name:
                problems.append(Problem(str(path), line, "a term without `term`"))
                continue
            if category not in CATEGORIES:
                problems.append(Problem(str(path), line, f"{name}: unknown category {category!r}"))
            if tier not in TIERS:
                problems.append(Problem(str(path), line, f"{name}: unknown tier {tier!r} (strong, medium, weak)"))
            aliases = tuple(str(a).strip() for a in raw.get("aliases", []) if str(a).strip())
            watchlist.terms.append(Term(name, category, tier, aliases, str(raw.get("gloss", "")), line, str(path)))
        negative_lines = _table_lines(text, "negative")
        for index, raw in enumerate(data.get("negative", [])):  # type: ignore[union-attr]
            line = negative_lines[index] if index < len(negative_lines) else 0
            kind = raw.get("kind", "")
            if kind not in NEGATIVE_KINDS:
                problems.append(Problem(str(path), line, f"{raw.get('term')}: kind must be buyer or context"))
            watchlist.negatives.append(Negative(str(raw.get("term", "")), kind,
                                                tuple(str(a) for a in raw.get("aliases", [])),
                                                str(raw.get("gloss", "")), line))
        watchlist.forensic_markers += [str(m) for m in data.get("forensic", {}).get("markers", [])]  # type: ignore
    watchlist.version = digest.hexdigest()[:16]
    problems += _duplicates(watchlist)
    return watchlist, problems


def _duplicates(watchlist: Watchlist) -> list[Problem]:
    problems: list[Problem] = []
    owners: dict[str, Term] = {}
    for term in watchlist.terms:
        seen_here: set[str] = set()
        for spelling in term.spellings:
            key = normalise(spelling)
            if key in seen_here:
                problems.append(Problem(term.source, term.line, f"{term.term}: {spelling!r} is listed twice"))
                continue
            seen_here.add(key)
            owner = owners.get(key)
            if owner is not None:
                what = "term" if spelling == term.term and key == normalise(owner.term) else "alias"
                problems.append(Problem(term.source, term.line, f"{term.term}: {what} {spelling!r} is already "
                                        f"claimed by {owner.term!r} (line {owner.line})"))
            else:
                owners[key] = term
    return problems


def check_tokens(watchlist: Watchlist) -> list[Problem]:
    """Spellings the tokenizer cannot produce as one token sequence (so they could never match)."""
    from pipelines.matching.matcher import Matcher

    matcher = Matcher(watchlist)
    problems = []
    for term in watchlist.match_terms:
        for spelling in term.spellings:
            text = normalise(spelling)
            if not any(m.start == 0 and m.end == len(text) for m in matcher.find(text)):
                problems.append(Problem(term.source, term.line,
                                        f"{term.term}: {spelling!r} does not come out of jieba as whole tokens"))
    return problems


def configured_paths(path: str | None = None, extra: str | list[str] | None = None) -> list[Path]:
    base = Path(path) if path else DEFAULT_PATH
    extras = [extra] if isinstance(extra, str) else list(extra or [])
    return [base, *(Path(e) for e in extras if e)]


@cache
def load_watchlist(paths: tuple[Path, ...] = (DEFAULT_PATH,)) -> Watchlist:
    """The watchlist from these files; problems that would make matching wrong are errors."""
    watchlist, problems = parse_watchlist(list(paths))
    if problems:
        shown = "; ".join(str(p) for p in problems[:3])
        raise CaigouError(f"the watchlist has {len(problems)} problem(s): {shown} (see `caigou watchlist check`)")
    return watchlist


def spelling_variants(spelling: str) -> set[str]:
    """The spellings a text may use for one alias: dashes dropped or spaced (Y-STR, YSTR, Y STR), Latin/digit
    parts joined or split by a space (3500 xL, 3500xL; ABI 3500, ABI3500)."""
    base = normalise(spelling)
    variants = {base}
    if "-" in base and re.search(r"[a-z0-9]-[a-z0-9]", base):
        variants |= {base.replace("-", ""), base.replace("-", " ")}
    joined = re.sub(r"(?<=[a-z0-9]) (?=[a-z0-9])", "", base)
    variants.add(joined)
    return {v for v in variants if v}
