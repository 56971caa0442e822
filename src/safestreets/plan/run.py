"""A patrol plan from the store to stored, exported files: what ``safestreets plan`` does.

The risk surface is a stored forecast run; the shift shares come from timestamped events of the same
target where the store has them; the multi-week cap counts the visits of the plans stored for the weeks
before. Everything that made the plan goes into ``plan_runs.params`` and each file's provenance sidecar.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import shapely

from safestreets import __version__
from safestreets.errors import NotFoundError
from safestreets.forecast.store import Surface, read_surface
from safestreets.geo.export import write_geo
from safestreets.plan.days import DayPlan, spread_days
from safestreets.plan.patrol import PatrolInput, PatrolPlan, plan_patrols
from safestreets.plan.resources import Resources, Rules, Shift
from safestreets.plan.schedule import Visit, schedule
from safestreets.plan.shiftrisk import ShiftRisk, shift_risk
from safestreets.store import fetch_one, get_setting, transaction

NEIGHBOURHOOD_KINDS = ("lsoa21", "lsoa11", "lsoa")


def shift_shares(
    con: duckdb.DuckDBPyConnection, shifts: tuple[Shift, ...], types: list[str] | None
) -> tuple[np.ndarray, str]:
    """Each shift's share of the target's harm by hour of day, from timestamped events where there are
    any; otherwise in proportion to shift length. Returns the shares and where they came from."""
    where, params = "occurred_at IS NOT NULL", []
    if types:
        where += f" AND crime_type IN ({','.join('?' for _ in types)})"
        params = list(types)
    rows = con.execute(
        f"SELECT hour(occurred_at) AS h, sum(coalesce(harm, 1)) FROM events WHERE {where} GROUP BY h", params
    ).fetchall()
    if sum(r[1] for r in rows) > 0 and len(rows) >= 12:
        by_hour = np.zeros(24)
        for h, w in rows:
            by_hour[int(h)] = float(w)
        share = np.array([sum(by_hour[h] for h in range(24) if s.covers(h + 0.5)) for s in shifts])
        n = sum(r[1] for r in rows)
        if share.sum() > 0:
            return share / share.sum(), f"harm by hour of {n:,.0f} harm units of timestamped events"
    hours = np.array([s.hours for s in shifts], dtype="float64")
    return hours / hours.sum(), "shift length (no timestamped events of the target)"


def neighbourhoods(con: duckdb.DuckDBPyConnection, x: np.ndarray, y: np.ndarray, ids: np.ndarray,
                   by: str) -> tuple[np.ndarray, str]:  # fmt: skip
    """The LSOA holding each unit's point (the unit itself where none does, or with ``by='unit'``)."""
    out = np.asarray(ids, dtype=object).copy()
    if by == "unit":
        return out, "unit"
    kinds = {
        r[0] for r in con.execute("SELECT DISTINCT kind FROM areas WHERE geometry IS NOT NULL").fetchall()
    }
    kind = next((k for k in NEIGHBOURHOOD_KINDS if k in kinds), None)
    if kind is None:
        return out, "unit"
    data = con.execute("SELECT code, geometry FROM areas WHERE kind = ?", [kind]).fetchnumpy()
    geoms = shapely.from_wkb([bytes(g) for g in data["geometry"]])
    tree = shapely.STRtree(geoms)
    pts = shapely.points(x, y)
    hit_pt, hit_area = tree.query(pts, predicate="within")
    codes = np.asarray(data["code"], dtype=object)
    first = np.unique(hit_pt, return_index=True)[1]
    out[hit_pt[first]] = codes[hit_area[first]]
    return out, kind


def past_visits(con: duckdb.DuckDBPyConnection, week_start: date, weeks: int) -> tuple[dict[str, float],
                                                                                         dict[str, float]]:  # fmt: skip
    """Visits per neighbourhood and per BCU in the ``weeks - 1`` weeks before ``week_start``, from the
    latest stored plan of each of those weeks."""
    if weeks <= 1:
        return {}, {}
    first = week_start - timedelta(weeks=weeks - 1)
    rows = con.execute(
        "WITH latest AS (SELECT week_start, max(plan_id) AS plan_id FROM plan_runs "
        "WHERE week_start >= ? AND week_start < ? GROUP BY week_start) "
        "SELECT h.neighbourhood, h.bcu, sum(h.visits_per_day) * 7 FROM plan_hotspots h "
        "JOIN latest USING (plan_id) GROUP BY 1, 2", [first, week_start]
    ).fetchall()  # fmt: skip
    by_nb: dict[str, float] = {}
    by_bcu: dict[str, float] = {}
    for nb, bcu, v in rows:
        by_nb[str(nb)] = by_nb.get(str(nb), 0.0) + float(v)
        by_bcu[str(bcu)] = by_bcu.get(str(bcu), 0.0) + float(v)
    return by_nb, by_bcu


def default_week(window_start: datetime) -> date:
    """The first Monday on or after the forecast window starts."""
    d = window_start.date()
    return d + timedelta(days=(7 - d.weekday()) % 7)


@dataclass
class PlanRun:
    plan: PatrolPlan
    surface: Surface
    week_start: date
    visits: list[Visit]
    plan_id: int | None
    seed: int
    notes: list[str]
    shift_risk: ShiftRisk | None = None  # harm by unit, day and shift, where timestamped events allow
    by_day: DayPlan | None = None  # each team's hot spots and visits per day, where shift_risk allows
    #: The neighbourhoods' names by code (an LSOA's "Westminster 018B"), for the exported files.
    area_names: dict[str, str] = field(default_factory=dict)


def run_plan(
    con: duckdb.DuckDBPyConnection,
    resources: Resources,
    rules: Rules | None = None,
    *,
    forecast_run: int | None = None,
    week: date | None = None,
    solver: str = "auto",
    target_gap: float = 0.005,
    time_limit: float = 60.0,
    seed: int | None = None,
    save: bool = True,
) -> PlanRun:
    rules = rules or Rules()
    surface = read_surface(con, forecast_run)
    week_start = week or default_week(surface.window[0])
    target = surface.provenance.get("data", {}).get("target", {})
    risk, why = shift_risk(con, surface, rules.shifts)
    if risk is not None:
        shares, share_source = risk.shares, risk.source
    else:
        shares, share_source = shift_shares(con, rules.shifts, target.get("types"))
    nb, nb_kind = neighbourhoods(con, surface.x, surface.y, surface.ids, rules.cap_by)
    past_nb, past_bcu = past_visits(con, week_start, rules.cap_weeks)
    unknown = sorted({b for b, _ in resources.teams} - set(surface.bcu) - {"*"})
    if unknown:
        raise NotFoundError(
            f"resources name BCU {unknown[0]!r}, which the forecast does not have; its BCUs are "
            + ", ".join(sorted(set(surface.bcu) - {""}))
        )
    inp = PatrolInput(
        ids=surface.ids, x=surface.x, y=surface.y, bcu=surface.bcu, harm_week=surface.harm_week(),
        shift_share=shares, area=nb, past_visits=past_nb, past_bcu_visits=past_bcu,
        meta={"forecast_run": surface.run_id, "window": [str(w) for w in surface.window],
              "target": target, "shift_share_from": share_source, "neighbourhoods": nb_kind,
              "past_weeks_counted": rules.cap_weeks - 1, "past_visits": float(sum(past_nb.values()))},
    )  # fmt: skip
    plan = plan_patrols(inp, resources, rules, solver=solver, target_gap=target_gap, time_limit=time_limit)
    if seed is None:  # reproducible from the stored plan, but not guessable from the week alone
        seed = int(hashlib.sha256(f"{inp.fingerprint()}|{week_start}|{datetime.now(UTC)}".encode())
                   .hexdigest()[:8], 16)  # fmt: skip
    by_day = spread_days(plan, risk.by_slot) if risk is not None else None
    if by_day is not None:
        plan.params["days"] = by_day.describe()
    visits = schedule(plan, week_start, seed=seed, by_day=by_day)
    area = {"lsoa21": "LSOA", "lsoa11": "LSOA", "lsoa": "LSOA"}.get(nb_kind, nb_kind)
    notes = [f"shift shares from {share_source}",
             f"no {area} gets more than {rules.cap_share:.0%} of its BCU's visits over {rules.cap_weeks} weeks"]  # fmt: skip
    if risk is None:
        notes.append(f"risk by shift: {why}; every unit has the same shift shares, the plan's hot spots are "
                     "the same in every shift, and one daily pattern is repeated over the week")  # fmt: skip
    else:
        notes.append("risk by shift and day: hot spots chosen per shift from each unit's own profile, and each hot "
                     "spot's weekly visits spread over the days by its expected harm on each day"
                     + day_note(by_day) + "; the harm by day and shift is in the plan's shift-risk export")  # fmt: skip
    if not past_nb:
        notes.append(
            f"no stored plans in the {rules.cap_weeks - 1} weeks before: the cap counts this week only"
        )
    plan_id = save_plan(con, plan, week_start, visits, seed=seed) if save else None
    area_names = {str(c): str(n) for c, n in con.execute(
        "SELECT code, name FROM areas WHERE kind = ? AND name IS NOT NULL", [nb_kind]).fetchall()}  # fmt: skip
    return PlanRun(plan, surface, week_start, visits, plan_id, seed, notes, risk, by_day, area_names)


def day_note(by_day: DayPlan | None) -> str:
    """What spreading the visits over the days did, for the plan's notes."""
    if by_day is None:
        return ""
    st = by_day.stats
    out = (f"; {st['share_hotspot_days_without_visits']:.0%} of hot-spot days without a visit, and the visits on "
           f"{st['visit_harm_ratio']:.2f} times the harm of the same pattern every day")  # fmt: skip
    if by_day.kept:
        out += f"; {len(by_day.kept)} team(s) keep one daily pattern: " + "; ".join(by_day.kept[:3])
    return out


def plan_params(plan: PatrolPlan, week_start: date, seed: int) -> dict[str, Any]:
    return {**plan.params, "week_start": str(week_start), "schedule_seed": seed,
            "objective": "expected harm prevented per week", "software": f"safestreets {__version__}"}  # fmt: skip


def hotspot_numbers(plan: PatrolPlan) -> dict[int, int]:
    """Each hot spot's one number in the plan (unit index -> 1, 2, ...): its rank in the plan's hot spot
    list, the most expected harm first (ties by unit id). A hot spot visited by several teams or in several
    shifts keeps its number; the visits, patrol cards, exports and briefing all use it."""
    inp = plan.input
    units = {u for t in plan.teams for u, _ in t.hotspots}
    ranked = sorted(units, key=lambda u: (-float(inp.harm_week[u]), str(inp.ids[u])))
    return {u: n for n, u in enumerate(ranked, start=1)}


def hotspot_rows(plan: PatrolPlan, names: np.ndarray | None = None,
                 area_names: dict[str, str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    """One row per team and hot spot, in walking order; with ``names`` (per unit of the plan's input, as
    the forecast stored them) each row has the hot spot's place ``name``, and with ``area_names`` its
    ``neighbourhood_name`` beside the code."""
    inp = plan.input
    number = hotspot_numbers(plan)
    rows = []
    for t in plan.teams:
        for stop, (u, v) in enumerate(t.hotspots, start=1):
            rows.append({
                "team_id": t.team_id, "home": t.home, "bcu": plan.areas[t.area].bcu, "shift": t.shift,
                "stop": stop, "hotspot": number[u], **({} if names is None else {"name": str(names[u])}),
                "unit_id": str(inp.ids[u]),
                "neighbourhood": str(np.asarray(inp.area)[u]),
                **({} if area_names is None else {"neighbourhood_name": area_names.get(str(np.asarray(inp.area)[u]), "")}),
                "visits_per_day": int(v), "harm_week": float(inp.harm_week[u]),
                "x": float(inp.x[u]), "y": float(inp.y[u]),
            })  # fmt: skip
    return rows


def save_plan(con: duckdb.DuckDBPyConnection, plan: PatrolPlan, week_start: date, visits: list[Visit], *,
              seed: int) -> int:  # fmt: skip
    """Store a plan, its hot spots and its visits in one transaction; returns the ``plan_id``."""
    ids = plan.input.ids
    hot = pa.Table.from_pylist(hotspot_rows(plan))
    timed = pa.table({
        "team_id": [v.team_id for v in visits], "day": [v.day for v in visits], "seq": [v.seq for v in visits],
        "unit_id": [str(ids[v.unit]) for v in visits], "starts_at": [v.start for v in visits],
        "ends_at": [v.end for v in visits],
    })  # fmt: skip
    with transaction(con):
        row = fetch_one(
            con,
            "INSERT INTO plan_runs (created_at, week_start, forecast_run_id, solver, status, objective, bound, "
            "gap, seconds, params) VALUES (now(), ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING plan_id",
            [week_start, plan.input.meta.get("forecast_run"), plan.solver, plan.status, plan.objective,
             plan.bound, plan.gap, plan.seconds, json.dumps(plan_params(plan, week_start, seed), default=str)],
        )  # fmt: skip
        assert row is not None
        plan_id = int(row[0])
        for name, table, cols in (
            ("plan_hotspots", hot, "team_id, home, bcu, shift, stop, hotspot, unit_id, neighbourhood, "
                                   "visits_per_day, harm_week, x, y"),
            ("plan_visits", timed, "team_id, day, seq, unit_id, starts_at, ends_at"),
        ):  # fmt: skip
            if table.num_rows == 0:
                continue
            con.register("_ss_plan", table)
            try:
                con.execute(f"INSERT INTO {name} (plan_id, {cols}) SELECT ?, {cols} FROM _ss_plan", [plan_id])
            finally:
                con.unregister("_ss_plan")
    return plan_id


def export_plan(run: PlanRun, folder: Path, crs: str) -> list[Path]:
    """``plan-hotspots.geojson`` (WGS84 points), ``plan-hotspots.csv``, ``plan-visits.csv``, each with a
    provenance sidecar; every hot spot with its number and place name."""
    folder.mkdir(parents=True, exist_ok=True)
    plan = run.plan
    stem = f"plan-{run.week_start}"
    names = run.surface.names_or_blank()
    rows = hotspot_rows(plan, names, run.area_names)
    provenance = {
        "plan_id": run.plan_id, "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "software": f"safestreets {__version__}", "crs": crs, "plan": plan_params(plan, run.week_start, run.seed),
        "forecast": run.surface.provenance, "solver": plan.solver, "objective": plan.objective,
        "bound": plan.bound, "gap": plan.gap, "notes": run.notes,
    }  # fmt: skip
    out: list[Path] = []
    csv_path = folder / f"{stem}-hotspots.csv"
    _write_csv(csv_path, rows)
    out.append(csv_path)
    visits_path = folder / f"{stem}-visits.csv"
    ids = plan.input.ids
    number = hotspot_numbers(plan)
    _write_csv(visits_path, [
        {"team_id": v.team_id, "day": v.day.isoformat(), "seq": v.seq, "hotspot": number[v.unit],
         "name": str(names[v.unit]), "unit_id": str(ids[v.unit]), "start": v.start.strftime("%Y-%m-%d %H:%M"),
         "end": v.end.strftime("%Y-%m-%d %H:%M")}
        for v in run.visits
    ])  # fmt: skip
    out.append(visits_path)
    for path in out:
        record = {**provenance, "file": path.name}
        path.with_name(path.name + ".provenance.json").write_text(json.dumps(record, indent=2, default=str),
                                                                  "utf-8")  # fmt: skip
    if run.shift_risk is not None:
        # The planned hot spots' expected harm in each shift of each day: when their risk falls.
        spots = sorted(number, key=lambda u: number[u])
        risk_path = folder / f"{stem}-shift-risk.csv"
        _write_csv(risk_path, [{"hotspot": number[r_u], "name": str(names[r_u]), **row}
                               for r_u in spots for row in run.shift_risk.rows(ids, [r_u], plan.rules.shifts)])  # fmt: skip
        risk_path.with_name(risk_path.name + ".provenance.json").write_text(json.dumps(
            {**provenance, "file": risk_path.name, "shift_risk": run.shift_risk.describe()}, indent=2, default=str),
            "utf-8")  # fmt: skip
        out.append(risk_path)
    if rows:
        table = pa.Table.from_pylist([{k: v for k, v in r.items() if k not in ("x", "y")} for r in rows])
        points = shapely.points([r["x"] for r in rows], [r["y"] for r in rows])
        out.append(
            write_geo(table, points, folder / f"{stem}-hotspots.geojson", crs=crs, provenance=provenance)
        )
    return out


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        if not rows:
            fh.write("")
            return
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def crs_of(con: duckdb.DuckDBPyConnection) -> str:
    return get_setting(con, "crs")
