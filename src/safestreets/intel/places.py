"""Where a report points, coarsened before it is stored in the clear: the LSOA it falls in (about 1,500
residents), or, outside the loaded LSOAs, the centre of the 500 m grid cell around it (a snap point). The
exact position stays only inside the encrypted report."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree

from safestreets.geo.project import lonlat_to_crs

SNAP_M = 500.0


@dataclass(frozen=True)
class Place:
    code: str
    kind: str  # "lsoa" or "snap"


class Areas:
    """LSOA polygons (WKB in the workspace CRS) indexed for point lookups."""

    def __init__(self, rows: Sequence[tuple[str, bytes]], crs: str) -> None:
        self.codes = [code for code, _ in rows]
        self.geoms = shapely.from_wkb([wkb for _, wkb in rows]) if rows else np.array([])
        self.tree = STRtree(self.geoms) if rows else None
        self.crs = crs

    def coarsen(self, lon: float, lat: float, snap_m: float = SNAP_M) -> Place:
        x, y = lonlat_to_crs(np.array([lon]), np.array([lat]), self.crs)
        point = shapely.points(float(x[0]), float(y[0]))
        if self.tree is not None:
            hits = self.tree.query(point, predicate="within")
            if len(hits):
                return Place(self.codes[int(min(hits))], "lsoa")
        cx = (np.floor(x[0] / snap_m) + 0.5) * snap_m
        cy = (np.floor(y[0] / snap_m) + 0.5) * snap_m
        return Place(f"snap:{int(cx)}:{int(cy)}:{int(snap_m)}", "snap")
