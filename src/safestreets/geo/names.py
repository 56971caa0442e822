"""Names for forecast units that officers know, not codes.

- A grid cell is named by the street most of its events are published "on or near" (police.uk's
  anonymised location text, "On or near " stripped), with the borough holding it: "Bishopsgate, City of
  London". Equal counts go to the first name alphabetically, so the same data always give the same name.
  police.uk also places crimes at kinds of place ("Shopping Area", "Parking Area"); a street is preferred,
  and a cell with only those reads "Shopping Area near Bishopsgate", the nearest street in the cells around
  it. A cell without events is "near <that street>", else named by the LSOA holding it, else its borough.
- An area unit (LSOA, ward, borough) has its loaded name ("City of London 001A").

A unit with nothing to name it by gets "" and is shown by its code.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np
import shapely

from safestreets.geo.units import Units
from safestreets.store.queries import area_names, area_shapes, street_points

PREFIX = "on or near "
#: police.uk's location texts for a kind of place rather than a street (the same text is used all over a
#: force): no one can find "Supermarket" on the ground without a street.
PLACE_KINDS = frozenset(
    s.lower()
    for s in (
        "Airport/Airfield", "Bus/Coach Station", "Conference/Exhibition Centre", "Ferry Terminal",
        "Further/Higher Educational Building", "Hospital", "Nightclub", "Park/Open Space", "Parking Area",
        "Pedestrian Subway", "Petrol Station", "Police Station", "Prison", "Shopping Area",
        "Sports/Recreation Area", "Supermarket", "Theatre/Concert Hall",
    )
)  # fmt: skip
#: Where a cell's centre is looked up for its LSOA, newest set first.
LSOA_KINDS = ("lsoa21", "lsoa", "lsoa11")
BOROUGH = "borough"


def clean_location(text: object) -> str:
    """police.uk's location text as a name: "On or near " stripped, "Dean'S Court" as "Dean's Court";
    "" for an empty text."""
    name = str(text or "").strip()
    if name.lower().startswith(PREFIX.strip()):
        name = name[len(PREFIX.strip()) :].strip()
    return re.sub(r"'S\b", "'s", name)


def unit_names(con: duckdb.DuckDBPyConnection, units: Units) -> np.ndarray:
    """A name per unit (object array of str, "" where nothing names it), in the units' order."""
    if units.kind != "grid":
        names = area_names(con, (units.kind,))
        return np.array([names.get(str(i), "") for i in units.ids], dtype=object)
    return _grid_names(con, units)


def _grid_names(con: duckdb.DuckDBPyConnection, units: Units) -> np.ndarray:
    n = len(units.ids)
    out = np.full(n, "", dtype=object)
    if n == 0:
        return out
    spot = shapely.point_on_surface(units.geometry)  # inside the clipped cell, even at the study area's edge
    cell = units.grid.cell if units.grid is not None else float(np.sqrt(np.max(units.area)))
    lo_x, lo_y, hi_x, hi_y = (float(v) for v in shapely.total_bounds(units.geometry))
    pts = street_points(con, (lo_x - cell, lo_y - cell, hi_x + cell, hi_y + cell))
    labels = np.array([clean_location(t) for t in pts["location"]], dtype=object)
    ok = labels != ""
    x, y, labels, counts = pts["x"][ok], pts["y"][ok], labels[ok], pts["n"][ok]
    is_kind = np.array([s.lower() in PLACE_KINDS for s in labels], dtype=bool)
    unit = units.locate(x, y)
    street = _most_common(unit, labels, counts, ~is_kind & (unit >= 0), n)
    kind = _most_common(unit, labels, counts, is_kind & (unit >= 0), n)
    near = _nearest_street(units, x, y, labels, counts, ~is_kind, cell, np.flatnonzero(street == ""))
    lsoa = _holding(con, LSOA_KINDS, spot)
    borough = _holding(con, (BOROUGH,), spot)
    for i in range(n):
        if street[i]:
            place = street[i]
        elif kind[i] and near[i]:
            place = f"{kind[i]} near {near[i]}"
        elif near[i]:
            place = f"near {near[i]}"
        else:
            place = kind[i]
        if place:
            out[i] = f"{place}, {borough[i]}" if borough[i] else place
        else:  # an LSOA's name already says its borough ("City of London 001A")
            out[i] = lsoa[i] or borough[i]
    return out


def _most_common(
    unit: np.ndarray, labels: np.ndarray, counts: np.ndarray, use: np.ndarray, n: int
) -> np.ndarray:
    """Per unit, the label with the most events among the rows ``use`` (ties: first alphabetically)."""
    out = np.full(n, "", dtype=object)
    if not use.any():
        return out
    names, code = np.unique(labels[use], return_inverse=True)  # sorted: a lower code is earlier a-z
    key = unit[use].astype("int64") * len(names) + code
    pairs, inverse = np.unique(key, return_inverse=True)
    totals = np.bincount(inverse.ravel(), weights=counts[use]).astype("int64")
    u, c = np.divmod(pairs, len(names))
    order = np.lexsort((c, -totals, u))
    first = order[np.r_[True, u[order][1:] != u[order][:-1]]]
    out[u[first]] = names[c[first]]
    return out


def _nearest_street(units: Units, x: np.ndarray, y: np.ndarray, labels: np.ndarray, counts: np.ndarray,
                    street: np.ndarray, cell: float, which: np.ndarray) -> np.ndarray:  # fmt: skip
    """For the units ``which``, the street at the nearest point in the cells around them (a 3 x 3 block
    of cells centred on the unit); "" where there is none. A point with several streets gives its most
    common one."""
    out = np.full(len(units.ids), "", dtype=object)
    if not len(which) or not street.any():
        return out
    sx, sy, sl, sn = x[street], y[street], labels[street], counts[street]
    # One street per point: its most common (ties a-z), so "the nearest point" names one street.
    xy, point = np.unique(np.column_stack([sx, sy]), axis=0, return_inverse=True)
    point_name = _most_common(point.ravel(), sl, sn, np.ones(len(sl), dtype=bool), len(xy))
    tree = shapely.STRtree(shapely.points(xy))
    cx, cy = units.x[which], units.y[which]
    half = 1.5 * cell
    ui, pi = tree.query(shapely.box(cx - half, cy - half, cx + half, cy + half), predicate="intersects")
    if not len(ui):
        return out
    dist = np.hypot(xy[pi, 0] - cx[ui], xy[pi, 1] - cy[ui])
    order = np.lexsort((point_name[pi].astype(str), dist, ui))
    first = order[np.r_[True, ui[order][1:] != ui[order][:-1]]]
    out[which[ui[first]]] = point_name[pi[first]]
    return out


def _holding(con: duckdb.DuckDBPyConnection, kinds: tuple[str, ...], spots: np.ndarray) -> np.ndarray:
    """The name of the area of the first loaded kind of ``kinds`` holding each point ("" where none)."""
    out = np.full(len(spots), "", dtype=object)
    for kind in kinds:
        _codes, names, wkb = area_shapes(con, kind)
        if not wkb:
            continue
        tree = shapely.STRtree(shapely.from_wkb(wkb))
        pi, ai = tree.query(spots, predicate="intersects")
        order = np.lexsort((ai, pi))  # a point on a shared edge: the first area in code order
        pi, ai = pi[order], ai[order]
        first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.array([], dtype=bool)
        out[pi[first]] = np.asarray(names, dtype=object)[ai[first]]
        return out
    return out
