"""Risk by shift and day: each unit's time-of-week profile, shrunk towards its command unit's and the city's.

A forecast gives each unit's expected count (and harm) over a window. Where events carry times, this module
says *when* in the week that harm falls: a profile over the 168 hours of the week (Monday 00:00 is hour 0,
local wall-clock time as stored) for every unit, so the expected harm of unit ``u`` in shift ``s`` of day
``d`` of the coming week is its weekly expected harm times the share of its profile in that shift.

One unit's own events are far too few to estimate 168 shares (a busy 250 m cell has a few dozen events a
year), so the profile is shrunk in two steps, each an empirical-Bayes Dirichlet-multinomial:

* the city profile ``p_city``: every event's hour of week (plus half a pseudo-event per hour, so an hour
  never seen keeps some weight);

(counting occasions: records in one unit in the same clock hour of the same day count once, so several
records of one incident do not pass for a unit with its own hours);
* each command unit's: ``p_bcu = (n_bcu + a_bcu * p_city) / (N_bcu + a_bcu)``;
* each unit's: ``p_unit = (n_unit + a_unit * p_bcu) / (N_unit + a_unit)``.

The strengths ``a_bcu`` and ``a_unit`` (pseudo-events of the parent profile) are chosen from the data: the
value that maximises the Dirichlet-multinomial marginal likelihood of the children's hour-of-week counts
given the parent profile (Minka 2000, "Estimating a Dirichlet distribution"; the usual empirical-Bayes
choice). A large strength says the units' own patterns differ from their parent's by little more than
noise, so a unit needs many events before its own pattern shows; a small one says they really differ.
A unit with no events gets its command unit's profile; a command unit with none, the city's.

Shifts come from the planner (``plan.resources.Shift``: a name, a start hour and a length); this module
takes anything with those three attributes, so it stays below the planner. A shift that runs past midnight
belongs to the day it starts on (Monday's night shift 23:00-07:00 ends on Tuesday morning).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import gammaln

from safestreets.errors import NoDataError
from safestreets.forecast.history import History, as_time
from safestreets.geo.units import Units

HOURS = 168
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Pseudo-events per hour added to the city's own counts (a Jeffreys-like floor).
CITY_PRIOR_PER_HOUR = 0.5
#: The range searched for a shrinkage strength, in pseudo-events of the parent profile.
STRENGTH_RANGE = (1.0, 1e6)


class ShiftLike(Protocol):
    name: str
    start_hour: float
    hours: float


@dataclass(frozen=True)
class ShiftDef:
    """A shift as this module needs it (the planner's ``Shift`` has the same fields)."""

    name: str
    start_hour: float
    hours: float


#: The planner's default shifts (plan/resources.py ``DEFAULT_SHIFTS``), for callers below the planner.
DEFAULT_SHIFTS: tuple[ShiftDef, ...] = (ShiftDef("early", 7, 8), ShiftDef("late", 15, 8),
                                        ShiftDef("night", 23, 8))  # fmt: skip


def hour_of_week(t: np.ndarray) -> np.ndarray:
    """Hour of the week of each time (Monday 00:00-00:59 is 0, Sunday 23:00-23:59 is 167)."""
    t = np.asarray(t, dtype="datetime64[s]")
    days = t.astype("datetime64[D]")
    weekday = (days.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday
    hour = (t - days.astype("datetime64[s]")).astype("int64") // 3600
    return (weekday * 24 + hour).astype("int64")


def slot_matrix(shifts: Sequence[ShiftLike]) -> np.ndarray:
    """A (168, 7 * n_shifts) 0/1 matrix: hour of week -> (day, shift) slot, slot ``d * n_shifts + s``.

    An hour belongs to a shift when its middle falls in it (as ``Shift.covers``), and to the day the shift
    started on. Overlapping shifts both get the hour; hours no shift covers belong to no slot."""
    n = len(shifts)
    out = np.zeros((HOURS, 7 * n))
    for h in range(HOURS):
        day, clock = divmod(h, 24)
        for s, shift in enumerate(shifts):
            offset = (clock + 0.5 - float(shift.start_hour)) % 24.0
            if offset < float(shift.hours):
                started = day if clock + 0.5 >= float(shift.start_hour) else day - 1
                out[h, (started % 7) * n + s] = 1.0
    return out


def slot_names(shifts: Sequence[ShiftLike]) -> list[tuple[str, str]]:
    """(day, shift name) of each slot of :func:`slot_matrix`."""
    return [(d, s.name) for d in DAYS for s in shifts]


# --- empirical-Bayes shrinkage -----------------------------------------------------------------------


def dm_loglik(counts: np.ndarray, prior: np.ndarray, strength: float) -> float:
    """Dirichlet-multinomial log marginal likelihood (without the multinomial coefficient, which does not
    depend on the strength) of count rows ``counts`` (n, K) given parent profiles ``prior`` (n, K) or (K,)
    and a concentration ``strength``."""
    counts = np.asarray(counts, dtype="float64")
    alpha = strength * np.broadcast_to(np.asarray(prior, dtype="float64"), counts.shape)
    total = counts.sum(axis=1)
    # Only the hours with events differ from the prior's own normaliser: lgamma(n + a) - lgamma(a) = 0 at n=0.
    nz = counts > 0
    per_hour = np.zeros(counts.shape)
    per_hour[nz] = gammaln(counts[nz] + alpha[nz]) - gammaln(alpha[nz])
    return float((gammaln(strength) - gammaln(total + strength)).sum() + per_hour.sum())


def fit_strength(counts: np.ndarray, prior: np.ndarray) -> float:
    """The concentration (pseudo-events of the parent profile) that maximises the Dirichlet-multinomial
    marginal likelihood of the rows of ``counts`` given their parent profiles ``prior``. Rows with fewer than
    two events say nothing about it and are left out; with none left, the upper end of the range (the
    parent's profile as it is)."""
    counts = np.asarray(counts, dtype="float64")
    prior = np.broadcast_to(np.asarray(prior, dtype="float64"), counts.shape)
    keep = counts.sum(axis=1) >= 2
    if not keep.any():
        return STRENGTH_RANGE[1]
    c, p = counts[keep], np.clip(prior[keep], 1e-12, None)
    lo, hi = np.log(STRENGTH_RANGE[0]), np.log(STRENGTH_RANGE[1])
    res = minimize_scalar(lambda z: -dm_loglik(c, p, float(np.exp(z))), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-3})  # fmt: skip
    return float(np.exp(res.x))


def _shrink(counts: np.ndarray, prior: np.ndarray, strength: float) -> np.ndarray:
    counts = np.asarray(counts, dtype="float64")
    prior = np.broadcast_to(prior, counts.shape)
    return (counts + strength * prior) / (counts.sum(axis=1, keepdims=True) + strength)


@dataclass
class TimeOfWeek:
    """Fitted time-of-week profiles: ``unit`` (n_units, 168) shares summing to 1 per unit, ``bcu`` per
    command unit, ``city``; the strengths chosen and how many events each rests on."""

    unit: np.ndarray
    bcu: dict[str, np.ndarray]
    city: np.ndarray
    strength_bcu: float
    strength_unit: float
    unit_events: np.ndarray
    events: int
    meta: dict[str, Any] = field(default_factory=dict)

    def slot_shares(self, shifts: Sequence[ShiftLike], *, level: str = "unit") -> np.ndarray:
        """(n_units, 7 * n_shifts): each unit's share of a week's events in each (day, shift) slot.
        ``level="city"`` gives every unit the city's shares (the baseline a unit profile must beat)."""
        m = slot_matrix(shifts)
        if level == "city":
            return np.broadcast_to(self.city @ m, (len(self.unit), m.shape[1])).copy()
        if level == "raw":  # the unit's own counts, unshrunk (the city's where it has none)
            return self.meta["raw"] @ m
        return self.unit @ m

    def shift_shares(self, shifts: Sequence[ShiftLike], *, level: str = "unit") -> np.ndarray:
        """(n_units, n_shifts): each unit's share of a week in each shift, all days together."""
        return self.slot_shares(shifts, level=level).reshape(len(self.unit), 7, len(shifts)).sum(axis=1)

    def describe(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "command_units": len(self.bcu),  # one: the study area is one, and its profile is the city's
            "strength_bcu": round(self.strength_bcu, 1),
            "strength_unit": round(self.strength_unit, 1),
            "units_with_events": int((self.unit_events > 0).sum()),
            "median_unit_events": float(np.median(self.unit_events)) if len(self.unit_events) else 0.0,
            **{k: v for k, v in self.meta.items() if k != "raw"},
        }


def fit_profiles(
    history: History, units: Units, *, until: Any = None, lookback_days: int | None = None,
    strength_bcu: float | None = None, strength_unit: float | None = None,
) -> TimeOfWeek:  # fmt: skip
    """Time-of-week profiles from the timestamped events before ``until`` (within ``lookback_days`` of it),
    shrunk as the module docstring says. ``strength_*`` fix a strength instead of choosing it.

    Raises :class:`NoDataError` on month-only data: police.uk files carry no time of day."""
    if history.resolution != "timestamp":
        raise NoDataError(
            "risk by shift needs timestamped events (a force's own records): police.uk files carry the month "
            "only"
        )
    h = history.before(until) if until is not None else history
    if lookback_days is not None and len(h):
        end = as_time(until) if until is not None else h.t[-1]
        h = h.between(end - np.timedelta64(int(lookback_days), "D"), end + np.timedelta64(1, "s"))
    if not len(h):
        raise NoDataError("no timestamped events before the cut-off to learn when in the week harm falls")
    idx = units.locate(h.x, h.y)
    how = hour_of_week(h.t)
    # One occasion per unit and clock hour: several records of one incident (a burglary recorded as two
    # offences, a fight with three victims) would otherwise look like a unit whose hours vary far more than
    # chance allows, and weaken the shrinkage everywhere.
    hour = h.t.astype("datetime64[h]").astype("int64")
    _, first = np.unique(np.column_stack([idx, hour]), axis=0, return_index=True)
    once = np.zeros(len(h), dtype=bool)
    once[first] = True
    ok = (idx >= 0) & once
    n_units = len(units)
    counts = np.zeros((n_units, HOURS))
    np.add.at(counts, (idx[ok], how[ok]), 1.0)
    city_counts = np.bincount(how[once], minlength=HOURS).astype("float64")
    city = (city_counts + CITY_PRIOR_PER_HOUR) / (city_counts.sum() + CITY_PRIOR_PER_HOUR * HOURS)

    bcu_of = np.asarray([str(b) or "all" for b in units.bcu], dtype=object)
    codes = sorted(set(bcu_of.tolist()))
    code_idx = np.array([codes.index(b) for b in bcu_of], dtype="int64") if n_units else np.zeros(0, "int64")
    bcu_counts = np.zeros((len(codes), HOURS))
    np.add.at(bcu_counts, code_idx, counts)
    a_bcu = strength_bcu if strength_bcu is not None else fit_strength(bcu_counts, city)
    bcu_prof = _shrink(bcu_counts, city, a_bcu)
    parent = bcu_prof[code_idx]
    a_unit = strength_unit if strength_unit is not None else fit_strength(counts, parent)
    unit_prof = _shrink(counts, parent, a_unit)
    totals = counts.sum(axis=1)
    raw = np.where(totals[:, None] > 0, counts / np.maximum(totals, 1.0)[:, None], city[None, :])
    return TimeOfWeek(
        unit=unit_prof, bcu=dict(zip(codes, bcu_prof, strict=True)), city=city, strength_bcu=float(a_bcu),
        strength_unit=float(a_unit), unit_events=totals, events=len(h),
        meta={"first": str(h.t[0]), "last": str(h.t[-1]), "occasions": int(once.sum()), "raw": raw},
    )  # fmt: skip


def week_by_slot(weekly: np.ndarray, profile: TimeOfWeek, shifts: Sequence[ShiftLike], *,
                 level: str = "unit") -> np.ndarray:  # fmt: skip
    """(n_units, 7, n_shifts): a weekly expected count or harm per unit spread over the days and shifts of
    the week by each unit's profile."""
    shares = profile.slot_shares(shifts, level=level)
    return (np.asarray(weekly, dtype="float64")[:, None] * shares).reshape(len(weekly), 7, len(shifts))
