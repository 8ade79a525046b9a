"""How often the portals' readers, as written, raise something other than ParseError on hostile answers (random
bytes, JSON of random shapes, real pages cut short or spliced), and how often with the contract held
(``crawler.parsers.holds_parse_contract``: it must be 0). The same inputs as tests/test_parser_contract.py.

    python bench/parser_contract.py [--examples 150]
"""
from __future__ import annotations

import argparse
import collections
import inspect
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, given, settings

from caigou.crawler.parsers.common import ParseError
from tests.test_parser_contract import ALL_READERS, answers


def fuzz(name: str, reader: Callable[..., object], examples: int,
         raw: collections.Counter[tuple[str, str]]) -> tuple[int, int]:
    """Feed one reader ``examples`` hostile answers; count in ``raw`` what the unwrapped reader raised other than
    ParseError. Returns (inputs, how often the wrapped reader still did)."""
    original = inspect.unwrap(reader)
    rest = list(inspect.signature(original).parameters)[1:]
    arguments = ["detail" if n == "kind" else "http://www.example.gov.cn/info/2024/a.html" for n in rest]
    inputs, held = 0, 0

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(answer=answers)
    def run(answer: bytes) -> None:
        nonlocal inputs, held
        inputs += 1
        for function in (original, reader):
            try:
                function(answer, *arguments)
            except ParseError:
                pass
            except Exception as exc:  # what is being counted
                if function is original:
                    raw[(name, type(exc).__name__)] += 1
                else:
                    held += 1

    run()
    return inputs, held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=150, help="inputs per reader")
    examples = parser.parse_args().examples
    inputs, raw, held = 0, collections.Counter[tuple[str, str]](), 0
    for param in ALL_READERS:
        fed, still = fuzz(param.id, param.values[0], examples, raw)
        inputs, held = inputs + fed, held + still
    print(f"{inputs} inputs over {len(ALL_READERS)} readers")
    print(f"as written: {sum(raw.values())} raised other than ParseError")
    for (name, kind), count in sorted(raw.items()):
        print(f"  {name}: {count} {kind}")
    print(f"with the contract held: {held}")


if __name__ == "__main__":
    main()
