"""Visits by day: spread each hot spot's weekly visits over the days of the week by its risk on each day.

The patrol model (plan/patrol.py) chooses each team's hot spots and its visits per shift from each unit's
harm in that shift over the whole week, so its pattern is the same every day. Where the store holds
timestamped events, the plan's risk by shift (plan/shiftrisk.py) also says how a unit's harm in a shift
falls over the days: a night-time economy street on Fridays and Saturdays, a market on its market days.
This module keeps what the model chose (each team's hot spots and each one's visits over the week: 7 times
its visits per shift) and only moves visits between days, so a hot spot gets more visits on its riskier days
and none on a day when its risk is low.

For one team, the visits of each hot spot ``u`` over the week are shared out between the days so as to
prevent the most expected harm under the planner's own dosage-response (the ``k``-th visit to ``u`` in the
shift of day ``d`` prevents ``harm[u, d] * effect * step[k]``, with ``step`` falling by ``Rules.decay``:
the same model the patrol plan maximises, applied per day instead of per week). Subject to:

- each hot spot's visits over the week unchanged;
- each day's visits of the team within its capacity per shift (``PatrolArea.capacity``, or its daily load
  from the model where that is higher);
- at most ``Rules.max_visits`` visits to one hot spot in one shift (the minimum gap between them).

This is a transportation problem (hot spots supply visits, days take them, a column per possible ``k``-th
visit), whose constraint matrix is totally unimodular: its LP optimum at a vertex is whole numbers, so
HiGHS' simplex solves it exactly. A tiny bonus on the model's own daily pattern breaks ties towards it, so a
hot spot whose risk is the same every day keeps its daily visits.

Kept as in the model: a hot spot shared by two teams of one patrol area and shift keeps its daily visits
(their timetables are made together and must keep the gap across both), the teams' other hot spots spread
around it; and (said in :attr:`DayPlan.kept`) a team whose days, so moved, would not fit in the shift with
the gaps kept (``patrol.packed_minutes``), and the teams of an area and shift whose days cannot be timed
together (checked with the schedule's own :func:`schedule.area_day`). Without risk by day (no timestamped events) no day plan is made and every day
repeats the model's pattern, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from scipy.optimize import linprog

from safestreets.errors import ParameterError
from safestreets.plan.patrol import PatrolPlan, Team, packed_minutes, walking_order
from safestreets.plan.resources import Rules
from safestreets.plan.schedule import area_day

#: Bonus per visit on the model's own daily pattern, as a share of the team's largest benefit per visit:
#: enough to break ties between equally good days, far too small to outweigh any difference in risk.
TIE_BREAK = 1e-7

Load = list[tuple[int, int]]  # (unit index, visits), as Team.hotspots

#: Any date: the timing check of :func:`spread_days` times a day it then throws away.
DAY0 = date(2024, 1, 1)


@dataclass
class DayPlan:
    """Each team's hot spots and visits for each of the 7 days (in the team's walking order, hot spots
    without a visit that day left out), and what the spreading achieved."""

    loads: dict[str, list[Load]]
    kept: list[str] = field(default_factory=list)  # teams left on the model's daily pattern, and why
    stats: dict[str, Any] = field(default_factory=dict)

    def team_day(self, team: Team, day: int) -> Team:
        """``team`` with its hot spots and visits of ``day`` (0 = the plan's first day)."""
        loads = self.loads.get(team.team_id)
        if loads is None:
            return team
        return Team(team.team_id, team.home, team.shift, team.area, loads[day % 7])

    def describe(self) -> dict[str, Any]:
        return {"method": "each hot spot's weekly visits spread over the days by its expected harm on each "
                          "day (dosage-response, per team within its capacity per shift)",
                "teams_kept_on_daily_pattern": self.kept, **self.stats}  # fmt: skip


def steps(rules: Rules, s: int) -> np.ndarray:
    """Share of a shift's harm the 1st, 2nd, ... visit prevents (as ``patrol.visit_benefits``)."""
    shift = rules.shifts[s]
    k = rules.max_visits(shift)
    cum = np.minimum(1.0, rules.protected_share(shift) * np.cumsum(rules.decay ** np.arange(k)))
    return rules.effect * np.diff(np.concatenate([[0.0], cum]))


def spread_team(weekly: dict[int, int], daily: dict[int, int], harm: np.ndarray, step: np.ndarray,
                capacity: np.ndarray) -> dict[int, np.ndarray] | None:  # fmt: skip
    """Visits per day (7,) for each hot spot of one team: ``weekly`` visits over the week per unit, its
    ``daily`` pattern from the model (for ties), ``harm`` (n_units, 7) in the team's shift, ``step`` the
    benefit share of each k-th visit in a shift, ``capacity`` (7,) visits the team can make each day.
    None if no allocation exists (cannot happen when the model's pattern fits) or the solver fails."""
    units = [u for u, w in weekly.items() if w > 0]
    if not units:
        return {}
    kmax = len(step)
    cols: list[tuple[int, int, int]] = []  # (unit position, day, k)
    gain: list[float] = []
    scale = max(float(harm[units].max()) * float(step[0]), 1e-12)
    for i, u in enumerate(units):
        for d in range(7):
            for k in range(min(kmax, weekly[u])):
                cols.append((i, d, k))
                gain.append(float(harm[u, d]) * float(step[k]) + (TIE_BREAK * scale if k < daily.get(u, 0) else 0.0))
    n = len(cols)
    a_eq = np.zeros((len(units), n))
    a_ub = np.zeros((7, n))
    for j, (i, d, _) in enumerate(cols):
        a_eq[i, j] = 1.0
        a_ub[d, j] = 1.0
    res = linprog(-np.asarray(gain), A_ub=a_ub, b_ub=capacity.astype("float64"), A_eq=a_eq,
                  b_eq=np.array([weekly[u] for u in units], dtype="float64"), bounds=(0.0, 1.0),
                  method="highs-ds")  # fmt: skip
    if res.status != 0 or res.x is None:
        return None
    x = np.asarray(res.x)
    if np.abs(x - np.round(x)).max() > 1e-6:  # a vertex of a unimodular problem: never, but never trust it
        return None
    out = {u: np.zeros(7, dtype=int) for u in units}
    for j, (i, d, _) in enumerate(cols):
        out[units[i]][d] += round(float(x[j]))
    return out


def spread_days(plan: PatrolPlan, by_slot: np.ndarray) -> DayPlan:
    """Each team's visits for each day of the week from ``by_slot`` (n_units, 7, n_shifts), the expected
    harm per unit in each shift of each day (``ShiftRisk.by_slot``); see the module docstring."""
    rules = plan.rules
    inp = plan.input
    shift_index = {s.name: i for i, s in enumerate(rules.shifts)}
    groups: dict[tuple[int, str], list[Team]] = {}
    for team in plan.teams:
        groups.setdefault((team.area, team.shift), []).append(team)
    loads: dict[str, list[Load]] = {}
    kept: list[str] = []
    total = np.zeros(6)  # as ``figures`` below, over the teams spread
    trial = np.random.default_rng(0)  # for the timing check only: the plan's own times are drawn later
    for (area, shift_name), teams in groups.items():
        s = shift_index[shift_name]
        shift = rules.shifts[s]
        owners: dict[int, set[str]] = {}
        for t in teams:
            for u, v in t.hotspots:
                if v > 0:
                    owners.setdefault(u, set()).add(t.team_id)
        # A hot spot shared by two teams keeps its daily visits (their timetables must keep the gap across
        # both); the team's other hot spots are spread around it.
        shared = {u for u, o in owners.items() if len(o) > 1}
        harm = by_slot[:, :, s]
        step = steps(rules, s)
        cum = np.concatenate([[0.0], np.cumsum(step)])
        mine: dict[str, list[Load]] = {}
        figures = np.zeros(6)  # model_hd, new_hd, uniform_prev, new_prev, spot_days, empty_days
        for t in teams:
            daily: dict[int, int] = {}
            for u, v in t.hotspots:
                if v > 0:
                    daily[u] = daily.get(u, 0) + int(v)
            free = {u: v for u, v in daily.items() if u not in shared}
            fixed = sum(v for u, v in daily.items() if u in shared)
            cap = max(int(plan.areas[area].capacity[s]), sum(daily.values())) - fixed
            got = spread_team({u: 7 * v for u, v in free.items()}, free, harm, step, np.full(7, cap))
            if got is None:
                kept.append(f"{t.team_id}: no spread found")
                continue
            got.update({u: np.full(7, v) for u, v in daily.items() if u in shared})
            order = walking_order(inp, list(got))
            days = [[(u, int(got[u][d])) for u in order if got[u][d] > 0] for d in range(7)]
            if any(packed_minutes(day, rules) > shift.minutes for day in days):
                kept.append(f"{t.team_id}: its busiest days would not fit the shift with the gaps kept")
                continue
            mine[t.team_id] = days
            for u, per_day in got.items():
                h = harm[u]
                figures += (float(daily[u] * h.sum()), float((per_day * h).sum()),
                            float((h * cum[min(daily[u], len(step))]).sum()),
                            float((h * cum[np.minimum(per_day, len(step))]).sum()), 7, int((per_day == 0).sum()))  # fmt: skip
        # Teams of one area and shift are timed together: check each day can be timed with the gaps kept
        # across them (a random order, then the tightest packing, as the schedule does), or keep them all.
        day_plan = DayPlan(mine)
        try:
            for d in range(7):
                area_day([day_plan.team_day(t, d) for t in teams], shift, DAY0, rules, trial)
        except ParameterError:
            kept += [f"{t}: its area's teams could not be timed together day by day" for t in mine]
            continue
        loads.update(mine)
        total += figures
    model_hd, new_hd, uniform_prev, new_prev = (float(v) for v in total[:4])
    spot_days, empty_days = int(total[4]), int(total[5])
    stats = {
        "teams_spread": len(loads), "hotspot_days": spot_days,
        "hotspot_days_without_visits": empty_days,
        "share_hotspot_days_without_visits": empty_days / spot_days if spot_days else 0.0,
        # visits weighted by the harm of their hot spot, shift and day: the day plan's against the model's
        # same pattern every day (1.0: no better at putting visits where and when the harm is)
        "visit_harm_ratio": new_hd / model_hd if model_hd > 0 else 1.0,
        "prevented_week": new_prev, "prevented_week_same_every_day": uniform_prev,
    }  # fmt: skip
    return DayPlan(loads, kept, stats)
