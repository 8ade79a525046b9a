"""Attachments' HTML and text are read as a stream within the text cap: a 33 MB HTML attachment (which once took
1.5 GB as a parsed tree) is read in flat memory. Peak memory (ru_maxrss) of a subprocess, measured around the
extraction alone; the bound is generous: a bound on memory, not on time."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.crawling import ROOT

MEASURE = r"""
import json, resource, sys
from caigou.pipelines.attachments import extract
row, size = sys.argv[1].encode("utf-8"), int(sys.argv[2])
data = sys.argv[3].encode("utf-8") + row * -(-size // len(row)) + b"</table></body></html>"
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = extract(data)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_mb": (after - before) / 1024, "size": len(data), "status": result.status,
                  "chars": len(result.text), "start": result.text[:200]}))
"""
HEAD = "<html><head><meta charset='utf-8'><title>设备清单</title></head><body><table>\n"
MB = 1024 * 1024


def extract_in_subprocess(row: str, size: int, head: str = HEAD) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", MEASURE, row, str(size), head], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(("what", "row", "status"), [
    ("a table full of text", "<tr><td>全自动核酸提取仪</td><td>Applied Biosystems 3500xL 遗传分析仪</td><td>2台</td></tr>\n",
     "truncated"),
    ("markup with almost no text", '<div class="x"><span data-a="' + "y" * 200 + '"></span></div>'
                                   "<script>var a = '全自动核酸提取仪';</script>\n", "ok"),
])
def test_a_33_mb_html_attachment_is_read_in_flat_memory(what: str, row: str, status: str) -> None:
    measured = extract_in_subprocess(row, 33 * MB)
    assert measured["size"] >= 33 * MB and measured["status"] == status, measured
    assert measured["growth_mb"] < 150, f"{what}: extraction grew the peak by {measured['growth_mb']:.0f} MB"
    if status == "truncated":
        assert 400_000 < measured["chars"] <= 500_000  # the cap (CAIGOU_ATTACHMENT_MAX_CHARS), spaces tidied
        assert "全自动核酸提取仪 Applied Biosystems 3500xL 遗传分析仪 2台" in measured["start"]
    else:
        assert measured["start"] == "设备清单"  # the scripts' text is not text


def test_a_33_mb_text_attachment_is_read_in_flat_memory() -> None:
    measured = extract_in_subprocess("全自动核酸提取仪 3500xL 2台\n", 33 * MB, head="设备清单\n")
    assert measured["status"] == "truncated" and measured["growth_mb"] < 150, measured
    assert measured["start"].startswith("设备清单\n全自动核酸提取仪 3500xL 2台")
