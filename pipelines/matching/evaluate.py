"""Evaluating a watchlist on labelled notices: recall and precision at 50 ("review first"), per label and per
watchlist category, with every miss and every false positive and its reasons (``caigou watchlist eval``).

A labelled file is JSON lines: ``{"id", "title", "text"?, "buyer"?, "label", "category"?, "split"?}``. ``label`` is
``core`` (a police DNA or biometric purchase: should score 50+), ``related`` (forensic casework, not DNA or
biometrics: should stay below 50) or ``irrelevant`` (should stay below 50). ``category`` names the watchlist
category a core example is about; without it an example counts under the categories of the terms it matched.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from caigou.models.constants import REVIEW_FIRST_SCORE
from caigou.models.errors import CaigouError
from caigou.pipelines.jsonlines import json_lines
from caigou.pipelines.matching.scoring import FORENSIC_BAND, MatchInput, MatchResult, Scorer
from caigou.pipelines.matching.watchlist import CATEGORIES

LABELS = ("core", "related", "irrelevant")


@dataclass(frozen=True)
class Example:
    id: str
    title: str
    label: str
    text: str = ""
    buyer: str = ""
    category: str = ""
    split: str = ""


def read_examples(lines: Iterable[str | bytes]) -> list[Example]:
    """Parse labelled JSON lines; a bad line is a ``CaigouError`` naming it ("line 7: label must be …")."""
    examples: list[Example] = []
    seen: set[str] = set()
    for line in json_lines(lines):
        if line.record is None:
            raise CaigouError(f"line {line.number}: {line.error}")
        try:
            examples.append(_example(line.record, seen))
        except ValueError as exc:
            raise CaigouError(f"line {line.number}: {exc}") from exc
    return examples


def _example(record: dict[str, Any], seen: set[str]) -> Example:
    for key in ("id", "title", "label"):
        if record.get(key) in (None, ""):
            raise ValueError(f"no {key!r}")
    if not isinstance(record["id"], (str, int)) or isinstance(record["id"], bool):
        raise ValueError("'id' must be a string or a number")
    for key in ("title", "text", "buyer", "category", "split"):
        if not isinstance(record.get(key, ""), str):
            raise ValueError(f"{key!r} must be a string")
    if record["label"] not in LABELS:
        raise ValueError(f"label must be one of {', '.join(LABELS)}, not {record['label']!r}")
    category = record.get("category", "")
    if category and category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r} ({', '.join(CATEGORIES)})")
    identifier = str(record["id"])
    if identifier in seen:
        raise ValueError(f"id {identifier!r} given twice")
    seen.add(identifier)
    return Example(identifier, record["title"], record["label"], record.get("text", ""), record.get("buyer", ""),
                   category, record.get("split", ""))


@dataclass
class Scored:
    example: Example
    result: MatchResult

    @property
    def flagged(self) -> bool:
        return self.result.score >= REVIEW_FIRST_SCORE

    @property
    def categories(self) -> list[str]:
        """The watchlist categories this example counts under."""
        if self.example.category:
            return [self.example.category]
        matched = sorted({m.category for m in self.result.matches})
        return matched or ["(general words only)" if self.result.score else "(nothing matched)"]


@dataclass
class Evaluation:
    scored: list[Scored] = field(default_factory=list)

    def of_label(self, label: str) -> list[Scored]:
        return [s for s in self.scored if s.example.label == label]

    @property
    def flagged(self) -> list[Scored]:
        return [s for s in self.scored if s.flagged]

    @property
    def recall(self) -> float:
        core = self.of_label("core")
        return _ratio(sum(s.flagged for s in core), len(core))

    @property
    def precision(self) -> float:
        flagged = self.flagged
        return _ratio(sum(s.example.label == "core" for s in flagged), len(flagged))

    def false_positive_rate(self) -> float:
        """The share of examples that are not core and still score 50+."""
        others = [s for s in self.scored if s.example.label != "core"]
        return _ratio(sum(s.flagged for s in others), len(others))

    @property
    def misses(self) -> list[Scored]:
        return [s for s in self.of_label("core") if not s.flagged]

    @property
    def false_positives(self) -> list[Scored]:
        return [s for s in self.flagged if s.example.label != "core"]

    def by_category(self) -> dict[str, tuple[int, int, int, int]]:
        """Per category: (core examples, of them flagged, flagged examples, of them core)."""
        table: dict[str, list[int]] = {}
        for scored in self.scored:
            for category in scored.categories:
                row = table.setdefault(category, [0, 0, 0, 0])
                if scored.example.label == "core":
                    row[0] += 1
                    row[1] += scored.flagged
                if scored.flagged:
                    row[2] += 1
                    row[3] += scored.example.label == "core"
        return {category: (row[0], row[1], row[2], row[3]) for category, row in sorted(table.items())}

    def report(self) -> list[str]:
        lines = [f"{len(self.scored)} examples: " + ", ".join(
            f"{len(self.of_label(label))} {label}" for label in LABELS)]
        for label in LABELS:
            group = self.of_label(label)
            flagged_count = sum(s.flagged for s in group)
            share = _percent(flagged_count, len(group))
            line = f"  {label:<10} {flagged_count:>5} of {len(group):>5} score {REVIEW_FIRST_SCORE}+ ({share})"
            if label == "core":
                line += "  ← recall"
            if label == "related":
                low, high = FORENSIC_BAND
                banded = sum(low <= s.result.score <= high for s in group)
                line += f"; {banded} in the forensic band {low}–{high}"
            lines.append(line)
        flagged = self.flagged
        lines.append(f"  precision at {REVIEW_FIRST_SCORE}: {sum(s.example.label == 'core' for s in flagged)} of "
                     f"{len(flagged)} flagged are core "
                     f"({_percent(len(flagged) - len(self.false_positives), len(flagged))})")
        lines.append("by watchlist category:   core  recall   flagged  precision")
        for category, (core, core_flagged, flagged_count, flagged_core) in self.by_category().items():
            lines.append(f"  {category:<22}{core:>5}  {_percent(core_flagged, core):>6}   {flagged_count:>7}  "
                         f"{_percent(flagged_core, flagged_count):>9}")
        lines.append(f"misses (core below {REVIEW_FIRST_SCORE}): {len(self.misses)}")
        lines += [_describe(s) for s in self.misses]
        lines.append(f"false positives (related or irrelevant at {REVIEW_FIRST_SCORE}+): {len(self.false_positives)}")
        lines += [_describe(s) for s in self.false_positives]
        return lines


def evaluate(scorer: Scorer, examples: Iterable[Example]) -> Evaluation:
    return Evaluation([Scored(e, scorer.score(MatchInput(title=e.title, body=e.text, buyer=e.buyer)))
                       for e in examples])


def _describe(scored: Scored) -> str:
    reasons = "; ".join(scored.result.reasons[:-1]) or "nothing matched"
    return f"  {scored.example.id} [{scored.example.label}] {scored.result.score} {scored.example.title} — {reasons}"


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"
