"""Field-by-field accuracy of the ccgp detail parser on the real pages of ../shared/real/ccgp against their
hand-read true values (medchan-truth.json): each true value is one check (title, type, date, buyer, agency, project
code, region, amounts, every supplier, every lot's supplier/amount/status/reason, every goods, service and works
line's fields, attachments, corrections, flags).

    python bench/ccgp_fields.py [-v]

Prints matching/checked per page and in all; -v lists what differs. The test suite asserts the same figure.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ccgp_truth import checks, truth  # noqa: E402


def main() -> None:
    shared = ROOT.parent / "shared"
    if not (shared / "real/ccgp/medchan-truth.json").is_file():
        sys.exit("bench: ../shared/real/ccgp/medchan-truth.json is absent")
    matching = checked = 0
    for name, want in truth(shared).items():
        results = checks(shared / "real/ccgp" / name, want)
        good = sum(1 for _what, got, expected in results if got == expected)
        matching, checked = matching + good, checked + len(results)
        print(f"{name}: {good}/{len(results)}")
        if "-v" in sys.argv:
            for what, got, expected in results:
                if got != expected:
                    print(f"    {what}: got {got!r}, want {expected!r}")
    print(f"all pages: {matching}/{checked} true values matched ({matching / checked:.1%})")


if __name__ == "__main__":
    main()
