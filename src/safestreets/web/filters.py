"""Jinja filters the pages format numbers and times with (a missing value shows as a dash)."""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import jinja2

DASH = "–"


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and not math.isfinite(v))


def num(v: Any, digits: int = 0) -> str:
    return DASH if _missing(v) else f"{v:,.{digits}f}"


def pct(v: Any, digits: int = 1, signed: bool = False) -> str:
    return DASH if _missing(v) else f"{v:{'+' if signed else ''}.{digits}%}"


def when(v: Any) -> str:
    """A time to the minute (a date as it is)."""
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return v.isoformat()
    return DASH if v is None else str(v)


def install(env: jinja2.Environment) -> None:
    env.filters.update(num=num, pct=pct, when=when)
