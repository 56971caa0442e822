"""Which week a plan or a briefing is for, checked against the forecast it reads.

Plans run Monday to Sunday; a week that starts on another day, or that lies outside the forecast's
window, is refused rather than planned from a forecast made for another time.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from safestreets.errors import ParameterError


def check_week(week: date, window: tuple[datetime, datetime], *, run_id: int | None = None) -> date:
    """``week`` if it is a Monday whose week overlaps the forecast ``window``; else a ParameterError."""
    if week.weekday() != 0:
        monday = week - timedelta(days=week.weekday())
        raise ParameterError(
            f"{week} is a {week:%A}: weeks run Monday to Sunday, so give a Monday (that week's is {monday})"
        )
    start, end = window[0].date(), window[1].date()
    if not (start - timedelta(days=6) <= week < end):
        which = f"forecast run {run_id}" if run_id is not None else "the forecast"
        raise ParameterError(
            f"the week of {week} lies outside {which}'s window ({start} to {end - timedelta(days=1)}): "
            "forecast that period first, or choose a week within it"
        )
    return week
