"""Reading JSON lines from a user's file, one line at a time, so one bad line is named and the others still read.

Bytes in, so an encoding problem is that line's problem (a GBK file, binary junk), not a traceback halfway through.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Line:
    number: int
    record: dict[str, Any] | None   # the JSON object, or None when the line is bad
    error: str = ""                 # what is wrong with the line, in words


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def json_lines(lines: Iterable[bytes | str]) -> Iterator[Line]:
    """Each non-blank line as a JSON object, or what is wrong with it: not UTF-8, not JSON, NaN or Infinity,
    nested too deeply, not an object."""
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as exc:
            yield Line(number, None, f"not UTF-8 ({exc.reason} at byte {exc.start}; save the file as UTF-8)")
            continue
        if not text.strip():
            continue
        try:
            record = json.loads(text, parse_constant=_no_constant)
        except RecursionError:
            yield Line(number, None, "JSON nested too deeply")
            continue
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            yield Line(number, None, f"not JSON: {exc}")
            continue
        if not isinstance(record, dict):
            yield Line(number, None, f"not a JSON object (a {type(record).__name__})")
            continue
        yield Line(number, record)
