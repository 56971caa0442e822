"""One place on the map, explained: its recorded crime per period (for a chart) and, for a forecast's unit,
why it ranks where it does (rank, expected count and harm, the model and its reason, its neighbours'
ranks, its place in the current plan).

A gap in the data is not zero crime: periods the source has no data for at all come back as ``null``.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from safestreets.api.geojson import points
from safestreets.api.layers import (
    BANDS,
    band,
    check_source,
    parse_types,
    run_info,
    run_meta,
    sources,
)
from safestreets.errors import NoDataError, NotFoundError, unknown
from safestreets.plan.common import ordinal
from safestreets.store import layers as q

if TYPE_CHECKING:
    from safestreets.api.workspace import Workspace

PERIODS = ("month", "week")
#: Areas whose events already carry their code (assigned when the boundaries were loaded).
ASSIGNED = {
    "bcu": "bcu",
    "borough": "borough_code",
    "lsoa": "lsoa_code",
    "lsoa11": "lsoa_code",
    "lsoa21": "lsoa_code",
}
COMPASS = ("east", "north-east", "north", "north-west", "west", "south-west", "south", "south-east")


def _weeks(first: str, last: str) -> list[str]:
    a, b = date.fromisoformat(first), date.fromisoformat(last)
    out = []
    while a <= b:
        out.append(a.isoformat())
        a += timedelta(days=7)
    return out


def _series(
    ws: Workspace, source: str, period: str, counts: dict[str, tuple[int, float]]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every period of the source's span: counts (0 where none), or null where the source has no data."""
    have = sources(ws)[source]["months"]
    if not have:
        return [], []
    notes: list[str] = []
    if period == "month":
        from safestreets.timespec import month_range

        span = month_range(have[0], have[-1])
        missing = [m for m in span if m not in set(have)]
        if missing:
            notes.append(f"no {source} data for {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}: "
                         "shown as gaps, not zeros")  # fmt: skip
        return [{"period": m, "events": None if m in missing else counts.get(m, (0, 0.0))[0],
                 "harm": None if m in missing else round(counts.get(m, (0, 0.0))[1], 1)} for m in span], notes  # fmt: skip
    first = date.fromisoformat(have[0] + "-01")
    first -= timedelta(days=first.weekday())
    last_month = date.fromisoformat(have[-1] + "-01")
    end = (last_month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    end -= timedelta(days=end.weekday())
    covered = set(have)
    out = []
    for w in _weeks(first.isoformat(), end.isoformat()):
        month = w[:7]
        gap = (
            month not in covered
            and (date.fromisoformat(w) + timedelta(days=6)).isoformat()[:7] not in covered
        )
        n, h = counts.get(w, (0, 0.0))
        out.append({"period": w, "events": None if gap else n, "harm": None if gap else round(h, 1)})
    return out, notes


def _direction(dx: float, dy: float) -> str:
    angle = math.degrees(math.atan2(dy, dx)) % 360
    return COMPASS[int(((angle + 22.5) % 360) // 45)]


def _history(
    ws: Workspace, f: q.EventFilter, period: str, *, geometry: Any = None, area: tuple[str, str] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    if period not in PERIODS:
        raise unknown("period", period, PERIODS)
    if period == "week" and not sources(ws)[f.source]["timed"]:
        raise unknown("period for month-only data", period, ["month"])
    if geometry is None:
        counts = q.period_counts(ws.con, f, period=period, area=area)
    else:
        months, weeks, harm, _ = q.events_in(ws.con, f, geometry)
        keys = months if period == "month" else weeks
        counts = {}
        for k, h in zip(keys, harm, strict=True):
            if k:
                n0, h0 = counts.get(str(k), (0, 0.0))
                counts[str(k)] = (n0 + 1, h0 + float(h))
    return _series(ws, f.source, period, counts)


def unit_detail(
    ws: Workspace,
    unit_id: str,
    run_id: int | None = None,
    *,
    target: str | None = None,
    source: str | None = None,
    period: str = "month",
) -> dict[str, Any]:
    """A forecast unit: its crime per period (the run's target and source unless asked otherwise) and why
    it ranks where it does."""
    con = ws.con
    run = run_info(ws, run_id)
    unit = q.forecast_unit(con, run["run_id"], unit_id)
    if unit is None:
        raise NotFoundError(f"forecast run {run['run_id']} has no unit {unit_id!r}")
    meta = run_meta(run)
    label, types = parse_types(target) if target else (run["target"], tuple(meta["types"] or ()) or None)
    src = check_source(ws, source, meta["source"])
    shape = shapely.from_wkb(unit["geometry"])
    if run["cell_size"]:  # a grid cell counts the events in its whole square, as the models did
        half = float(run["cell_size"]) / 2
        box = (unit["x"] - half, unit["y"] - half, unit["x"] + half, unit["y"] + half)
        f = q.EventFilter(source=src, types=types, box=box)
        series, notes = _history(ws, f, period)
    else:
        box = tuple(float(v) for v in shapely.bounds(shape))
        f = q.EventFilter(source=src, types=types, box=box)  # type: ignore[arg-type]
        series, notes = _history(ws, f, period, geometry=shape)
    names = q.bcus(con)
    borough = q.names_at(con, "borough", np.array([unit["x"]]), np.array([unit["y"]]))[0]
    lsoa_kind = next((k for k in q.mapped_area_kinds(con) if k.startswith("lsoa")), None)
    lsoa = q.names_at(con, lsoa_kind, np.array([unit["x"]]), np.array([unit["y"]]))[0] if lsoa_kind else None
    near = q.common_locations(con, f)
    neighbours = [
        {"unit_id": n["unit_id"], "rank": int(n["rank"]), "expected_harm": round(float(n["expected_harm"]), 1),
         "expected_count": round(float(n["expected_count"]), 3),
         "direction": _direction(float(n["x"]) - unit["x"], float(n["y"]) - unit["y"])}
        for n in q.forecast_neighbours(con, run["run_id"], unit, run["cell_size"])
    ]  # fmt: skip
    plan_id = q.latest_plan(con)
    in_plan = None
    if plan_id is not None:
        hs = q.plan_hotspots(con, plan_id, unit_id=unit_id)
        plan = q.plan_run(con, plan_id)
        if hs and plan and plan["forecast_run_id"] == run["run_id"]:
            in_plan = {"plan_id": plan_id, "hotspot": int(hs[0]["hotspot"]), "teams": list(hs[0]["teams"]),
                       "visits_per_day": int(hs[0]["visits_per_day"]), "week_start": str(plan["week_start"])}  # fmt: skip
    rank, of, share = int(unit["rank"]), int(run["units"]), float(unit["top_share"])
    b = band(share)
    days = (run["window_end"] - run["window_start"]).total_seconds() / 86400.0 or 1.0
    what = "cell" if run["cell_size"] else run["units_kind"]
    place = ", ".join(
        p
        for p in (
            borough,
            names.get(unit["bcu"] or "", unit["bcu"]) and f"{names.get(unit['bcu'] or '', unit['bcu'])} BCU",
        )
        if p
    )
    lines = [
        f"Ranked {ordinal(rank)} of {of:,} {what}s for expected {run['target']} "
        f"{'harm' if run['rank_by'] == 'harm' else 'crimes'} per km² over the {run['horizon']} from "
        f"{str(run['window_start'])[:10]}: in the {BANDS[b - 1][1]}.",
        f"Expected {float(unit['expected_count']):.1f} crimes and {float(unit['expected_harm']):,.0f} harm "
        f"({float(unit['expected_harm']) * 7 / days:,.0f} a week).",
        f"Model: {run['model']}. Why this model: {run['reason'] or 'chosen by name'}.",
    ]
    if neighbours:
        ranks = sorted(n["rank"] for n in neighbours)
        higher = sum(r < rank for r in ranks)
        lines.append(
            f"Its {len(neighbours)} neighbours rank {ordinal(ranks[0])} to {ordinal(ranks[-1])}; "
            + (f"{higher} rank above it." if higher else "it ranks above all of them.")
        )
    if in_plan:
        lines.append(f"Hot spot {in_plan['hotspot']} in plan {plan_id} (week of {in_plan['week_start']}).")
    return {
        "kind": "unit", "unit_id": unit_id, "run": meta, "rank": rank, "of": of, "top_share": round(share, 5),
        "band": b, "band_label": BANDS[b - 1][1], "expected_count": round(float(unit["expected_count"]), 3),
        "expected_harm": round(float(unit["expected_harm"]), 1),
        "harm_week": round(float(unit["expected_harm"]) * 7 / days, 1), "bcu": unit["bcu"],
        "bcu_name": names.get(unit["bcu"] or "", unit["bcu"]), "borough": borough, "lsoa": lsoa, "place": place,
        "near": [{"location": loc, "events": n} for loc, n in near], "neighbours": neighbours, "plan": in_plan,
        "point": points(ws.crs, [unit["x"]], [unit["y"]])[0]["coordinates"], "why": lines,
        "history": {"period": period, "target": label, "types": list(types) if types else None, "source": src,
                    "series": series, "notes": notes},
    }  # fmt: skip


def area_detail(
    ws: Workspace,
    kind: str,
    code: str,
    *,
    target: str | None = None,
    source: str | None = None,
    period: str = "month",
    run_id: int | None = None,
) -> dict[str, Any]:
    """An area (borough, BCU, LSOA...): its crime per period and what the forecast expects inside it (the
    units whose centre it holds)."""
    con = ws.con
    kinds = q.mapped_area_kinds(con)
    if kind not in kinds:
        raise unknown("area kind", kind, kinds or ["(no boundaries are loaded)"])
    rows = q.areas(con, kind, codes=[code])
    if not rows:
        raise NotFoundError(f"no {kind} area {code!r} in the store")
    area = rows[0]
    run = None
    try:
        run = run_info(ws, run_id)
    except NoDataError:  # no forecast yet: the area's history still stands on its own
        if run_id is not None:
            raise
    meta = run_meta(run) if run else None
    if target:
        label, types = parse_types(target)
    elif meta:
        label, types = run["target"], tuple(meta["types"] or ()) or None  # type: ignore[index]
    else:
        label, types = parse_types(None)
    src = check_source(ws, source, meta["source"] if meta else None)
    shape = shapely.from_wkb(area["geometry"])
    bounds = tuple(float(v) for v in shapely.bounds(shape))
    column = ASSIGNED.get(kind)
    if column:
        f = q.EventFilter(source=src, types=types)
        series, notes = _history(ws, f, period, area=(column, code))
    else:
        f = q.EventFilter(source=src, types=types, box=bounds)  # type: ignore[arg-type]
        series, notes = _history(ws, f, period, geometry=shape)
    forecast = None
    if run is not None:
        units = q.forecast_units(con, run["run_id"], box=bounds)  # type: ignore[arg-type]
        inside = [u for u in units if shapely.intersects_xy(shape, float(u["x"]), float(u["y"]))]
        if inside:
            best = min(inside, key=lambda u: u["rank"])
            forecast = {"run_id": run["run_id"], "units": len(inside),
                        "expected_count": round(sum(float(u["expected_count"]) for u in inside), 2),
                        "expected_harm": round(sum(float(u["expected_harm"]) for u in inside), 1),
                        "best_unit": best["unit_id"], "best_rank": int(best["rank"]),
                        "top_1pct": sum(band(float(u["top_share"])) == 1 for u in inside),
                        "top_5pct": sum(band(float(u["top_share"])) <= 2 for u in inside)}  # fmt: skip
    owner = q.area_bcus(con, kind).get(code)
    names = q.bcus(con)
    lines = []
    if forecast and run is not None:
        top5 = forecast["top_5pct"]
        lines.append(
            f"Forecast run {forecast['run_id']} expects {forecast['expected_count']:.1f} {run['target']} crimes "
            f"and {forecast['expected_harm']:,.0f} harm in its {forecast['units']} units here."
        )
        lines.append(
            f"Its riskiest unit ranks {ordinal(forecast['best_rank'])} of {run['units']:,}; "
            + (
                f"{top5} of its units are in the top 5% of the area."
                if top5
                else "none is in the top 5% of the area."
            )
        )
    elif run is not None:
        lines.append(f"Forecast run {run['run_id']} has no unit centred in this area.")
    return {
        "kind": "area", "area_kind": kind, "code": code, "name": area["name"] or code, "bcu": owner,
        "bcu_name": names.get(owner or "", owner), "population": area["population"], "run": meta,
        "forecast": forecast, "why": lines,
        "history": {"period": period, "target": label, "types": list(types) if types else None, "source": src,
                    "series": series, "notes": notes},
    }  # fmt: skip
