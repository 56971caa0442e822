"""Map layers as RFC 7946 GeoJSON, for the dashboard's map and for anyone's GIS: boundaries, actual crime
(points or counts per cell), a stored forecast's units, a plan's hot spots, transport hubs and emerging hot
spots; plus what the map lists in its filters (:func:`catalogue`).

Every function takes a :class:`~safestreets.api.Workspace` and arguments as a user types them (``bbox`` as
``minlon,minlat,maxlon,maxlat``, ``months`` as ``2023-01:2023-06``, a target name or crime types). GeoJSON
is WGS84 longitude/latitude with 7 decimals (about 1 cm), polygons wound anticlockwise; the collection
carries a foreign member ``meta`` saying what it shows and from what (:mod:`safestreets.api.geojson`).

Limits, so one request cannot ask for the whole country: a ``bbox`` may span at most
:data:`MAX_BBOX_DEGREES` degrees a side, and a layer answers at most :data:`MAX_FEATURES` features; past
either the call raises :class:`~safestreets.errors.ParameterError` saying how to narrow it (zoom in,
filter by BCU or months, or show crime as counts per cell).

The history and the "why it ranks here" of one unit or area are in :mod:`safestreets.api.unit_history`.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from safestreets import vocab
from safestreets.api.geojson import collection, geometries, lonlat_bounds, points
from safestreets.errors import NoDataError, NotFoundError, ParameterError, SafestreetsError, unknown
from safestreets.geo.project import lonlat_to_crs
from safestreets.store import layers as q
from safestreets.timespec import parse_months

if TYPE_CHECKING:
    from safestreets.api.workspace import Workspace

#: The most features one layer answers (a 250 m grid over a large force has more cells: zoom in).
MAX_FEATURES = 10_000
#: The widest ``bbox`` accepted, in degrees of longitude and of latitude.
MAX_BBOX_DEGREES = 2.0
LAYERS = ("areas", "crime", "forecast", "hotspots", "hubs", "emerging")
CRIME_MODES = ("cells", "points")
#: Forecast bands by the share of the area ranked at or above a unit: (upper share, label).
BANDS: tuple[tuple[float, str], ...] = (
    (0.01, "top 1% of the area"),
    (0.05, "next 4% (top 5%)"),
    (0.10, "next 5% (top 10%)"),
    (0.25, "next 15% (top 25%)"),
    (1.0, "the other 75%"),
)
ALL_TYPES = "all"


# --- answers worth keeping --------------------------------------------------------------------------

# Hub rankings, emerging hot spots and the sources' months take a moment on a large store. A snapshot
# (what the dashboard reads) never changes, so its answers are kept, a few at a time, keyed by its file.
_CACHE: dict[tuple[Any, ...], Any] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16


def cached(ws: Workspace, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
    """``make()``, kept per snapshot; a workspace open for writing (it may change) is never cached."""
    if not ws.read_only:
        return make()
    if ws.snapshot_id is not None:
        full = (ws.snapshot_id, *key)
    else:
        row = ws.con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchall()
        full = (str(row[0][0]) if row else "", *key)
    with _CACHE_LOCK:
        if full in _CACHE:
            return _CACHE[full]
    value = make()
    with _CACHE_LOCK:
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[full] = value
    return value


def sources(ws: Workspace) -> dict[str, dict[str, Any]]:
    """Each events source with its months and whether its events carry times (see store.layers.sources)."""
    return cached(ws, ("sources",), lambda: q.sources(ws.con))  # type: ignore[no-any-return]


# --- arguments ----------------------------------------------------------------------------------------


def parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` (WGS84) checked: numbers, in range, ordered, not too wide."""
    if text is None or not text.strip():
        return None
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ParameterError(f"bbox must be minlon,minlat,maxlon,maxlat (four numbers), not {text!r}")
    w, s, e, n = values
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90):
        raise ParameterError(f"bbox {text!r} is outside longitude -180..180 and latitude -90..90")
    if w >= e or s >= n:
        raise ParameterError(
            f"bbox {text!r} is empty: give the west, south, east and north edges in that order"
        )
    if e - w > MAX_BBOX_DEGREES or n - s > MAX_BBOX_DEGREES:
        raise ParameterError(
            f"bbox spans {e - w:.2f} by {n - s:.2f} degrees; at most {MAX_BBOX_DEGREES:g} degrees a side: zoom in"
        )
    return (w, s, e, n)


def _box(ws: Workspace, bbox: str | None) -> q.Box | None:
    """The bbox in the workspace CRS: the box around its edges, projected."""
    lonlat = parse_bbox(bbox)
    if lonlat is None:
        return None
    w, s, e, n = lonlat
    t = np.linspace(0.0, 1.0, 9)
    lon = np.concatenate([w + (e - w) * t, np.full(9, e), e - (e - w) * t, np.full(9, w)])
    lat = np.concatenate([np.full(9, s), s + (n - s) * t, np.full(9, n), n - (n - s) * t])
    x, y = lonlat_to_crs(lon, lat, ws.crs)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ParameterError(f"bbox {bbox!r} is outside what the workspace CRS {ws.crs} can show")
    return (float(x.min()), float(y.min()), float(x.max()), float(y.max()))


def check_bcu(ws: Workspace, bcu: str | None) -> str | None:
    """A BCU code as typed (code or name, any case), or None for every BCU."""
    if bcu is None or not bcu.strip() or bcu.strip().lower() == "all":
        return None
    known = q.bcus(ws.con)
    text = bcu.strip()
    for code, name in known.items():
        if text.lower() in (code.lower(), name.lower()):
            return code
    raise unknown("BCU", text, list(known) or ["(no BCUs are loaded)"])


def check_source(ws: Workspace, source: str | None, default: str | None = None) -> str:
    """One events source (they overlap: the same crimes), by default ``default`` or the forecasts' choice."""
    from safestreets.forecast.data import choose_source

    known = sources(ws)
    if not known:
        raise NoDataError("the store holds no events: load some with 'safestreets ingest'")
    if source:
        if source not in known:
            raise unknown("source", source, list(known))
        return source
    if default in known:
        return str(default)
    return choose_source(ws.con)


def parse_types(target: str | None) -> tuple[str, tuple[str, ...] | None]:
    """(label, crime types) for a target name, crime types (comma-separated) or ``all`` (None: every type).
    Police-found types are allowed: this is what was recorded, not a forecast, and the label says so."""
    from safestreets.forecast.targets import parse_target

    if target is None or not target.strip() or target.strip().lower() == ALL_TYPES:
        return "all crime types", None
    t = parse_target(target, allow_police_found=True)
    return t.label, t.types


def check_months(ws: Workspace, months: str | None, source: str) -> tuple[tuple[str, ...] | None, list[str]]:
    """(months, notes): the months asked for, each one the source has no data for named in a note."""
    if months is None or not months.strip():
        return None, []
    wanted = parse_months(months)
    have = set(sources(ws).get(source, {}).get("months", []))
    missing = [m for m in wanted if m not in have]
    notes = []
    if missing:
        shown = ", ".join(missing[:6]) + (f" and {len(missing) - 6} more" if len(missing) > 6 else "")
        notes.append(f"no {source} data for {shown}: missing data, not zero crime")
    return tuple(wanted), notes


def _too_many(n: int, what: str, hint: str = "zoom in, or filter by BCU") -> None:
    if n > MAX_FEATURES:
        raise ParameterError(
            f"{n:,} {what} in this view; a layer returns at most {MAX_FEATURES:,} features: {hint}"
        )


def _num(value: Any, digits: int = 3) -> float | None:
    if value is None:
        return None
    v = float(value)
    return None if not math.isfinite(v) else round(v, digits)


# --- what the map offers -------------------------------------------------------------------------------


def catalogue(ws: Workspace) -> dict[str, Any]:
    """What the map can show and filter by: BCUs (with their bounds), area kinds, events sources and
    their months, targets and crime types, forecast runs, plans, place kinds, and the defaults."""
    from safestreets.forecast.targets import TARGETS

    con = ws.con
    names = q.bcus(con)
    units = []
    for code, name in names.items():
        units.append(
            {"code": code, "name": name, "bbox": lonlat_bounds(ws.crs, q.area_bounds(con, "bcu", code))}
        )
    runs = q.forecast_runs(con)
    plans = q.plans(con)
    srcs = sources(ws)
    latest = runs[0] if runs else None
    latest_info = q.forecast_run(con, latest["run_id"]) if latest else None
    default_source = (
        (latest_info or {}).get("provenance", {}).get("data", {}).get("source") if latest_info else None
    )
    source = check_source(ws, None, default_source) if srcs else None
    months = srcs.get(source, {}).get("months", []) if source else []
    kinds = q.mapped_area_kinds(con)
    places = q.place_kinds(con)
    return {
        "crs": ws.crs,
        "bounds": lonlat_bounds(ws.crs, q.study_bounds(con)),
        "bcus": units,
        "area_kinds": kinds,
        "sources": srcs,
        "targets": list(TARGETS),
        "crime_types": list(vocab.CRIME_TYPES),
        "runs": [
            {
                "run_id": r["run_id"],
                "label": f"run {r['run_id']}: {r['target']}, {r['window'][0]:%b %Y}",
                "title": f"{r['model']} model, {r['units_kind']}"
                + (f" {r['cell_size']:g} m" if r["cell_size"] else "")
                + f", {r['horizon']} from {r['window'][0]:%Y-%m-%d}",
            }
            for r in runs
        ],
        "plans": [
            {
                "plan_id": p["plan_id"],
                "label": f"plan {p['plan_id']}: week of {p['week_start']}",
                "forecast_run_id": p["forecast_run_id"],
            }
            for p in plans
        ],
        "place_kinds": places,
        "bands": [label for _, label in BANDS],
        "defaults": {
            "area_kind": "borough" if "borough" in kinds else (kinds[0] if kinds else None),
            "source": source,
            "target": latest["target"] if latest and latest["target"] in TARGETS else "violence",
            "months_from": months[-3] if len(months) >= 3 else (months[0] if months else None),
            "months_to": months[-1] if months else None,
            "cell": float(latest["cell_size"]) if latest and latest["cell_size"] else 250.0,
            "run_id": latest["run_id"] if latest else None,
            "plan_id": plans[0]["plan_id"] if plans else None,
            "hub_kind": "station" if "station" in places else (places[0] if places else None),
        },
        "limits": {"max_features": MAX_FEATURES, "max_bbox_degrees": MAX_BBOX_DEGREES},
    }


# --- layers -------------------------------------------------------------------------------------------


def areas_geojson(
    ws: Workspace, kind: str, *, bcu: str | None = None, bbox: str | None = None
) -> dict[str, Any]:
    """Boundaries of one kind (``borough``, ``bcu``, ``lsoa``...), each with its name, parent and BCU."""
    con = ws.con
    kinds = q.mapped_area_kinds(con)
    if kind not in kinds:
        raise unknown("area kind", kind, kinds or ["(no boundaries are loaded)"])
    code = check_bcu(ws, bcu)
    box = _box(ws, bbox)
    rows = q.areas(con, kind, box=box)
    owner = q.area_bcus(con, kind)
    if code is not None:
        rows = [r for r in rows if owner.get(r["code"]) == code]
    _too_many(len(rows), f"{kind} areas")
    names = q.bcus(con)
    props = [{"id": r["code"], "code": r["code"], "name": r["name"] or r["code"], "kind": kind,
              "parent": r["parent"], "bcu": owner.get(r["code"]), "bcu_name": names.get(owner.get(r["code"]) or ""),
              "population": _num(r["population"], 0), "area_km2": _num((r["area_m2"] or 0) / 1e6, 3)}
             for r in rows]  # fmt: skip
    return collection(props, geometries(ws.crs, [r["geometry"] for r in rows]),
                      {"layer": "areas", "kind": kind, "bcu": code, "bbox": parse_bbox(bbox)})  # fmt: skip


def crime_geojson(
    ws: Workspace,
    *,
    mode: str = "cells",
    target: str | None = None,
    months: str | None = None,
    bcu: str | None = None,
    source: str | None = None,
    cell: float = 250.0,
    bbox: str | None = None,
) -> dict[str, Any]:
    """Recorded crime: counts per square cell (``cells``, aligned like the forecast grid) or one point per
    event (``points``), filtered by target or crime types, months, BCU and source."""
    if mode not in CRIME_MODES:
        raise unknown("crime mode", mode, CRIME_MODES)
    if not 50 <= cell <= 5000:
        raise ParameterError(f"cell must be 50 to 5000 metres, not {cell:g}")
    con = ws.con
    label, types = parse_types(target)
    src = check_source(ws, source)
    wanted, notes = check_months(ws, months, src)
    code = check_bcu(ws, bcu)
    f = q.EventFilter(source=src, types=types, months=wanted, bcu=code, box=_box(ws, bbox))
    if types and any(t in vocab.POLICE_FOUND_TYPES for t in types):
        notes.append(
            "includes police-found crime (Drugs, Possession of weapons): it follows where police look"
        )
    shown = sorted(wanted) if wanted else sources(ws)[src]["months"]
    meta = {"layer": "crime", "mode": mode, "target": label, "types": list(types) if types else None,
            "source": src, "months": [shown[0], shown[-1]] if shown else None, "bcu": code,
            "bbox": parse_bbox(bbox), "notes": notes}  # fmt: skip
    if mode == "points":
        n = q.count_events(con, f)
        _too_many(n, "crimes", "zoom in, filter by BCU, months or crime type, or show counts per cell")
        rows = q.event_points(con, f, limit=MAX_FEATURES)
        props = [{"month": r["month"], "crime_type": r["crime_type"], "harm": _num(r["harm"], 1),
                  "location": r["location"], "outcome": r["outcome"]} for r in rows]  # fmt: skip
        return collection(
            props, points(ws.crs, [r["x"] for r in rows], [r["y"] for r in rows]), {**meta, "events": n}
        )
    cells = q.cell_counts(con, f, cell)
    _too_many(len(cells), f"{cell:g} m cells with crime", "zoom in, filter by BCU, or use larger cells")
    boxes = [
        shapely.to_wkb(shapely.box(c * cell, r * cell, (c + 1) * cell, (r + 1) * cell))
        for c, r, _, _ in cells
    ]
    months_n = max(len(shown), 1)
    props = [{"id": f"E{round(c * cell)}N{round(r * cell)}", "cell": f"E{round(c * cell)}N{round(r * cell)}",
              "events": n, "harm": _num(h, 1), "per_month": _num(n / months_n, 2)} for c, r, n, h in cells]  # fmt: skip
    return collection(props, geometries(ws.crs, boxes),
                      {**meta, "cell_m": cell, "events": sum(c[2] for c in cells),
                       "max_events": max((c[2] for c in cells), default=0)})  # fmt: skip


def run_info(ws: Workspace, run_id: int | None) -> dict[str, Any]:
    """A stored run (the latest by default) as the store keeps it."""
    from safestreets.forecast.store import latest_run

    rid = run_id if run_id is not None else latest_run(ws.con)
    if rid is None:
        raise NoDataError("no forecast in the store: run 'safestreets forecast' first")
    run = q.forecast_run(ws.con, int(rid))
    if run is None:
        raise NotFoundError(f"no forecast run {rid} in the store")
    return run


def run_meta(run: dict[str, Any]) -> dict[str, Any]:
    """What a map legend and a reader need to know about a run."""
    from safestreets.forecast.targets import POLICE_FOUND_LABEL

    data = run["provenance"].get("data", {})
    return {
        "run_id": run["run_id"], "target": run["target"], "types": data.get("target", {}).get("types"),
        "model": run["model"], "reason": run["reason"], "horizon": run["horizon"],
        "window": [str(run["window_start"]), str(run["window_end"])], "rank_by": run["rank_by"],
        "units_kind": run["units_kind"], "cell_size": run["cell_size"], "units": run["units"],
        "source": data.get("source"), "harm_scheme": data.get("harm_scheme"),
        "warning": POLICE_FOUND_LABEL if run["police_found"] else None,
        "intervals": run["provenance"].get("intervals"),  # level, totals per BCU and city (lower, upper)
    }  # fmt: skip


def band(top_share: float) -> int:
    """1 = top 1% of the area ... 5 = the other 75% (see :data:`BANDS`)."""
    return next(i for i, (upper, _) in enumerate(BANDS, 1) if top_share <= upper + 1e-9 or i == len(BANDS))


def forecast_geojson(
    ws: Workspace,
    run_id: int | None = None,
    *,
    bcu: str | None = None,
    bbox: str | None = None,
    top: float = 1.0,
) -> dict[str, Any]:
    """A stored run's units, riskiest first: rank, band (share of the area at or above it), expected
    count and harm, BCU and borough. ``top`` keeps the units within that share of the area (0.25: the
    riskiest quarter)."""
    if not 0 < top <= 1:
        raise ParameterError(f"top must be a share of the area above 0 and at most 1, not {top:g}")
    con = ws.con
    run = run_info(ws, run_id)
    code = check_bcu(ws, bcu)
    units = [u for u in q.forecast_units(con, run["run_id"], bcu=code, box=_box(ws, bbox))
             if u["top_share"] <= top + 1e-9 or u["rank"] == 1]  # fmt: skip
    _too_many(len(units), "forecast units", "zoom in, filter by BCU, or show only the riskiest share")
    names = q.bcus(con)
    boroughs = q.names_at(
        con, "borough", np.array([u["x"] for u in units]), np.array([u["y"] for u in units])
    )
    days = (run["window_end"] - run["window_start"]).total_seconds() / 86400.0 or 1.0
    props = []
    for u, place in zip(units, boroughs, strict=True):
        b = band(float(u["top_share"]))
        props.append({
            "id": u["unit_id"], "unit_id": u["unit_id"], "rank": int(u["rank"]), "of": run["units"],
            "top_share": _num(u["top_share"], 5), "band": b, "band_label": BANDS[b - 1][1],
            "expected_count": _num(u["expected_count"], 3), "expected_harm": _num(u["expected_harm"], 1),
            "lower": _num(u["count_lower"], 0), "upper": _num(u["count_upper"], 0),
            "harm_week": _num(float(u["expected_harm"]) * 7.0 / days, 1), "bcu": u["bcu"],
            "bcu_name": names.get(u["bcu"] or "", u["bcu"]), "borough": place,
            "area_km2": _num(float(u["area_m2"]) / 1e6, 4),
        })  # fmt: skip
    return collection(props, geometries(ws.crs, [u["geometry"] for u in units]),
                      {"layer": "forecast", **run_meta(run), "bcu": code, "top": top, "bbox": parse_bbox(bbox),
                       "bands": [label for _, label in BANDS]})  # fmt: skip


def hotspots_geojson(
    ws: Workspace, plan_id: int | None = None, *, bcu: str | None = None, bbox: str | None = None
) -> dict[str, Any]:
    """A plan's hot spots (the latest plan by default), numbered as the plan numbers them, with the teams,
    shifts, visits a day and expected harm a week of each."""
    con = ws.con
    pid = plan_id if plan_id is not None else q.latest_plan(con)
    if pid is None:
        raise NoDataError("no patrol plan in the store: run 'safestreets plan' first")
    plan = q.plan_run(con, int(pid))
    if plan is None:
        raise NotFoundError(f"no plan {pid} in the store")
    code = check_bcu(ws, bcu)
    rows = q.plan_hotspots(con, int(pid), bcu=code)
    box = _box(ws, bbox)
    if box is not None:
        rows = [r for r in rows if box[0] <= r["x"] <= box[2] and box[1] <= r["y"] <= box[3]]
    _too_many(len(rows), "hot spots")
    names = q.bcus(con)
    boroughs = q.names_at(con, "borough", np.array([r["x"] for r in rows]), np.array([r["y"] for r in rows]))
    props = [{"id": f"{pid}-{r['hotspot']}", "hotspot": int(r["hotspot"]), "unit_id": r["unit_id"],
              "bcu": r["bcu"], "bcu_name": names.get(r["bcu"], r["bcu"]), "borough": place,
              "teams": list(r["teams"]), "shifts": list(r["shifts"]), "visits_per_day": int(r["visits_per_day"]),
              "harm_week": _num(r["harm_week"], 1), "label_point": points(ws.crs, [r["x"]], [r["y"]])[0]["coordinates"]}
             for r, place in zip(rows, boroughs, strict=True)]  # fmt: skip
    geoms = geometries(ws.crs, [r["geometry"] for r in rows])
    geoms = [
        g or p
        for g, p in zip(geoms, points(ws.crs, [r["x"] for r in rows], [r["y"] for r in rows]), strict=True)
    ]
    return collection(props, geoms, {"layer": "hotspots", "plan_id": int(pid), "week_start": str(plan["week_start"]),
                                     "forecast_run_id": plan["forecast_run_id"], "bcu": code,
                                     "bbox": parse_bbox(bbox)})  # fmt: skip


def _bcu_filter(ws: Workspace, code: str | None) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Points inside a BCU's boundary (every point when no BCU is chosen or it has no boundary)."""
    rows = q.areas(ws.con, "bcu", codes=[code]) if code else []
    if not rows:
        return lambda x, y: np.ones(len(x), dtype=bool)
    shape = shapely.from_wkb(rows[0]["geometry"])
    shapely.prepare(shape)
    return lambda x, y: shapely.intersects_xy(
        shape, np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
    )


def hubs_geojson(
    ws: Workspace,
    kind: str = "station",
    *,
    bcu: str | None = None,
    bbox: str | None = None,
    run_id: int | None = None,
) -> dict[str, Any]:
    """Places of ``kind`` (transport hubs: ``station``) with their ranking for knife arches and drug dogs
    where it can be worked out (it uses the latest forecast, or ``run_id``'s)."""
    from safestreets.plan.hubs import rank_hubs

    con = ws.con
    kinds = q.place_kinds(con)
    if kind not in kinds:
        raise unknown("place kind", kind, kinds or ["(no places are loaded)"])
    code = check_bcu(ws, bcu)
    rows = q.places(con, kind, box=_box(ws, bbox))
    inside = _bcu_filter(ws, code)(np.array([r["x"] for r in rows]), np.array([r["y"] for r in rows]))
    rows = [r for r, k in zip(rows, inside, strict=True) if k]
    _too_many(len(rows), f"{kind} places")
    notes: list[str] = []
    ranked: dict[str, dict[str, Any]] = {}
    try:

        def make() -> Any:
            from safestreets.forecast.store import read_surface

            surface = read_surface(con, run_id) if run_id is not None else None
            return rank_hubs(con, surface, kinds=(kind,), budget=0)

        ranking = cached(ws, ("hubs", kind, run_id), make)
        ranked = {str(h["place_id"]): h for h in ranking.hubs.to_pylist()}
        notes += [n for n in ranking.notes if "no forecast" in n or "no times" in n]
    except SafestreetsError as exc:  # no ranking: the places stay on the map, said plainly
        notes.append(f"hubs not ranked: {exc}")
    props = []
    for r in rows:
        h = ranked.get(str(r["place_id"]), {})
        props.append({
            "id": r["place_id"], "place_id": r["place_id"], "name": r["name"] or r["place_id"], "kind": kind,
            "rank": h.get("rank"), "of": len(ranked) or None, "score": _num(h.get("score"), 3),
            "forecast_harm": _num(h.get("forecast_harm"), 0), "recent_violence": h.get("recent_violence"),
            "busiest": h.get("busiest") or None, "reasons": h["reasons"].split("; ") if h.get("reasons") else [],
        })  # fmt: skip
    props.sort(key=lambda p: (p["rank"] is None, p["rank"] or 0, p["name"]))
    by_id = {r["place_id"]: r for r in rows}
    geoms = points(
        ws.crs, [by_id[p["place_id"]]["x"] for p in props], [by_id[p["place_id"]]["y"] for p in props]
    )
    return collection(props, geoms, {"layer": "hubs", "kind": kind, "bcu": code, "ranked": bool(ranked),
                                     "notes": notes, "bbox": parse_bbox(bbox)})  # fmt: skip


def emerging_geojson(
    ws: Workspace,
    run_id: int | None = None,
    *,
    periods: int = 12,
    bcu: str | None = None,
    bbox: str | None = None,
    everything: bool = False,
) -> dict[str, Any]:
    """Emerging, persistent and diminishing hot spots on a run's units over the ``periods`` months (or
    weeks) before its window: every unit with a pattern (``everything``: also those without)."""
    from safestreets.forecast.store import read_surface
    from safestreets.trends.emerging import NO_PATTERN
    from safestreets.trends.run import emerging_for_forecast

    if not 3 <= periods <= 60:
        raise ParameterError(f"periods must be 3 to 60, not {periods}")
    con = ws.con
    run = run_info(ws, run_id)
    code = check_bcu(ws, bcu)

    def make() -> Any:
        surface = read_surface(con, run["run_id"])
        result, _ = emerging_for_forecast(con, surface.provenance, surface.window[0], periods=periods)
        return result.to_table().to_pylist(), result.window(), dict(result.summary())

    table, window, summary = cached(ws, ("emerging", run["run_id"], periods), make)
    shapes = {u["unit_id"]: u for u in q.forecast_units(con, run["run_id"], bcu=code, box=_box(ws, bbox))}
    rows = [r for r in table if r["unit_id"] in shapes and (everything or r["category"] != NO_PATTERN)]
    _too_many(len(rows), "units with a pattern")
    props = [{"id": r["unit_id"], "unit_id": r["unit_id"], "category": r["category"], "bcu": r["bcu"],
              "hot_share": _num(r["hot_share"], 3), "trend_z": _num(r["trend_z"], 2),
              "last_count": _num(r["last_count"], 1), "mean_count": _num(r["mean_count"], 2)} for r in rows]  # fmt: skip
    return collection(props, geometries(ws.crs, [shapes[r["unit_id"]]["geometry"] for r in rows]),
                      {"layer": "emerging", "run_id": run["run_id"], "periods": periods, "window": window,
                       "summary": summary, "bcu": code, "bbox": parse_bbox(bbox)})  # fmt: skip
