"""Local time: the months of the period, UK summer-time rules, hour-of-week cycles and drawing event times.

Times are local (Europe/London) minutes since 1970-01-01 00:00, as int64 arrays.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np

from safestreets.synthetic.config import CityConfig
from safestreets.synthetic.draws import sample_cdf
from safestreets.synthetic.tables import DAILY, NTE_AFFINITY, TYPE_INDEX, TYPES


def _hour_curve(base: float, bumps: list[tuple[float, float, float]]) -> np.ndarray:
    """Hourly weights: a baseline plus Gaussian bumps (peak hour, width, amplitude) wrapping past midnight."""
    hours = np.arange(24) + 0.5
    curve = np.full(24, base)
    for centre, width, amp in bumps:
        d = (hours - centre + 12) % 24 - 12
        curve += amp * np.exp(-0.5 * (d / width) ** 2)
    return curve


def _weekend_night() -> np.ndarray:
    """Hour-of-week mask (Monday 00:00 = 0) for Friday and Saturday nights, 20:00 to 05:00."""
    how = np.arange(168)
    dow, hod = how // 24, how % 24
    return ((dow == 4) & (hod >= 20)) | ((dow == 5) & ((hod < 5) | (hod >= 20))) | ((dow == 6) & (hod < 5))


def _hour_of_week_profiles() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(14, 168) crime weights, (14, 168) chance of an NTE location, (168,) stop-search weights."""
    how = np.arange(168)
    dow, hod = how // 24, how % 24
    wk_night = _weekend_night()
    profile = np.zeros((len(TYPES), 168))
    for name, (base, bumps, days, boost) in DAILY.items():
        w = _hour_curve(base, bumps)[hod] * np.asarray(days)[dow]
        profile[TYPE_INDEX[name]] = np.where(wk_night, w * boost, w)
    night = np.where(wk_night, 1.0, np.where((hod >= 21) | (hod < 4), 0.5, np.where(hod >= 18, 0.1, 0.0)))
    nte = np.zeros((len(TYPES), 168))
    for name, affinity in NTE_AFFINITY.items():
        nte[TYPE_INDEX[name]] = affinity * night
    stops = _hour_curve(0.2, [(19, 4, 1.0), (23, 2, 0.6), (14, 3, 0.3)])[hod] * np.where(wk_night, 1.25, 1.0)
    return profile, nte, stops


# Indexed by hour of week, Monday 00:00 = 0 (see Month.how).
HOW_PROFILE, HOW_NTE, HOW_STOPS = _hour_of_week_profiles()


def _last_sunday(year: int, month: int) -> int:
    last = calendar.monthrange(year, month)[1]
    return last - (calendar.weekday(year, month, last) + 1) % 7


def _minutes(year: int, month: int, day: int, hour: int = 0) -> int:
    """Minutes since 1970-01-01 00:00 of a local (naive) time."""
    return (dt.datetime(year, month, day, hour) - dt.datetime(1970, 1, 1)) // dt.timedelta(minutes=1)


def _dst_bounds(year: int) -> tuple[int, int, int]:
    """Local minutes: (start of the spring-forward gap, end of gap = BST starts, BST ends).

    UK rules since 1996: clocks go forward at 01:00 UTC on the last Sunday of March (local 01:00-01:59 does
    not exist) and back at 01:00 UTC on the last Sunday of October (local 01:00-01:59 happens twice; the
    first, BST, reading is used).
    """
    march, october = _last_sunday(year, 3), _last_sunday(year, 10)
    return _minutes(year, 3, march, 1), _minutes(year, 3, march, 2), _minutes(year, 10, october, 2)


def is_bst(local_minutes: np.ndarray) -> np.ndarray:
    """True where a local time is in British Summer Time (UTC+1)."""
    years = local_minutes.astype("datetime64[m]").astype("datetime64[Y]").astype(np.int64) + 1970
    out = np.zeros(local_minutes.shape, dtype=bool)
    for year in np.unique(years):
        _, start, end = _dst_bounds(int(year))
        sel = years == year
        out[sel] = (local_minutes[sel] >= start) & (local_minutes[sel] < end)
    return out


def in_dst_gap(local_minutes: np.ndarray) -> np.ndarray:
    """True where a local time falls in the spring-forward hour, which does not exist."""
    years = local_minutes.astype("datetime64[m]").astype("datetime64[Y]").astype(np.int64) + 1970
    out = np.zeros(local_minutes.shape, dtype=bool)
    for year in np.unique(years):
        gap_start, gap_end, _ = _dst_bounds(int(year))
        sel = years == year
        out[sel] = (local_minutes[sel] >= gap_start) & (local_minutes[sel] < gap_end)
    return out


@dataclass
class Month:
    """One calendar month of the period, with the hour of week of each of its local hours."""

    index: int
    year: int
    month: int
    label: str  # YYYY-MM
    start_min: int  # local minutes since epoch
    hours: int
    how: np.ndarray  # hour-of-week of each local hour
    valid: np.ndarray  # False for the non-existent spring-forward hour

    @classmethod
    def make(cls, index: int, year: int, month: int) -> Month:
        start = _minutes(year, month, 1)
        days = calendar.monthrange(year, month)[1]
        hour_min = start + 60 * np.arange(days * 24, dtype=np.int64)
        day = hour_min // 1440
        how = ((day + 3) % 7) * 24 + (hour_min // 60) % 24  # 1970-01-01 was a Thursday
        return cls(
            index, year, month, f"{year:04d}-{month:02d}", start, days * 24, how, ~in_dst_gap(hour_min)
        )


def sample_times(rng: np.random.Generator, month: Month, how_weights: np.ndarray, n: int) -> np.ndarray:
    """Local minutes for n events with the given hour-of-week profile (never in the spring-forward gap)."""
    w = how_weights[month.how] * month.valid
    hour = sample_cdf(np.cumsum(w), rng.random(n))
    return month.start_min + 60 * hour + rng.integers(0, 60, n)


def month_list(config: CityConfig) -> list[Month]:
    """The ``config.months`` months from ``config.start``."""
    year, month = int(config.start[:4]), int(config.start[5:7])
    out = []
    for i in range(config.months):
        y, m = year + (month - 1 + i) // 12, (month - 1 + i) % 12 + 1
        out.append(Month.make(i, y, m))
    return out
