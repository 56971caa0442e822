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


def team_day(team: Team, shift: Shift, day: date, rules: Rules, rng: np.random.Generator,
             taken: dict[int, list[datetime]] | None = None) -> list[Visit]:  # fmt: skip
    """One team's visits for one day: random slots and random starts within them, gaps kept.

    ``taken`` holds the starts of other teams' visits to the same hot spots in the same shift (a hot spot
    split between two teams), which keep the gap too. Times are whole seconds so that the gap rule holds
    exactly, not merely to the nearest minute."""
    taken = taken if taken is not None else {}
    n = sum(v for _, v in team.hotspots)
    if n == 0:
        return []
    slot = int(shift.minutes * 60) // n
    visit = round(rules.visit_minutes * 60)
    gap = int(np.ceil(rules.min_gap_minutes * 60))
    widest = max(0, slot - visit)
    begin = datetime.combine(day, datetime.min.time()) + timedelta(hours=shift.start_hour)
    shared = any(taken.get(u) for u, _ in team.hotspots)
    for _ in range(50 if shared else 1):
        order, jitter = None, 0
        # Wide jitter first (least predictable); narrow it if the gaps cannot be kept with it.
        for j in sorted({widest, widest // 2, widest // 4, max(0, min(widest, slot - gap)), 0}, reverse=True):
            sep = max(1, -(-(gap + j) // slot))
            order = _slots(team.hotspots, n, sep, rng)
            if order is not None:
                jitter = j
                break
        if order is None:  # few visits, most to one spot: equal slots cannot keep the gaps
            break
        # One random shift of the whole day keeps every gap and still moves the first visit off the hour.
        shift_all = int(rng.integers(0, widest - jitter + 1))
        visits = []
        for i, u in enumerate(order):
            if u < 0:
                continue
            offset = shift_all + i * slot + (int(rng.integers(0, jitter + 1)) if jitter > 0 else 0)
            start = begin + timedelta(seconds=offset)
            end = start + timedelta(seconds=visit)
            visits.append(Visit(team.team_id, day, len(visits) + 1, u, start, end))
        if all(abs((v.start - t).total_seconds()) >= gap for v in visits for t in taken.get(v.unit, [])):
            break
    else:
        visits = _packed(team, shift, day, begin, visit, gap, rng, taken)
    if order is None:
        visits = _packed(team, shift, day, begin, visit, gap, rng, taken)
    for v in visits:
        taken.setdefault(v.unit, []).append(v.start)
    return visits


def _packed(team: Team, shift: Shift, day: date, begin: datetime, visit: int, gap: int,
            rng: np.random.Generator, taken: dict[int, list[datetime]]) -> list[Visit]:  # fmt: skip
    """Visits one after another from a random start, each to a random spot among those due with the most
    visits left, waiting when none is due; the start comes earlier if the visits do not fit."""
    end = int(shift.minutes * 60)
    need = max(sum(v for _, v in team.hotspots) * visit, max((v - 1) * gap + visit for _, v in team.hotspots))
    slack = max(0, end - need)
    for latest in (slack, slack // 2, slack // 4, 0):
        out = _packed_from(team, day, begin, visit, gap, rng, taken, int(rng.integers(0, latest + 1)), end)
        if out is not None:
            return out
    raise ValueError(f"team {team.team_id}: its visits do not fit in the {shift.name} shift")


def _packed_from(team: Team, day: date, begin: datetime, visit: int, gap: int, rng: np.random.Generator,
                 taken: dict[int, list[datetime]], t: int, end: int) -> list[Visit] | None:  # fmt: skip
    left = {u: v for u, v in team.hotspots}
    busy = {u: [int((s - begin).total_seconds()) for s in taken.get(u, [])] for u in left}
    out: list[Visit] = []
    while any(left.values()):
        ready = [u for u, v in left.items() if v > 0 and all(abs(t - b) >= gap for b in busy[u])]
        if not ready:
            t = min(b + gap for u, v in left.items() if v > 0 for b in busy[u] if b + gap > t)
            continue
        most = max(left[u] for u in ready)
        ready = [u for u in ready if left[u] == most]
        u = ready[int(rng.integers(0, len(ready)))]
        if t + visit > end:
            return None
        start = begin + timedelta(seconds=t)
        out.append(Visit(team.team_id, day, len(out) + 1, u, start, start + timedelta(seconds=visit)))
        left[u] -= 1
        busy[u].append(t)
        t += visit
    return out


def schedule(plan: PatrolPlan, week_start: date, *, seed: int, days: int = 7) -> list[Visit]:
    """Every team's visits for ``days`` days from ``week_start``. A day is drawn again if a hot spot split
    between teams cannot keep its gap."""
    rng = np.random.default_rng(seed)
    out: list[Visit] = []
    for d in range(days):
        day = week_start + timedelta(days=d)
        for attempt in range(20):
            taken: dict[str, dict[int, list[datetime]]] = {}  # per shift: starts at each hot spot so far
            try:
                drawn = []
                for team in plan.teams:
                    shift = plan.rules.shift(team.shift)
                    drawn.extend(
                        team_day(team, shift, day, plan.rules, rng, taken.setdefault(shift.name, {}))
                    )
            except ValueError:
                if attempt == 19:
                    raise
                continue
            out.extend(drawn)
            break
    return out
