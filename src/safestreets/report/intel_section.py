"""The briefing's community intelligence section: how many anonymous reports came in per week and which
areas they point to, as counts only (never a word of a report), small counts suppressed."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

MIN_COUNT = 3


def community_section(rows: list[dict[str, Any]], week_start: date, *, weeks: int = 8,
                      min_count: int = MIN_COUNT, top: int = 10) -> dict[str, Any] | None:  # fmt: skip
    """``rows``: area, kind, week, reports (raw counts). None when no report has a place in the window."""
    first = week_start - timedelta(weeks=weeks)
    recent = [r for r in rows if r["week"] is not None and first <= r["week"] < week_start]
    if not recent:
        return None
    per_week: dict[date, int] = defaultdict(int)
    per_area: dict[str, int] = defaultdict(int)
    for r in recent:
        per_week[r["week"]] += r["reports"]
        per_area[r["area_code"]] += r["reports"]
    series = [(first + timedelta(weeks=k), per_week.get(first + timedelta(weeks=k), 0)) for k in range(weeks)]
    shown = sorted(((a, n) for a, n in per_area.items() if n >= min_count), key=lambda t: (-t[1], t[0]))[:top]
    hidden = sum(1 for n in per_area.values() if n < min_count)
    return {
        "weeks": [{"week": w, "reports": n if n >= min_count or n == 0 else None} for w, n in series],
        "areas": [{"area": a, "reports": n} for a, n in shown],
        "suppressed_areas": hidden,
        "min_count": min_count,
        "total": sum(per_week.values()),
        "window": (first, week_start - timedelta(days=1)),
    }
