"""Constants the lightweight parts (matching, normalising) share with the models, without importing SQLAlchemy."""
from __future__ import annotations

from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
REVIEW_FIRST_SCORE = 50  # a score at or above this means "review first"; digests and search default to it
