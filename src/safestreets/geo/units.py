"""Spatial units a forecast ranks: square grid cells clipped to a study area, or polygons (LSOA, ward,
borough).

Coverage is always a share of the study area's land, so every unit carries ``area``: the part of it inside
the study area, in square metres. Grid cells that are mostly outside (less than ``min_fraction`` of a cell
inside) are dropped, and events that fall outside every unit are not counted anywhere.

Models that smooth in space work on a raster: the unit grid itself for grid units, or a fine grid (100 m by
default) over the study area for polygon units, summed back to units with :meth:`Units.from_raster`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

from safestreets.errors import NoDataError, ParameterError


@dataclass(frozen=True)
class GridSpec:
    """A regular grid: cell ``(row, col)`` spans ``x0 + col*cell .. +cell`` and ``y0 + row*cell .. +cell``."""

    x0: float
    y0: float
    cell: float
    nrows: int
    ncols: int

    @classmethod
    def covering(cls, bounds: tuple[float, float, float, float], cell: float, pad: int = 0) -> GridSpec:
        minx, miny, maxx, maxy = bounds
        x0 = np.floor(minx / cell) * cell - pad * cell
        y0 = np.floor(miny / cell) * cell - pad * cell
        ncols = int(np.ceil((maxx - x0) / cell)) + pad
        nrows = int(np.ceil((maxy - y0) / cell)) + pad
        return cls(float(x0), float(y0), float(cell), max(nrows, 1), max(ncols, 1))

    @property
    def size(self) -> int:
        return self.nrows * self.ncols

    def index(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Flat cell index (``row * ncols + col``) of each point; -1 outside the grid or without a point."""
        x = np.asarray(x, dtype="float64")
        y = np.asarray(y, dtype="float64")
        with np.errstate(invalid="ignore"):
            col = np.floor((x - self.x0) / self.cell)
            row = np.floor((y - self.y0) / self.cell)
            ok = (col >= 0) & (col < self.ncols) & (row >= 0) & (row < self.nrows)
        out = np.full(len(x), -1, dtype="int64")
        out[ok] = row[ok].astype("int64") * self.ncols + col[ok].astype("int64")
        return out

    def bin(self, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """A ``(nrows, ncols)`` array of the (weighted) number of points in each cell."""
        idx = self.index(x, y)
        ok = idx >= 0
        w = None if weights is None else np.asarray(weights, dtype="float64")[ok]
        return (
            np.bincount(idx[ok], weights=w, minlength=self.size)
            .astype("float64")
            .reshape(self.nrows, self.ncols)
        )

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        cols, rows = np.meshgrid(np.arange(self.ncols), np.arange(self.nrows))
        return (self.x0 + (cols.ravel() + 0.5) * self.cell, self.y0 + (rows.ravel() + 0.5) * self.cell)

    def boxes(self) -> np.ndarray:
        cols, rows = np.meshgrid(np.arange(self.ncols), np.arange(self.nrows))
        xs = self.x0 + cols.ravel() * self.cell
        ys = self.y0 + rows.ravel() * self.cell
        return shapely.box(xs, ys, xs + self.cell, ys + self.cell)


@dataclass(frozen=True, eq=False)
class Units:
    """The units of one forecast, in a fixed order that every prediction array follows."""

    ids: np.ndarray  # str
    kind: str  # "grid", or the areas kind: "lsoa11", "lsoa21", "ward", "borough", ...
    x: np.ndarray  # a point inside each unit (for labels and distances)
    y: np.ndarray
    area: np.ndarray  # m^2 of the unit inside the study area
    geometry: np.ndarray  # shapely geometries, clipped to the study area
    bcu: np.ndarray  # command unit of each unit (str, "" where unknown)
    crs: str = "EPSG:27700"
    grid: GridSpec | None = None  # for grid units
    cell_of_unit: np.ndarray | None = None  # flat grid index of each grid unit
    covariates: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def total_area(self) -> float:
        return float(self.area.sum())

    # --- events to units -------------------------------------------------------------------------

    def locate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The unit index of each point, -1 where no unit holds it."""
        x = np.asarray(x, dtype="float64")
        y = np.asarray(y, dtype="float64")
        if self.grid is not None and self.cell_of_unit is not None:
            lookup = self.cache.get("lookup")
            if lookup is None:
                lookup = np.full(self.grid.size, -1, dtype="int64")
                lookup[self.cell_of_unit] = np.arange(len(self.ids))
                self.cache["lookup"] = lookup
            idx = self.grid.index(x, y)
            out = np.full(len(x), -1, dtype="int64")
            ok = idx >= 0
            out[ok] = lookup[idx[ok]]
            return out
        return _locate_polygons(self, x, y)

    def locate_history(self, history: Any) -> np.ndarray:
        """Unit index of each event of ``history`` (memoised on the history)."""
        key = ("unit-index", self.key)
        hit = history.cache.get(key)
        if hit is None:
            hit = self.locate(history.x, history.y)
            history.cache[key] = hit
        return hit

    def counts(self, history: Any, edges: np.ndarray, *, weights: np.ndarray | None = None) -> np.ndarray:
        """A ``(units, periods)`` matrix of events (or summed ``weights``) per unit in each period
        ``[edges[k], edges[k+1])``."""
        edges = np.asarray(edges, dtype="datetime64[s]")
        periods = len(edges) - 1
        unit = self.locate_history(history)
        period = np.searchsorted(edges, history.t, side="right") - 1
        ok = (unit >= 0) & (period >= 0) & (period < periods)
        flat = unit[ok] * periods + period[ok]
        w = None if weights is None else np.asarray(weights, dtype="float64")[ok]
        out = np.bincount(flat, weights=w, minlength=len(self.ids) * periods)
        return out.astype("float64").reshape(len(self.ids), periods)

    # --- rasters for smoothing models ---------------------------------------------------------------

    def raster(self, fine_cell: float = 100.0) -> GridSpec:
        """The grid smoothing models work on: the units' own grid, or a fine grid over polygon units."""
        if self.grid is not None:
            return self.grid
        key = ("raster", fine_cell)
        spec = self.cache.get(key)
        if spec is None:
            bounds = tuple(shapely.total_bounds(self.geometry))
            spec = GridSpec.covering(bounds, fine_cell)  # type: ignore[arg-type]
            self.cache[key] = spec
        return spec

    def from_raster(self, spec: GridSpec, mass: np.ndarray) -> np.ndarray:
        """Per-unit totals of a raster of masses (expected counts per raster cell)."""
        flat = np.asarray(mass, dtype="float64").ravel()
        if self.grid is not None and spec == self.grid and self.cell_of_unit is not None:
            return flat[self.cell_of_unit].copy()
        key = ("raster-units", spec)
        owner = self.cache.get(key)
        if owner is None:
            cx, cy = spec.centres()
            owner = self.locate(cx, cy)
            self.cache[key] = owner
        ok = owner >= 0
        return np.bincount(owner[ok], weights=flat[ok], minlength=len(self.ids))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "units": len(self.ids),
            "area_km2": round(self.total_area / 1e6, 3),
        }
        if self.grid is not None:
            out["cell_size_m"] = self.grid.cell
        out.update(self.meta)
        return out


def _locate_polygons(units: Units, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    tree = units.cache.get("tree")
    if tree is None:
        tree = shapely.STRtree(units.geometry)
        units.cache["tree"] = tree
    out = np.full(len(x), -1, dtype="int64")
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return out
    # police.uk snaps crimes to shared points: locate each distinct point once.
    pts = np.column_stack([x[ok], y[ok]])
    uniq, inverse = np.unique(pts, axis=0, return_inverse=True)
    found = np.full(len(uniq), -1, dtype="int64")
    pi, ui = tree.query(shapely.points(uniq), predicate="intersects")
    # A point on a shared edge goes to the first unit listed.
    order = np.lexsort((ui, pi))
    pi, ui = pi[order], ui[order]
    first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.array([], dtype=bool)
    found[pi[first]] = ui[first]
    out[np.flatnonzero(ok)] = found[inverse.ravel()]
    return out


def _assign_bcu(points: np.ndarray, bcu_geoms: np.ndarray | None, bcu_codes: np.ndarray | None) -> np.ndarray:
    out = np.full(len(points), "", dtype=object)
    if bcu_geoms is None or bcu_codes is None or not len(bcu_geoms):
        return out
    tree = shapely.STRtree(bcu_geoms)
    pi, bi = tree.query(points, predicate="intersects")
    out[pi] = np.asarray(bcu_codes, dtype=object)[bi]
    missing = np.flatnonzero(out == "")
    if len(missing):  # points just outside every BCU polygon (generalised edges): nearest one
        near = tree.query_nearest(points[missing], return_distance=False)
        out[missing[near[0]]] = np.asarray(bcu_codes, dtype=object)[near[1]]
    return out


def make_grid(
    study_area: shapely.Geometry,
    cell_size: float = 250.0,
    *,
    crs: str = "EPSG:27700",
    min_fraction: float = 0.1,
    bcu_geoms: np.ndarray | None = None,
    bcu_codes: np.ndarray | None = None,
    meta: dict[str, Any] | None = None,
) -> Units:
    """Square cells of ``cell_size`` metres covering ``study_area``, clipped to it.

    Cells with less than ``min_fraction`` of their area inside are dropped: a sliver would otherwise rank
    on a tiny denominator. Unit ids are ``E<easting>N<northing>`` of the cell's south-west corner.
    """
    if cell_size <= 0:
        raise ParameterError(f"cell size must be positive, not {cell_size}")
    if study_area is None or shapely.is_empty(study_area):
        raise NoDataError("the study area is empty: choose another --study-area, or load boundaries")
    spec = GridSpec.covering(shapely.bounds(study_area), cell_size)
    if spec.size > 5_000_000:
        raise ParameterError(
            f"a {cell_size:g} m grid over this study area has {spec.size:,} cells: use a larger --cell-size"
        )
    boxes = spec.boxes()
    shapely.prepare(study_area)
    hit = np.flatnonzero(shapely.intersects(study_area, boxes))
    inside = shapely.contains_properly(study_area, boxes[hit])
    geoms = boxes[hit].copy()
    edge = ~inside
    if edge.any():
        geoms[edge] = shapely.intersection(boxes[hit][edge], study_area)
    area = shapely.area(geoms)
    keep = area >= min_fraction * cell_size * cell_size
    hit, geoms, area = hit[keep], geoms[keep], area[keep]
    rows, cols = np.divmod(hit, spec.ncols)
    x = spec.x0 + (cols + 0.5) * spec.cell
    y = spec.y0 + (rows + 0.5) * spec.cell
    corner_x = (spec.x0 + cols * spec.cell).round().astype("int64")
    corner_y = (spec.y0 + rows * spec.cell).round().astype("int64")
    ids = np.array([f"E{a}N{b}" for a, b in zip(corner_x, corner_y, strict=True)], dtype=object)
    bcu = _assign_bcu(shapely.points(x, y), bcu_geoms, bcu_codes)
    return Units(
        ids=ids,
        kind="grid",
        x=x,
        y=y,
        area=area,
        geometry=geoms,
        bcu=bcu,
        crs=crs,
        grid=spec,
        cell_of_unit=hit.astype("int64"),
        meta=dict(meta or {}),
        key=_key("grid", spec, ids),
    )


def polygon_units(
    ids: np.ndarray,
    geometry: np.ndarray,
    *,
    kind: str,
    study_area: shapely.Geometry | None = None,
    crs: str = "EPSG:27700",
    bcu_geoms: np.ndarray | None = None,
    bcu_codes: np.ndarray | None = None,
    bcu: np.ndarray | None = None,
    meta: dict[str, Any] | None = None,
) -> Units:
    """Polygon units (LSOAs, wards, boroughs), clipped to the study area where one is given."""
    ids = np.asarray(ids, dtype=object)
    geometry = np.asarray(geometry, dtype=object)
    if study_area is not None:
        shapely.prepare(study_area)
        keep = shapely.intersects(study_area, geometry)
        ids, geometry = ids[keep], geometry[keep]
        if bcu is not None:
            bcu = np.asarray(bcu, dtype=object)[keep]
        geometry = shapely.intersection(geometry, study_area)
    area = shapely.area(geometry)
    keep = area > 0
    ids, geometry, area = ids[keep], geometry[keep], area[keep]
    rep = shapely.point_on_surface(geometry)
    if bcu is None:
        bcu = _assign_bcu(rep, bcu_geoms, bcu_codes)
    else:
        bcu = np.asarray([b or "" for b in np.asarray(bcu, dtype=object)[keep]], dtype=object)
    return Units(
        ids=ids,
        kind=kind,
        x=shapely.get_x(rep),
        y=shapely.get_y(rep),
        area=area,
        geometry=geometry,
        bcu=bcu,
        crs=crs,
        meta=dict(meta or {}),
        key=_key(kind, None, ids),
    )


def _key(kind: str, spec: GridSpec | None, ids: np.ndarray) -> str:
    h = hashlib.sha256(f"{kind}|{spec}|".encode())
    h.update("\x00".join(map(str, ids)).encode())
    return h.hexdigest()[:16] + uuid.uuid4().hex[:8]
