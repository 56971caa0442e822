"""Impact jobs of the API: did an intervention work (and did crime move next door), near repeats, and who
bore the cost of a forecast or plan.

An intervention is plain: an area (a shapely geometry, WKT in the workspace CRS, ``lon,lat,radius_m``, a
file holding WKT, or unit ids such as LSOA codes) and a start and end month. A recorded operation from the
operations register is a thin adapter over :func:`evaluate_impact` (:func:`evaluate_operation`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import shapely

from safestreets.errors import NoDataError, ParameterError
from safestreets.impact.common import Effect, plain

if TYPE_CHECKING:
    from safestreets.api.workspace import Workspace

DEFAULT_DISTANCES = "0,100,200,300,400,500"
DEFAULT_DAYS = "0,7,14,21,28,35,42,56"


# --- the intervention's area ------------------------------------------------------------------------


def parse_area(spec: Any, crs: str) -> Any:
    """A geometry in the workspace CRS from a shapely geometry, WKT, ``lon,lat,radius_m`` or a file
    (a ``.json`` with a ``wkt`` key, as the synthetic city's planted intervention, or a ``.wkt`` file)."""
    from safestreets.geo.project import lonlat_to_crs

    if spec is None:
        return None
    if isinstance(spec, shapely.Geometry):
        return spec
    text = str(spec).strip()
    path = Path(text)
    if text.endswith((".json", ".wkt")) and path.is_file():
        body = path.read_text()
        text = json.loads(body)["wkt"] if text.endswith(".json") else body.strip()
    parts = text.split(",")
    if len(parts) == 3:
        try:
            lon, lat, radius = (float(p) for p in parts)
        except ValueError:
            raise ParameterError(f"area {spec!r}: expected lon,lat,radius_m") from None
        if radius <= 0:
            raise ParameterError(f"area radius must be positive, not {radius}")
        x, y = lonlat_to_crs(np.array([lon]), np.array([lat]), crs)
        return shapely.Point(float(x[0]), float(y[0])).buffer(radius, quad_segs=32)
    try:
        geom = shapely.from_wkt(text)
    except shapely.errors.GEOSException:
        raise ParameterError(
            f"area {str(spec)[:60]!r} is not WKT, lon,lat,radius_m or a .json/.wkt file"
        ) from None
    if geom is None or geom.is_empty or geom.area <= 0:
        raise ParameterError("the area is empty: give a polygon")
    return geom


def _month(value: Any, name: str) -> np.datetime64:
    try:
        return np.datetime64(str(value)[:7], "M")
    except ValueError:
        raise ParameterError(f"{name} must be a month, YYYY-MM, not {value!r}") from None


# --- effect of an intervention -------------------------------------------------------------------------


@dataclass
class ImpactReport:
    """Every method's answer for one intervention, the displacement check, and what was compared."""

    label: str
    target: str
    start: str
    end: str
    measure: str
    effects: list[Effect]
    wdq: Any
    comparison: dict[str, Any]
    intervention: dict[str, Any]
    seconds: float
    result_id: int | None = None
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"{self.label}: {self.target} {self.measure}, {self.start} to {self.end} "
            f"({self.intervention['target_units']} units, {self.intervention['area_km2']:.2f} km2)"
        ]
        for e in self.effects:
            out.append(e.verdict())
            after = e.detail.get("after") if e.answerable else None
            if after:
                out.append(
                    f"  the {after['periods']} months after it ended: {100 * (after['ratio'] - 1):+.0f}% "
                    f"({100 * (after['ratio_low'] - 1):+.0f}% to {100 * (after['ratio_high'] - 1):+.0f}%, "
                    f"p={after['p_value']:.3f})"
                )
        if self.wdq is not None:
            out.append(self.wdq.verdict())
        return out

    def to_dict(self) -> dict[str, Any]:
        return plain(
            {
                "label": self.label,
                "target": self.target,
                "start": self.start,
                "end": self.end,
                "measure": self.measure,
                "effects": [e.to_dict() for e in self.effects],
                "wdq": None if self.wdq is None else self.wdq.to_dict(),
                "comparison": self.comparison,
                "intervention": self.intervention,
                "seconds": round(self.seconds, 3),
                "result_id": self.result_id,
                "notes": self.notes,
                "summary": self.lines(),
            }
        )

    def markdown(self) -> str:
        rows = ["| method | estimate | interval | p | verdict |", "|---|---|---|---|---|"]
        for e in self.effects:
            if e.answerable:
                rows.append(
                    f"| {e.method} | {e.percent:+.1f}% | {100 * (e.ratio_low - 1):+.1f}% to "
                    f"{100 * (e.ratio_high - 1):+.1f}% | {e.p_value:.3f} | "
                    f"{'change' if e.significant else 'no clear change'} |"
                )
            else:
                rows.append(f"| {e.method} | cannot say | | | {e.reason} |")
        parts = [f"# {self.label}", "", "\n".join(self.lines()[:1]), "", *rows, ""]
        if self.wdq is not None:
            parts += ["## Displacement", "", self.wdq.verdict(), ""]
        parts += ["## What each method assumes", ""]
        for e in self.effects:
            parts.append(f"- **{e.method}**: " + "; ".join(e.assumptions))
        return "\n".join(parts) + "\n"


def evaluate_impact(
    con: duckdb.DuckDBPyConnection,
    *,
    start: Any,
    end: Any,
    area: Any = None,
    members: Any = None,
    target: str = "burglary",
    units: str = "grid",
    cell_size: float = 250.0,
    study_area: str = "auto",
    buffer_m: float = 500.0,
    control: Any = None,
    k: int = 3,
    model: str = "ewma",
    measure: str = "count",
    source: str | None = None,
    force: str | None = None,
    level: float = 0.95,
    include_police_found: bool = False,
    label: str | None = None,
    save: bool = True,
) -> ImpactReport:
    """Every method on one intervention: the forecast counterfactual, matched difference-in-differences,
    interrupted time series, a synthetic control, and the WDQ for a buffer of ``buffer_m`` around it.

    ``area`` (see :func:`parse_area`) or ``members`` (unit ids, with ``units`` an areas kind such as
    ``lsoa``) gives the place; ``start`` and ``end`` are months (the intervention runs ``[start, end)``).
    """
    from safestreets.forecast.data import load_history, load_units
    from safestreets.forecast.data import study_area as study_polygon
    from safestreets.forecast.targets import parse_target
    from safestreets.impact.counterfactual import forecast_counterfactual
    from safestreets.impact.did import did, match_comparisons
    from safestreets.impact.its import its
    from safestreets.impact.panel import Intervention, Panel, period_index, ring_mask, target_mask, tile_panel
    from safestreets.impact.synth import synthetic_control
    from safestreets.impact.wdq import count_in, wdq, wdq_areas
    from safestreets.store import get_setting

    began = time.perf_counter()
    if measure not in ("count", "harm", "both"):
        raise ParameterError(f"measure must be count, harm or both, not {measure!r}")
    s, e = _month(start, "start"), _month(end, "end")
    if e <= s:
        raise ParameterError(f"the intervention must end after it starts: {start} .. {end}")
    crs = get_setting(con, "crs")
    geom = parse_area(area, crs)
    tgt = parse_target(target, allow_police_found=include_police_found)
    history = load_history(con, tgt, source=source, force=force, with_context=False)
    grid = load_units(con, units, cell_size=cell_size, study=study_area, history=history, covariates=False)
    first = history.t[0].astype("datetime64[M]")
    last = history.t[-1].astype("datetime64[M]") + 1
    if s <= first or s >= last:
        raise NoDataError(
            f"the data run {first} to {last - 1}: the start {s} must fall after their first month"
        )
    months = np.arange(first, last)
    edges = np.append(months, last).astype("datetime64[s]")
    ids = np.asarray(grid.ids).astype(str)
    panel = Panel(grid.counts(history, edges), months, ids, "count")
    mask = target_mask(panel.ids, grid.geometry, area=geom, members=members)
    if geom is None:
        geom = shapely.union_all(grid.geometry[mask])
    buffer_units = ring_mask(grid.geometry, geom, buffer_m) & ~mask
    iv = Intervention(
        mask, period_index(months, s), min(period_index(months, e), len(months)), exclude=buffer_units
    )
    notes: list[str] = []
    if e > last:
        notes.append(f"the data end at {last - 1}: the intervention's later months are not yet loaded")
    if iv.end <= iv.start:
        raise NoDataError(f"no loaded month falls inside {s} .. {e}")

    # Comparisons are matched on counts and kept for harm too, so both measures compare the same places.
    matches = match_comparisons(panel, iv, k=k)
    side = float(np.sqrt(max(geom.area, cell_size**2)))
    effects: list[Effect] = []
    for m in ("count", "harm") if measure == "both" else (measure,):
        p = (
            panel
            if m == "count"
            else Panel(grid.counts(history, edges, weights=history.harm), months, ids, "harm")
        )
        donors, donor_iv = tile_panel(p, grid.x, grid.y, iv, side)
        found = [
            forecast_counterfactual(history, grid, mask, months[iv.start], months[iv.end - 1] + 1, model=model,
                                    level=level, weights=m),
            did(p, iv, k=k, level=level, matches=matches),
            its(p, iv, level=level),
            synthetic_control(donors, donor_iv, level=level),
        ]  # fmt: skip
        effects += found if measure != "both" or m == "count" else [
            dataclasses.replace(x, method=f"{x.method}, harm") for x in found
        ]  # fmt: skip

    # Displacement: the same number of months just before the start against the months during it.
    span = iv.end - iv.start
    # The control ring stays inside the study area (the same polygon the units were clipped to).
    study, _ = study_polygon(con, str(grid.meta.get("study", study_area)), history)
    areas = wdq_areas(geom, buffer_m, control=parse_area(control, crs), study_area=study)
    before = (history.t >= months[max(iv.start - span, 0)].astype("datetime64[s]")) & (
        history.t < months[iv.start].astype("datetime64[s]")
    )
    during = (history.t >= months[iv.start].astype("datetime64[s]")) & (
        history.t < (months[iv.end - 1] + 1).astype("datetime64[s]")
    )
    # Counts, whatever the measure: the WDQ's interval treats them as Poisson.
    w = np.ones(len(history))
    counts = {}
    for name, g in (("R", areas.target), ("D", areas.buffer), ("C", areas.control)):
        inside = count_in(g, history.x, history.y)
        counts[name + "b"] = float(w[inside & before].sum())
        counts[name + "a"] = float(w[inside & during].sum())
    displacement = wdq(counts["Rb"], counts["Ra"], counts["Db"], counts["Da"], counts["Cb"], counts["Ca"],
                       level=level, areas=areas.describe())  # fmt: skip

    name = label or f"{tgt.name} intervention {s}"
    report = ImpactReport(
        label=name,
        target=tgt.label,
        start=str(s),
        end=str(e),
        measure=measure,
        effects=effects,
        wdq=displacement,
        comparison={
            "matched_units": matches.comparison_ids,
            "matched_weights": np.round(matches.weights, 4).tolist(),
            "buffer_units_excluded": int(buffer_units.sum()),
            "donor_tiles": int(len(donors.ids) - 1),
            "tile_side_m": round(side, 1),
        },
        intervention={
            "target_units": int(mask.sum()),
            "unit_ids": panel.ids[mask].tolist()[:200],
            "units": grid.kind,
            "area_km2": geom.area / 1e6,
            "wkt": shapely.to_wkt(geom, rounding_precision=1),
            "buffer_m": buffer_m,
            "months_before": iv.start,
            "months_during": span,
            "months_after": len(months) - iv.end,
        },
        seconds=time.perf_counter() - began,
        notes=notes,
    )
    if save:
        from safestreets.store.impact import save_impact

        params = {"start": str(s), "end": str(e), "target": target, "units": units, "cell_size": cell_size,
                  "buffer_m": buffer_m, "k": k, "model": model, "measure": measure, "level": level}  # fmt: skip
        report.result_id = save_impact(con, "evaluation", name, params, report.to_dict())
    return report


def evaluate_operation(ws: Workspace, operation: int | str, **options: Any) -> ImpactReport:
    """Evaluate a recorded operation from the operations register (by id or name).

    Its areas (BCUs and boroughs from the loaded boundaries, polygons as recorded) give the place; its
    dates give the months: the intervention runs from the month it started to the end of the month it
    ended (the analysis is monthly, so a short operation is credited with its whole month, which dilutes
    rather than exaggerates its effect). ``options`` are those of :func:`evaluate_impact`.
    """
    from safestreets.api import operations

    op = operations.operation(ws.db, operation)
    from safestreets.accountability.operations import operation_geometry

    geometry = operation_geometry(ws.con, op)
    if geometry is None or geometry.is_empty:
        named = ", ".join(f"{a['kind']} {a['code']}" for a in op.areas)
        raise ParameterError(
            f"operation {op.id} ({op.name}): none of its areas ({named}) has a boundary in the store; load "
            "the BCU or borough boundaries ('safestreets areas load') or give --area"
        )
    start = np.datetime64(op.start.isoformat()[:7], "M")
    end = np.datetime64(op.end.isoformat()[:7], "M") + 1
    options.setdefault("label", f"operation {op.id}: {op.name}")
    return evaluate_impact(ws.con, start=str(start), end=str(end), area=geometry, **options)


# --- near repeats ----------------------------------------------------------------------------------


@dataclass
class NearRepeatReport:
    knox: Any
    advice: Any
    target: str
    source: str
    seconds: float
    result_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return plain(
            {
                "target": self.target,
                "source": self.source,
                "seconds": round(self.seconds, 3),
                "advice": self.advice.to_dict(),
                "knox": self.knox.to_dict(),
                "result_id": self.result_id,
            }
        )


def _edges(text: Any, name: str) -> list[float]:
    if isinstance(text, list | tuple):
        return [float(v) for v in text]
    try:
        return [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise ParameterError(f"{name} must be numbers separated by commas, not {text!r}") from None


def near_repeat(
    con: duckdb.DuckDBPyConnection,
    *,
    target: str = "burglary",
    since: str | None = None,
    until: str | None = None,
    source: str | None = None,
    force: str | None = None,
    distances: Any = DEFAULT_DISTANCES,
    days: Any = DEFAULT_DAYS,
    permutations: int = 999,
    seed: int = 0,
    min_ratio: float = 1.2,
    alpha: float = 0.05,
    save: bool = True,
) -> NearRepeatReport:
    """The Knox test on the target's timestamped events and the patrol advice it supports."""
    from safestreets.forecast.data import load_history
    from safestreets.forecast.targets import parse_target
    from safestreets.impact.knox import knox_test, near_repeat_advice

    began = time.perf_counter()
    tgt = parse_target(target, allow_police_found=True)
    try:
        history = load_history(
            con, tgt, source=source, force=force, since=since, until=until, need_timestamps=True,
            with_context=False,
        )  # fmt: skip
    except NoDataError as err:
        raise NoDataError(
            f"near repeats need each event's day, and police.uk files give only the month: {err}"
        ) from None
    distance_edges = _edges(distances, "distances")
    day_edges = [int(v) for v in _edges(days, "days")]
    res = knox_test(history.x, history.y, history.t, distance_edges=distance_edges, time_edges=day_edges,
                    permutations=permutations, seed=seed)  # fmt: skip
    crime = {"burglary": "a burglary", "robbery": "a robbery", "violence": "a violent crime"}.get(
        tgt.name, f"a {tgt.name} crime"
    )
    advice = near_repeat_advice(res, crime=crime, min_ratio=min_ratio, alpha=alpha)
    src = str(history.meta.get("source", source or ""))
    report = NearRepeatReport(res, advice, tgt.label, src, time.perf_counter() - began)
    if save:
        from safestreets.store.impact import save_impact

        params = {"target": target, "since": since, "until": until, "source": src, "distances": distance_edges,
                  "days": day_edges, "permutations": permutations, "seed": seed}  # fmt: skip
        report.result_id = save_impact(con, "near-repeat", tgt.name, params, report.to_dict())
    return report


def latest_advice(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The stored near-repeat advice of the latest Knox test (for the planner and the briefing), or
    ``None`` when none has been run."""
    from safestreets.store.impact import read_impact

    stored = read_impact(con, "near-repeat")
    if stored is None:
        return None
    out = dict(stored["result"]["advice"])
    out.update(
        {"result_id": stored["result_id"], "created_at": stored["created_at"], "stale": stored["stale"]}
    )
    return out
