"""Hot spot patrol allocation: which teams patrol which compact areas, and how many visits each hot spot
gets per shift, to prevent the most expected harm under the rules.

The plan is a daily pattern for one week: per shift, each team works one patrol area (all its hot spots
within ``Rules.patrol_radius_m`` of the area's centre, inside one BCU) and makes a number of 15-minute
visits there. ``days.py`` moves each hot spot's visits between the days by its risk on each day (where
events have times), and ``schedule.py`` turns each day's visits into times that differ from day to day.

Dosage-response (documented in docs/planning.md): a visit protects a hot spot for the visit plus a residual
deterrence period (Koper 1995: 30 minutes), i.e. a share ``p`` of the shift; while protected, a share
``effect`` of the expected harm is prevented; the k-th visit in one shift counts ``decay**(k-1)`` of the
first (offenders adapt, and random timing overlaps). Expected harm prevented per week by ``n`` daily visits
in shift ``s`` at a hot spot with weekly expected harm ``H`` and shift share ``w_s``:

    H * w_s * effect * min(1, p * (1 + decay + ... + decay**(n-1)))

The objective is concave in visits, so the MILP needs only one binary per (hot spot, shift, visit number).
Solved with HiGHS; a greedy heuristic (exact when the per-BCU share and area caps do not bind) gives a
warm start and, for very large cases, the plan itself, with the gap measured against the LP bound.

Why one module of some 800 lines: the MILP's matrices, the greedy heuristic and the gap are all built over
the same candidate arrays and caps; split apart, each half would reach into the other's internals.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import scipy.sparse as sp

from safestreets.errors import NoDataError, ParameterError, SafestreetsError, unknown
from safestreets.plan.resources import POOL, Resources, Rules, Shift

SOLVERS = ("auto", "milp", "heuristic")


@dataclass
class PatrolInput:
    """Everything the planner needs about the places: plain arrays, one row per unit."""

    ids: np.ndarray  # str
    x: np.ndarray
    y: np.ndarray
    bcu: np.ndarray  # str
    harm_week: np.ndarray  # expected harm per week
    #: Share of a day's harm in each of Rules.shifts, summing to 1: one row for every unit (n_shifts,), or
    #: each unit's own (n_units, n_shifts), from its time-of-week profile (plan/shiftrisk.py).
    shift_share: np.ndarray
    area: np.ndarray | None = None  # neighbourhood code per unit for the multi-week cap (default: unit)
    past_visits: dict[str, float] = field(default_factory=dict)  # visits per neighbourhood, earlier weeks
    past_bcu_visits: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.ids)
        for name in ("x", "y", "bcu", "harm_week"):
            if len(getattr(self, name)) != n:
                raise ParameterError(f"{name} has {len(getattr(self, name))} rows, ids has {n}")
        self.harm_week = np.clip(np.asarray(self.harm_week, dtype="float64"), 0.0, None)
        self.bcu = np.asarray([str(b) for b in self.bcu], dtype=object)
        if self.area is None:
            self.area = np.asarray(self.ids, dtype=object)
        share = np.asarray(self.shift_share, dtype="float64")
        if share.ndim == 2 and share.shape[0] != n:
            raise ParameterError(f"shift shares have {share.shape[0]} rows, ids has {n}")
        if share.ndim not in (1, 2) or share.min(initial=0.0) < 0 or not np.allclose(share.sum(axis=-1), 1.0):
            raise ParameterError("shift shares must be non-negative and sum to 1 (per unit)")
        self.shift_share = share

    def shares(self) -> np.ndarray:
        """(n_units, n_shifts): each unit's shift shares (the same row for all where one was given)."""
        share = self.shift_share
        return share if share.ndim == 2 else np.broadcast_to(share, (len(self.ids), len(share)))

    def mean_shift_share(self) -> np.ndarray:
        """The shift shares of all the harm together (weighted by each unit's weekly harm)."""
        if self.shift_share.ndim == 1:
            return self.shift_share
        w = self.harm_week
        return (w @ self.shift_share) / w.sum() if w.sum() > 0 else self.shift_share.mean(axis=0)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for a in (self.x, self.y, self.harm_week, self.shift_share):
            h.update(np.ascontiguousarray(a, dtype="float64").tobytes())
        h.update("|".join(map(str, self.ids)).encode())
        return h.hexdigest()[:16]


@dataclass
class PatrolArea:
    bcu: str
    members: np.ndarray  # unit indices, highest harm first
    cx: float
    cy: float
    travel_minutes: float  # typical walk between two of its hot spots
    capacity: np.ndarray  # visits one team makes per shift, per shift


@dataclass
class Team:
    team_id: str
    home: str  # its BCU, or "*" for the pool
    shift: str
    area: int  # patrol area index
    hotspots: list[tuple[int, int]]  # (unit index, visits per shift), in walking order


@dataclass
class PatrolPlan:
    input: PatrolInput
    rules: Rules
    resources: Resources
    areas: list[PatrolArea]
    candidates: np.ndarray  # unit indices considered
    visits: np.ndarray  # (n_units, n_shifts) visits per day
    teams: list[Team]
    objective: float  # expected harm prevented per week (dosage model)
    bound: float  # upper bound on it (LP relaxation or MILP dual bound)
    solver: str
    status: str
    seconds: float
    params: dict[str, Any]

    @property
    def gap(self) -> float:
        return 0.0 if self.bound <= 0 else max(0.0, (self.bound - self.objective) / self.bound)

    def harm_in_patrolled(self) -> float:
        """Expected weekly harm in the hot spot-shifts that get at least one visit."""
        share = self.input.shares()
        return float((self.input.harm_week[:, None] * share * (self.visits > 0)).sum())

    def by_bcu(self) -> list[dict[str, Any]]:
        rows = []
        prevented = prevented_per_unit(self.input, self.rules, self.visits)
        for b in sorted(set(self.input.bcu[self.candidates]) | set(self.resources.bcus())):
            mask = self.input.bcu == b
            rows.append({
                "bcu": b,
                "teams": sum(1 for t in self.teams if self.areas[t.area].bcu == b),
                "hotspots": int((self.visits[mask].sum(axis=1) > 0).sum()),
                "visits_per_day": int(self.visits[mask].sum()),
                "harm_week": float(self.input.harm_week[mask].sum()),
                "harm_prevented_week": float(prevented[mask].sum()),
            })  # fmt: skip
        return rows


# --- dosage-response -------------------------------------------------------------------------------------


def visit_benefits(inp: PatrolInput, rules: Rules) -> list[np.ndarray]:
    """Per shift: (n_units, K) expected harm prevented per week by the k-th daily visit."""
    out = []
    for s, shift in enumerate(rules.shifts):
        k = rules.max_visits(shift)
        p = rules.protected_share(shift)
        cum = np.minimum(1.0, p * np.cumsum(rules.decay ** np.arange(k)))
        step = np.diff(np.concatenate([[0.0], cum]))
        out.append((inp.harm_week * inp.shift_share[..., s] * rules.effect)[:, None] * step[None, :])
    return out


def prevented_per_unit(inp: PatrolInput, rules: Rules, visits: np.ndarray) -> np.ndarray:
    """Expected harm prevented per week at each unit by a daily visit pattern (n_units, n_shifts)."""
    total = np.zeros(len(inp.ids))
    for s, b in enumerate(visit_benefits(inp, rules)):
        n = np.clip(visits[:, s].astype(int), 0, b.shape[1])
        cum = np.concatenate([np.zeros((len(b), 1)), np.cumsum(b, axis=1)], axis=1)
        total += cum[np.arange(len(b)), n]
    return total


def prevented(inp: PatrolInput, rules: Rules, visits: np.ndarray) -> float:
    return float(prevented_per_unit(inp, rules, visits).sum())


# --- candidates and patrol areas -------------------------------------------------------------------------


def nominal_capacity(rules: Rules, travel_minutes: float) -> np.ndarray:
    """Visits one team can make in each shift, given the walk between hot spots."""
    return np.array([
        max(1, int(rules.patrol_share * s.minutes // (rules.visit_minutes + travel_minutes)))
        for s in rules.shifts
    ])  # fmt: skip


def _pool_per_bcu(resources: Resources, rules: Rules, n_bcu: int) -> np.ndarray:
    return np.array([resources.get(POOL, s.name) for s in rules.shifts], dtype="float64") / max(n_bcu, 1)


def choose_candidates(inp: PatrolInput, resources: Resources, rules: Rules) -> np.ndarray:
    """The units worth considering: per BCU, the riskiest ones, enough to fill its teams several times."""
    cap = nominal_capacity(rules, rules.patrol_radius_m / 1000 / rules.speed_kmh * 60)
    kmax = min(rules.max_visits(s) for s in rules.shifts)
    bcus = sorted(set(inp.bcu) - {""})
    pool = _pool_per_bcu(resources, rules, len(bcus))
    chosen = []
    for b in bcus:
        idx = np.flatnonzero((inp.bcu == b) & (inp.harm_week > 0))
        if len(idx) == 0:
            continue
        teams = np.array([resources.get(b, s.name) for s in rules.shifts], dtype="float64") + 2 * pool
        need = int(np.ceil(rules.candidates_factor * float((teams * cap).max()) / kmax))
        if need == 0:
            continue
        need = max(need, 10)
        # The riskiest in each shift: with each unit's own shift shares, a night-time street is a candidate
        # for the night shift though a daytime one has more harm over the day (one set of shares: one order).
        shares = inp.shares()
        for s in range(len(rules.shifts)) if inp.shift_share.ndim == 2 else [0]:
            harm = inp.harm_week[idx] * (shares[idx, s] if inp.shift_share.ndim == 2 else 1.0)
            chosen.append(idx[np.lexsort((idx, -harm))][:need])
    return np.unique(np.concatenate(chosen)) if chosen else np.zeros(0, dtype="int64")


def patrol_areas(inp: PatrolInput, candidates: np.ndarray, rules: Rules) -> list[PatrolArea]:
    """Group candidates into compact areas within each BCU: the riskiest free hot spot seeds an area and
    takes every free candidate within the patrol radius of it."""
    areas: list[PatrolArea] = []
    r = rules.patrol_radius_m
    for b in sorted(set(inp.bcu[candidates])):
        idx = candidates[inp.bcu[candidates] == b]
        idx = idx[np.lexsort((idx, -inp.harm_week[idx]))]
        free = np.ones(len(idx), dtype=bool)
        px, py = inp.x[idx], inp.y[idx]
        for i in range(len(idx)):
            if not free[i]:
                continue
            near = free & ((px - px[i]) ** 2 + (py - py[i]) ** 2 <= r * r)
            members = idx[near]
            free &= ~near
            mx, my = inp.x[members], inp.y[members]
            if len(members) > 1:
                d = np.hypot(mx[:, None] - mx[None, :], my[:, None] - my[None, :])
                walk = float(d.sum() / (len(members) * (len(members) - 1)))
            else:
                walk = 0.0
            travel = max(1.0, walk / 1000 / rules.speed_kmh * 60)
            areas.append(PatrolArea(b, members, float(px[i]), float(py[i]), travel,
                                    nominal_capacity(rules, travel)))  # fmt: skip
    return areas


# --- the model -------------------------------------------------------------------------------------------


@dataclass
class _Model:
    """Column layout: y[u, s, k] binaries, then n[p, s] (local teams), then m[p, s] (pool teams)."""

    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    a: sp.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    y_unit: np.ndarray  # unit index of each y column
    y_shift: np.ndarray
    n_y: int
    n_cols_n: int
    area_shift: np.ndarray  # (p, s) of each n column


def _build(inp: PatrolInput, resources: Resources, rules: Rules, areas: list[PatrolArea]) -> _Model:
    S = len(rules.shifts)
    benefits = visit_benefits(inp, rules)
    # y columns
    y_unit, y_shift, y_cost, y_area = [], [], [], []
    for p, a in enumerate(areas):
        for s in range(S):
            b = benefits[s][a.members]  # (m, K)
            m, k = b.shape
            y_unit.append(np.repeat(a.members, k))
            y_shift.append(np.full(m * k, s))
            y_cost.append(b.ravel())
            y_area.append(np.full(m * k, p * S + s))
    yu = np.concatenate(y_unit) if y_unit else np.zeros(0, dtype="int64")
    ys = np.concatenate(y_shift) if y_shift else np.zeros(0, dtype="int64")
    yc = np.concatenate(y_cost) if y_cost else np.zeros(0)
    ya = np.concatenate(y_area) if y_area else np.zeros(0, dtype="int64")
    n_y = len(yu)
    P = len(areas)
    pool = np.array([resources.get(POOL, s.name) for s in rules.shifts])
    has_pool = bool(pool.sum() > 0)
    n_n = P * S
    n_cols = n_y + n_n * (2 if has_pool else 1)
    area_shift = np.array([(p, s) for p in range(P) for s in range(S)], dtype="int64").reshape(-1, 2)
    # bounds on team columns: at most the teams the area could use
    max_teams = np.array([
        int(np.ceil(len(a.members) * rules.max_visits(rules.shifts[s]) / a.capacity[s]))
        for a in areas for s in range(S)
    ], dtype="float64")  # fmt: skip
    local_avail = np.array(
        [resources.get(areas[p].bcu, rules.shifts[s].name) for p, s in area_shift], dtype="float64"
    )
    upper = np.concatenate(
        [np.ones(n_y), np.minimum(max_teams, local_avail)]
        + ([np.minimum(max_teams, pool[area_shift[:, 1]])] if has_pool else [])
    )
    cost = np.concatenate([yc, np.zeros(n_cols - n_y)])
    rows, cols, vals, lo, hi = [], [], [], [], []
    r = 0

    def add(cs: np.ndarray, vs: np.ndarray, low: float, high: float) -> None:
        nonlocal r
        rows.append(np.full(len(cs), r))
        cols.append(cs)
        vals.append(vs)
        lo.append(low)
        hi.append(high)
        r += 1

    # capacity of each (area, shift): visits <= capacity * teams
    order = np.argsort(ya, kind="stable")
    starts = np.searchsorted(ya[order], np.arange(n_n + 1))
    for j in range(n_n):
        p, s = area_shift[j]
        ycols = order[starts[j] : starts[j + 1]]
        cap = float(areas[p].capacity[s])
        tcols = [n_y + j] + ([n_y + n_n + j] if has_pool else [])
        add(np.concatenate([ycols, tcols]), np.concatenate([np.ones(len(ycols)), np.full(len(tcols), -cap)]),
            -np.inf, 0.0)  # fmt: skip
    # A visit needs a team in its area: y <= n + m. Redundant for whole numbers, but it stops the LP
    # relaxation from spreading a sliver of a team over many areas' best visits, so the bound (and the
    # heuristic's reported gap) is far tighter.
    ycol = np.arange(n_y)
    parts = 3 if has_pool else 2
    rows.append(np.tile(r + ycol, parts))
    cols.append(np.concatenate([ycol, n_y + ya] + ([n_y + n_n + ya] if has_pool else [])))
    vals.append(np.concatenate([np.ones(n_y)] + [-np.ones(n_y)] * (parts - 1)))
    lo.extend([-np.inf] * n_y)
    hi.extend([0.0] * n_y)
    r += n_y
    # local teams per (BCU, shift)
    bcu_of_area = np.array([a.bcu for a in areas], dtype=object)
    for b in sorted(set(bcu_of_area)):
        for s in range(S):
            js = np.flatnonzero((bcu_of_area[area_shift[:, 0]] == b) & (area_shift[:, 1] == s))
            add(n_y + js, np.ones(len(js)), -np.inf, float(resources.get(b, rules.shifts[s].name)))
    if has_pool:
        for s in range(S):
            js = np.flatnonzero(area_shift[:, 1] == s)
            add(n_y + n_n + js, np.ones(len(js)), -np.inf, float(pool[s]))
    y_bcu = inp.bcu[yu]
    if rules.min_bcu_share > 0 and n_y:
        for b in sorted(set(bcu_of_area)):
            coef = np.where(y_bcu == b, 1.0, 0.0) - rules.min_bcu_share
            add(np.arange(n_y), coef, 0.0, np.inf)
    limits = area_limits(inp, resources, rules)
    y_nb = np.asarray(inp.area, dtype=object)[yu]
    for code, limit in limits.items():
        cs = np.flatnonzero(y_nb == code)
        if len(cs) and limit < len(cs):
            add(cs, np.ones(len(cs)), -np.inf, float(limit))
    a = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n_cols))
    integer = np.concatenate([np.ones(n_y, bool), np.ones(n_cols - n_y, bool)])
    return _Model(cost, np.zeros(n_cols), upper, integer, a, np.array(lo), np.array(hi), yu, ys, n_y, n_n,
                  area_shift)  # fmt: skip


def area_limits(inp: PatrolInput, resources: Resources, rules: Rules) -> dict[str, float]:
    """Daily visits each neighbourhood may take this week so that, over ``cap_weeks`` weeks, it receives at
    most ``cap_share`` of the visits its BCU's teams can make (a constant, so the cap never makes a plan
    infeasible)."""
    if rules.cap_share >= 1.0:
        return {}
    cap = nominal_capacity(rules, rules.patrol_radius_m / 1000 / rules.speed_kmh * 60)
    bcus = sorted(set(inp.bcu) - {""})
    pool = _pool_per_bcu(resources, rules, len(bcus))
    week_capacity = {
        b: 7.0 * float(((np.array([resources.get(b, s.name) for s in rules.shifts]) + pool) * cap).sum())
        for b in bcus
    }
    nb = np.asarray(inp.area, dtype=object)
    out: dict[str, float] = {}
    for code in set(nb[inp.harm_week > 0]):
        b = inp.bcu[np.flatnonzero(nb == code)[0]]
        window = week_capacity.get(b, 0.0) + inp.past_bcu_visits.get(b, 0.0)
        allowed_week = max(0.0, rules.cap_share * window - inp.past_visits.get(code, 0.0))
        out[code] = np.floor(allowed_week / 7.0 + 1e-9)
    return out


_BANNER_SHOWN = threading.Lock()
_banner_done = False


def _highs() -> highspy.Highs:
    """A silent HiGHS. Its first construction in a process prints a banner to file descriptor 1 before
    any option can turn output off, and a CLI's stdout is its result: that one construction writes to
    /dev/null instead."""
    global _banner_done
    with _BANNER_SHOWN:
        if _banner_done:
            h = highspy.Highs()
        else:
            sys.stdout.flush()
            saved = os.dup(1)
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 1)
                h = highspy.Highs()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
                os.close(devnull)
            _banner_done = True
    h.silent()
    return h


def _solve(model: _Model, *, relax: bool, time_limit: float, gap: float,
           start: np.ndarray | None = None) -> tuple[np.ndarray, float, float, str]:  # fmt: skip
    h = _highs()
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("threads", 1)
    lp = highspy.HighsLp()
    n = len(model.cost)
    lp.num_col_ = n
    lp.num_row_ = model.a.shape[0]
    lp.col_cost_ = model.cost
    lp.col_lower_ = model.lower
    lp.col_upper_ = model.upper
    inf = highspy.kHighsInf
    lp.row_lower_ = np.where(np.isinf(model.row_lower), -inf, model.row_lower)
    lp.row_upper_ = np.where(np.isinf(model.row_upper), inf, model.row_upper)
    csc = model.a.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = csc.indptr.astype("int32")
    lp.a_matrix_.index_ = csc.indices.astype("int32")
    lp.a_matrix_.value_ = csc.data.astype("float64")
    lp.sense_ = highspy.ObjSense.kMaximize
    if not relax:
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                           for i in model.integer]  # fmt: skip
    h.passModel(lp)
    if start is not None and not relax:
        sol = highspy.HighsSolution()
        sol.col_value = list(map(float, start))
        sol.value_valid = True
        h.setSolution(sol)
    h.run()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    values = np.asarray(h.getSolution().col_value, dtype="float64")
    if len(values) != n:
        raise SafestreetsError(
            f"the patrol model could not be solved ({status}): try a longer --time-limit or --solver heuristic"
        )
    obj = float(model.cost @ values)
    bound = obj if relax else float(info.mip_dual_bound)
    if not np.isfinite(bound):
        bound = obj
    return values, obj, bound, status


# --- the greedy heuristic --------------------------------------------------------------------------------


class _Greedy:
    """Teams to areas by marginal value, each team taking its area's best remaining visit slots.

    Exact for the local-team part when no cap binds: an area's value is concave in its number of teams, so
    taking the best marginal team each time is optimal. Caps are kept by skipping capped neighbourhoods."""

    def __init__(self, inp: PatrolInput, resources: Resources, rules: Rules, areas: list[PatrolArea],
                 model: _Model) -> None:  # fmt: skip
        self.rules, self.areas, self.model, self.resources = rules, areas, model, resources
        self.S = len(rules.shifts)
        self.x = np.zeros(len(model.cost))
        self.yc = model.cost[: model.n_y]
        self.slot_cols: list[np.ndarray] = []  # y columns of each (area, shift), best first
        pos = 0
        for a in areas:
            for shift in rules.shifts:
                cols = np.arange(pos, pos + len(a.members) * rules.max_visits(shift))
                self.slot_cols.append(cols[np.argsort(-self.yc[cols], kind="stable")])
                pos += len(cols)
        self.nb = np.asarray(inp.area, dtype=object)[model.y_unit]
        self.ybcu = inp.bcu[model.y_unit]
        self.limits = area_limits(inp, resources, rules)
        self.used_nb: dict[str, float] = {}
        self.filled = [0] * len(self.slot_cols)
        self.cache: dict[int, float] = {}

    def _open(self, c: int) -> bool:
        return self.used_nb.get(self.nb[c], 0.0) < self.limits.get(self.nb[c], np.inf) and self.yc[c] > 0

    def value(self, j: int) -> float:
        if j not in self.cache:
            cap = int(self.areas[j // self.S].capacity[j % self.S])
            take = [c for c in self.slot_cols[j][self.filled[j] :] if self._open(c)][:cap]
            self.cache[j] = float(self.yc[take].sum()) if take else 0.0
        return self.cache[j]

    def assign(self, j: int, column: int) -> None:
        cap = int(self.areas[j // self.S].capacity[j % self.S])
        cols, i, got = self.slot_cols[j], self.filled[j], 0
        while got < cap and i < len(cols):
            c = cols[i]
            i += 1
            if self._open(c):
                self.x[c] = 1.0
                self.used_nb[self.nb[c]] = self.used_nb.get(self.nb[c], 0.0) + 1.0
                got += 1
                if self.used_nb[self.nb[c]] >= self.limits.get(self.nb[c], np.inf):
                    self.cache.clear()  # a neighbourhood reached its cap: other areas' values change
        self.filled[j] = i
        self.cache.pop(j, None)
        self.x[column] += 1

    def best(self, js: list[int], offset: int) -> int | None:
        m = self.model
        vals = [(self.value(j), -j) for j in js if self.x[offset + j] < m.upper[offset + j]]
        if not vals or max(vals)[0] <= 0:
            return None
        return -max(vals)[1]

    def _short(self, js: list[int]) -> list[int]:
        """With a minimum BCU share, a pool team goes first to the BCU furthest below it (a BCU without
        teams of its own would otherwise get nothing, and the share repair would empty the plan)."""
        if self.rules.min_bcu_share <= 0:
            return js
        y = self.x[: self.model.n_y]
        total = y.sum()
        bcus = sorted({a.bcu for a in self.areas})
        shares = {b: (y[self.ybcu == b].sum() / total if total else 0.0) for b in bcus}
        for b in sorted(shares, key=lambda b: shares[b]):
            if shares[b] >= self.rules.min_bcu_share:
                break
            mine = [j for j in js if self.areas[j // self.S].bcu == b]
            if self.best(mine, self.model.n_y + self.model.n_cols_n) is not None:
                return mine
        return js

    def run(self) -> np.ndarray:
        m, S = self.model, self.S
        has_pool = len(m.cost) > m.n_y + m.n_cols_n
        for s, shift in enumerate(self.rules.shifts):
            js = [p * S + s for p in range(len(self.areas))]
            for b in sorted({a.bcu for a in self.areas}):
                mine = [j for j in js if self.areas[j // S].bcu == b]
                for _ in range(self.resources.get(b, shift.name)):
                    j = self.best(mine, m.n_y)
                    if j is None:
                        break
                    self.assign(j, m.n_y + j)
            if has_pool:
                for _ in range(self.resources.get(POOL, shift.name)):
                    j = self.best(self._short(js), m.n_y + m.n_cols_n)
                    if j is None:
                        break
                    self.assign(j, m.n_y + m.n_cols_n + j)
        # visits of one hot spot are taken in value order, so visit k+1 never comes without visit k
        return self.x


def _repair_share(x: np.ndarray, inp: PatrolInput, model: _Model, rules: Rules) -> None:
    """Drop the least valuable visits of the best-served BCUs until every BCU has its minimum share."""
    y = x[: model.n_y]
    ybcu = inp.bcu[model.y_unit]
    bcus = sorted(set(ybcu))
    for _ in range(model.n_y):
        total = y.sum()
        if total == 0:
            return
        shares = {b: y[ybcu == b].sum() / total for b in bcus}
        if min(shares.values()) >= rules.min_bcu_share - 1e-9:
            return
        worst = max(shares, key=lambda b: shares[b])
        on = np.flatnonzero((y > 0) & (ybcu == worst))
        y[on[np.argmin(model.cost[on])]] = 0.0


def _keep_share(inp: PatrolInput, rules: Rules, areas: list[PatrolArea], visits: np.ndarray) -> int:
    """Drop the least valuable last visits of the best-served BCUs until every BCU with a patrol area has its
    minimum share of the visits, in place; returns the visits dropped. Like the model's share rows, an empty
    plan is allowed when the shares cannot all be met."""
    if rules.min_bcu_share <= 0:
        return 0
    benefits = visit_benefits(inp, rules)
    bcus = sorted({a.bcu for a in areas})
    dropped = 0
    while (total := visits.sum()) > 0:
        shares = {b: visits[inp.bcu == b].sum() / total for b in bcus}
        if min(shares.values()) >= rules.min_bcu_share - 1e-9:
            break
        worst = max(shares, key=lambda b: shares[b])  # has visits: its share is at least 1 / len(bcus)
        units, shifts = np.nonzero((visits > 0) & (inp.bcu == worst)[:, None])
        # the last visit of a hot spot-shift is its least valuable one (the benefit is concave in visits)
        last = [benefits[s][u, int(visits[u, s]) - 1] for u, s in zip(units, shifts, strict=True)]
        i = int(np.argmin(last))
        visits[units[i], shifts[i]] -= 1
        dropped += 1
    return dropped


# --- public entry point ----------------------------------------------------------------------------------


def plan_patrols(
    inp: PatrolInput,
    resources: Resources,
    rules: Rules | None = None,
    *,
    solver: str = "auto",
    target_gap: float = 0.005,
    time_limit: float = 60.0,
    max_milp_columns: int = 400_000,
) -> PatrolPlan:
    """Allocate teams to patrol areas and visits to hot spots. ``auto`` takes the greedy plan when it is
    within ``target_gap`` of the LP bound and otherwise improves it with the MILP (warm-started)."""
    rules = rules or Rules()
    if solver not in SOLVERS:
        raise unknown("solver", solver, SOLVERS)
    if inp.shift_share.shape[-1] != len(rules.shifts):
        raise ParameterError(
            f"one shift share per shift: {inp.shift_share.shape[-1]} shares, {len(rules.shifts)} shifts"
        )
    started = time.perf_counter()
    candidates = choose_candidates(inp, resources, rules)
    areas = patrol_areas(inp, candidates, rules)
    if not areas:
        raise NoDataError("nothing to plan: no unit has forecast harm, or no BCU has teams")
    model = _build(inp, resources, rules, areas)
    greedy = _Greedy(inp, resources, rules, areas, model).run()
    if rules.min_bcu_share > 0:
        _repair_share(greedy, inp, model, rules)
    greedy_obj = float(model.cost @ greedy)
    used = "heuristic"
    status = "greedy"
    if solver == "heuristic":
        _, _, bound, _ = _solve(model, relax=True, time_limit=time_limit, gap=target_gap)
        x = greedy
    else:
        _, _, lp_bound, _ = _solve(model, relax=True, time_limit=time_limit, gap=target_gap)
        x, bound = greedy, lp_bound
        good = lp_bound <= 0 or (lp_bound - greedy_obj) / lp_bound <= target_gap
        if solver == "milp" or (not good and len(model.cost) <= max_milp_columns):
            mx, mobj, mbound, status = _solve(model, relax=False, time_limit=time_limit, gap=target_gap,
                                              start=greedy)  # fmt: skip
            if mobj >= greedy_obj - 1e-9 and _feasible(model, mx):
                x, used = np.round(mx), "milp"
            bound = min(lp_bound, mbound) if mbound >= mobj - 1e-9 else lp_bound
    x = np.round(x)
    visits = np.zeros((len(inp.ids), len(rules.shifts)))
    np.add.at(visits, (model.y_unit, model.y_shift), x[: model.n_y])
    teams, trimmed = _teams(inp, x, model, areas, rules, visits)
    # The visits cut to keep the gaps are not in the model, so they can take a BCU below its minimum share:
    # drop visits elsewhere as the model would, and split the rest between the teams again (which may cut more).
    dropped = 0
    while trimmed + dropped and (more := _keep_share(inp, rules, areas, visits)):
        dropped += more
        teams, cut = _teams(inp, x, model, areas, rules, visits)
        trimmed += cut
    if trimmed:
        status += f"; {trimmed} visit(s) cut so every team's visits keep the gaps"
    if dropped:
        status += f"; {dropped} visit(s) dropped so every BCU keeps its minimum share"
    objective = prevented(inp, rules, visits)
    return PatrolPlan(
        input=inp, rules=rules, resources=resources, areas=areas, candidates=candidates, visits=visits,
        teams=teams, objective=objective, bound=max(bound, objective), solver=used, status=status,
        seconds=time.perf_counter() - started,
        params={"rules": rules.to_dict(), "resources": resources.to_rows(), "solver": solver,
                "target_gap": target_gap, "input": {"units": len(inp.ids), "fingerprint": inp.fingerprint(),
                                                   **inp.meta},
                "shift_share": {s.name: float(w) for s, w in zip(rules.shifts, inp.mean_shift_share(), strict=True)},
                "shift_share_per_unit": inp.shift_share.ndim == 2,
                # Each visited unit's own shares, so the plan's dosage figures can be recomputed from the store.
                "shift_share_units": {str(inp.ids[u]): inp.shift_share[u].tolist()
                                      for u in np.flatnonzero(visits.sum(axis=1) > 0)} if inp.shift_share.ndim == 2 else {}},
    )  # fmt: skip


def _feasible(model: _Model, x: np.ndarray) -> bool:
    ax = model.a @ np.round(x)
    return bool(np.all(ax <= model.row_upper + 1e-6) and np.all(ax >= model.row_lower - 1e-6))


def _teams(
    inp: PatrolInput, x: np.ndarray, model: _Model, areas: list[PatrolArea], rules: Rules, visits: np.ndarray
) -> tuple[list[Team], int]:
    """Name the teams and split each area's visits between them, keeping hot spots whole where possible."""
    n_n = model.n_cols_n
    has_pool = len(model.cost) > model.n_y + n_n
    teams: list[Team] = []
    counters: dict[tuple[str, str], int] = {}
    trimmed = 0
    for j in range(n_n):
        p, s = (int(v) for v in model.area_shift[j])
        shift = rules.shifts[s].name
        homes = [areas[p].bcu] * round(x[model.n_y + j])
        if has_pool:
            homes += [POOL] * round(x[model.n_y + n_n + j])
        if not homes:
            continue
        area = areas[p]
        visited = [int(u) for u in area.members if visits[u, s] > 0]
        spots = [(u, int(visits[u, s])) for u in walking_order(inp, visited)]
        cap = int(area.capacity[s])
        loads: list[list[tuple[int, int]]] = [[] for _ in homes]
        room = [cap] * len(homes)
        # Most visits first, each hot spot whole in the team with least room that still takes it (a hot spot
        # split between teams is hard to time: its visits must keep the gap across both timetables).
        for u, v in sorted(spots, key=lambda spot: -spot[1]):
            fits = [t for t in range(len(homes)) if room[t] >= v]
            if fits:
                t = min(fits, key=lambda t: room[t])
                loads[t].append((u, v))
                room[t] -= v
                continue
            while v > 0:
                t = int(np.argmax(room))
                take = min(v, room[t]) if room[t] > 0 else v
                loads[t].append((u, take))
                room[t] -= take
                v -= take
        for load in loads:
            trimmed += _make_timeable(load, rules.shifts[s], rules, inp.harm_week * inp.shares()[:, s], visits[:, s])
        walk = {u: i for i, (u, _) in enumerate(spots)}
        for home, load in zip(homes, loads, strict=True):
            if not load:
                continue
            load.sort(key=lambda spot: walk[spot[0]])
            label = area.bcu if home != POOL else f"pool-{area.bcu}"
            counters[(label, shift)] = counters.get((label, shift), 0) + 1
            teams.append(Team(f"{label}-{shift}-{counters[(label, shift)]}", home, shift, p, load))
    return teams, trimmed


def packed_minutes(load: list[tuple[int, int]], rules: Rules) -> float:
    """Minutes one team needs for its visits, packed back to back with the gaps kept (most visits left
    first, waiting when no hot spot is due): the tightest timetable the schedule can fall back on."""
    left = {u: v for u, v in load}
    last: dict[int, float] = {}
    t = 0.0
    while any(left.values()):
        due = [u for u, v in left.items() if v > 0 and t - last.get(u, -1e18) >= rules.min_gap_minutes]
        if not due:
            t = min(last[u] + rules.min_gap_minutes for u, v in left.items() if v > 0)
            continue
        u = max(due, key=lambda u: (left[u], -u))
        left[u] -= 1
        last[u] = t
        t += rules.visit_minutes
    return t


def _make_timeable(load: list[tuple[int, int]], shift: Shift, rules: Rules, harm: np.ndarray,
                   visits: np.ndarray) -> int:  # fmt: skip
    """Trim a team's load until its visits fit in the shift with the gaps kept; returns the visits cut.

    The model caps a team's visits but cannot see that several hot spots each at their most visits may not
    interleave within the gaps; a cut visit is the last one of the busiest, least harmful hot spot."""
    cut = 0
    while load and packed_minutes(load, rules) > shift.minutes:
        i = max(range(len(load)), key=lambda i: (load[i][1], -harm[load[i][0]]))
        u, v = load[i]
        load[i] = (u, v - 1)
        visits[u] -= 1
        cut += 1
        if v - 1 == 0:
            load.pop(i)
    return cut


def walking_order(inp: PatrolInput, units: list[int]) -> list[int]:
    """Hot spots in a short walking order: start at the riskiest, then always the nearest not yet seen."""
    if len(units) <= 2:
        return sorted(units, key=lambda u: (-inp.harm_week[u], u))
    left = sorted(units, key=lambda u: (-inp.harm_week[u], u))
    route = [left.pop(0)]
    while left:
        here = route[-1]
        d = [(inp.x[u] - inp.x[here]) ** 2 + (inp.y[u] - inp.y[here]) ** 2 for u in left]
        route.append(left.pop(int(np.argmin(d))))
    return route


# --- baselines for the benchmark -------------------------------------------------------------------------


def baseline_top_k(
    inp: PatrolInput, resources: Resources, rules: Rules, capacity_per_team: np.ndarray
) -> np.ndarray:
    """The same number of visits on the riskiest units citywide, whatever their BCU."""
    visits = np.zeros((len(inp.ids), len(rules.shifts)))
    benefits = visit_benefits(inp, rules)
    for s, shift in enumerate(rules.shifts):
        total = int(
            sum(n for (_, sh), n in resources.teams.items() if sh == shift.name) * capacity_per_team[s]
        )
        k = benefits[s].shape[1]
        top_units = np.argsort(-inp.harm_week, kind="stable")[: int(np.ceil(total / k)) + 1]
        chosen = top_units[: max(0, total // k)]
        visits[chosen, s] = k
        rest = total - len(chosen) * k
        if rest > 0 and len(top_units) > len(chosen):
            visits[top_units[len(chosen)], s] = rest
    return visits


def baseline_uniform(
    inp: PatrolInput, resources: Resources, rules: Rules, capacity_per_team: np.ndarray
) -> np.ndarray:
    """Each BCU's visits spread evenly over all its units (expected value of random patrol)."""
    visits = np.zeros((len(inp.ids), len(rules.shifts)))
    bcus = sorted(set(inp.bcu) - {""})
    pool = _pool_per_bcu(resources, rules, len(bcus))
    for s, shift in enumerate(rules.shifts):
        for b in bcus:
            idx = np.flatnonzero(inp.bcu == b)
            total = (resources.get(b, shift.name) + pool[s]) * capacity_per_team[s]
            visits[idx, s] = total / len(idx)
    return visits


def expected_prevented(inp: PatrolInput, rules: Rules, visits: np.ndarray) -> float:
    """Prevented harm for fractional visit patterns too (linear between whole visits)."""
    total = 0.0
    for s, b in enumerate(visit_benefits(inp, rules)):
        v = np.clip(visits[:, s], 0, b.shape[1])
        whole = np.floor(v).astype(int)
        frac = v - whole
        cum = np.concatenate([np.zeros((len(b), 1)), np.cumsum(b, axis=1)], axis=1)
        nxt = np.concatenate([b, np.zeros((len(b), 1))], axis=1)
        total += float((cum[np.arange(len(b)), whole] + frac * nxt[np.arange(len(b)), whole]).sum())
    return total
