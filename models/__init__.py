"""The bottom layer: SQLAlchemy 2.0 typed models, the engine and sessions, configuration and user-facing errors.

The names in ``models._tables`` load on first use (``from models import Notice``, ``models.Base``), and with them
every table is registered on ``Base.metadata`` (Alembic compares against it). Until then, importing
``models.errors``, ``models.config`` or ``models.constants`` does not import SQLAlchemy: ``caigou match`` starts
without it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from caigou.models._tables import *  # noqa: F403


def __getattr__(name: str) -> Any:
    """Import every table module on first use of one of their names (PEP 562)."""
    import importlib

    _tables = importlib.import_module("caigou.models._tables")
    if name not in _tables.__all__:
        raise AttributeError(f"module 'models' has no attribute {name!r}")
    globals().update({exported: getattr(_tables, exported) for exported in _tables.__all__})
    return globals()[name]
