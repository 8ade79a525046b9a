"""Column types shared by every table.

Times are stored in UTC and handed back time-zone aware in Asia/Shanghai, the portals' own zone, on SQLite
(which has no time-zone type) and PostgreSQL alike.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Numeric
from sqlalchemy.types import TypeDecorator

from caigou.models.constants import SHANGHAI  # re-exported: models.types.SHANGHAI


def now() -> dt.datetime:
    """The current time, aware, in Asia/Shanghai."""
    return dt.datetime.now(SHANGHAI)


class AwareDateTime(TypeDecorator[dt.datetime]):
    """A time-zone aware timestamp: naive values are refused rather than guessed."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: times must carry a zone")
        utc = value.astimezone(dt.UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(SHANGHAI)


class Money(TypeDecorator[Decimal]):
    """An amount in yuan (CNY), exact to the fen.

    PostgreSQL keeps NUMERIC(18, 2); SQLite, whose NUMERIC is a float, keeps whole fen in an integer, so amounts stay
    exact and still sort and compare in SQL.
    """

    impl = Numeric(18, 2, asdecimal=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, 2, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        quantized = Decimal(value).quantize(Decimal("0.01"))
        return int(quantized * 100) if dialect.name == "sqlite" else quantized

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))
        return Decimal(str(value)).quantize(Decimal("0.01"))
