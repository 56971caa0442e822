"""Places that shape risk and tactics: stations and other hubs, from CSV or point files.

``read_places`` finds the coordinate, name and id columns itself in the common layouts (TfL-style
``latitude``/``longitude`` files, NaPTAN's ``Easting``/``Northing``, GeoJSON points) and keeps every
other column as JSON attributes. It only reads: ``store.places.load_places`` writes them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyogrio
import shapely

from safestreets.errors import InputError
from safestreets.geo.project import WGS84, to_crs
from safestreets.vocab import slugify

PLACE_SCHEMA = pa.schema(
    [
        ("place_id", pa.string()),
        ("kind", pa.string()),
        ("name", pa.string()),
        ("lon", pa.float64()),
        ("lat", pa.float64()),
        ("x", pa.float64()),
        ("y", pa.float64()),
        ("attributes", pa.string()),
    ]
)

CSV_SUFFIXES = (".csv", ".csv.gz", ".txt")
POINT_SUFFIXES = (".geojson", ".json", ".geojson.gz", ".json.gz", ".gpkg", ".shp")
# British National Grid: the CRS of NaPTAN's and OS's eastings and northings.
DEFAULT_XY_CRS = "EPSG:27700"

# Header names tried in order, compared case-insensitively with spaces and underscores dropped.
LON_NAMES = ("longitude", "lon", "lng", "long", "x_lon")
LAT_NAMES = ("latitude", "lat", "y_lat")
X_NAMES = ("easting", "eastings", "east")
Y_NAMES = ("northing", "northings", "north")
NAME_NAMES = ("name", "stationname", "commonname", "placename", "sitename", "displayname", "title", "label")
ID_NAMES = ("placeid", "id", "atcocode", "naptancode", "stationcode", "code", "ref", "uid", "objectid", "fid")
_NULLS = ["", "NULL", "null", "NaN", "nan"]


def read_places(
    path: str | Path,
    *,
    crs: str,
    kind: str | None = None,
    name_field: str | None = None,
    lon_field: str | None = None,
    lat_field: str | None = None,
    x_field: str | None = None,
    y_field: str | None = None,
    id_field: str | None = None,
    xy_crs: str = DEFAULT_XY_CRS,
    layer: str | int | None = None,
) -> pa.Table:
    """Read a places file into a :data:`PLACE_SCHEMA` table (lon/lat WGS84, x/y in ``crs``).

    Longitude/latitude win where a file has both them and eastings/northings (``xy_crs``); a row missing
    one pair falls back on the other. Without ``kind``, a file about stations gives ``station``, any
    other the file's name in the singular.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    lower = path.name.lower()
    if lower.endswith(CSV_SUFFIXES):
        return _read_csv_places(
            path, crs, kind, name_field, lon_field, lat_field, x_field, y_field, id_field, xy_crs
        )
    if lower.endswith(POINT_SUFFIXES):
        return _read_point_file(path, crs, kind, name_field, id_field, layer)
    raise InputError(
        path, "unknown places format: expected one of " + ", ".join(CSV_SUFFIXES + POINT_SUFFIXES)
    )


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _pick(
    path: Path, columns: Sequence[str], given: str | None, options: Sequence[str], what: str
) -> str | None:
    """The column for ``what``: the one given (matched loosely), else the first known header present."""
    by_norm = {}
    for c in columns:
        by_norm.setdefault(_norm(c), c)
    if given is not None:
        if given in columns:
            return given
        if _norm(given) in by_norm:
            return by_norm[_norm(given)]
        raise InputError(path, f"no {what} column {given!r}; columns: {', '.join(columns)}")
    return next((by_norm[_norm(o)] for o in options if _norm(o) in by_norm), None)


def _read_csv_places(
    path: Path,
    crs: str,
    kind: str | None,
    name_field: str | None,
    lon_field: str | None,
    lat_field: str | None,
    x_field: str | None,
    y_field: str | None,
    id_field: str | None,
    xy_crs: str,
) -> pa.Table:
    try:
        raw = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(null_values=_NULLS, strings_can_be_null=True),
        )
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read as CSV: {' '.join(str(err).split())[:300]}") from err
    cols = raw.column_names
    lon_col = _pick(path, cols, lon_field, LON_NAMES, "longitude")
    lat_col = _pick(path, cols, lat_field, LAT_NAMES, "latitude")
    x_col = _pick(path, cols, x_field, X_NAMES, "easting")
    y_col = _pick(path, cols, y_field, Y_NAMES, "northing")
    has_lonlat = lon_col is not None and lat_col is not None
    has_xy = x_col is not None and y_col is not None
    if not has_lonlat and not has_xy:
        raise InputError(
            path,
            "no coordinate columns found (longitude/latitude, lon/lat, lng/lat or easting/northing); "
            f"columns: {', '.join(cols)}",
        )
    name_col = _pick(path, cols, name_field, NAME_NAMES, "name")
    id_col = _pick(path, cols, id_field, ID_NAMES, "id")
    n = raw.num_rows

    lon = _numbers(path, raw, lon_col) if has_lonlat else np.full(n, np.nan)
    lat = _numbers(path, raw, lat_col) if has_lonlat else np.full(n, np.nan)
    east = _numbers(path, raw, x_col) if has_xy else np.full(n, np.nan)
    north = _numbers(path, raw, y_col) if has_xy else np.full(n, np.nan)
    use_lonlat = ~np.isnan(lon) & ~np.isnan(lat)
    use_xy = ~use_lonlat & ~np.isnan(east) & ~np.isnan(north)
    for i in np.flatnonzero(~use_lonlat & ~use_xy):
        column = (lon_col if np.isnan(lon[i]) else lat_col) if has_lonlat else x_col
        raise InputError(path, "no coordinates", row=int(i) + 1, column=column)
    if has_lonlat:
        _check_lonlat(path, lon, lat, use_lonlat, lon_col, lat_col)

    # Eastings/northings only where a row has no lon/lat: project them to lon/lat first.
    if use_xy.any():
        rows = np.flatnonzero(use_xy)
        elon, elat = to_crs(east[rows], north[rows], src=xy_crs, dst=WGS84)
        bad = (
            ~np.isfinite(elon)
            | ~np.isfinite(elat)
            | (np.abs(elat) > 90)
            | ((east[rows] == 0) & (north[rows] == 0))
        )
        if bad.any():
            i = int(rows[np.flatnonzero(bad)[0]])
            raise InputError(
                path,
                f"easting/northing is not a position in {xy_crs}",
                row=i + 1,
                column=x_col,
                value=f"{east[i]}, {north[i]}",
            )
        lon[rows], lat[rows] = elon, elat
    x, y = _project(path, lon, lat, crs, lon_col or x_col)
    if use_xy.any():
        # Straight from the published grid reference: a detour through lon/lat would cost a millimetre.
        x[use_xy], y[use_xy] = to_crs(east[use_xy], north[use_xy], src=xy_crs, dst=crs)

    used = [c for c in (lon_col, lat_col, x_col, y_col, name_col, id_col) if c]
    names = _strings(raw, name_col, n)
    place_kind = kind or _infer_kind(path, cols)
    ids = _ids(path, raw, id_col, names, lon, lat, place_kind)
    attributes = _attributes(raw.drop_columns([c for c in cols if c in used]))
    return _table(ids, place_kind, names, lon, lat, x, y, attributes)


def _numbers(path: Path, table: pa.Table, column: str) -> np.ndarray:
    """A column as float64 with NaN for blanks; a value that is not a number is an error for its row."""
    col = table.column(column)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_null(col.type):
        return pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False).astype("float64")
    out = np.full(table.num_rows, np.nan)
    for i, value in enumerate(col.to_pylist()):
        if value is None:
            continue
        try:
            out[i] = float(str(value).strip())
        except ValueError:
            raise InputError(path, "not a number", row=i + 1, column=column, value=str(value)) from None
        if not math.isfinite(out[i]):
            raise InputError(path, "not a finite number", row=i + 1, column=column, value=str(value))
    return out


def _check_lonlat(
    path: Path, lon: np.ndarray, lat: np.ndarray, rows: np.ndarray, lon_col: str | None, lat_col: str | None
) -> None:
    checks = [
        (rows & ((lon < -180) | (lon > 180)), lon_col, lon, "longitude outside -180..180"),
        (rows & ((lat < -90) | (lat > 90)), lat_col, lat, "latitude outside -90..90"),
        # 0, 0 is where a blank coordinate lands when a tool writes it as a number.
        (rows & (lon == 0) & (lat == 0), lon_col, lon, "coordinates are 0, 0 (a blank written as zero?)"),
    ]
    for bad, column, values, reason in checks:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(path, reason, row=i + 1, column=column, value=repr(float(values[i])))


def _project(
    path: Path, lon: np.ndarray, lat: np.ndarray, crs: str, column: str | None
) -> tuple[np.ndarray, np.ndarray]:
    x, y = to_crs(lon, lat, src=WGS84, dst=crs)
    bad = ~np.isfinite(x) | ~np.isfinite(y)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            path, f"cannot be projected to {crs}", row=i + 1, column=column, value=f"{lon[i]}, {lat[i]}"
        )
    return x, y


def _strings(table: pa.Table, column: str | None, n: int) -> list[str | None]:
    if column is None:
        return [None] * n
    text = pc.utf8_trim_whitespace(pc.cast(table.column(column), pa.string()))
    return [None if v is None or v == "" else v for v in text.to_pylist()]


def _infer_kind(path: Path, columns: Sequence[str]) -> str:
    """``station`` for anything about stations, else the file's name in the singular
    (``night_time_economy.csv`` -> ``night-time-economy``, ``open_spaces.csv`` -> ``open-space``)."""
    if any("station" in w for w in [path.name.lower(), *(_norm(c) for c in columns)]):
        return "station"
    stem = path.name.lower()
    for suffix in (".gz", *CSV_SUFFIXES, *POINT_SUFFIXES):
        stem = stem.removesuffix(suffix)
    slug = slugify(stem)
    if slug.endswith("s") and not slug.endswith("ss"):
        slug = slug[:-1]
    return slug or "place"


def _ids(
    path: Path,
    table: pa.Table,
    column: str | None,
    names: list[str | None],
    lon: np.ndarray,
    lat: np.ndarray,
    kind: str,
) -> list[str]:
    """Published ids where there is a column; else a short hash of kind, name and position, stable
    across re-ordered files."""
    if column is not None:
        ids = _strings(table, column, table.num_rows)
        seen: dict[str, int] = {}
        for i, pid in enumerate(ids):
            if pid is None:
                raise InputError(path, "no id", row=i + 1, column=column)
            if pid in seen:
                raise InputError(
                    path, f"id also used by row {seen[pid]}", row=i + 1, column=column, value=pid
                )
            seen[pid] = i + 1
        return [str(v) for v in ids]
    out: list[str] = []
    taken: set[str] = set()
    for i in range(len(names)):
        key = f"{kind}|{names[i] or ''}|{lon[i]:.6f}|{lat[i]:.6f}"
        pid = hashlib.sha1(key.encode("utf-8")).hexdigest()[:12]
        while pid in taken:  # the same place listed twice: keep both, with distinct ids
            pid = hashlib.sha1((key + pid).encode("utf-8")).hexdigest()[:12]
        taken.add(pid)
        out.append(pid)
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _attributes(rest: pa.Table) -> list[str]:
    rows = rest.to_pylist()
    return [
        json.dumps({k: _clean(v) for k, v in row.items()}, ensure_ascii=False, default=str) for row in rows
    ]


def _table(
    ids: list[str],
    kind: str,
    names: list[str | None],
    lon: np.ndarray,
    lat: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    attributes: list[str],
) -> pa.Table:
    return pa.table(
        {
            "place_id": pa.array(ids, pa.string()),
            "kind": pa.array([kind] * len(ids), pa.string()),
            "name": pa.array(names, pa.string()),
            "lon": pa.array(lon, pa.float64()),
            "lat": pa.array(lat, pa.float64()),
            "x": pa.array(x, pa.float64()),
            "y": pa.array(y, pa.float64()),
            "attributes": pa.array(attributes, pa.string()),
        },
        schema=PLACE_SCHEMA,
    )


def _read_point_file(
    path: Path,
    crs: str,
    kind: str | None,
    name_field: str | None,
    id_field: str | None,
    layer: str | int | None,
) -> pa.Table:
    gdal_path = "/vsigzip/" + str(path.resolve()) if path.name.lower().endswith(".gz") else str(path)
    try:
        meta, raw = pyogrio.read_arrow(gdal_path, layer=layer)
    except Exception as err:  # GDAL reports unreadable files through several exception types
        raise InputError(path, f"cannot read: {' '.join(str(err).split())[:300]}") from err
    geom_col = meta.get("geometry_name") or "wkb_geometry"
    if geom_col not in raw.column_names:
        raise InputError(path, "the layer has no geometry column")
    geoms = shapely.from_wkb(raw.column(geom_col).to_numpy(zero_copy_only=False), on_invalid="ignore")
    raw = raw.drop_columns([geom_col])
    cols = raw.column_names
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if empty.any():
        raise InputError(path, f"feature {int(np.flatnonzero(empty)[0]) + 1} has no geometry")
    # Areas such as parks stand in as a point inside them (a centroid can fall outside a crescent).
    points = np.where(shapely.get_type_id(geoms) == 0, geoms, shapely.point_on_surface(geoms))
    src = meta.get("crs") or WGS84
    lon, lat = to_crs(shapely.get_x(points), shapely.get_y(points), src=src, dst=WGS84)
    bad = ~np.isfinite(lon) | ~np.isfinite(lat)
    if bad.any():
        raise InputError(path, f"feature {int(np.flatnonzero(bad)[0]) + 1}: coordinates cannot be projected")
    x, y = to_crs(lon, lat, src=WGS84, dst=crs)
    name_col = _pick(path, cols, name_field, NAME_NAMES, "name")
    id_col = _pick(path, cols, id_field, ID_NAMES, "id")
    names = _strings(raw, name_col, raw.num_rows)
    place_kind = kind or _infer_kind(path, cols)
    ids = _ids(path, raw, id_col, names, lon, lat, place_kind)
    attributes = _attributes(raw.drop_columns([c for c in (name_col, id_col) if c]))
    return _table(ids, place_kind, names, lon, lat, x, y, attributes)
