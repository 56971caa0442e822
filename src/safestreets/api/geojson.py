"""RFC 7946 GeoJSON from the store's geometries: WGS84 longitude/latitude rounded to 7 decimals (about
1 cm), polygon shells anticlockwise and holes clockwise, no ``crs`` member; a FeatureCollection carries its
``bbox`` and a foreign member ``meta`` saying what it shows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely

from safestreets.geo.project import crs_to_lonlat

DECIMALS = 7


def geometries(crs: str, wkb: Sequence[bytes | None]) -> list[dict[str, Any] | None]:
    """WKB in the workspace CRS -> GeoJSON geometry objects (WGS84, 7 decimals, anticlockwise shells)."""
    if not wkb:
        return []
    present = [i for i, g in enumerate(wkb) if g is not None]
    out: list[dict[str, Any] | None] = [None] * len(wkb)
    if not present:
        return out
    geoms = shapely.from_wkb([bytes(wkb[i]) for i in present])  # type: ignore[arg-type]
    geoms = shapely.transform(
        geoms, lambda xy: np.round(np.column_stack(crs_to_lonlat(xy[:, 0], xy[:, 1], crs)), DECIMALS)
    )
    geoms = shapely.orient_polygons(geoms)
    for i, text in zip(present, shapely.to_geojson(geoms), strict=True):
        out[i] = json.loads(text)
    return out


def points(crs: str, x: Sequence[float], y: Sequence[float]) -> list[dict[str, Any]]:
    lon, lat = crs_to_lonlat(np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64"), crs)
    return [{"type": "Point", "coordinates": [round(float(a), DECIMALS), round(float(b), DECIMALS)]}
            for a, b in zip(lon, lat, strict=True)]  # fmt: skip


def lonlat_bounds(crs: str, box: tuple[float, float, float, float] | None) -> list[float] | None:
    if box is None:
        return None
    lon, lat = crs_to_lonlat(
        np.array([box[0], box[2], box[0], box[2]]), np.array([box[1], box[1], box[3], box[3]]), crs
    )
    return [round(float(lon.min()), DECIMALS), round(float(lat.min()), DECIMALS),
            round(float(lon.max()), DECIMALS), round(float(lat.max()), DECIMALS)]  # fmt: skip


def collection(
    features: list[dict[str, Any]], geoms: Sequence[dict[str, Any] | None], meta: dict[str, Any]
) -> dict[str, Any]:
    """A FeatureCollection with its bbox and a ``meta`` member (RFC 7946 allows foreign members)."""
    feats = [{"type": "Feature", "id": props.get("id"), "geometry": g,
              "properties": {k: v for k, v in props.items() if k != "id"}}
             for props, g in zip(features, geoms, strict=True)]  # fmt: skip
    coords = np.array([v for g in geoms if g for v in _coords(g)], dtype="float64").reshape(-1, 2)
    out: dict[str, Any] = {"type": "FeatureCollection"}
    if len(coords):
        out["bbox"] = [float(coords[:, 0].min()), float(coords[:, 1].min()),
                       float(coords[:, 0].max()), float(coords[:, 1].max())]  # fmt: skip
    out["features"] = feats
    out["meta"] = {**meta, "count": len(feats)}
    return out


def _coords(g: dict[str, Any]) -> list[float]:
    """Every coordinate of a geometry, flattened: lon, lat, lon, lat..."""
    flat: list[Any] = [g["coordinates"]]
    while flat and isinstance(flat[0], list):
        flat = [v for part in flat for v in part]
    return flat
