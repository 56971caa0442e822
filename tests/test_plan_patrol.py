"""The patrol planner keeps every rule on generated cases, and finds the optimum of tiny ones."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from safestreets.errors import InputError, SafestreetsError
from safestreets.plan.patrol import (
    PatrolInput,
    PatrolPlan,
    area_limits,
    baseline_top_k,
    baseline_uniform,
    expected_prevented,
    nominal_capacity,
    plan_patrols,
    prevented,
    visit_benefits,
)
from safestreets.plan.resources import POOL, Resources, Rules, Shift, read_resources

TOL = 1e-6


# --- generated cases ----------------------------------------------------------------------------------


@st.composite
def rules_st(draw: st.DrawFn, gaps: tuple[float, ...] = (45.0, 120.0, 200.0)) -> Rules:
    shifts = draw(st.sampled_from([
        (Shift("early", 7, 8), Shift("late", 15, 8), Shift("night", 23, 8)),
        (Shift("day", 8, 10), Shift("night", 20, 10)),
        (Shift("evening", 18, 6),),
    ]))  # fmt: skip
    visit = draw(st.sampled_from([10.0, 12.5, 15.0, 16.0]))
    return Rules(
        visit_minutes=visit,
        min_gap_minutes=draw(st.sampled_from([visit, *gaps] if gaps[0] < 60 else list(gaps))),
        patrol_share=draw(st.sampled_from([0.1, 0.3, 0.5, 1.0])),
        patrol_radius_m=draw(st.sampled_from([250.0, 400.0, 600.0, 900.0])),
        residual_minutes=draw(st.sampled_from([0.0, 30.0, 60.0])),
        effect=draw(st.sampled_from([0.2, 0.5, 1.0])),
        decay=draw(st.sampled_from([0.5, 0.8, 1.0])),
        min_bcu_share=draw(st.sampled_from([0.0, 0.0, 0.1, 0.2, 0.3])),
        cap_share=draw(st.sampled_from([0.1, 0.25, 0.5, 1.0])),
        cap_weeks=draw(st.integers(1, 4)),
        cap_by="unit",
        candidates_factor=draw(st.sampled_from([1.0, 3.0])),
        shifts=shifts,
    )


@st.composite
def cases(
    draw: st.DrawFn, gaps: tuple[float, ...] = (45.0, 120.0, 200.0)
) -> tuple[PatrolInput, Resources, Rules]:
    rules = draw(rules_st(gaps))
    nx, ny = draw(st.integers(3, 9)), draw(st.integers(3, 9))
    n = nx * ny
    cell = draw(st.sampled_from([100.0, 250.0]))
    gx, gy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    x, y = gx.ravel() * cell + cell / 2, gy.ravel() * cell + cell / 2
    n_bcu = draw(st.integers(1, 3))
    bcus = [f"B{i}" for i in range(n_bcu)]
    bcu_idx = np.array(draw(st.lists(st.integers(0, n_bcu - 1), min_size=n, max_size=n)))
    bcu = np.array([bcus[i] for i in bcu_idx], dtype=object)
    harm = np.array(draw(st.lists(
        st.one_of(st.just(0.0), st.floats(0.01, 50.0, allow_nan=False)), min_size=n, max_size=n
    )))  # fmt: skip
    if harm.sum() == 0:
        harm[0] = 1.0
    weights = np.array(
        draw(st.lists(st.integers(1, 5), min_size=len(rules.shifts), max_size=len(rules.shifts)))
    )
    # neighbourhoods: blocks of 2x2 cells, so the cap counts several units together
    nb = np.array([f"N{i // 2}-{j // 2}" for i, j in zip(gx.ravel(), gy.ravel(), strict=True)], dtype=object)
    teams: dict[tuple[str, str], int] = {}
    for b in [*bcus, POOL]:
        for s in rules.shifts:
            k = draw(st.integers(0, 2 if b == POOL else 3))
            if k:
                teams[(b, s.name)] = k
    if not any(k for (b, _), k in teams.items()):
        teams[(bcus[0], rules.shifts[0].name)] = 1
    past = draw(st.booleans())
    past_visits = {code: float(draw(st.integers(0, 40))) for code in sorted(set(nb))} if past else {}
    past_bcu = {b: float(draw(st.integers(0, 400))) for b in bcus} if past else {}
    inp = PatrolInput(ids=np.array([f"u{i}" for i in range(n)], dtype=object), x=x, y=y, bcu=bcu,
                      harm_week=harm, shift_share=weights / weights.sum(), area=nb,
                      past_visits=past_visits, past_bcu_visits=past_bcu)  # fmt: skip
    return inp, Resources(teams), rules


def try_plan(inp: PatrolInput, res: Resources, rules: Rules, solver: str) -> PatrolPlan | None:
    try:
        return plan_patrols(inp, res, rules, solver=solver, time_limit=20.0)
    except SafestreetsError as err:
        assert "nothing to plan" in str(err)
        return None


def check_rules(plan: PatrolPlan) -> None:
    """Every rule of the issue, checked from the plan's own output."""
    inp, rules, res = plan.input, plan.rules, plan.resources
    S = len(rules.shifts)
    assert plan.visits.shape == (len(inp.ids), S)
    assert np.all(plan.visits >= 0) and np.all(plan.visits == np.round(plan.visits))
    # visits add up to the teams' hot spots
    from_teams = np.zeros_like(plan.visits)
    names = [s.name for s in rules.shifts]
    for t in plan.teams:
        for u, v in t.hotspots:
            from_teams[u, names.index(t.shift)] += v
    np.testing.assert_array_equal(from_teams, plan.visits)
    used: dict[tuple[str, str], int] = {}
    for t in plan.teams:
        area = plan.areas[t.area]
        s = names.index(t.shift)
        units = [u for u, _ in t.hotspots]
        assert units and all(v >= 1 for _, v in t.hotspots)
        assert len(set(units)) == len(units)
        # compact area in one BCU
        assert set(inp.bcu[units]) == {area.bcu}
        d = np.hypot(inp.x[units] - area.cx, inp.y[units] - area.cy)
        assert d.max() <= rules.patrol_radius_m + 1e-6
        assert set(units) <= set(area.members.tolist())
        # local teams stay home
        if t.home != POOL:
            assert t.home == area.bcu
        used[(t.home, t.shift)] = used.get((t.home, t.shift), 0) + 1
        # a team's visits fit its area's capacity for the shift
        assert sum(v for _, v in t.hotspots) <= area.capacity[s]
        # the capacity is what the rules allow for that walk
        assert area.capacity[s] == nominal_capacity(rules, area.travel_minutes)[s]
    for key, k in used.items():
        assert k <= res.get(*key), (key, k, res.teams)
    assert len({t.team_id for t in plan.teams}) == len(plan.teams)
    # visits per hot spot per shift
    for s, shift in enumerate(rules.shifts):
        assert plan.visits[:, s].max() <= rules.max_visits(shift)
    # no visits to units without harm, nor outside the candidates
    visited = np.flatnonzero(plan.visits.sum(axis=1) > 0)
    assert np.all(inp.harm_week[visited] > 0)
    assert set(visited) <= set(plan.candidates.tolist())
    # minimum share of effort per BCU (the BCUs the plan has patrol areas in)
    total = plan.visits.sum()
    if rules.min_bcu_share > 0 and total > 0:
        for b in {a.bcu for a in plan.areas}:
            share = plan.visits[inp.bcu == b].sum() / total
            assert share >= rules.min_bcu_share - 1e-9, (b, share)
    # multi-week cap per neighbourhood, past visits included
    limits = area_limits(inp, res, rules)
    nb = np.asarray(inp.area, dtype=object)
    for code, limit in limits.items():
        assert plan.visits[nb == code].sum() <= limit + 1e-9, (code, limit)
    # and the cap means what it says: over the window, at most cap_share of the BCU's visits
    if rules.cap_share < 1.0:
        for code in set(nb[plan.visits.sum(axis=1) > 0]):
            b = inp.bcu[np.flatnonzero(nb == code)[0]]
            week = 7 * plan.visits[nb == code].sum()
            teams = np.array([res.get(b, s.name) for s in rules.shifts], dtype=float)
            pool = np.array([res.get(POOL, s.name) for s in rules.shifts], dtype=float) / len(set(inp.bcu))
            cap = nominal_capacity(rules, rules.patrol_radius_m / 1000 / rules.speed_kmh * 60)
            window = 7 * float(((teams + pool) * cap).sum()) + inp.past_bcu_visits.get(b, 0.0)
            assert inp.past_visits.get(code, 0.0) + week <= rules.cap_share * window + 1e-6
    # objective and bound
    assert plan.objective == pytest.approx(prevented(inp, rules, plan.visits), rel=1e-9, abs=1e-9)
    assert plan.objective <= plan.bound * (1 + 1e-6) + TOL
    assert 0.0 <= plan.gap <= 1.0
    assert plan.solver in ("milp", "heuristic")


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.sampled_from(["heuristic", "milp", "auto"]))
def test_every_rule_holds(case: tuple[PatrolInput, Resources, Rules], solver: str) -> None:
    inp, res, rules = case
    plan = try_plan(inp, res, rules, solver)
    if plan is None:
        return
    check_rules(plan)
    if solver == "heuristic":
        assert plan.solver == "heuristic"


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_milp_is_at_least_as_good_as_the_heuristic(case: tuple[PatrolInput, Resources, Rules]) -> None:
    inp, res, rules = case
    heur = try_plan(inp, res, rules, "heuristic")
    milp = try_plan(inp, res, rules, "milp")
    auto = try_plan(inp, res, rules, "auto")
    if heur is None:
        assert milp is None and auto is None
        return
    assert milp is not None and auto is not None
    assert milp.objective >= heur.objective - 1e-9
    assert auto.objective >= heur.objective - 1e-9
    # every plan's objective stays under every valid bound
    for plan in (heur, milp, auto):
        assert plan.objective <= min(heur.bound, milp.bound, auto.bound) * (1 + 1e-6) + TOL


def test_past_visits_tighten_the_cap() -> None:
    """A neighbourhood that had its share in the weeks before gets nothing this week."""
    n = 16
    x = np.arange(n) * 100.0
    inp = PatrolInput(ids=np.array([f"u{i}" for i in range(n)], dtype=object), x=x, y=np.zeros(n),
                      bcu=np.array(["A"] * n, dtype=object), harm_week=np.linspace(10, 1, n),
                      shift_share=np.array([1.0]), area=np.array([f"N{i // 4}" for i in range(n)], dtype=object))  # fmt: skip
    rules = Rules(shifts=(Shift("day", 8, 8),), cap_share=0.25, cap_weeks=4, cap_by="unit")
    res = Resources({("A", "day"): 2})
    first = plan_patrols(inp, res, rules, solver="milp")
    check_rules(first)
    assert first.visits[:4].sum() > 0
    inp.past_visits = {"N0": 7 * 1000.0}
    inp.past_bcu_visits = {"A": 7 * 1000.0}
    limits = area_limits(inp, res, rules)
    assert limits["N0"] == 0
    for solver in ("heuristic", "milp", "auto"):
        second = plan_patrols(inp, res, rules, solver=solver)
        check_rules(second)
        assert second.visits[:4].sum() == 0


def test_min_bcu_share_moves_effort_to_the_quiet_bcu() -> None:
    n = 20
    harm = np.where(np.arange(n) < 10, 20.0, 0.5)
    inp = PatrolInput(ids=np.array([f"u{i}" for i in range(n)], dtype=object), x=(np.arange(n) % 10) * 100.0,
                      y=(np.arange(n) // 10) * 5000.0, bcu=np.array(["A"] * 10 + ["B"] * 10, dtype=object),
                      harm_week=harm, shift_share=np.array([1.0]))  # fmt: skip
    res = Resources({(POOL, "day"): 2})
    base = Rules(shifts=(Shift("day", 8, 8),), cap_share=1.0)
    free = plan_patrols(inp, res, base, solver="milp")
    assert free.visits[10:].sum() == 0
    shared = Rules(shifts=(Shift("day", 8, 8),), cap_share=1.0, min_bcu_share=0.3)
    for solver in ("heuristic", "milp"):
        plan = plan_patrols(inp, res, shared, solver=solver)
        check_rules(plan)
        assert plan.visits[10:].sum() >= 0.3 * plan.visits.sum() > 0


def test_min_bcu_share_survives_the_visits_cut_for_the_gaps() -> None:
    """Found by hypothesis: the heuristic met the share in the model, then the visits cut so a team's hot
    spots keep the gaps took the quiet BCU below it (27 of 92 visits); the share is restored afterwards."""
    gx, gy = np.meshgrid(np.arange(6), np.arange(7), indexing="ij")
    n = gx.size
    bcu = np.array(["B0"] * n, dtype=object)
    bcu[[34, 39]] = "B1"
    harm = np.zeros(n)
    harm[[33, 37]] = 0.5
    harm[[34, 38, 39]] = 1.0
    nb = np.array([f"N{i // 2}-{j // 2}" for i, j in zip(gx.ravel(), gy.ravel(), strict=True)], dtype=object)
    inp = PatrolInput(ids=np.array([f"u{i}" for i in range(n)], dtype=object), x=gx.ravel() * 100.0 + 50.0,
                      y=gy.ravel() * 100.0 + 50.0, bcu=bcu, harm_week=harm, shift_share=np.array([0.5, 0.5]),
                      area=nb)  # fmt: skip
    rules = Rules(visit_minutes=10.0, min_gap_minutes=45.0, patrol_share=1.0, speed_kmh=4.5, patrol_radius_m=250.0,
                  residual_minutes=0.0, effect=0.2, decay=0.5, min_bcu_share=0.3, cap_share=1.0, cap_weeks=1,
                  cap_by="unit", candidates_factor=1.0,
                  shifts=(Shift("day", 8, 10), Shift("night", 20, 10)))  # fmt: skip
    res = Resources({(POOL, "day"): 1, (POOL, "night"): 2})
    for solver in ("heuristic", "milp", "auto"):
        plan = plan_patrols(inp, res, rules, solver=solver)
        check_rules(plan)
        assert plan.visits[bcu == "B1"].sum() >= 0.3 * plan.visits.sum() > 0
    heur = plan_patrols(inp, res, rules, solver="heuristic")
    assert "cut" in heur.status and "minimum share" in heur.status
    assert heur.visits[bcu == "B1"].sum() == 27 and heur.visits.sum() == 90


# --- tiny cases against brute force ---------------------------------------------------------------------


def brute_force(
    inp: PatrolInput, res: Resources, rules: Rules, areas: list[tuple[str, list[int], int]]
) -> float:
    """The best expected harm prevented over every way of sending the teams to the given areas and giving
    the hot spots visit counts, straight from the rules (one shift; ``areas`` are (bcu, units, capacity)).

    Written apart from the model: per-visit values come from the dosage formula, not ``visit_benefits``,
    and the cap from its definition, not ``area_limits``."""
    (shift,) = rules.shifts
    kmax = int((shift.minutes - rules.visit_minutes) // rules.min_gap_minutes) + 1
    p = min(1.0, (rules.visit_minutes + rules.residual_minutes) / shift.minutes)

    def value(u: int, k: int) -> float:
        cover = min(1.0, p * sum(rules.decay**i for i in range(k)))
        return float(inp.harm_week[u] * inp.shift_share[0] * rules.effect * cover)

    # the cap: over the weeks, at most cap_share of what the BCU's teams (and its part of the pool) can do
    nb = np.asarray(inp.area, dtype=object)
    all_bcus = sorted(set(inp.bcu))
    nominal = max(1, int(rules.patrol_share * shift.minutes
                         // (rules.visit_minutes + rules.patrol_radius_m / 1000 / rules.speed_kmh * 60)))  # fmt: skip
    limit: dict[str, float] = {}
    for code in set(nb):
        b = inp.bcu[nb == code][0]
        window = 7 * (res.get(b, shift.name) + res.get(POOL, shift.name) / len(all_bcus)) * nominal
        window += inp.past_bcu_visits.get(b, 0.0)
        allowed = rules.cap_share * window - inp.past_visits.get(code, 0.0)
        limit[code] = np.inf if rules.cap_share >= 1.0 else max(0, np.floor(allowed / 7 + 1e-9))
    homes = [b for (b, s), k in res.teams.items() if s == shift.name for _ in range(k)]
    best = 0.0
    # each team goes to one area its home allows, or stays out
    choices = [[None] + [i for i, a in enumerate(areas) if h in (POOL, a[0])] for h in homes]
    seen: set[tuple[int, ...]] = set()
    for pick in itertools.product(*choices):
        teams_in = [sum(1 for c in pick if c == i) for i in range(len(areas))]
        if tuple(teams_in) in seen:
            continue
        seen.add(tuple(teams_in))
        per_area = []
        for i, (_, units, cap) in enumerate(areas):
            counts = [c for c in itertools.product(range(kmax + 1), repeat=len(units))
                      if sum(c) <= cap * teams_in[i]]  # fmt: skip
            per_area.append([dict(zip(units, c, strict=True)) for c in counts])
        for combo in itertools.product(*per_area):
            v = {u: c for d in combo for u, c in d.items()}
            total = sum(v.values())
            if (
                rules.min_bcu_share > 0
                and total > 0
                and any(
                    sum(c for u, c in v.items() if inp.bcu[u] == b) < rules.min_bcu_share * total - 1e-9
                    for b in {a[0] for a in areas}
                )
            ):
                continue
            if any(sum(c for u, c in v.items() if nb[u] == code) > lim for code, lim in limit.items()):
                continue
            best = max(best, sum(value(u, c) for u, c in v.items()))
    return best


@st.composite
def tiny_cases(draw: st.DrawFn) -> tuple[PatrolInput, Resources, Rules, list[tuple[str, list[int], int]]]:
    """4-6 units in clusters far apart (so the patrol areas are known in advance), 1-2 BCUs, 1 shift."""
    n = draw(st.integers(4, 6))
    two = draw(st.booleans())
    cluster = [draw(st.integers(0, 2)) for _ in range(n)]
    if two:
        bcu_of_cluster = {0: "A", 1: "B", 2: draw(st.sampled_from(["A", "B"]))}
    else:
        bcu_of_cluster = {0: "A", 1: "A", 2: "A"}
    x = np.array([c * 10_000.0 + 50.0 * i for i, c in enumerate(cluster)])
    harm = np.array(draw(st.lists(st.floats(0.5, 20.0), min_size=n, max_size=n)))
    shift = Shift("day", 8, draw(st.sampled_from([3.0, 4.0, 6.0])))
    rules = Rules(
        shifts=(shift,), visit_minutes=15.0, min_gap_minutes=draw(st.sampled_from([90.0, 120.0])),
        patrol_share=draw(st.sampled_from([0.35, 0.5])), residual_minutes=30.0,
        decay=draw(st.sampled_from([0.5, 0.8, 1.0])), effect=0.5,
        min_bcu_share=draw(st.sampled_from([0.0, 0.2, 0.4])) if two else 0.0,
        cap_share=draw(st.sampled_from([0.3, 0.6, 1.0])), cap_by="unit", candidates_factor=50.0,
    )  # fmt: skip
    bcu = np.array([bcu_of_cluster[c] for c in cluster], dtype=object)
    inp = PatrolInput(ids=np.array([f"u{i}" for i in range(n)], dtype=object), x=x, y=np.zeros(n), bcu=bcu,
                      harm_week=harm, shift_share=np.array([1.0]),
                      area=np.array([f"N{c}" for c in cluster], dtype=object))  # fmt: skip
    teams: dict[tuple[str, str], int] = {}
    homes = draw(st.sampled_from([["A"], [POOL], ["A", "A"], ["A", POOL], ["B"], ["A", "B"], ["B", POOL]]))
    for h in homes:
        if h == "B" and not two:
            h = "A"
        teams[(h, "day")] = teams.get((h, "day"), 0) + 1
    res = Resources(teams)
    # the clusters are the patrol areas: 10 km apart, units within 250 m of each other
    areas = []
    for c in sorted(set(cluster)):
        units = [i for i in range(n) if cluster[i] == c]
        xs = x[units]
        walk = 0.0
        if len(units) > 1:
            walk = float(np.abs(xs[:, None] - xs[None, :]).sum() / (len(units) * (len(units) - 1)))
        travel = max(1.0, walk / 1000 / rules.speed_kmh * 60)
        cap = max(1, int(rules.patrol_share * shift.minutes // (rules.visit_minutes + travel)))
        areas.append((bcu_of_cluster[c], units, cap))
    return inp, res, rules, areas


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_cases())
def test_milp_matches_brute_force_on_tiny_cases(
    case: tuple[PatrolInput, Resources, Rules, list[tuple[str, list[int], int]]],
) -> None:
    inp, res, rules, areas = case
    # only units in a BCU with teams (its own or the pool) can be patrolled
    reachable = [a for a in areas if res.get(a[0], "day") + res.get(POOL, "day") > 0]
    if not reachable:
        with pytest.raises(SafestreetsError, match="nothing to plan"):
            plan_patrols(inp, res, rules, solver="milp")
        return
    best = brute_force(inp, res, rules, reachable)
    plan = plan_patrols(inp, res, rules, solver="milp", target_gap=1e-9)
    check_rules(plan)
    assert sorted(sorted(a.members.tolist()) for a in plan.areas) == sorted(sorted(a[1]) for a in reachable)
    assert plan.objective == pytest.approx(best, rel=1e-6, abs=1e-9)
    assert best <= plan.bound * (1 + 1e-6) + TOL
    heur = plan_patrols(inp, res, rules, solver="heuristic")
    assert heur.objective <= best + 1e-9
    assert best <= heur.bound * (1 + 1e-6) + TOL


def test_brute_force_sees_the_dosage_curve() -> None:
    """A hand-worked case: one team, one hot spot, one 4 h shift; two visits of 15 min + 30 min residual."""
    rules = Rules(shifts=(Shift("day", 8, 4),), min_gap_minutes=120.0, patrol_share=0.5, decay=0.8,
                  effect=0.5, cap_share=1.0, cap_by="unit")  # fmt: skip
    inp = PatrolInput(ids=np.array(["a"], dtype=object), x=np.zeros(1), y=np.zeros(1),
                      bcu=np.array(["A"], dtype=object), harm_week=np.array([10.0]), shift_share=np.array([1.0]))  # fmt: skip
    res = Resources({("A", "day"): 1})
    assert rules.max_visits(rules.shifts[0]) == 2  # 0 and 120 min; 240 would end past the shift
    # p = 45/240; two visits cover p * (1 + 0.8)
    expected = 10.0 * 0.5 * (45 / 240) * 1.8
    plan = plan_patrols(inp, res, rules, solver="milp")
    assert plan.visits[0, 0] == 2
    assert plan.objective == pytest.approx(expected)
    assert brute_force(inp, res, rules, [("A", [0], 8)]) == pytest.approx(expected)
    assert visit_benefits(inp, rules)[0].sum() == pytest.approx(expected)


# --- baselines -----------------------------------------------------------------------------------------


def test_baselines_spend_the_same_visits() -> None:
    rng = np.random.default_rng(3)
    n = 200
    inp = PatrolInput(ids=np.array([f"u{i}" for i in range(n)], dtype=object), x=rng.uniform(0, 5000, n),
                      y=rng.uniform(0, 5000, n), bcu=np.array([f"B{i % 4}" for i in range(n)], dtype=object),
                      harm_week=rng.gamma(0.5, 4.0, n), shift_share=np.array([0.3, 0.45, 0.25]))  # fmt: skip
    rules = Rules()
    res = Resources({**{(f"B{i}", s.name): 2 for i in range(4) for s in rules.shifts}, (POOL, "late"): 2})
    cap = nominal_capacity(rules, 5.0)
    top = baseline_top_k(inp, res, rules, cap)
    uni = baseline_uniform(inp, res, rules, cap)
    for s, shift in enumerate(rules.shifts):
        teams = sum(k for (_, sh), k in res.teams.items() if sh == shift.name)
        assert top[:, s].sum() == teams * cap[s]
        assert uni[:, s].sum() == pytest.approx(teams * cap[s])
        assert top[:, s].max() <= rules.max_visits(shift)
    assert expected_prevented(inp, rules, top) == pytest.approx(prevented(inp, rules, top))
    plan = plan_patrols(inp, res, rules)
    check_rules(plan)
    assert plan.objective > expected_prevented(inp, rules, uni)


# --- resources files and rules ---------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "resources.csv"
    path.write_text(text, "utf-8")
    return path


def test_read_resources(tmp_path: Path) -> None:
    res = read_resources(write(tmp_path, "bcu,shift,teams\nCE,early,3\n*,night,2\n"))
    assert res.teams == {("CE", "early"): 3, ("*", "night"): 2}
    assert res.bcus() == ["CE"] and res.total() == 5


@pytest.mark.parametrize(
    ("text", "row", "column", "words"),
    [
        ("bcu,shift,teams\nCE,early,3\nCE,dawn,1\n", 2, "shift", "unknown shift"),
        ("bcu,shift,teams\nCE,early,two\n", 1, "teams", "whole number"),
        ("bcu,shift,teams\nCE,early,1.5\n", 1, "teams", "whole number"),
        ("bcu,shift,teams\nCE,early,-1\n", 1, "teams", "negative"),
        ("bcu,shift,teams\n,early,1\n", 1, "bcu", "empty BCU"),
        ("bcu,shift,teams\nCE,early,1\nCE,early,2\n", 2, "bcu", "twice"),
        ("bcu,shift\nCE,early\n", None, None, "missing column 'teams'"),
    ],
)
def test_read_resources_errors_name_file_row_and_column(
    tmp_path: Path, text: str, row: int | None, column: str | None, words: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        read_resources(path)
    err = info.value
    assert err.source == str(path) and str(path) in str(err)
    assert err.row == row and err.column == column
    assert words in str(err)
    if row is not None:
        assert f"row {row}" in str(err) and repr(column) in str(err)


def test_rules_are_validated() -> None:
    with pytest.raises(SafestreetsError, match="10-16 minutes"):
        Rules(visit_minutes=20)
    with pytest.raises(SafestreetsError, match="10-16 minutes"):
        Rules(visit_minutes=5)
    for bad in ({"min_gap_minutes": 10.0}, {"patrol_share": 0.0}, {"min_bcu_share": 1.0}, {"cap_share": 0.0},
                {"cap_weeks": 0}, {"cap_by": "ward"}, {"effect": 1.5}, {"decay": 0.0},
                {"shifts": (Shift("a", 7, 8), Shift("a", 15, 8))}):  # fmt: skip
        with pytest.raises(SafestreetsError, match="invalid planning rule"):
            Rules(**bad)  # type: ignore[arg-type]
    assert Rules(visit_minutes=10).visit_minutes == 10 and Rules(visit_minutes=16).visit_minutes == 16
    with pytest.raises(SafestreetsError, match="unknown solver"):
        inp = PatrolInput(ids=np.array(["a"], dtype=object), x=np.zeros(1), y=np.zeros(1),
                          bcu=np.array(["A"], dtype=object), harm_week=np.ones(1), shift_share=np.ones(3) / 3)  # fmt: skip
        plan_patrols(inp, Resources({("A", "early"): 1}), solver="simplex")
