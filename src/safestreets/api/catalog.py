"""What a workspace holds, read back for the dashboard and notebooks: forecast runs, patrol plans, the
overview's trend and changes, hub rankings, briefings and loads. Every function takes a
:class:`~safestreets.api.workspace.Workspace` (a read-only one is enough: nothing here writes) and returns
the models of :mod:`safestreets.api.catalog_models`.

The numbers are the ones the CLI prints for the same workspace: top hot spots per BCU in the order the run
ranked them, a plan's per-BCU harm prevented by the same dosage model as ``safestreets plan``. Queries
live in :mod:`safestreets.store.catalog`; the files of the outputs folder (briefings, backtests, hot spot
results, patrol cards) are read by :mod:`safestreets.api.outputs`.
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from safestreets.api import catalog_models as m
from safestreets.api import outputs
from safestreets.api.workspace import Workspace
from safestreets.errors import NoDataError, NotFoundError, ParameterError, SafestreetsError, unknown
from safestreets.store import catalog as store

#: A named place this close to a hot spot's centre names it ("near Central Station").
PLACE_RADIUS_M = 500.0
NEIGHBOURHOOD_KINDS = ("lsoa21", "lsoa11", "lsoa")
MAX_TOP = 50


def _need(value: Any, what: str, key: object, hint: str = "") -> Any:
    if value is None:
        raise NotFoundError(f"no {what} {key} in the store{hint}")
    return value


def _lonlat(ws: Workspace, x: list[float], y: list[float]) -> tuple[list[float | None], list[float | None]]:
    from safestreets.geo.project import crs_to_lonlat

    if not x:
        return [], []
    xs = np.array([np.nan if v is None else v for v in x], dtype="float64")
    ys = np.array([np.nan if v is None else v for v in y], dtype="float64")
    lon, lat = crs_to_lonlat(xs, ys, ws.crs)
    return [round(float(v), 6) for v in lon], [round(float(v), 6) for v in lat]


def _check_bcu(bcu: str | None, known: set[str]) -> None:
    if bcu is not None and bcu not in known:
        err = unknown("BCU", bcu, sorted(known))
        raise NotFoundError(str(err))


# --- forecast runs -------------------------------------------------------------------------------------


def forecast_runs(ws: Workspace) -> list[m.ForecastRunSummary]:
    """Every stored forecast run, newest first."""
    return [m.ForecastRunSummary(**r) for r in store.forecast_runs(ws.con)]


def _run_row(ws: Workspace, run_id: int) -> dict[str, Any]:
    return _need(store.forecast_run(ws.con, run_id), "forecast run", run_id,  # type: ignore[no-any-return]
                 ": see the forecasts list for the runs it holds")  # fmt: skip


def forecast_run(ws: Workspace, run_id: int, *, top: int = 5, bcu: str | None = None) -> m.ForecastRunDetail:
    """One run: what made it, why its model, how accurate it has been, and its top hot spots per BCU
    (named by the nearest place and neighbourhood where those are loaded)."""
    if not 1 <= top <= MAX_TOP:
        raise ParameterError(f"top must be 1 to {MAX_TOP}, not {top}")
    row = _run_row(ws, run_id)
    prov: dict[str, Any] = row.pop("provenance") or {}
    data = prov.get("data", {})
    units = prov.get("units", {})
    auto = prov.get("auto") or {}
    tops = store.top_units(ws.con, run_id, top)
    for t in tops:
        t["bcu"] = t["bcu"] or "all"  # no BCU loaded: the whole study area is one command unit
    _check_bcu(bcu, {t["bcu"] for t in tops})
    if bcu is not None:
        tops = [t for t in tops if t["bcu"] == bcu]
    notes = []
    if data.get("target", {}).get("police_found"):
        from safestreets.forecast.targets import POLICE_FOUND_LABEL

        notes.append(POLICE_FOUND_LABEL)
    return m.ForecastRunDetail(
        run=m.ForecastRunSummary(**row),
        study_area=units.get("study_area"),
        area_km2=units.get("area_km2"),
        source=data.get("source"),
        data_months=[data.get("first_month"), data.get("last_month")],
        events=data.get("events"),
        staleness=m.Staleness(**prov["staleness"]) if prov.get("staleness") else None,
        harm_weights=prov.get("harm_weights", {}),
        params=prov.get("params", {}),
        auto=m.AutoChoice(reason=auto["reason"], scores=auto.get("scores", {}))
        if auto.get("reason")
        else None,
        backtest=_run_backtest(ws, prov, run_id),
        top_per_bcu=top,
        top=_hot_spots(ws, tops),
        intervals=prov.get("intervals"),
        files=outputs.run_files(ws, run_id),
        notes=notes,
    )


def _hot_spots(ws: Workspace, rows: list[dict[str, Any]]) -> list[m.HotSpot]:
    lon, lat = _lonlat(ws, [r["x"] for r in rows], [r["y"] for r in rows])
    places = store.named_places(ws.con)
    areas = _neighbourhoods(ws, rows)
    out = []
    for i, r in enumerate(rows):
        near: dict[str, Any] = {}
        if places and r["x"] is not None:
            d = np.hypot(
                np.array([p["x"] for p in places]) - r["x"], np.array([p["y"] for p in places]) - r["y"]
            )
            k = int(np.argmin(d))
            if d[k] <= PLACE_RADIUS_M:
                near = {"place": places[k]["name"], "place_kind": places[k]["kind"],
                        "place_distance_m": round(float(d[k]))}  # fmt: skip
        out.append(m.HotSpot(bcu=r["bcu"], rank=r["rank"], unit_id=r["unit_id"], expected_count=r["expected_count"],
                             expected_harm=r["expected_harm"], lat=lat[i], lon=lon[i], area=areas[i],
                             lower=r["count_lower"], upper=r["count_upper"], **near))  # fmt: skip
    return out


def _neighbourhoods(ws: Workspace, rows: list[dict[str, Any]]) -> list[str | None]:
    """The name of the LSOA holding each row's point (None where none does or none is loaded)."""
    import shapely

    found: list[str | None] = [None] * len(rows)
    if not rows:
        return found
    areas = store.area_names_at(ws.con, NEIGHBOURHOOD_KINDS)
    if not areas:
        return found
    tree = shapely.STRtree(shapely.from_wkb([bytes(a["geometry"]) for a in areas]))
    for i, r in enumerate(rows):
        if r["x"] is None:
            continue
        hits = tree.query(shapely.Point(r["x"], r["y"]), predicate="within")
        if len(hits):
            found[i] = str(areas[int(min(hits))]["name"])
    return found


def _run_backtest(ws: Workspace, prov: dict[str, Any], run_id: int | None = None) -> m.BacktestSummary | None:
    """The run's own backtest (auto's, stored with the run; or the one a briefing made for a model chosen
    by hand), else a stored backtest of the same target and units in the outputs folder."""
    from safestreets.forecast.store import read_backtest

    own = read_backtest(ws.con, run_id) if run_id is not None else None
    summary = own.summary if own is not None else (prov.get("auto") or {}).get("summary")
    if summary:
        rows = outputs.summary_rows(summary)
        origins = max((r.origins or 0 for r in rows), default=0) or None
        why = (
            "model choice (auto)"
            if own is None or own.computed_by == "forecast"
            else "backtest (made for a briefing)"
        )
        return m.BacktestSummary(source=f"the run's own {why}", origins=origins, rows=rows,
                                 curves=outputs.curves_from_summary(rows))  # fmt: skip
    from safestreets.api.forecasting import slug

    target = prov.get("data", {}).get("target", {}).get("name", "")
    folder = ws.paths.outputs / f"backtest-{slug(target)}-{prov.get('units', {}).get('kind', '')}"
    try:
        stored = outputs.stored_backtest(folder)
    except SafestreetsError:  # a damaged folder: the run's page shows no backtest (the comparison says why)
        return None
    return stored.summary if stored is not None else None


def model_comparison(ws: Workspace) -> m.ModelComparison:
    """How the models compared: auto's scores at every run that chose by backtest, and the backtests
    stored in the outputs folder."""
    runs = []
    for r in store.forecast_runs(ws.con):
        prov = (store.forecast_run(ws.con, r["run_id"]) or {}).get("provenance") or {}
        auto = prov.get("auto") or {}
        if auto.get("scores"):
            runs.append(m.RunScores(run_id=r["run_id"], target=r["target"], window_start=r["window_start"],
                                    chosen=r["model"], scores=auto["scores"]))  # fmt: skip
    stored, notes = outputs.stored_backtests(ws)
    names = {k for r in runs for k in r.scores} | {row.model for b in stored for row in b.summary.rows}
    return m.ModelComparison(models=sorted(names), runs=runs, backtests=stored, notes=notes)


# --- patrol plans --------------------------------------------------------------------------------------


def plans(ws: Workspace) -> list[m.PlanSummary]:
    """Every stored patrol plan, newest first."""
    return [m.PlanSummary(**r) for r in store.plan_runs(ws.con)]


def _plan_row(ws: Workspace, plan_id: int) -> dict[str, Any]:
    return _need(store.plan_run(ws.con, plan_id), "patrol plan", plan_id,  # type: ignore[no-any-return]
                 ": see the plans list for the plans it holds")  # fmt: skip


def _rules(params: dict[str, Any]) -> Any:
    from safestreets.plan.resources import Rules, Shift

    stored = dict(params.get("rules", {}))
    shifts = tuple(Shift(**s) for s in stored.pop("shifts", [])) or None
    names = {f.name for f in fields(Rules)} - {"shifts"}
    kwargs = {k: v for k, v in stored.items() if k in names}
    return Rules(**kwargs, shifts=shifts) if shifts else Rules(**kwargs)


def by_bcu(params: dict[str, Any], hotspots: list[dict[str, Any]]) -> list[m.BcuPlan]:
    """Per BCU: team-shifts, hot spots, visits a day and expected harm prevented a week, by the dosage
    model the plan was made with (its stored rules and shift shares): ``safestreets plan``'s table."""
    from safestreets.plan.patrol import PatrolInput, prevented_per_unit

    rules = _rules(params)
    shift_share = params.get("shift_share", {})
    units = sorted({h["unit_id"] for h in hotspots})
    index = {u: i for i, u in enumerate(units)}
    shift_index = {s.name: k for k, s in enumerate(rules.shifts)}
    harm = np.zeros(len(units))
    bcu = np.empty(len(units), dtype=object)
    visits = np.zeros((len(units), len(rules.shifts)))
    for h in hotspots:
        i = index[h["unit_id"]]
        harm[i], bcu[i] = h["harm_week"], h["bcu"]
        visits[i, shift_index[h["shift"]]] += h["visits_per_day"]
    share = np.array([float(shift_share.get(s.name, 0.0)) for s in rules.shifts])
    if share.sum() <= 0:  # an older plan without its shares: in proportion to shift length, as the planner
        share = np.array([s.hours for s in rules.shifts], dtype="float64")
    share = share / share.sum()
    own = params.get("shift_share_units") or {}
    if own:  # each unit's own shares (risk by shift): as the planner weighed them
        share = np.array([own.get(u, share) for u in units], dtype="float64").reshape(len(units), len(rules.shifts))
    inp = PatrolInput(ids=np.array(units, dtype=object), x=np.zeros(len(units)), y=np.zeros(len(units)), bcu=bcu,
                      harm_week=harm, shift_share=share)  # fmt: skip
    prevented = prevented_per_unit(inp, rules, visits) if units else np.zeros(0)
    names = {str(r["bcu"]) for r in params.get("resources", []) if r.get("bcu") not in (None, "*")}
    names |= {str(b) for b in bcu}
    out = []
    for b in sorted(names):
        mask = bcu == b
        out.append(m.BcuPlan(
            bcu=b, teams=len({h["team_id"] for h in hotspots if h["bcu"] == b}),
            hotspots=int((visits[mask].sum(axis=1) > 0).sum()), visits_per_day=int(visits[mask].sum()),
            harm_week=float(harm[mask].sum()), harm_prevented_week=float(prevented[mask].sum()),
        ))  # fmt: skip
    return out


def plan(ws: Workspace, plan_id: int, *, bcu: str | None = None) -> m.PlanDetail:
    """One plan: per BCU, its teams in walking order, its hot spots with their plan numbers, and whether
    its patrol cards are in the outputs folder."""
    row = _plan_row(ws, plan_id)
    params = row.pop("params") or {}
    rows = store.plan_hotspots(ws.con, plan_id)
    per_bcu = by_bcu(params, rows)
    _check_bcu(bcu, {b.bcu for b in per_bcu})
    teams: dict[str, dict[str, Any]] = {}
    spots: dict[str, dict[str, Any]] = {}
    for h in rows:
        t = teams.setdefault(h["team_id"], {"team_id": h["team_id"], "home": h["home"], "bcu": h["bcu"],
                                            "shift": h["shift"], "stops": [], "visits_per_day": 0})  # fmt: skip
        t["stops"].append(h["hotspot"])
        t["visits_per_day"] += h["visits_per_day"]
        s = spots.setdefault(h["unit_id"], {"hotspot": h["hotspot"], "unit_id": h["unit_id"], "bcu": h["bcu"],
                                            "neighbourhood": h["neighbourhood"], "visits_per_day": 0,
                                            "harm_week": h["harm_week"], "x": h["x"], "y": h["y"], "teams": []})  # fmt: skip
        s["visits_per_day"] += h["visits_per_day"]
        s["teams"].append(h["team_id"])
    ordered = sorted(spots.values(), key=lambda s: (s["hotspot"] or 0, s["unit_id"]))
    lon, lat = _lonlat(ws, [s.pop("x") for s in ordered], [s.pop("y") for s in ordered])
    hot = [m.PlanHotSpot(**s, lat=lat[i], lon=lon[i]) for i, s in enumerate(ordered)]
    team_list = [m.PlanTeam(**t) for t in teams.values()]
    if bcu is not None:
        per_bcu = [b for b in per_bcu if b.bcu == bcu]
        hot = [h for h in hot if h.bcu == bcu]
        team_list = [t for t in team_list if t.bcu == bcu]
    cards, note = outputs.cards_file(ws, plan_id, row["week_start"])
    return m.PlanDetail(plan=m.PlanSummary(**row), by_bcu=per_bcu, teams=team_list, hotspots=hot,
                        shift_share=params.get("shift_share", {}), rules=params.get("rules", {}),
                        cards=cards.name if cards else None, cards_note=note)  # fmt: skip


def plan_visits(
    ws: Workspace, plan_id: int, *, team: str | None = None, day: date | None = None
) -> m.PlanVisits:
    """A plan's timed visits, optionally one team's or one day's."""
    row = _plan_row(ws, plan_id)
    if team is not None and team not in {h["team_id"] for h in store.plan_hotspots(ws.con, plan_id)}:
        raise NotFoundError(f"plan {plan_id} has no team {team!r}")
    if day is not None and not row["week_start"] <= day < row["week_start"] + timedelta(days=7):
        raise NotFoundError(f"plan {plan_id} is for the week of {row['week_start']}: {day} is outside it")
    visits = [m.Visit(**v) for v in store.plan_visits(ws.con, plan_id, team=team, day=day)]
    return m.PlanVisits(plan_id=plan_id, team=team, day=day, visits=visits)


def plan_cards(ws: Workspace, plan_id: int) -> Path:
    """The plan's patrol cards PDF, or NotFoundError saying why there is none."""
    row = _plan_row(ws, plan_id)
    path, note = outputs.cards_file(ws, plan_id, row["week_start"])
    if path is None:
        raise NotFoundError(note or "no patrol cards")
    return path


# --- the overview --------------------------------------------------------------------------------------


def trend(ws: Workspace, *, target: str = "violence", months: int = 12) -> m.Trend:
    """Events and harm per month of ``target`` over the last ``months`` months of data, citywide and per
    BCU, from the source a forecast would read (one source: the others publish the same crimes)."""
    from safestreets.forecast.data import choose_source
    from safestreets.forecast.targets import parse_target

    if not 2 <= months <= 60:
        raise ParameterError(f"months must be 2 to 60, not {months}")
    tgt = parse_target(target)
    try:
        source = choose_source(ws.con)
    except SafestreetsError as err:
        raise NoDataError(str(err)) from None
    types = list(tgt.types)
    last = store.last_month(ws.con, source, types)
    if last is None:
        raise NoDataError(f"no {tgt.name} events from {source} in the store")
    index = last.year * 12 + last.month - 1
    keys = [date((index - k) // 12, (index - k) % 12 + 1, 1) for k in range(months - 1, -1, -1)]
    pos = {k: i for i, k in enumerate(keys)}
    events: dict[str, np.ndarray] = {"citywide": np.zeros(months, dtype="int64")}
    harm: dict[str, np.ndarray] = {"citywide": np.zeros(months)}
    for r in store.monthly_counts(ws.con, source, types, keys[0], keys[-1]):
        i = pos[r["month"]]
        for name in ("citywide", r["bcu"]) if r["bcu"] else ("citywide",):
            events.setdefault(name, np.zeros(months, dtype="int64"))[i] += r["events"]
            harm.setdefault(name, np.zeros(months))[i] += r["harm"]
    from safestreets.report.brief import slivers
    from safestreets.store.queries import command_unit_names

    labels = command_unit_names(ws.con)
    left_out = slivers(events, "citywide")
    series = []
    for name in ["citywide", *sorted(k for k in events if k != "citywide" and k not in left_out)]:
        e = events[name]
        before = float(e[-5:-1].mean()) if months > 4 else float(e[:-1].mean())
        series.append(m.TrendSeries(name=name, label=labels.get(name, name), events=[int(v) for v in e],
                                    harm=[float(v) for v in harm[name]], last=int(e[-1]), mean_before=before,
                                    change=(e[-1] - before) / before if before else None))  # fmt: skip
    return m.Trend(target=tgt.name, types=types, source=source, months=[k.strftime("%Y-%m") for k in keys],
                   series=series, left_out={labels.get(k, k): n for k, n in left_out.items()})  # fmt: skip


def plan_glance(ws: Workspace) -> m.PlanGlance | None:
    """The latest plan at a glance (None when no plan is stored)."""
    latest = store.latest_plan(ws.con)
    if latest is None:
        return None
    row = _plan_row(ws, latest)
    params = row.pop("params") or {}
    return m.PlanGlance(plan=m.PlanSummary(**row), by_bcu=by_bcu(params, store.plan_hotspots(ws.con, latest)))


# --- hub tactics ---------------------------------------------------------------------------------------

MAX_HUB_BUDGET = 50
CATCHMENT_M = (50.0, 5000.0)


def hub_ranking(
    ws: Workspace, *, budget: int = 5, catchment: float = 400.0, kinds: str = "station"
) -> m.HubRanking:
    """Hubs ranked for knife arches and drug dogs, and the week's ``budget`` best hub x time-slot
    deployments, as ``safestreets hubs`` ranks them, without writing its CSV (reads only)."""
    from safestreets.plan.hubs import rank_hubs

    if not 0 <= budget <= MAX_HUB_BUDGET:
        raise ParameterError(f"budget must be 0 to {MAX_HUB_BUDGET}, not {budget}")
    if not CATCHMENT_M[0] <= catchment <= CATCHMENT_M[1]:
        raise ParameterError(
            f"catchment must be {CATCHMENT_M[0]:g} to {CATCHMENT_M[1]:g} m, not {catchment:g}"
        )
    names = tuple(k.strip() for k in kinds.split(",") if k.strip())
    if not names:
        raise ParameterError("name at least one place kind, such as station")
    known = store.place_kinds(ws.con)
    for k in names:
        if known and k not in known:
            raise unknown("place kind", k, known)
    try:
        ranking = rank_hubs(ws.con, None, kinds=names, catchment_m=catchment, budget=budget)
    except ParameterError:
        raise
    except SafestreetsError as err:  # what the store lacks (no located events yet)
        raise NoDataError(str(err)) from None
    deployments = ranking.deployments.to_pylist()
    lon, lat = _lonlat(ws, [d["x"] for d in deployments], [d["y"] for d in deployments])
    keep = set(m.HubDeployment.model_fields)
    return m.HubRanking(
        params=ranking.params,
        deployments=[m.HubDeployment(**{k: v for k, v in d.items() if k in keep}, lat=lat[i], lon=lon[i])
                     for i, d in enumerate(deployments)],
        hubs=[m.Hub(**{k: v for k, v in h.items() if k in m.Hub.model_fields}) for h in ranking.hubs.to_pylist()],
        notes=list(ranking.notes), lines=ranking.lines(), provenance=json.loads(json.dumps(ranking.provenance, default=str)),
    )  # fmt: skip


# --- loads ---------------------------------------------------------------------------------------------

MAX_PAGE = 500


def _page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ParameterError(f"limit must be 1 to {MAX_PAGE}, not {limit}")
    if offset < 0:
        raise ParameterError(f"offset must be 0 or more, not {offset}")


def loads(ws: Workspace, *, limit: int = 50, offset: int = 0, kind: str | None = None) -> m.LoadsPage:
    """The loads (batches) newest first: source, kind, rows read, loaded and rejected, when."""
    _page(limit, offset)
    kinds = store.batch_kinds(ws.con)
    if kind is not None and kind not in kinds:
        raise unknown("load kind", kind, kinds)
    rows, total = store.batches(ws.con, limit=limit, offset=offset, kind=kind)
    return m.LoadsPage(total=total, limit=limit, offset=offset, kind=kind, kinds=kinds,
                       loads=[m.Load(**r) for r in rows])  # fmt: skip


def load(ws: Workspace, batch_id: int) -> m.LoadDetail:
    """One load with its provenance (file hash, options, software version) and why rows were rejected."""
    row = _need(store.batch(ws.con, batch_id), "load", batch_id, ": see the loads list")
    extra = {k: row.pop(k) for k in ("sha256", "params", "software_version", "reasons")}
    return m.LoadDetail(load=m.Load(**row), sha256=extra["sha256"], params=extra["params"] or {},
                        software_version=extra["software_version"],
                        reasons=[m.RejectReason(**r) for r in extra["reasons"]])  # fmt: skip


def rejected_rows(ws: Workspace, batch_id: int, *, limit: int = 100, offset: int = 0) -> m.RejectsPage:
    """One page of the rows a load set aside (``--skip-bad-rows``), with the value and the reason."""
    _page(limit, offset)
    _need(store.batch(ws.con, batch_id), "load", batch_id, ": see the loads list")
    rows, total = store.rejects(ws.con, batch_id, limit=limit, offset=offset)
    return m.RejectsPage(batch_id=batch_id, total=total, limit=limit, offset=offset,
                         rows=[m.RejectedRow(**r) for r in rows])  # fmt: skip


# --- data status and the overview ----------------------------------------------------------------------


def store_status(ws: Workspace) -> m.StoreStatus:
    """What the store holds (``safestreets status``): tables, months, forces, gaps, areas, places, rejects."""
    s = ws.status().status
    return m.StoreStatus(
        crs=s.crs, timezone=s.timezone, loads=s.batches, tables={k: m.TableStatus(**v.__dict__) for k, v in s.tables.items()},
        forces=s.forces, gaps=[m.Gap(what=w, first=a, last=b, months=n) for w, a, b, n in s.gaps], areas=s.areas,
        places=s.places, unassigned=s.unassigned, rejected=s.rejected,
        rejected_reasons=[m.RejectedSummary(column=c, reason=r, rows=n) for c, r, n in s.rejected_reasons],
    )  # fmt: skip


def overview(ws: Workspace) -> m.Overview:
    """The overview: what the store holds, the default target's trend per BCU over the last 12 months,
    what changed (emerging hot spots) and the latest plan at a glance."""
    note = None
    try:
        recent: m.Trend | None = trend(ws)
    except NoDataError as err:
        recent, note = None, str(err)
    return m.Overview(
        status=store_status(ws),
        trend=recent,
        trend_note=note,
        changes=outputs.changes(ws),
        plan=plan_glance(ws),
    )
