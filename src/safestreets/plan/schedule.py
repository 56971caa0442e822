"""Visit times: turn a plan's daily pattern into a different, unpredictable timetable for each day.

The teams sharing a patrol area in a shift get one common timeline cut into equal slots (as many as the
busiest team's visits); visits go to slots at random, with the visits to one hot spot (by any team) far
enough apart that, wherever in its slot each starts, two visits to it are at least
``Rules.min_gap_minutes`` apart. Times are seeded, so a stored plan can be reproduced exactly.
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


def _draw(
    teams: list[Team], n_slots: int, sep: int, rng: np.random.Generator, tries: int = 30
) -> list[list[int]] | None:
    """Random slot -> unit assignments for teams sharing a patrol area and shift: slot ``i`` is the same
    time for every team, and visits to one unit (by any team) are at least ``sep`` slots apart."""
    totals: dict[int, int] = {}
    for t in teams:
        for u, v in t.hotspots:
            totals[u] = totals.get(u, 0) + v
    if any((v - 1) * sep + 1 > n_slots for v in totals.values()):
        return None  # a spot's visits cannot fit this far apart: no draw can succeed
    for _ in range(tries):
        left = [{u: v for u, v in t.hotspots} for t in teams]
        remaining = [sum(t_left.values()) for t_left in left]
        last: dict[int, int] = {}
        out = [[-1] * n_slots for _ in teams]
        for slot in range(n_slots):
            busy: set[int] = set()
            for ti in rng.permutation(len(teams)):
                if remaining[ti] == 0:
                    continue
                # a team with fewer visits than slots idles at random, so its visits spread over the shift
                if remaining[ti] < n_slots - slot and rng.random() >= remaining[ti] / (n_slots - slot):
                    continue
                ready = [u for u, v in left[ti].items()
                         if v > 0 and u not in busy and slot - last.get(u, -(10**9)) >= sep]  # fmt: skip
                if not ready:
                    continue
                # weighted by visits left, squared: spots with many visits go early enough to fit
                weights = [left[ti][u] ** 2 for u in ready]
                pick, i = rng.random() * sum(weights), 0
                while i < len(ready) - 1 and pick >= weights[i]:
                    pick -= weights[i]
                    i += 1
                u = ready[i]
                out[ti][slot] = u
                left[ti][u] -= 1
                remaining[ti] -= 1
                last[u] = slot
                busy.add(u)
        if not any(remaining):
            return out
    return None


def area_day(
    teams: list[Team], shift: Shift, day: date, rules: Rules, rng: np.random.Generator
) -> list[Visit]:
    """The visits of the teams sharing one patrol area in one shift, for one day: random slots on a common
    timeline and random starts within them, gaps kept between any two visits to one hot spot.

    Times are whole seconds so that the gap rule holds exactly, not merely to the nearest minute."""
    n = max((sum(v for _, v in t.hotspots) for t in teams), default=0)
    if n == 0:
        return []
    slot = int(shift.minutes * 60) // n
    visit = round(rules.visit_minutes * 60)
    gap = int(np.ceil(rules.min_gap_minutes * 60))
    widest = max(0, slot - visit)
    begin = datetime.combine(day, datetime.min.time()) + timedelta(hours=shift.start_hour)
    # Wide jitter first (least predictable); narrow it if the gaps cannot be kept with it.
    for jitter in sorted(
        {widest, widest // 2, widest // 4, max(0, min(widest, slot - gap)), 0}, reverse=True
    ):
        sep = max(1, -(-(gap + jitter) // slot))
        drawn = _draw(teams, n, sep, rng)
        if drawn is None:
            continue
        # One random shift of the whole timeline keeps every gap and moves the first visit off the hour.
        shift_all = int(rng.integers(0, widest - jitter + 1))
        visits = []
        for team, order in zip(teams, drawn, strict=True):
            seq = 0
            for i, u in enumerate(order):
                if u < 0:
                    continue
                seq += 1
                start = begin + timedelta(seconds=shift_all + i * slot + int(rng.integers(0, jitter + 1)))
                visits.append(Visit(team.team_id, day, seq, u, start, start + timedelta(seconds=visit)))
        return visits
    # few visits, most to one spot: equal slots cannot keep the gaps, so pack them
    end = int(shift.minutes * 60)
    for latest in (end // 4, end // 16, 0):
        visits = _packed(teams, day, begin, visit, gap, end, rng, latest)
        if visits is not None:
            return visits
    raise ValueError(
        f"teams {', '.join(t.team_id for t in teams)}: their visits do not fit in the "
        f"{shift.name} shift with {rules.min_gap_minutes:g} minutes between visits to one hot spot"
    )


def _packed(teams: list[Team], day: date, begin: datetime, visit: int, gap: int, end: int,
            rng: np.random.Generator, latest: int) -> list[Visit] | None:  # fmt: skip
    """Visits one after another on each team's clock (each starting at a random time up to ``latest``),
    the team that is free first going next, to a due hot spot with the most visits left; a team with
    nothing due waits until something is. None if a visit would end after the shift."""
    left = [{u: v for u, v in t.hotspots} for t in teams]
    clock = [int(rng.integers(0, latest + 1)) for _ in teams]
    booked: dict[int, list[int]] = {}
    seq = [0] * len(teams)
    out: list[Visit] = []

    def free_at(u: int, t: int) -> int:
        """The first time from ``t`` at which hot spot ``u`` is at least the gap from all its visits."""
        for c in sorted({t, *(b + gap for b in booked.get(u, []) if b + gap > t)}):
            if all(abs(c - b) >= gap for b in booked.get(u, [])):
                return c
        return max(booked[u]) + gap

    while any(any(d.values()) for d in left):
        ti = min((i for i in range(len(teams)) if any(left[i].values())), key=lambda i: (clock[i], i))
        t = clock[ti]
        due = [u for u, v in left[ti].items() if v > 0 and free_at(u, t) == t]
        if not due:
            clock[ti] = min(free_at(u, t) for u, v in left[ti].items() if v > 0)
            continue
        most = max(left[ti][u] for u in due)
        due = [u for u in due if left[ti][u] == most]
        u = due[int(rng.integers(0, len(due)))]
        if t + visit > end:
            return None
        seq[ti] += 1
        start = begin + timedelta(seconds=t)
        out.append(Visit(teams[ti].team_id, day, seq[ti], u, start, start + timedelta(seconds=visit)))
        left[ti][u] -= 1
        booked.setdefault(u, []).append(t)
        clock[ti] = t + visit
    return out


def schedule(plan: PatrolPlan, week_start: date, *, seed: int, days: int = 7) -> list[Visit]:
    """Every team's visits for ``days`` days from ``week_start``, teams that share a patrol area and shift
    timed together."""
    rng = np.random.default_rng(seed)
    groups: dict[tuple[int, str], list[Team]] = {}
    for team in plan.teams:
        groups.setdefault((team.area, team.shift), []).append(team)
    out: list[Visit] = []
    for d in range(days):
        day = week_start + timedelta(days=d)
        for (_, shift_name), teams in groups.items():
            out.extend(area_day(teams, plan.rules.shift(shift_name), day, plan.rules, rng))
    return out
