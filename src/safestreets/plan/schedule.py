"""Visit times: turn a plan's daily pattern into a different, unpredictable timetable for each day.

Each team's shift is cut into as many equal slots as it has visits; visits go to slots at random, with
the visits to one hot spot far enough apart that, wherever in its slot each starts, two visits to it are at
least ``Rules.min_gap_minutes`` apart. Times are seeded, so a stored plan can be reproduced exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from safestreets.plan.patrol import PatrolPlan, Team
from safestreets.plan.resources import Rules, Shift


@dataclass(frozen=True)
class Visit:
    team_id: str
    day: date
    seq: int  # 1-based order within the team's shift
    unit: int  # unit index in the plan's input
    start: datetime
    end: datetime


def _slots(
    spots: list[tuple[int, int]], n_slots: int, sep: int, rng: np.random.Generator, tries: int = 50
) -> list[int] | None:
    """A random slot -> unit assignment keeping ``sep`` slots between visits to one unit, or None."""
    for _ in range(tries):
        left = {u: v for u, v in spots}
        last: dict[int, int] = {}
        out: list[int] = []
        for slot in range(n_slots):
            ready = [u for u, v in left.items() if v > 0 and slot - last.get(u, -(10**9)) >= sep]
            if not ready:
                out.append(-1)
                continue
            weight = np.array([left[u] for u in ready], dtype="float64") ** 2
            u = ready[int(rng.choice(len(ready), p=weight / weight.sum()))]
            out.append(u)
            left[u] -= 1
            last[u] = slot
        if all(v == 0 for v in left.values()):
            return out
    return None


def team_day(team: Team, shift: Shift, day: date, rules: Rules, rng: np.random.Generator) -> list[Visit]:
    """One team's visits for one day: random slots and random starts within them, gaps kept.

    Times are whole seconds so that the gap rule holds exactly, not merely to the nearest minute."""
    n = sum(v for _, v in team.hotspots)
    if n == 0:
        return []
    slot = int(shift.minutes * 60) // n
    visit = round(rules.visit_minutes * 60)
    gap = int(np.ceil(rules.min_gap_minutes * 60))
    widest = max(0, slot - visit)
    order, jitter = None, 0
    # Wide jitter first (least predictable); narrow it if the gaps cannot be kept with it.
    for j in sorted({widest, widest // 2, widest // 4, max(0, min(widest, slot - gap)), 0}, reverse=True):
        sep = max(1, -(-(gap + j) // slot))
        order = _slots(team.hotspots, n, sep, rng)
        if order is not None:
            jitter = j
            break
    begin = datetime.combine(day, datetime.min.time()) + timedelta(hours=shift.start_hour)
    if order is None:  # few visits, most to one spot: equal slots cannot keep the gaps
        return _packed(team, shift, day, begin, visit, gap, rng)
    # One random shift of the whole day keeps every gap and still moves the first visit off the hour.
    shift_all = int(rng.integers(0, widest - jitter + 1))
    visits = []
    for i, u in enumerate(order):
        if u < 0:
            continue
        offset = shift_all + i * slot + (int(rng.integers(0, jitter + 1)) if jitter > 0 else 0)
        start = begin + timedelta(seconds=offset)
        visits.append(Visit(team.team_id, day, len(visits) + 1, u, start, start + timedelta(seconds=visit)))
    return visits


def _packed(team: Team, shift: Shift, day: date, begin: datetime, visit: int, gap: int,
            rng: np.random.Generator) -> list[Visit]:  # fmt: skip
    """Visits one after another, each to a random spot that is due, waiting when none is."""
    end = int(shift.minutes * 60)
    left = {u: v for u, v in team.hotspots}
    last: dict[int, int] = {}
    t, out = 0, []
    while any(left.values()):
        ready = [u for u, v in left.items() if v > 0 and t - last.get(u, -(10**9)) >= gap]
        if not ready:
            t = min(last[u] + gap for u, v in left.items() if v > 0)
            continue
        u = ready[int(rng.integers(0, len(ready)))]
        if t + visit > end:
            raise ValueError(f"team {team.team_id}: its visits do not fit in the {shift.name} shift")
        start = begin + timedelta(seconds=t)
        out.append(Visit(team.team_id, day, len(out) + 1, u, start, start + timedelta(seconds=visit)))
        left[u] -= 1
        last[u] = t
        t += visit
    return out


def schedule(plan: PatrolPlan, week_start: date, *, seed: int, days: int = 7) -> list[Visit]:
    """Every team's visits for ``days`` days from ``week_start``."""
    rng = np.random.default_rng(seed)
    out: list[Visit] = []
    for d in range(days):
        day = week_start + timedelta(days=d)
        for team in plan.teams:
            out.extend(team_day(team, plan.rules.shift(team.shift), day, plan.rules, rng))
    return out
