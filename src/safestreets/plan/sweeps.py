"""Weapons sweeps: which open spaces and alleys near persistent hot spots to search for hidden weapons.

``suggest_sweeps`` keeps the places of the given kinds that lie within ``radius_m`` of a hot cell (any
part of the cell) and ranks them on:

- forecast harm within the radius (each unit's expected harm times the share of its area inside);
- recent violence and robbery within the radius;
- weapon signals within the radius: Possession of weapons crimes and weapon searches with a find or a
  positive outcome. Both are police-found (they follow where officers look), so the table labels them.

Each component is scaled 0..1 by its largest value over the candidates and the score is their weighted
mean (:data:`DEFAULT_SWEEP_WEIGHTS`). Hot cells are the top ``hot_top`` units of the surface by its own
rank, or the mask given as ``hot_cells`` (for example the persistent and intensifying hot spots of
:mod:`safestreets.trends.emerging`). A store without places of those kinds gives an empty result and a
note saying what to load, not an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import shapely

from safestreets.errors import ParameterError, unknown
from safestreets.forecast.store import Surface
from safestreets.geo.units import Units
from safestreets.plan.common import (
    HIT_SQL,
    VIOLENCE_TYPES,
    WEAPON_CRIME,
    WEAPON_OBJECTS,
    base_provenance,
    circle_overlap,
    combine,
    count_near,
    events_filter,
    footer,
    load_places,
    missing_places_note,
    months_window,
    no_searches_note,
    ordinal,
    pick_source,
    place_kinds,
    recent_window,
    risk_view,
    searches_cover,
    weapon_search_filter,
    with_metadata,
)

#: Score weights; weapon signals are police-found, so they inform but do not lead.
DEFAULT_SWEEP_WEIGHTS: dict[str, float] = {
    "forecast_harm": 0.4,
    "recent_violence": 0.35,
    "weapon_signals": 0.25,
}

_SCHEMA = pa.schema([
    ("rank", pa.int64()), ("place_id", pa.string()), ("name", pa.string()), ("kind", pa.string()),
    ("x", pa.float64()), ("y", pa.float64()), ("lon", pa.float64()), ("lat", pa.float64()),
    ("hot_cells_near", pa.int64()), ("nearest_hot_cell_m", pa.float64()), ("forecast_harm", pa.float64()),
    ("recent_violence", pa.int64()), ("possession_of_weapons_police_found", pa.int64()),
    ("weapon_search_hits_police_found", pa.int64()), ("score", pa.float64()), ("reasons", pa.string()),
])  # fmt: skip


@dataclass
class SweepSuggestions:
    """Places to sweep for weapons, best first, with reasons; empty with a note when there are none."""

    table: pa.Table
    notes: list[str]
    params: dict[str, Any]
    provenance: dict[str, Any]

    def to_table(self) -> pa.Table:
        return with_metadata(self.table, self.params, self.provenance)

    def __len__(self) -> int:
        return self.table.num_rows

    def lines(self) -> list[str]:
        p = self.params
        out = [
            f"Weapons sweeps: {self.table.num_rows} {'/'.join(p['kinds'])} place(s) within {p['radius_m']:g} m "
            f"of {p['hot_cells_used']} hot cell(s) ({p['hot_cells_from']})"
        ]
        for row in self.table.to_pylist():
            out.append(f"  {row['rank']}. {row['name']} ({row['kind']}): score {row['score']:.2f}")
            out.extend(f"       {r}" for r in row["reasons"].split("; "))
        return out + footer(self.notes, self.provenance)


def suggest_sweeps(
    con: duckdb.DuckDBPyConnection,
    surface: Surface | None,
    *,
    hot_cells: np.ndarray | None = None,
    hot_units: Units | None = None,
    kinds: Sequence[str] = ("open-space", "alley"),
    radius_m: float = 300.0,
    limit: int = 10,
    hot_top: int = 20,
    weeks_back: int = 12,
    signal_months: int = 12,
    until: Any = None,
    weights: Mapping[str, float] | None = None,
    source: str | None = None,
) -> SweepSuggestions:
    """Rank places of ``kinds`` within ``radius_m`` of a hot cell for weapons sweeps; at most ``limit``.

    ``surface`` gives forecast harm and, without ``hot_cells``, the hot cells (its ``hot_top`` riskiest
    units); ``None`` uses the latest stored run. ``hot_cells`` is a boolean mask or index array over
    ``hot_units`` (default: the surface's units), e.g. persistent hot spots from the emerging hot spot
    classification. ``weeks_back``, ``signal_months``, ``until`` and ``source`` work as in
    :func:`safestreets.plan.hubs.rank_hubs`.
    """
    if radius_m <= 0:
        raise ParameterError(f"radius must be positive, not {radius_m}")
    w = dict(DEFAULT_SWEEP_WEIGHTS)
    for k, v in (weights or {}).items():
        if k not in w:
            raise unknown("weight", k, w)
        if v < 0:
            raise ParameterError(f"weight {k!r} must not be negative, not {v}")
        w[k] = float(v)
    kinds = tuple(kinds)
    params: dict[str, Any] = {
        "kinds": list(kinds), "radius_m": radius_m, "limit": limit, "hot_top": hot_top,
        "weeks_back": weeks_back, "signal_months": signal_months,
        "until": None if until is None else str(until), "weights": w,
        "hot_cells_from": "given mask" if hot_cells is not None else f"top {hot_top} units of the forecast",
        "hot_cells_used": 0,
    }  # fmt: skip
    view = risk_view(con, surface)
    src = pick_source(con, source)
    recent = recent_window(con, src, until, weeks_back=weeks_back)
    signals = months_window(con, src, until, months=signal_months)
    provenance = base_provenance(con, src, view, {"recent": recent, "signals": signals})
    empty = _SCHEMA.empty_table()
    notes: list[str] = []

    places = load_places(con, kinds)
    if not len(places["id"]):
        loaded = place_kinds(con)
        notes.append(
            missing_places_note(kinds, "weapons sweeps")
            + (f" (loaded kinds: {', '.join(loaded)})" if loaded else " (no places are loaded at all)")
        )
        return SweepSuggestions(empty, notes, params, provenance)

    absent = [k for k in kinds if k not in set(places["kind"].tolist())]
    if absent:
        notes.append(
            missing_places_note(absent, "weapons sweeps").replace("nothing to rank", "nothing of that kind")
        )
    hot_geom, hot_x, hot_y = _hot_cells(view, hot_cells, hot_units, hot_top)
    params["hot_cells_used"] = len(hot_x)
    if not len(hot_x):
        if hot_cells is not None:
            notes.append("the hot-cell mask selects no cells")
        elif view is None:
            notes.append(
                "no hot cells: run 'safestreets forecast' or pass hot_cells (e.g. persistent hot spots)"
            )
        else:
            notes.append(f"no hot cells: hot_top is {hot_top}")
        return SweepSuggestions(empty, notes, params, provenance)

    px, py = places["x"], places["y"]
    pts = shapely.points(px, py)
    if hot_geom is not None:
        tree = shapely.STRtree(hot_geom)
        pi, _ = tree.query(pts, predicate="dwithin", distance=radius_m)
        near_n = np.bincount(pi, minlength=len(px))
        d_idx, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        nearest = np.full(len(px), np.inf)
        nearest[d_idx[0]] = dist
    else:
        d = np.hypot(px[:, None] - hot_x[None], py[:, None] - hot_y[None])
        near_n = (d <= radius_m).sum(axis=1)
        nearest = d.min(axis=1)
    keep = np.flatnonzero(near_n > 0)
    if not len(keep):
        notes.append(
            f"none of the {len(px)} {'/'.join(kinds)} place(s) lies within {radius_m:g} m of a hot cell "
            f"(nearest {np.min(nearest):,.0f} m)"
        )
        return SweepSuggestions(empty, notes, params, provenance)
    places = {k: v[keep] for k, v in places.items()}
    px, py, near_n, nearest = px[keep], py[keep], near_n[keep], nearest[keep]
    n = len(keep)

    if view is not None:
        oi, ou, frac = circle_overlap(view, px, py, radius_m)
        harm = np.bincount(oi, weights=frac * view.expected_harm[ou], minlength=n)
    else:
        harm = np.full(n, np.nan)
    vio = count_near(con, "events", px, py, radius_m, *events_filter(src, VIOLENCE_TYPES, recent))
    pow_ = count_near(con, "events", px, py, radius_m, *events_filter(src, (WEAPON_CRIME,), signals))
    ws_where, ws_params = weapon_search_filter(signals, WEAPON_OBJECTS)
    hits = count_near(con, "stop_searches", px, py, radius_m, ws_where + " AND " + HIT_SQL, ws_params)
    searched = searches_cover(con, signals)
    if not searched:
        notes.append(no_searches_note(signals))
    score = combine(
        {
            "forecast_harm": harm,
            "recent_violence": vio.astype(float),
            "weapon_signals": (pow_ + hits).astype(float),
        },
        w,
    )
    order = np.lexsort((places["name_sort"], -score))[: max(limit, 0)]
    harm_rank = np.empty(n, dtype="int64")
    harm_rank[np.lexsort((np.arange(n), -np.nan_to_num(harm, nan=-1.0)))] = np.arange(1, n + 1)

    reasons = []
    for i in order:
        r = [f"{int(near_n[i])} hot cell(s) within {radius_m:g} m (nearest {nearest[i]:,.0f} m)"]
        if view is not None:
            r.append(
                f"forecast {view.target} harm within {radius_m:g} m: {harm[i]:,.0f} "
                f"({ordinal(int(harm_rank[i]))} of {n} candidates)"
            )
        r.append(f"{int(vio[i]):,} violence and robbery crimes {recent.label}")
        searches = (
            f"{int(hits[i]):,} weapon searches with a find or positive outcome"
            if searched
            else f"no stop-and-search data covers {signals.span}"
        )
        r.append(
            f"weapons {signals.label}: {int(pow_[i]):,} Possession of weapons crimes, {searches} (police-found)"
        )
        reasons.append("; ".join(r))
    table = pa.table(
        {
            "rank": pa.array(np.arange(1, len(order) + 1), pa.int64()),
            "place_id": pa.array(places["id"][order].astype(str), pa.string()),
            "name": pa.array(places["name"][order].astype(str), pa.string()),
            "kind": pa.array(places["kind"][order].astype(str), pa.string()),
            "x": pa.array(px[order]), "y": pa.array(py[order]),
            "lon": pa.array(places["lon"][order]), "lat": pa.array(places["lat"][order]),
            "hot_cells_near": pa.array(near_n[order], pa.int64()),
            "nearest_hot_cell_m": pa.array(nearest[order]),
            "forecast_harm": pa.array(harm[order]),
            "recent_violence": pa.array(vio[order], pa.int64()),
            "possession_of_weapons_police_found": pa.array(pow_[order], pa.int64()),
            "weapon_search_hits_police_found": pa.array(hits[order], pa.int64(),
                                                        mask=np.full(len(order), not searched)),
            "score": pa.array(score[order]),
            "reasons": pa.array(reasons, pa.string()),
        },
        schema=_SCHEMA,
    )  # fmt: skip
    if n > len(order):
        notes.append(f"{n - len(order)} more candidate(s) beyond the limit of {limit}")
    return SweepSuggestions(table, notes, params, provenance)


def _hot_cells(
    view: Any, hot_cells: np.ndarray | None, hot_units: Units | None, hot_top: int
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Geometries (None where unknown) and points of the hot cells."""
    if hot_units is not None:
        geom, x, y, n = np.asarray(hot_units.geometry, dtype=object), hot_units.x, hot_units.y, len(hot_units)
    elif view is not None:
        geom, x, y, n = view.geometry, view.x, view.y, len(view)
    else:
        return None, np.array([]), np.array([])
    if hot_cells is None:
        if view is None or hot_units is not None:
            raise ParameterError("hot_units need a hot_cells mask")
        idx = np.flatnonzero(view.rank <= hot_top)
    else:
        mask = np.asarray(hot_cells)
        if mask.dtype == bool:
            if len(mask) != n:
                raise ParameterError(f"the hot-cell mask has {len(mask)} entries for {n} units")
            idx = np.flatnonzero(mask)
        else:
            idx = mask.astype("int64")
    return (None if geom is None else geom[idx]), np.asarray(x, float)[idx], np.asarray(y, float)[idx]


def sweeps_near_hot_spots(con: duckdb.DuckDBPyConnection, limit: int) -> list[str]:
    """Sweep places near lasting hot spots (persistent, intensifying, consecutive) where the history
    allows the classification; near the latest forecast's riskiest cells otherwise (saying which)."""
    from safestreets.errors import SafestreetsError
    from safestreets.forecast.store import read_surface
    from safestreets.trends.run import LASTING, emerging_for_forecast

    surface = read_surface(con)
    try:
        em, units = emerging_for_forecast(con, surface.provenance, surface.window[0])
    except SafestreetsError as exc:
        return [*suggest_sweeps(con, None, limit=limit).lines(), f"  note: lasting hot spots not classified ({exc})"]
    lasting = np.isin(em.category, LASTING)
    if not lasting.any():
        return [*suggest_sweeps(con, None, limit=limit).lines(), "  note: no lasting hot spots: near the riskiest cells"]
    return [
        *suggest_sweeps(con, None, hot_cells=lasting, hot_units=units, limit=limit).lines(),
        f"  hot spots: {int(lasting.sum())} persistent, intensifying or consecutive units, {em.window()}",
    ]
