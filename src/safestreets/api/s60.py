"""Section 60 jobs of the API: record and extend authorisations (checked against the configured limits),
list them, and report the searches made under each."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from safestreets import config
from safestreets.accountability import s60
from safestreets.db import Database
from safestreets.errors import NotFoundError, ParameterError
from safestreets.plan.incident import Section60Limits


def limits(root: Path | None) -> Section60Limits:
    """The limits configured for the workspace (``safestreets.toml`` ``[section60]``), else the law's."""
    return Section60Limits(**config.section60_limits(root))  # type: ignore[arg-type]


def rank_names() -> list[str]:
    """The ranks the register knows, lowest first, as a form offers them."""
    return [names[0] for names in s60.RANKS]


def place_position(con: duckdb.DuckDBPyConnection | None, place: str) -> tuple[float, float]:
    """A named place's lon/lat from the loaded places (case-insensitive name)."""
    if con is None:
        raise NotFoundError(f"place: no store to look up {place!r}: give --lon and --lat")
    rows = con.execute("SELECT lon, lat FROM places WHERE lower(name) = lower(?) AND lon IS NOT NULL LIMIT 1",
                       [place.strip()]).fetchall()  # fmt: skip
    if not rows:
        raise NotFoundError(f"place: no loaded place named {place!r}: give its position with --lon and --lat")
    return float(rows[0][0]), float(rows[0][1])


def parse_extensions(texts: Sequence[str]) -> list[s60.Extension]:
    """Extensions as typed: ``UNTIL,RANK,BY`` (e.g. ``2024-05-02T18:00,superintendent,Supt Ali``)."""
    out = []
    for i, t in enumerate(texts, start=1):
        parts = [p.strip() for p in t.split(",", 2)]
        if len(parts) < 2:
            raise ParameterError(f"extensions[{i}]: write UNTIL,RANK[,BY], not {t!r}")
        out.append(s60.Extension(s60.aware(parts[0], f"extensions[{i}].until"), s60.rank_name(parts[1]),
                                 parts[2] if len(parts) > 2 else ""))  # fmt: skip
    return out


def add_authorisation(db: Database, con: duckdb.DuckDBPyConnection | None, root: Path | None, *, starts_at: str | datetime,
                      ends_at: str | datetime, authorised_by: str, rank: str, grounds: str, place: str = "",
                      lon: float | None = None, lat: float | None = None, radius_m: float | None = None,
                      polygon_wkt: str | None = None, incident: str = "", reference: str = "",
                      extensions: Sequence[str] = (), flag: bool = False, actor: str) -> s60.Authorisation:  # fmt: skip
    if polygon_wkt:
        import shapely

        try:
            g = shapely.from_wkt(polygon_wkt)
        except shapely.errors.GEOSException:
            raise ParameterError(f"polygon: {polygon_wkt[:40]!r} is not valid WKT") from None
        if g.geom_type not in ("Polygon", "MultiPolygon") or not g.is_valid:
            raise ParameterError("polygon: give a valid POLYGON or MULTIPOLYGON in lon/lat")
    elif place and (lon is None or lat is None):
        lon, lat = place_position(con, place)
    a = s60.Authorisation(None, reference, place, lon, lat, radius_m, polygon_wkt, s60.aware(starts_at, "starts_at"),
                          s60.aware(ends_at, "ends_at"), authorised_by, rank, tuple(parse_extensions(extensions)), grounds,
                          incident)  # fmt: skip
    return s60.add_authorisation(db, a, limits(root), actor=actor, flag=flag)


def extend_authorisation(db: Database, root: Path | None, auth_id: int, extension: str, *, actor: str,
                         flag: bool = False) -> s60.Authorisation:  # fmt: skip
    (ext,) = parse_extensions([extension])
    return s60.extend_authorisation(db, auth_id, ext, limits(root), actor=actor, flag=flag)


def list_authorisations(db: Database) -> list[s60.Authorisation]:
    with db.session() as s:
        return s60.list_authorisations(s)


def s60_report(
    db: Database, con: duckdb.DuckDBPyConnection | None, auth_id: int | None = None
) -> list[s60.AuthorisationResult]:
    """Each authorisation (or one) with the searches linked to it."""
    with db.session() as s:
        auths = [s60.get_authorisation(s, auth_id)] if auth_id is not None else s60.list_authorisations(s)
    return [s60.authorisation_report(con, a) for a in auths]


def near_incident(db: Database, con: duckdb.DuckDBPyConnection | None, lon: float, lat: float, when: datetime,
                  **kwargs: Any) -> list[dict[str, Any]]:  # fmt: skip
    """Authorisations active or recent near a point: what the incident decision support is handed."""
    from safestreets.store import get_setting

    crs = get_setting(con, "crs") if con is not None else config.DEFAULT_CRS
    return s60.near(list_authorisations(db), lon, lat, when, crs=crs, **kwargs)


def accountability_geojson(db: Database, con: duckdb.DuckDBPyConnection | None,
                           bbox: tuple[float, float, float, float] | None = None) -> dict[str, Any]:  # fmt: skip
    """The map's accountability layer (GeoJSON, WGS84): every Section 60 area with its searches, and every
    operation's areas (its BCUs and boroughs from the loaded boundaries, and its polygons) with its headline."""
    import numpy as np
    import shapely

    from safestreets.accountability import operations as ops
    from safestreets.geo.project import crs_to_lonlat
    from safestreets.store import get_setting

    crs = get_setting(con, "crs") if con is not None else config.DEFAULT_CRS

    def to_lonlat(geom: Any) -> Any:
        def project(xy: Any) -> Any:
            lon, lat = crs_to_lonlat(xy[:, 0], xy[:, 1], crs)
            return np.column_stack([lon, lat])

        return shapely.set_precision(shapely.transform(geom, project), 1e-6)

    box = shapely.box(*bbox) if bbox else None
    features = []
    for r in s60_report(db, con):
        a = r.authorisation
        geom = to_lonlat(s60.authorisation_geometry(a, crs))
        if box is not None and not geom.intersects(box):
            continue
        props = {"layer": "s60", "id": a.id, "reference": a.reference, "place": a.place, "verdict": a.verdict,
                 "starts_at": f"{a.starts_at:%Y-%m-%d %H:%M}", "final_end": f"{a.final_end:%Y-%m-%d %H:%M}",
                 "searches": r.searches, "arrests": r.arrests, "positive": r.positive}  # fmt: skip
        features.append({"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)})
    with db.session() as s:
        for o in ops.list_operations(s):
            geom = ops.operation_geometry(con, o) if con is not None else None
            if geom is None or geom.is_empty:
                continue
            geom = to_lonlat(geom)
            if box is not None and not geom.intersects(box):
                continue
            props = {"layer": "operation", "id": o.id, "name": o.name, "start": o.start.isoformat(),
                     "end": o.end.isoformat(), "headline": ops.operation_report(s, o.id).headline}  # fmt: skip
            features.append(
                {"type": "Feature", "properties": props, "geometry": shapely.geometry.mapping(geom)}
            )
    return {"type": "FeatureCollection", "features": features, "meta": {"count": len(features), "notes": []}}
