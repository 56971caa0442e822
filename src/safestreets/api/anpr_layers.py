"""ANPR analyses for the dashboard: one analysis of a workspace's reads as JSON rows (with the evidence behind
county-lines flags), and as map layers (GeoJSON, WGS84). Every run goes through
:meth:`safestreets.api.anpr.Anpr.analyse`, so the window is checked against the reach and the query is
logged with its purpose before anything is read. Vehicles appear only as pseudonyms.

Layers: ``cameras`` (points); ``flows`` (a line from the centroid of the origin area's cameras to the
destination area's, a point for trips that stay in one area, with trips, vehicles, mean minutes);
``county-lines`` (for each flagged vehicle and far town, a line from the centroid of the metro cameras to
the town's cameras, with the pseudonym, score, excursions and mean dwell); ``co-travel`` (the cameras where
flagged pairs were read together, with how many co-reads and pairs)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from safestreets.anpr import analyses as an
from safestreets.errors import ParameterError
from safestreets.store import anpr as store

if TYPE_CHECKING:
    from safestreets.api.anpr import Anpr

KINDS = ("journeys", "flows", "county-lines", "co-travel")
LAYERS = ("flows", "county-lines", "co-travel")
MAX_ROWS = 5000


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat()
    if isinstance(v, float) and v != v:  # NaN is not JSON
        return None
    if isinstance(v, tuple):
        return list(v)
    return v


def _rows(t: pa.Table, limit: int | None = None) -> list[dict[str, Any]]:
    part = t if limit is None else t.slice(0, limit)
    return [{k: _plain(v) for k, v in r.items()} for r in part.to_pylist()]


def _options(kind: str, metro: str | None) -> dict[str, Any]:
    if kind == "county-lines":
        return {"metro_areas": metro or None}
    if kind == "co-travel":
        return {"evidence": True}
    return {}


def run(anpr: Anpr, kind: str, *, actor: str, purpose: str, since: datetime | None = None,
        until: datetime | None = None, metro: str | None = None) -> an.AnalysisResult:  # fmt: skip
    """One analysis through the audited, reach-checked door."""
    if kind not in KINDS:
        raise ParameterError(f"analysis: {kind!r} is not one of {', '.join(KINDS)}")
    return anpr.analyse(kind, actor=actor, purpose=purpose, since=since, until=until,  # type: ignore[no-any-return]
                        **_options(kind, metro))  # fmt: skip


def _window(since: datetime | None, until: datetime | None) -> dict[str, str | None]:
    return {"since": _plain(since) if since else None, "until": _plain(until) if until else None}


def analysis(anpr: Anpr, kind: str, *, actor: str, purpose: str, since: datetime | None = None,
             until: datetime | None = None, metro: str | None = None, limit: int = 200) -> dict[str, Any]:  # fmt: skip
    """The rows (at most ``limit``), their columns, the evidence (county lines: the excursions of the
    flagged vehicles; none otherwise), the engine, the seconds taken, the window and the parameters."""
    if not 1 <= limit <= MAX_ROWS:
        raise ParameterError(f"limit: between 1 and {MAX_ROWS}")
    result = run(anpr, kind, actor=actor, purpose=purpose, since=since, until=until, metro=metro)
    evidence = None
    if kind == "county-lines" and result.evidence is not None:
        flagged = {r["vehicle"] for r in result.flagged().select(["vehicle"]).to_pylist()}
        evidence = [r for r in _rows(result.evidence) if r["vehicle"] in flagged][: MAX_ROWS]
    return {"analysis": kind, "rows": _rows(result.table, limit), "total": result.table.num_rows,
            "columns": result.table.column_names, "evidence": evidence, "engine": result.engine,
            "seconds": round(result.seconds, 3), "window": _window(since, until),
            "params": {k: _plain(v) for k, v in result.params.items()}}  # fmt: skip


def _collection(features: list[dict[str, Any]], meta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features, "meta": {**meta, "count": len(features)}}


def _feature(geometry: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": {k: _plain(v) for k, v in props.items()}}


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}


def _line(a: tuple[float, float], b: tuple[float, float]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [[round(a[0], 6), round(a[1], 6)], [round(b[0], 6), round(b[1], 6)]]}


def _cameras(anpr: Anpr) -> list[dict[str, Any]]:
    return store.cameras(anpr.ws.con).to_pylist()  # type: ignore[no-any-return]


def _centroids(cams: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Each area's centre: the mean position of its cameras (cameras sit on roads, so it lies among them)."""
    acc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for c in cams:
        if c["area_code"] is not None:
            a = acc[c["area_code"]]
            a[0] += c["lon"]
            a[1] += c["lat"]
            a[2] += 1
    return {k: (v[0] / v[2], v[1] / v[2]) for k, v in acc.items()}


def cameras_geojson(anpr: Anpr) -> dict[str, Any]:
    """The cameras as points (road, direction, name, area): where they are is not personal data."""
    feats = [_feature(_point(c["lon"], c["lat"]), {k: c[k] for k in ("camera_id", "road", "direction", "name",
                                                                      "area_code")})
             for c in _cameras(anpr)]  # fmt: skip
    return _collection(feats, {"layer": "anpr-cameras"})


def layer_geojson(anpr: Anpr, kind: str, *, actor: str, purpose: str, since: datetime | None = None,
                  until: datetime | None = None, metro: str | None = None) -> dict[str, Any]:  # fmt: skip
    """One analysis as a map layer (see the module's docstring)."""
    if kind not in LAYERS:
        raise ParameterError(f"layer: {kind!r} is not one of {', '.join(LAYERS)}")
    result = run(anpr, kind, actor=actor, purpose=purpose, since=since, until=until, metro=metro)
    cams = _cameras(anpr)
    make = {"flows": _flows, "county-lines": _county_lines, "co-travel": _co_travel}[kind]
    feats = make(result, cams)
    return _collection(feats, {"layer": f"anpr-{kind}", "engine": result.engine, **_window(since, until),
                               "rows": result.table.num_rows})  # fmt: skip


def _flows(result: an.AnalysisResult, cams: list[dict[str, Any]]) -> list[dict[str, Any]]:
    centre = _centroids(cams)
    feats = []
    for r in result.table.to_pylist():
        a, b = centre.get(r["origin_area"]), centre.get(r["destination_area"])
        if a is None or b is None:
            continue
        geom = _point(*a) if r["origin_area"] == r["destination_area"] else _line(a, b)
        feats.append(_feature(geom, r))
    return feats


def _county_lines(result: an.AnalysisResult, cams: list[dict[str, Any]]) -> list[dict[str, Any]]:
    metro = set(result.params.get("metro_areas") or ())
    inside = [c for c in cams if c["area_code"] in metro]
    if not inside or result.evidence is None:
        return []
    hub = (sum(c["lon"] for c in inside) / len(inside), sum(c["lat"] for c in inside) / len(inside))
    centre = _centroids(cams)
    scored = {r["vehicle"]: r for r in result.flagged().to_pylist()}
    trips: dict[tuple[str, str], list[float]] = defaultdict(list)
    for e in result.evidence.select(["vehicle", "far_area", "dwell_min"]).to_pylist():
        if e["vehicle"] in scored and e["far_area"] in centre:
            trips[(e["vehicle"], e["far_area"])].append(e["dwell_min"] or 0.0)
    feats = []
    for (vehicle, far), dwell in sorted(trips.items()):
        v = scored[vehicle]
        feats.append(_feature(_line(hub, centre[far]), {
            "vehicle": vehicle, "far_area": far, "score": v["score"], "returns": v["returns"],
            "excursions": len(dwell), "mean_dwell_min": round(sum(dwell) / len(dwell), 1),
        }))  # fmt: skip
    return feats


def _co_travel(result: an.AnalysisResult, cams: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if result.evidence is None:
        return []
    flagged = {(r["vehicle_a"], r["vehicle_b"]) for r in result.flagged().to_pylist()}
    reads: dict[str, int] = defaultdict(int)
    pairs: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for e in result.evidence.select(["vehicle_a", "vehicle_b", "camera_id"]).to_pylist():
        pair = (e["vehicle_a"], e["vehicle_b"])
        if pair in flagged:
            reads[e["camera_id"]] += 1
            pairs[e["camera_id"]].add(pair)
    feats = []
    for c in cams:
        if c["camera_id"] in reads:
            feats.append(_feature(_point(c["lon"], c["lat"]), {
                "camera_id": c["camera_id"], "road": c["road"], "area_code": c["area_code"],
                "co_reads": reads[c["camera_id"]], "pairs": len(pairs[c["camera_id"]]),
            }))  # fmt: skip
    return feats
