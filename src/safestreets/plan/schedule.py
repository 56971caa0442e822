"""Visit times: turn a plan's daily pattern (or each day's, plan/days.py) into a different, unpredictable
timetable for each day.

Koper's advice is visits at random times, so every start is drawn at random within the rules, each day
afresh. For the teams sharing a patrol area in a shift, one day is made in two steps:

1. **An order.** The visits are laid out as early as they can go: the team that is free first takes a
   hot spot that is due (at least ``Rules.min_gap_minutes`` since any visit to it, by any team), drawn at
   random with more weight on hot spots with more visits left, waiting when none is due. A random order
   that runs past the shift is drawn again; after a few tries the order that packs tightest (most visits
   left first) is used, which the planner has checked fits (``patrol.packed_minutes``).
2. **Times.** The order fixes, for each visit, the visits that must come before it (the team's previous
   one, and the previous one at its hot spot) and so the latest each can start with the rest still
   fitting. Going through the visits in order, each start is drawn between the earliest the rules allow
   and that latest one, as the first of the team's remaining visits spread uniformly over the time left
   (``Beta(1, visits left)``): a team with no other constraint gets uniformly random times, and every
   draw keeps every rule.

Rules kept: inside the shift; visits of ``Rules.visit_minutes``; a team's visits never overlap; two visits
to one hot spot, by any team, at least the minimum gap apart. Walking time between hot spots is not
timed: it is budgeted in each team's visits per shift (``patrol.nominal_capacity``). Times are whole
seconds so the gap rule holds exactly. Seeded, so a stored plan's times can be reproduced exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from safestreets.errors import ParameterError
from safestreets.plan.patrol import PatrolPlan, Team
from safestreets.plan.resources import Rules, Shift

if TYPE_CHECKING:  # plan/days.py times its day plans with area_day
    from safestreets.plan.days import DayPlan

#: Random orders drawn for one area and day before falling back on the tightest packing.
RANDOM_ORDERS = 20


@dataclass(frozen=True)
class Visit:
    team_id: str
    day: date
    seq: int  # 1-based order within the team's shift
    unit: int  # unit index in the plan's input
    start: datetime
    end: datetime


def area_day(
    teams: list[Team], shift: Shift, day: date, rules: Rules, rng: np.random.Generator
) -> list[Visit]:
    """The visits of the teams sharing one patrol area in one shift, for one day, at random times that
    keep the rules (see the module docstring)."""
    if not any(v > 0 for t in teams for _, v in t.hotspots):
        return []
    end = int(shift.minutes * 60)
    visit = round(rules.visit_minutes * 60)
    gap = int(np.ceil(rules.min_gap_minutes * 60))
    order = None
    for attempt in range(RANDOM_ORDERS + 3):
        order = _order(teams, visit, gap, end, rng, tightest=attempt >= RANDOM_ORDERS)
        if order is not None:
            break
    if order is None:
        raise ParameterError(
            f"teams {', '.join(t.team_id for t in teams)}: their visits do not fit in the {shift.name} shift "
            f"with {rules.min_gap_minutes:g} minutes between visits to one hot spot: use a shorter --min-gap"
        )
    starts = _times(order, visit, gap, end, rng)
    begin = datetime.combine(day, datetime.min.time()) + timedelta(hours=shift.start_hour)
    seq = [0] * len(teams)
    visits = []
    for (ti, u), t in sorted(zip(order, starts, strict=True), key=lambda p: (p[1], p[0][0])):
        seq[ti] += 1
        start = begin + timedelta(seconds=t)
        visits.append(Visit(teams[ti].team_id, day, seq[ti], u, start, start + timedelta(seconds=visit)))
    return visits


def _order(
    teams: list[Team], visit: int, gap: int, end: int, rng: np.random.Generator, *, tightest: bool
) -> list[tuple[int, int]] | None:
    """The day's visits as (team index, unit) in the order of their earliest starts, or None if, laid out
    as early as they can go, they run past the shift. ``tightest`` takes the hot spot with most visits
    left (ties at random) instead of a weighted random one."""
    left: list[dict[int, int]] = []
    for t in teams:
        mine: dict[int, int] = {}
        for u, v in t.hotspots:
            mine[u] = mine.get(u, 0) + int(v)
        left.append({u: v for u, v in mine.items() if v > 0})
    clock = [0] * len(teams)
    booked: dict[int, list[int]] = {}
    out: list[tuple[int, int, int]] = []

    def free_at(u: int, t: int) -> int:
        """The first time from ``t`` at least the gap from every visit booked at hot spot ``u``."""
        for c in sorted({t, *(b + gap for b in booked.get(u, []) if b + gap > t)}):
            if all(abs(c - b) >= gap for b in booked.get(u, [])):
                return c
        return max(booked[u]) + gap  # pragma: no cover - the last candidate always qualifies

    while True:
        busy = [i for i in range(len(teams)) if left[i]]
        if not busy:
            break
        first = min(clock[i] for i in busy)
        tied = [i for i in busy if clock[i] == first]
        ti = tied[int(rng.integers(len(tied)))]
        t = clock[ti]
        due = [u for u in left[ti] if free_at(u, t) == t]
        if not due:
            clock[ti] = min(free_at(u, t) for u in left[ti])
            continue
        if t + visit > end:
            return None
        if tightest:
            most = max(left[ti][u] for u in due)
            due = [u for u in due if left[ti][u] == most]
            u = due[int(rng.integers(len(due)))]
        else:  # weighted by visits left, squared: busy hot spots go early enough for their gaps to fit
            weights = np.array([left[ti][u] ** 2 for u in due], dtype="float64")
            u = due[int(rng.choice(len(due), p=weights / weights.sum()))]
        out.append((ti, u, t))
        left[ti][u] -= 1
        if not left[ti][u]:
            del left[ti][u]
        booked.setdefault(u, []).append(t)
        clock[ti] = t + visit
    out.sort(key=lambda r: (r[2], r[0]))  # by start: every visit after those it must follow
    return [(ti, u) for ti, u, _ in out]


def _times(
    order: list[tuple[int, int]], visit: int, gap: int, end: int, rng: np.random.Generator
) -> list[int]:
    """Random starts (seconds into the shift) for visits in ``order``, keeping its sequence per team and
    per hot spot: each between the earliest its predecessors allow and the latest its successors allow."""
    n = len(order)
    team_prev, unit_prev = [-1] * n, [-1] * n
    team_next, unit_next = [-1] * n, [-1] * n
    last_team: dict[int, int] = {}
    last_unit: dict[int, int] = {}
    for i, (ti, u) in enumerate(order):
        for prev, nxt, last, key in (
            (team_prev, team_next, last_team, ti),
            (unit_prev, unit_next, last_unit, u),
        ):
            j = last.get(key, -1)
            prev[i] = j
            if j >= 0:
                nxt[j] = i
            last[key] = i
    latest = [0] * n
    after = [0] * n  # the team's visits from this one on
    for i in range(n - 1, -1, -1):
        bound = end - visit
        if team_next[i] >= 0:
            bound = min(bound, latest[team_next[i]] - visit)
            after[i] = after[team_next[i]] + 1
        else:
            after[i] = 1
        if unit_next[i] >= 0:
            bound = min(bound, latest[unit_next[i]] - gap)
        latest[i] = bound
    starts = [0] * n
    for i in range(n):
        earliest = 0
        if team_prev[i] >= 0:
            earliest = starts[team_prev[i]] + visit
        if unit_prev[i] >= 0:
            earliest = max(earliest, starts[unit_prev[i]] + gap)
        # earliest <= latest[i] always: each predecessor started no later than its own latest
        starts[i] = earliest + int((latest[i] - earliest) * rng.beta(1.0, after[i]))
    return starts


def schedule(plan: PatrolPlan, week_start: date, *, seed: int, days: int = 7,
             by_day: DayPlan | None = None) -> list[Visit]:  # fmt: skip
    """Every team's visits for ``days`` days from ``week_start``, teams that share a patrol area and shift
    timed together. With ``by_day`` (plan/days.py) each day has its own hot spots and visits per team;
    without, every day repeats the plan's daily pattern."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple[int, str], list[Team]] = {}
    for team in plan.teams:
        groups.setdefault((team.area, team.shift), []).append(team)
    out: list[Visit] = []
    for d in range(days):
        day = week_start + timedelta(days=d)
        for (_, shift_name), teams in groups.items():
            if by_day is not None:
                teams = [by_day.team_day(t, d) for t in teams]
            out.extend(area_day(teams, plan.rules.shift(shift_name), day, plan.rules, rng))
    return out
