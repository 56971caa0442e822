"""Projection from WGS84 longitude/latitude to the workspace CRS (metres).

pyproj chooses the most accurate transformation it has: for EPSG:27700 that is OSTN15 where the
grid is installed in PROJ's data directory, otherwise the 7-parameter Helmert (about 2 m).
"""

from __future__ import annotations

import threading
from functools import lru_cache

import numpy as np
import pyproj

WGS84 = "EPSG:4326"


def transformer(src: str, dst: str) -> pyproj.Transformer:
    """A transformer for this thread (ingest projects points in worker threads)."""
    return _transformer(src, dst, threading.get_ident())


@lru_cache(maxsize=16)
def _transformer(src: str, dst: str, thread: int) -> pyproj.Transformer:
    del thread  # part of the cache key only
    return pyproj.Transformer.from_crs(src, dst, always_xy=True)


def to_crs(x: np.ndarray, y: np.ndarray, *, src: str = WGS84, dst: str) -> tuple[np.ndarray, np.ndarray]:
    """Project coordinate arrays (NaN stays NaN). ``always_xy``: longitude/easting first."""
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    if src == dst:
        return x.copy(), y.copy()
    out_x, out_y = transformer(src, dst).transform(x, y, errcheck=False)
    out_x = np.asarray(out_x, dtype="float64")
    out_y = np.asarray(out_y, dtype="float64")
    bad = ~np.isfinite(out_x) | ~np.isfinite(out_y)
    out_x[bad] = np.nan
    out_y[bad] = np.nan
    return out_x, out_y


def lonlat_to_crs(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    return to_crs(lon, lat, src=WGS84, dst=crs)


def crs_to_lonlat(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    return to_crs(x, y, src=crs, dst=WGS84)
