"""Screening organisations against lists of names (placeholder until the screening list lands)."""
from __future__ import annotations

from sqlalchemy.orm import Session


def flags_for(session: Session, organisation_ids: list[int]) -> list[dict[str, str]]:
    return []
