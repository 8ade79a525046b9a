"""The watchlist as data: loading, extending, validating (line-precise) and versioning it."""
from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from caigou.models.errors import CaigouError
from caigou.pipelines.matching.text import normalise

# importlib.resources: a Path in a checkout, a zip member in a Scrapyd egg (both read alike).
DEFAULT_PATH = resources.files(__package__).joinpath("watchlist.toml")
CATEGORIES = ("equipment", "consumable", "kit", "software-database", "program-name", "biometric-other", "vendor",
              "product-model", "forensic", "buyer-type")
# Forensic casework that is not DNA or biometrics (toxicology, pathology, trace evidence): shown in its own band
# (20–45, "forensic, not DNA/biometric"), never "review first" on its own.
FORENSIC = "forensic"
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
    alias_lines: tuple[int, ...] = ()          # the line of each alias (0: unknown)
    # Spellings that match only with a context word right before or after them: bare model numbers (3500 beside
    # 遗传分析仪, xL, 型, ABI) and short names that are also other companies' (博奥 beside 公司 or 芯片, not in
    # 北京博奥森生物). A spelling ending in a digit never matches before a price or count (3500元, 3500台).
    context_only: tuple[str, ...] = ()
    context: tuple[str, ...] = ()

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.term, *self.aliases)

    def line_of(self, spelling: str) -> int:
        """The line that names ``spelling``: its alias line if known, else the table's header."""
        if spelling in self.aliases:
            line = self.alias_lines[self.aliases.index(spelling)] if len(self.alias_lines) == len(self.aliases) else 0
            return line or self.line
        return self.line


@dataclass(frozen=True)
class Negative:
    term: str
    kind: str
    aliases: tuple[str, ...] = ()
    gloss: str = ""
    line: int = 0
    source: str = ""
    alias_lines: tuple[int, ...] = ()
    # A firm context negative is not cancelled by forensic markers: a paternity test (亲子鉴定) uses STR kits too.
    firm: bool = False

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.term, *self.aliases)

    def line_of(self, spelling: str) -> int:
        if spelling in self.aliases and len(self.alias_lines) == len(self.aliases):
            return self.alias_lines[self.aliases.index(spelling)] or self.line
        return self.line


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
    # Words too general to be terms (DNA, 基因, 指纹, 人脸…): they count only in a police or judicial context.
    general_words: list[str] = field(default_factory=list)
    # Laboratory supplies (试剂, 耗材): a police forensic laboratory (``laboratory_buyers``) buys them for DNA work.
    laboratory_words: list[str] = field(default_factory=list)
    laboratory_buyers: list[str] = field(default_factory=list)
    generic_buyers: list[str] = field(default_factory=list)
    version: str = ""
    paths: list[str] = field(default_factory=list)

    @property
    def match_terms(self) -> list[Term]:
        """Terms that count as matches (buyer types only describe the buyer)."""
        return [t for t in self.terms if t.category != "buyer-type"]

    @property
    def buyer_types(self) -> list[Term]:
        return [t for t in self.terms if t.category == "buyer-type"]


# A table header, with or without a comment after it; any header ends the table before it.
_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z_.-]+)\s*\]\]?\s*(?:#.*)?$")


class _Lines:
    """Where things are in a TOML file, so problems name a line: each ``[[kind]]`` table's span, and inside it the
    line of a key or of a quoted value (an alias in a multi-line array)."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        headers = [(number, match.group(1), match.group(0).strip().startswith("[["))
                   for number, line in enumerate(self.lines, start=1) if (match := _HEADER.match(line))]
        self.spans: dict[str, list[tuple[int, int]]] = {}
        for index, (number, name, is_array) in enumerate(headers):
            end = headers[index + 1][0] if index + 1 < len(headers) else len(self.lines) + 1
            if is_array:
                self.spans.setdefault(name, []).append((number, end))

    def span(self, kind: str, index: int) -> tuple[int, int]:
        spans = self.spans.get(kind, [])
        return spans[index] if index < len(spans) else (0, 0)

    def key(self, span: tuple[int, int], key: str) -> int:
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        return next((n for n in range(span[0] + 1, span[1]) if pattern.match(self.lines[n - 1])), span[0])

    def value(self, span: tuple[int, int], key: str, value: str, after: int = 0) -> int:
        """The first line at or after ``after`` from the key ``key`` on that quotes ``value``."""
        first = max(self.key(span, key), after)
        quoted = (f'"{value}"', f"'{value}'", '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
        return next((n for n in range(first, span[1]) if n and any(q in self.lines[n - 1] for q in quoted)),
                    self.key(span, key))

    def values(self, span: tuple[int, int], key: str, values: tuple[str, ...]) -> tuple[int, ...]:
        lines, after = [], 0
        for value in values:  # in order, so a spelling listed twice gets its second line the second time
            line = self.value(span, key, value, after)
            lines.append(line)
            after = line
        return tuple(lines)


def _read(path: Traversable) -> tuple[dict[str, Any], str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CaigouError(f"watchlist file {path} does not exist") from exc
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise CaigouError(f"{path}: not valid TOML: {exc}") from exc


def _strings(raw: dict[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(a).strip() for a in raw.get(key, []) if str(a).strip())


def parse_watchlist(paths: list[Traversable]) -> tuple[Watchlist, list[Problem]]:
    """Read one or more files (a base and its extensions) into a Watchlist, with the problems found."""
    watchlist = Watchlist(paths=[str(p) for p in paths])
    problems: list[Problem] = []
    digest = hashlib.sha256()
    laboratory_sources: list[tuple[str, int]] = []  # where each laboratory buyer is named, for its problem
    for path in paths:
        data, text = _read(path)
        digest.update(text.encode())
        lines = _Lines(text)
        for index, raw in enumerate(data.get("term", [])):
            span = lines.span("term", index)
            line = span[0]
            name = str(raw.get("term", "")).strip()
            category, tier = raw.get("category", ""), raw.get("tier", "")
            if not name:
                problems.append(Problem(str(path), line, "a term without `term`"))
                continue
            if category not in CATEGORIES:
                problems.append(Problem(str(path), lines.key(span, "category"),
                                        f"{name}: unknown category {category!r}"))
            if tier not in TIERS:
                problems.append(Problem(str(path), lines.key(span, "tier"),
                                        f"{name}: unknown tier {tier!r} (strong, medium, weak)"))
            aliases, context_only = _strings(raw, "aliases"), _strings(raw, "context_only")
            context = _strings(raw, "context")
            if context_only and not context:
                problems.append(Problem(str(path), lines.key(span, "context_only"),
                                        f"{name}: `context_only` needs `context` (the words that may stand next to "
                                        "those spellings)"))
            watchlist.terms.append(Term(name, category, tier, aliases, str(raw.get("gloss", "")), line, str(path),
                                        lines.values(span, "aliases", aliases), context_only, context))
        for index, raw in enumerate(data.get("negative", [])):
            span = lines.span("negative", index)
            kind = raw.get("kind", "")
            name = str(raw.get("term", "")).strip()
            if kind not in NEGATIVE_KINDS:
                problems.append(Problem(str(path), lines.key(span, "kind"),
                                        f"{name}: kind must be buyer or context"))
            aliases = _strings(raw, "aliases")
            watchlist.negatives.append(Negative(name, kind, aliases, str(raw.get("gloss", "")), span[0], str(path),
                                                lines.values(span, "aliases", aliases), bool(raw.get("firm", False))))
        watchlist.forensic_markers += [str(m) for m in data.get("forensic", {}).get("markers", [])]
        watchlist.generic_buyers += [str(m) for m in data.get("buyer", {}).get("generic", [])]
        watchlist.general_words += [str(m) for m in data.get("general", {}).get("words", [])]
        laboratory: dict[str, Any] = data.get("laboratory", {})
        watchlist.laboratory_words += [str(m) for m in laboratory.get("words", [])]
        watchlist.laboratory_buyers += [str(m) for m in laboratory.get("buyers", [])]
        laboratory_sources += [(str(path), _line_quoting(text, str(m))) for m in laboratory.get("buyers", [])]
    buyer_types = {t.term for t in watchlist.buyer_types}
    for name, (source, line) in zip(watchlist.laboratory_buyers, laboratory_sources, strict=False):
        if name not in buyer_types:
            problems.append(Problem(source, line, f"laboratory buyer {name!r} is not a buyer-type term"))
    watchlist.version = digest.hexdigest()[:16]
    problems += _duplicates(watchlist)
    return watchlist, problems


def _line_quoting(text: str, value: str) -> int:
    """The last line of ``text`` that quotes ``value`` (the [laboratory] table comes after the terms), else 0."""
    return next((n for n, line in reversed(list(enumerate(text.splitlines(), start=1)))
                 if f'"{value}"' in line or f"'{value}'" in line), 0)


def _where(owner_source: str, owner_line: int, source: str) -> str:
    return f"line {owner_line}" if owner_source == source else f"{owner_source} line {owner_line}"


def _duplicates(watchlist: Watchlist) -> list[Problem]:
    """A spelling listed twice in one entry, or claimed by two terms (or two negatives): which one matched would
    depend on file order."""
    problems: list[Problem] = []
    for entries in (watchlist.terms, watchlist.negatives):
        owners: dict[str, Term | Negative] = {}
        for entry in entries:
            seen_here: set[str] = set()
            spellings = [*entry.spellings, *getattr(entry, "context_only", ())]
            for position, spelling in enumerate(spellings):
                key = normalise(spelling)
                line = entry.line_of(spelling) if position else entry.line
                if key in seen_here:
                    problems.append(Problem(entry.source, line, f"{entry.term}: {spelling!r} is listed twice"))
                    continue
                seen_here.add(key)
                owner = owners.get(key)
                if owner is not None:
                    what = "term" if position == 0 else "alias"
                    problems.append(Problem(entry.source, line, f"{entry.term}: {what} {spelling!r} is already "
                                            f"claimed by {owner.term!r} "
                                            f"({_where(owner.source, owner.line_of(spelling), entry.source)})"))
                else:
                    owners[key] = entry
    return problems


def configured_paths(path: str | None = None, extra: str | list[str] | None = None) -> list[Traversable]:
    base: Traversable = Path(path) if path else DEFAULT_PATH
    extras = [extra] if isinstance(extra, str) else list(extra or [])
    return [base, *(Path(e) for e in extras if e)]


@cache
def load_watchlist(paths: tuple[Traversable, ...] = (DEFAULT_PATH,)) -> Watchlist:
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
