"""The outline of a boundary file: the union of its polygons in lon/lat, whatever its fields.

Used to name an area for the police.uk API (``fetch crimes --area boundary.geojson``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely

from safestreets.errors import InputError
from safestreets.geo.project import to_crs


def read_outline(path: str | Path) -> Any:
    """The union of every polygon in ``path`` (GeoJSON, .gz too, GeoPackage, shapefile), in lon/lat."""
    path = Path(path)
    source = f"/vsigzip/{path}" if path.name.endswith(".gz") else str(path)
    try:
        meta, table = pyogrio.read_arrow(source)
    except Exception as exc:  # GDAL's own errors: any of them means the file is not readable as boundaries
        raise InputError(path, f"cannot read as a boundary file ({str(exc).splitlines()[0]})") from exc
    column = meta["geometry_name"] or "wkb_geometry"
    geom = shapely.union_all(shapely.from_wkb(table.column(column).to_pylist()))
    crs = meta.get("crs") or "EPSG:4326"
    if crs != "EPSG:4326":
        geom = shapely.transform(
            geom, lambda xy: np.column_stack(to_crs(xy[:, 0], xy[:, 1], src=crs, dst="EPSG:4326"))
        )
    return geom
