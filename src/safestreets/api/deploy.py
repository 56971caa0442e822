"""Deployment jobs of the API: patrol plans, transport hubs and sweeps, emerging hot spots, the briefing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from safestreets.api.results import BriefResult, HotspotsResult, HubsResult, PlanResult
from safestreets.errors import ParameterError, unknown
from safestreets.store import get_setting
from safestreets.store.queries import command_unit_names

SOLVERS = ("auto", "milp", "heuristic")


def parse_date(value: str | date | None, what: str) -> date | None:
    """A date as typed (``2025-01-06``) or given."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ParameterError(f"{what} must be a date like 2025-01-06, not {value!r}") from None


def command_unit_places(names: dict[str, str], forecast_units: Any) -> dict[str, str]:
    """What a resources file may call a command unit -> its code: the code and name of every loaded BCU
    and borough (``names``) and the forecast's own command units. Where two share a name (a BCU named as
    a borough), the forecast's one is meant."""
    ours = {str(b) for b in forecast_units} - {""}
    places: dict[str, str] = {}
    for code, name in sorted(names.items(), key=lambda kv: (kv[0] in ours, kv[0])):
        places[name] = code
    places.update({code: code for code in names})
    places.update({code: code for code in ours})
    return places


def plan(
    con: duckdb.DuckDBPyConnection,
    outputs: Path,
    *,
    resources: str | Path | None = None,
    teams: int = 2,
    week: str | date | None = None,
    forecast_run: int | None = None,
    solver: str = "auto",
    visit_minutes: float = 15.0,
    min_gap: float = 120.0,
    patrol_radius: float = 600.0,
    min_bcu_share: float = 0.0,
    cap_share: float = 0.25,
    cap_weeks: int = 4,
    effect: float = 0.5,
    decay: float = 0.8,
    gap: float = 0.005,
    time_limit: float = 60.0,
    cards: bool = True,
    seed: int | None = None,
) -> PlanResult:
    """Plan a week of hot spot patrols from a stored forecast; store, export and (optionally) print cards."""
    from safestreets.forecast.store import read_surface
    from safestreets.plan.resources import POOL, Rules, read_resources, uniform_for_area
    from safestreets.plan.run import crs_of, export_plan, run_plan
    from safestreets.plan.weeks import check_week
    from safestreets.report.cards import write_cards

    if solver.lower() not in SOLVERS:
        raise unknown("solver", solver, SOLVERS)
    rules = Rules(visit_minutes=visit_minutes, min_gap_minutes=min_gap, patrol_radius_m=patrol_radius,
                  min_bcu_share=min_bcu_share, cap_share=cap_share, cap_weeks=cap_weeks, effect=effect,
                  decay=decay)  # fmt: skip
    notes: list[str] = []
    names = command_unit_names(con)

    def label(code: str) -> str:
        return f"{names[code]} ({code})" if code in names else code

    surface = read_surface(con, forecast_run)
    if resources is not None:
        res = read_resources(resources, rules.shifts, command_unit_places(names, surface.bcu))
        ours = set(surface.bcu) - {""}
        other = sorted({b for b, _ in res.teams} - ours - {POOL})
        study = str(surface.provenance.get("units", {}).get("study") or "")
        if len(ours) == 1 and other and all(study.endswith(f":{b}") for b in other):
            # The forecast covers one area with no command unit of its own (the City of London beside the
            # Met's lookup): teams given to that area by name are its teams.
            (only,) = ours
            res = type(res)({(only if b in other else b, s): n for (b, s), n in res.teams.items()})
            other = []
        if other:
            raise ParameterError(
                f"the resources give teams to {label(other[0])}, which is not a command unit of forecast run "
                f"{surface.run_id}; its command units are {', '.join(label(b) for b in sorted(ours))}"
            )
    else:
        res, skipped = uniform_for_area(surface.bcu, surface.area_m2, rules.shifts, teams)
        if skipped:
            shown = ", ".join(label(b) for b in skipped)
            notes.append(f"no teams for {shown} (under 2% of the forecast's area)")
    chosen = parse_date(week, "week")
    if chosen is not None:
        check_week(chosen, surface.window, run_id=surface.run_id)
    run = run_plan(con, res, rules, forecast_run=surface.run_id, week=chosen,
                   solver=solver.lower(), target_gap=gap, time_limit=time_limit, seed=seed)  # fmt: skip
    files = export_plan(run, outputs, crs_of(con))
    from safestreets.forecast.data import gap_warnings
    from safestreets.forecast.targets import target_warnings

    data = surface.provenance.get("data", {})
    notes = target_warnings(data.get("target")) + gap_warnings(data) + notes
    from safestreets.store.impact import read_impact

    # The near-repeat advice of the latest Knox test, where one was run: how far and how long to raise
    # patrols around a new burglary or stabbing, beside the week's plan.
    knox = read_impact(con, "near-repeat")
    if knox is not None and knox["result"]["advice"].get("found"):
        notes.append("near repeats: " + knox["result"]["advice"]["text"])
    if cards:
        files += write_cards(run, outputs, bcu_names=names)
    return PlanResult(run, files, notes + list(run.notes), bcu_names=names)


def hubs(
    con: duckdb.DuckDBPyConnection,
    outputs: Path,
    *,
    budget: int = 5,
    catchment: float = 400.0,
    kinds: str | tuple[str, ...] = "station",
    sweeps: int = 5,
    incident: str | None = None,
    when: str | None = None,
    out: Path | None = None,
    db: Any = None,
    limits: Any = None,
) -> HubsResult:
    """Rank hubs for knife arches and drug dogs, suggest weapons sweeps, and support the response to a
    serious incident (never an authorisation)."""
    import pyarrow.csv as pacsv

    from safestreets.plan.hub_store import save_hub_ranking
    from safestreets.plan.hubs import rank_hubs
    from safestreets.plan.incident import incident_context, parse_place
    from safestreets.plan.sweeps import sweeps_near_hot_spots

    if incident is not None and when is None:
        raise ParameterError("--incident needs --when (the incident's local time)")
    names = (
        tuple(k.strip() for k in kinds.split(",") if k.strip()) if isinstance(kinds, str) else tuple(kinds)
    )
    ranking = rank_hubs(con, None, kinds=names, catchment_m=catchment, budget=budget)
    save_hub_ranking(con, ranking)  # the briefing reads it rather than ranking again
    lines = ranking.lines()
    if sweeps:
        lines += ["", *sweeps_near_hot_spots(con, sweeps)]
    if incident is not None:
        place = parse_place(incident, con)
        register = _s60_near(db, con, place.lon, place.lat, when) if db is not None else None
        lines += [
            "",
            *incident_context(
                con, None, when=when, x=place.x, y=place.y, authorisations=register, limits=limits
            ).lines(),
        ]
    path = out or outputs / "hub-deployments.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(ranking.deployments, path)
    return HubsResult(ranking, lines, path)


def _s60_near(
    db: Any, con: duckdb.DuckDBPyConnection, lon: float, lat: float, when: Any
) -> list[dict[str, Any]]:
    """Section 60 authorisations in the register active or recent near an incident (local time ``when``)."""
    import zoneinfo
    from datetime import datetime

    from safestreets.api.s60 import near_incident

    at = when if isinstance(when, datetime) else datetime.fromisoformat(str(when))
    if at.tzinfo is None:
        at = at.replace(tzinfo=zoneinfo.ZoneInfo(get_setting(con, "timezone")))
    return near_incident(db, con, lon, lat, at)


def hotspots(
    con: duckdb.DuckDBPyConnection,
    outputs: Path,
    *,
    forecast_run: int | None = None,
    periods: int = 12,
    top: int = 15,
    out: list[Path] | None = None,
    progress: Callable[[str], None] | None = None,
) -> HotspotsResult:
    """Emerging, persistent and diminishing hot spots on a stored forecast's units: what changed."""
    from safestreets.forecast.store import read_surface
    from safestreets.report.hotspot_map import emerging_map
    from safestreets.trends.run import emerging_for_forecast, export_emerging
    from safestreets.trends.store import save_emerging

    if periods < 3:
        raise ParameterError(f"periods must be at least 3, not {periods}")
    surface = read_surface(con, forecast_run)
    if progress:
        progress("classifying")
    em, units = emerging_for_forecast(con, surface.provenance, surface.window[0], periods=periods)
    assert surface.run_id is not None
    save_emerging(con, surface.run_id, em)  # the briefing reads it rather than classifying again
    stem = f"hotspots-{em.window().replace(' ', '')}-run{surface.run_id}"
    paths = out or [outputs / f"{stem}.gpkg", outputs / f"{stem}.geojson"]
    crs = get_setting(con, "crs")
    # The classified units are the forecast's (same kind, study area and ids): named as it stored them.
    names = {str(u): surface.place(i) for i, u in enumerate(surface.ids)}
    stored = {str(u): str(n) for u, n in zip(surface.ids, surface.names_or_blank(), strict=True)}
    unit_names = [stored.get(str(u), "") for u in units.ids]
    files = [export_emerging(em, units, p, crs=crs, names=unit_names) for p in paths]
    if not out:
        files.append(emerging_map(em, units, outputs / f"{stem}.png"))
    return HotspotsResult(em, units, files, list(em.changes(limit=top)) if top else [], names=names,
                          bcu_names=command_unit_names(con))  # fmt: skip


def brief(
    con: duckdb.DuckDBPyConnection,
    outputs: Path,
    *,
    week: str | date | None = None,
    forecast_run: int | None = None,
    plan_id: int | None = None,
    hubs_budget: int | None = None,
    pdf: bool = True,
    out_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    community: list[dict[str, Any]] | None = None,
    db: Any = None,
) -> BriefResult:
    """Write the weekly tactical assessment (HTML and, by default, PDF) from the store. ``hubs_budget``:
    hub deployments to show (default: as many as the stored ranking holds, else 5)."""
    from safestreets.forecast.store import read_surface
    from safestreets.plan.weeks import check_week
    from safestreets.report.brief import write_brief

    chosen = parse_date(week, "week")
    if chosen is not None:
        surface = read_surface(con, forecast_run)
        check_week(chosen, surface.window, run_id=surface.run_id)
    result: Any = write_brief(con, out_dir or outputs, week=chosen, forecast_run=forecast_run,
                              plan_id=plan_id, hubs_budget=hubs_budget, pdf=pdf, progress=progress,
                              community=community, db=db)  # fmt: skip
    return BriefResult(result.html, result.pdf, list(result.context["summary"]), result.context)
