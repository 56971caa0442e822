"""Patrol planning benchmark: a London-scale case (about 25,000 cells of 250 m, 12 BCUs, 200 teams over
3 shifts), solved by the heuristic, by ``auto`` and by the MILP to a tight gap, against two baselines.

The cells are a 250 m grid over the 32 Met boroughs (the real boundaries in ../shared/data/boundaries,
each borough in its BCU by ../shared/data/london/borough_to_met_bcu_lookup.csv). The harm surface is
synthetic: a few hundred Gaussian clusters of random weight (gamma) over a low background, times
log-normal noise, scaled to a citywide weekly expected harm; it is skewed (a few per cent of cells hold
half the harm) and spatially clustered, as crime is. The 200 teams (team-shifts) are spread over the BCUs
in proportion to their harm and over the shifts 30/40/30, with 8 of them in a citywide pool.

    .venv/bin/python bench/plan.py            # the full run; replaces "## Patrol planning" in docs/benchmarks.md
    .venv/bin/python bench/plan.py --quick    # one repeat, looser reference; no docs
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from _common import (
    command_line,
    fmt_seconds,
    machine_markdown,
    markdown_table,
    median,
    today,
    write_section,
)
from safestreets.geo.project import to_crs
from safestreets.plan.patrol import (
    PatrolInput,
    PatrolPlan,
    baseline_top_k,
    baseline_uniform,
    expected_prevented,
    plan_patrols,
)
from safestreets.plan.resources import POOL, Resources, Rules
from safestreets.plan.schedule import schedule

TITLE = "Patrol planning"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CELL = 250.0
TEAMS = 200
POOL_TEAMS = 8  # of the 200
SHIFT_SPLIT = (0.30, 0.40, 0.30)
SHIFT_SHARE = np.array([0.25, 0.40, 0.35])  # share of a day's harm in early, late, night


def london_cells() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centres of 250 m cells inside the 32 Met boroughs (British National Grid), with borough and BCU."""
    bcu_of: dict[str, str] = {}
    with open(SHARED / "london" / "borough_to_met_bcu_lookup.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            bcu_of[row["lad22cd"]] = row["met_bcu"]
    data = json.loads((SHARED / "boundaries" / "london_boroughs_lad22_gen20.geojson").read_text("utf-8"))
    geoms, codes = [], []
    for f in data["features"]:
        props = f["properties"]
        code = next(
            (v for k, v in props.items() if k.lower().startswith("lad") and k.lower().endswith("cd")), None
        )
        if code not in bcu_of:
            continue
        g = shapely.geometry.shape(f["geometry"])
        g = shapely.transform(g, lambda c: np.column_stack(to_crs(c[:, 0], c[:, 1], dst="EPSG:27700")))
        geoms.append(g)
        codes.append(code)
    minx, miny, maxx, maxy = shapely.total_bounds(np.array(geoms))
    gx, gy = np.meshgrid(np.arange(minx, maxx, CELL) + CELL / 2, np.arange(miny, maxy, CELL) + CELL / 2)
    pts = shapely.points(gx.ravel(), gy.ravel())
    tree = shapely.STRtree(geoms)
    hit_pt, hit_g = tree.query(pts, predicate="within")
    first = np.unique(hit_pt, return_index=True)[1]
    keep, which = hit_pt[first], hit_g[first]
    x, y = gx.ravel()[keep], gy.ravel()[keep]
    borough = np.array([codes[i] for i in which], dtype=object)
    bcu = np.array([bcu_of[c] for c in borough], dtype=object)
    return x, y, borough, bcu


def harm_surface(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, weekly_total: float) -> np.ndarray:
    """Skewed, clustered expected harm per week: Gaussian clusters over a background, with noise."""
    n_clusters = 400
    pick = rng.choice(len(x), n_clusters, replace=False)
    weight = rng.gamma(0.6, 1.0, n_clusters)
    width = rng.uniform(150, 700, n_clusters)
    harm = np.full(len(x), 0.02)
    for cx, cy, w, s in zip(x[pick], y[pick], weight, width, strict=True):
        near = (np.abs(x - cx) < 4 * s) & (np.abs(y - cy) < 4 * s)
        harm[near] += w * np.exp(-((x[near] - cx) ** 2 + (y[near] - cy) ** 2) / (2 * s * s))
    harm *= rng.lognormal(0.0, 0.6, len(x))
    return harm * weekly_total / harm.sum()


def build_case(seed: int) -> tuple[PatrolInput, Resources, Rules, dict[str, Any]]:
    x, y, borough, bcu = london_cells()
    rng = np.random.default_rng(seed)
    harm = harm_surface(x, y, rng, weekly_total=50_000.0)
    # neighbourhoods for the multi-week cap: 500 m blocks (2 x 2 cells), about the size of an LSOA
    nb = np.array([f"{int(a // 500)}:{int(b // 500)}" for a, b in zip(x, y, strict=True)], dtype=object)
    rules = Rules(cap_by="unit")
    bcus = sorted(set(bcu))
    bcu_harm = np.array([harm[bcu == b].sum() for b in bcus])
    local = TEAMS - POOL_TEAMS
    teams: dict[tuple[str, str], int] = {}
    per_shift = [int(local * split) for split in SHIFT_SPLIT]
    per_shift[1] += local - sum(per_shift)
    for s, n_shift in zip(rules.shifts, per_shift, strict=True):
        share = bcu_harm / bcu_harm.sum() * n_shift
        k = np.maximum(1, np.floor(share)).astype(int)
        for i in np.argsort(-(share - np.floor(share)))[: max(0, n_shift - int(k.sum()))]:
            k[i] += 1
        for b, n in zip(bcus, k, strict=True):
            teams[(b, s.name)] = int(n)
    pool_split = [2, 3, 3]
    for s, n in zip(rules.shifts, pool_split, strict=True):
        teams[(POOL, s.name)] = n
    inp = PatrolInput(ids=np.arange(len(x)).astype(str).astype(object), x=x, y=y, bcu=bcu, harm_week=harm,
                      shift_share=SHIFT_SHARE, area=nb)  # fmt: skip
    order = np.sort(harm)[::-1]
    info = {
        "cells": len(x), "boroughs": len(set(borough)), "bcus": len(bcus), "teams": sum(teams.values()),
        "pool": sum(pool_split), "harm_week": float(harm.sum()),
        "top2pct_share": float(order[: int(0.02 * len(x))].sum() / harm.sum()),
        "half_harm_cells": float((np.cumsum(order) < harm.sum() / 2).mean()),
    }  # fmt: skip
    return inp, Resources(teams), rules, info


def timed(fn: Any, repeats: int) -> tuple[PatrolPlan, list[float]]:
    times, plan = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        plan = fn()
        times.append(time.perf_counter() - t)
    assert plan is not None
    return plan, times


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one repeat, looser reference, no docs")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument(
        "--reference-limit", type=float, default=900.0, help="time limit of the reference MILP (s)"
    )
    args = ap.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    t0 = time.perf_counter()
    inp, res, rules, info = build_case(args.seed)
    build_s = time.perf_counter() - t0
    print(f"case: {info} (built in {build_s:.1f} s)", flush=True)

    heur, heur_t = timed(lambda: plan_patrols(inp, res, rules, solver="heuristic"), repeats)
    print(
        f"heuristic: {median(heur_t):.2f} s, objective {heur.objective:.2f}, LP bound {heur.bound:.2f}",
        flush=True,
    )
    auto, auto_t = timed(lambda: plan_patrols(inp, res, rules), repeats)
    print(f"auto: {median(auto_t):.2f} s ({auto.solver}), objective {auto.objective:.2f}", flush=True)
    ref_gap = 1e-3 if args.quick else 1e-4
    ref, ref_t = timed(lambda: plan_patrols(inp, res, rules, solver="milp", target_gap=ref_gap,
                                            time_limit=args.reference_limit), 1)  # fmt: skip
    print(f"reference MILP: {ref_t[0]:.1f} s ({ref.status}), objective {ref.objective:.2f}, "
          f"bound {ref.bound:.2f}", flush=True)  # fmt: skip
    best = max(ref.objective, auto.objective, heur.objective)
    upper = min(ref.bound, auto.bound, heur.bound)

    def gap_to(obj: float) -> tuple[float, float]:
        """Gap to the best plan found and (an upper bound on the true gap) to the best bound."""
        return (best - obj) / best, (upper - obj) / upper

    # baselines spend as many visits per shift as the plan does
    teams_in = np.array([sum(n for (_, sh), n in res.teams.items() if sh == s.name) for s in rules.shifts])
    per_team = auto.visits.sum(axis=0) / teams_in
    top = baseline_top_k(inp, res, rules, per_team)
    uni = baseline_uniform(inp, res, rules, per_team)

    def harm_in(visits: np.ndarray) -> float:
        """Expected weekly harm in hot spot-shifts that get visits (fractional visits count in proportion)."""
        return float((inp.harm_week[:, None] * inp.shift_share[None, :] * np.clip(visits, 0, 1)).sum())

    # the plan's timetable: that it can be drawn, and how long it takes
    t = time.perf_counter()
    visits = schedule(auto, dt.date(2024, 3, 4), seed=1)
    sched_s = time.perf_counter() - t

    rows_solver = []
    for name, plan, times in (("heuristic", heur, heur_t), ("auto (default)", auto, auto_t),
                              (f"MILP, mip_rel_gap {ref_gap:g}", ref, ref_t)):  # fmt: skip
        g_best, g_bound = gap_to(plan.objective)
        rows_solver.append([
            name, plan.solver, fmt_seconds(median(times)), f"{len(times)}", f"{plan.objective:,.1f}",
            f"{100 * g_best:.3f}%", f"{100 * g_bound:.3f}%", f"{100 * plan.gap:.3f}%",
        ])  # fmt: skip
    total = float(inp.harm_week.sum())
    rows_base = []
    for name, v in (
        ("plan (auto)", auto.visits),
        ("top-k cells, any BCU", top),
        ("uniform within each BCU", uni),
    ):
        prev = expected_prevented(inp, rules, v)
        rows_base.append([
            name, f"{v.sum():,.0f}", f"{prev:,.1f}", f"{100 * prev / total:.2f}%", f"{harm_in(v):,.0f}",
            f"{prev / expected_prevented(inp, rules, auto.visits):.2f}",
        ])  # fmt: skip
    h1 = ["solver", "used", "time (s, median)", "runs", "harm prevented / week", "gap to best plan",
          "gap to best bound", "reported gap"]  # fmt: skip
    h2 = ["plan", "visits / day", "harm prevented / week", "of all harm", "harm in patrolled hot spot-shifts",
          "vs plan"]  # fmt: skip
    t1 = markdown_table(h1, rows_solver, [False, False, True, True, True, True, True, True])
    t2 = markdown_table(h2, rows_base, [False, True, True, True, True, True])
    print(t1)
    print(t2)
    auto_time = median(auto_t)
    if expected_prevented(inp, rules, top) > auto.objective:
        topk_note = ("Top-k prevents more because it breaks the rules the plan keeps: it gives the riskiest "
                     "cells every visit they can take, ignores BCUs, compact areas and the multi-week cap; "
                     "the difference is the price of those rules.")  # fmt: skip
    else:
        topk_note = "The plan beats both baselines while keeping every rule."

    g_auto = gap_to(auto.objective)[1]
    g_heur = gap_to(heur.objective)[1]
    aim_t = "met" if auto_time < 10 else "not met"
    aim_g = "met" if g_auto <= 0.01 else "not met"
    body = f"""Command: `{command_line()}` ({today()}). Repeats: {repeats} for the heuristic and `auto` (medians), one
reference solve. The machine is shared with other work; load average at the start: {os.getloadavg()[0]:.2f}.

Machine:

{machine_markdown(("numpy", "scipy", "highspy"))}

Data: a 250 m grid over the {info["boroughs"]} Met boroughs (real boundaries, generalised to 20 m; each
borough in its BCU by the Met's lookup): {info["cells"]:,} cells in {info["bcus"]} BCUs. The harm surface is
synthetic (seed {args.seed}): {400} Gaussian clusters of gamma-distributed weight over a low background, times
log-normal noise, {info["harm_week"]:,.0f} harm units a week in all; the top 2% of cells hold
{100 * info["top2pct_share"]:.0f}% of it and half of it lies in {100 * info["half_harm_cells"]:.1f}% of cells. Shift
shares of harm 25/40/35% (early/late/night). {info["teams"]} teams (team-shifts): local teams in proportion
to each BCU's harm, split 30/40/30% over the shifts, and a citywide pool of {info["pool"]}. Default `Rules`
(15-minute visits, 120-minute gap, half of each shift on visits, 600 m patrol radius, 30-minute residual
deterrence, effect 0.5, decay 0.8, cap 25% over 4 weeks) with the cap counted per cell.

Method: `plan_patrols` as `safestreets plan` calls it. "Gap to best plan" compares each plan's expected harm
prevented with the best plan any solver found; "gap to best bound" with the tightest upper bound any of
them proved (LP relaxation or the MILP's dual bound), so it is an upper bound on the true gap to the optimum.
The reference is the MILP warm-started from the heuristic, solved to `mip_rel_gap` {ref_gap:g} with a
{args.reference_limit:g} s limit (status: {ref.status}, {fmt_seconds(ref_t[0])} s). The baselines spend the same
visits per shift as the plan (`auto`): `baseline_top_k` puts them on the riskiest cells citywide, at the
most visits a cell can take, whatever their BCU; `baseline_uniform` spreads each BCU's visits evenly over
all its cells (the expected value of random patrol). Harm prevented uses the documented dosage-response
(`expected_prevented`, linear between whole visits for the uniform baseline). Drawing the week's timetable
for the `auto` plan (`schedule`, {len(visits):,} visits) took {fmt_seconds(sched_s)} s.

{t1}

{t2}

Reading:

- Time to plan with `auto` (the default): {fmt_seconds(auto_time)} s median; aim under 10 s: **{aim_t}**.
- Gap of `auto` to the MILP optimum: at most {100 * g_auto:.3f}% (against the best bound); aim within 1%:
  **{aim_g}**. The heuristic alone: at most {100 * g_heur:.3f}% in {fmt_seconds(median(heur_t))} s.
- The plan prevents {rows_base[0][2]} harm units a week under the dosage assumption, against {rows_base[1][2]} for the
  top-k cells regardless of BCU and {rows_base[2][2]} for uniform patrol with the same visits; its patrolled hot
  spot-shifts hold {rows_base[0][4]} harm units against {rows_base[1][4]} and {rows_base[2][4]}. {topk_note}
- The heuristic's own reported gap ({100 * heur.gap:.2f}%) is against the LP relaxation (LP bound
  {heur.bound:,.1f} against an optimum of at most {upper:,.1f}, {100 * (heur.bound / upper - 1):.2f}% above it): `auto`
  keeps the greedy plan when that gap is within its target (0.5%) and otherwise improves it with the MILP.
"""
    if args.quick:
        print(body)
        return
    path = write_section(TITLE, body)
    print(f"wrote the '## {TITLE}' section of {path}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
