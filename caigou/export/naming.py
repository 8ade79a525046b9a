"""File names that say what was exported: ``caigou-西藏-遗传分析仪-2024-06-30.xlsx`` rather than ``export.xlsx``."""
from __future__ import annotations

import datetime as dt
import re

from caigou.filters import TIBETAN_AREAS, NoticeFilters
from caigou.pipelines.regions import region_by_code
from caigou.pipelines.text import CJK

_UNSAFE = re.compile(rf"[^\w{CJK}-]+")
MAX_LENGTH = 80


def _region(code: str) -> str:
    if code == TIBETAN_AREAS:
        return "藏区"
    region = region_by_code(code)
    return region.short_name if region else code


def export_filename(filters: NoticeFilters, query: str, extension: str, today: dt.date) -> str:
    """caigou-<regions>-<types>-<terms>-<query words>-<date>.<extension>; the date is the selection's last day
    (``until``) or today. Only letters, digits, Chinese and dashes: safe in any file system and header."""
    parts = [_region(code) for code in filters.regions] + filters.notice_types + filters.terms + filters.sources
    parts += [word for word in query.split() if not word.startswith("-") and word not in {"OR", "AND"}]
    cleaned = [_UNSAFE.sub("", part) for part in parts]
    stem = "-".join(["caigou", *[part for part in cleaned if part]])[:MAX_LENGTH].rstrip("-")
    return f"{stem}-{(filters.until or today).isoformat()}.{extension}"
