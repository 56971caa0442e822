"""Area boundaries (LSOA, MSOA, ward, borough) and the borough -> BCU lookup.

``read_areas`` turns a GeoJSON (plain or ``.gz``), GeoPackage or shapefile into an Arrow table of areas
in the workspace CRS; ``read_bcu_lookup`` reads the borough -> Basic Command Unit CSV. Both only read:
``store.areas.load_areas`` writes either into the store.

The usual ONS field names are recognised without options (``LSOA21CD``/``LSOA21NM`` and the like), as are
the synthetic city's ``LSOA_CODE``/``BOROUGH_CODE`` files.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyogrio
import pyproj
import shapely

from safestreets.errors import InputError
from safestreets.geo.project import WGS84, transformer
from safestreets.vocab import slugify

AREA_SCHEMA = pa.schema(
    [
        ("code", pa.string()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("parent", pa.string()),
        ("geometry", pa.binary()),
        ("xmin", pa.float64()),
        ("ymin", pa.float64()),
        ("xmax", pa.float64()),
        ("ymax", pa.float64()),
        ("area_m2", pa.float64()),
        ("population", pa.float64()),
    ]
)

BCU_LOOKUP_SCHEMA = pa.schema(
    [
        ("borough_code", pa.string()),
        ("borough_name", pa.string()),
        ("bcu_code", pa.string()),
        ("bcu_name", pa.string()),
    ]
)

FORMATS = (".geojson", ".json", ".geojson.gz", ".json.gz", ".gpkg", ".shp", ".zip")
_POLYGONAL = {3, 6}  # shapely type ids: Polygon, MultiPolygon


@dataclass(frozen=True)
class FieldChoice:
    """Which source fields feed code, name, parent and population, and the kind they imply."""

    kind: str | None
    code: str
    name: str | None
    parent: str | None
    population: str | None


# ---------------------------------------------------------------------------------------------
# Reading boundary files
# ---------------------------------------------------------------------------------------------


def read_areas(
    path: str | Path,
    *,
    crs: str,
    kind: str | None = None,
    code_field: str | None = None,
    name_field: str | None = None,
    parent_field: str | None = None,
    population_field: str | None = None,
    layer: str | int | None = None,
    source_crs: str | None = None,
) -> pa.Table:
    """Read a boundary file into an :data:`AREA_SCHEMA` table with geometries as WKB in ``crs``.

    ``source_crs`` is only needed for a file that does not say its CRS (a shapefile without ``.prj``);
    without it such a file is taken as WGS84 if its coordinates look like degrees, else as ``crs``.
    """
    path = Path(path)
    gdal_path = _gdal_path(path)
    layer = _choose_layer(path, gdal_path, layer)
    try:
        meta, raw = pyogrio.read_arrow(gdal_path, layer=layer)
    except Exception as err:  # GDAL reports unreadable files through several exception types
        raise InputError(path, f"cannot read as a {_format_name(path)} file: {_one_line(err)}") from err

    geom_col = meta.get("geometry_name") or "wkb_geometry"
    if geom_col not in raw.column_names:
        raise InputError(path, "the layer has no geometry column")
    if raw.num_rows == 0:
        raise InputError(path, "no features")
    fields = [c for c in raw.column_names if c != geom_col]
    choice = _choose_fields(path, fields, kind, code_field, name_field, parent_field, population_field)
    area_kind = kind or choice.kind
    if area_kind is None:
        raise InputError(path, f"cannot tell what kind of area {choice.code!r} codes are: pass kind")

    n = raw.num_rows
    codes = _string_column(raw, choice.code)
    _check_codes(path, choice.code, codes)
    names = _string_column(raw, choice.name) if choice.name else [None] * n
    parents = _string_column(raw, choice.parent) if choice.parent else [None] * n
    population = _float_column(path, raw, choice.population, codes) if choice.population else None

    geoms = shapely.from_wkb(raw.column(geom_col).to_numpy(zero_copy_only=False), on_invalid="ignore")
    _check_geometries(path, geoms, codes, choice.code)
    src = source_crs or meta.get("crs") or _guess_crs(geoms, crs)
    geoms = _make_valid(path, _reproject(geoms, src, crs), codes, choice.code)
    return _areas_table(codes, names, area_kind, parents, geoms, crs, population)


def neighbourhood_table(hoods: Mapping[str, tuple[str | None, bytes]], force: str, *, crs: str) -> pa.Table:
    """police.uk neighbourhoods (id -> (name, WKB polygon in lon/lat)) as areas of kind ``neighbourhood``.

    Neighbourhood ids are unique only within a force, so the code is ``force/id``.
    """
    source = f"{force} neighbourhoods"
    ids = sorted(hoods)
    codes: list[str | None] = [f"{force}/{nid}" for nid in ids]
    geoms = shapely.from_wkb([hoods[nid][1] for nid in ids], on_invalid="ignore")
    _check_geometries(source, geoms, codes, "neighbourhood")
    geoms = _make_valid(source, _reproject(geoms, WGS84, crs), codes, "neighbourhood")
    names = [hoods[nid][0] for nid in ids]
    return _areas_table(codes, names, "neighbourhood", [None] * len(ids), geoms, crs, None)


def _areas_table(
    codes: Sequence[str | None],
    names: Sequence[str | None],
    kind: str,
    parents: Sequence[str | None],
    geoms: np.ndarray,
    crs: str,
    population: Sequence[float | None] | None,
) -> pa.Table:
    n = len(codes)
    bounds = shapely.bounds(geoms) if n else np.empty((0, 4))
    return pa.table(
        {
            "code": pa.array(codes, pa.string()),
            "name": pa.array(names, pa.string()),
            "kind": pa.array([kind] * n, pa.string()),
            "parent": pa.array(parents, pa.string()),
            "geometry": pa.array(shapely.to_wkb(geoms) if n else [], pa.binary()),
            "xmin": bounds[:, 0],
            "ymin": bounds[:, 1],
            "xmax": bounds[:, 2],
            "ymax": bounds[:, 3],
            "area_m2": _area_m2(geoms, crs) if n else np.empty(0),
            "population": pa.array(population, pa.float64())
            if population is not None
            else pa.nulls(n, pa.float64()),
        },
        schema=AREA_SCHEMA,
    )


def _gdal_path(path: Path) -> str:
    """The path GDAL should open: ``/vsigzip/`` for gzipped GeoJSON, which GDAL does not sniff itself."""
    name = path.name.lower()
    if not name.endswith(FORMATS):
        raise InputError(path, "unknown boundary format: expected one of " + ", ".join(FORMATS))
    if not path.exists():
        raise InputError(path, "file not found")
    if name.endswith(".gz"):
        return "/vsigzip/" + str(path.resolve())
    return str(path)


def _format_name(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gpkg"):
        return "GeoPackage"
    if name.endswith((".shp", ".zip")):
        return "shapefile"
    return "GeoJSON"


def _choose_layer(path: Path, gdal_path: str, layer: str | int | None) -> str | int | None:
    """A GeoPackage may hold several layers: take the only spatial one, or insist on being told."""
    try:
        layers = pyogrio.list_layers(gdal_path)
    except Exception as err:  # GDAL cannot open it at all
        raise InputError(path, f"cannot read as a {_format_name(path)} file: {_one_line(err)}") from err
    spatial = [str(name) for name, geom_type in layers if geom_type is not None]
    if layer is not None:
        known = [str(name) for name, _ in layers]
        if isinstance(layer, str) and layer not in known:
            raise InputError(path, f"no layer {layer!r}; layers: {', '.join(known)}")
        return layer
    if not spatial:
        raise InputError(path, "no layer with geometries")
    if len(spatial) > 1:
        raise InputError(path, f"{len(spatial)} layers with geometries ({', '.join(spatial)}): pass layer")
    return spatial[0] if _format_name(path) == "GeoPackage" else None


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())[:300]


_ONS = re.compile(r"^(LSOA|MSOA|WD|LAD)(\d\d)CD$")
_ONS_KIND = {"LSOA": "lsoa", "MSOA": "msoa", "WD": "ward", "LAD": "borough"}


def _choose_fields(
    path: Path,
    fields: Sequence[str],
    kind: str | None,
    code_field: str | None,
    name_field: str | None,
    parent_field: str | None,
    population_field: str | None,
) -> FieldChoice:
    """Match fields case-insensitively; explicit names win over detected ones."""
    upper = {f.upper(): f for f in fields}

    def field(name: str | None, what: str) -> str | None:
        if name is None:
            return None
        if name in fields:
            return name
        if name.upper() in upper:
            return upper[name.upper()]
        raise InputError(path, f"no {what} field {name!r}; fields: {', '.join(fields) or '(none)'}")

    candidates = _candidates(upper, kind)
    code = field(code_field, "code")
    if code is None:
        if not candidates:
            raise InputError(
                path,
                "no area code field found (looked for LSOA21CD, LSOA11CD, MSOA21CD, WD22CD, LAD22CD, "
                f"LSOA_CODE, BOROUGH_CODE); fields: {', '.join(fields) or '(none)'}: pass code_field",
            )
        code = candidates[0].code
    # An explicit code field may still be a recognised one (LAD22CD in an LSOA file): use its scheme.
    scheme = next((c for c in candidates if c.code == code), None)
    pop_default = next((upper[k] for k in ("POPULATION", "POP", "USUAL_RESIDENTS") if k in upper), None)
    return FieldChoice(
        kind=scheme.kind if scheme else None,
        code=code,
        name=field(name_field, "name") or (scheme.name if scheme else None),
        parent=field(parent_field, "parent") or (scheme.parent if scheme else None),
        population=field(population_field, "population") or pop_default,
    )


def _candidates(upper: dict[str, str], kind: str | None) -> list[FieldChoice]:
    """Every scheme that fits, finest geography first (an LSOA file also carries LAD fields)."""

    def newest_lad(year: str | None = None) -> str | None:
        if year and f"LAD{year}CD" in upper:
            return upper[f"LAD{year}CD"]
        lads = sorted(k for k in upper if re.fullmatch(r"LAD\d\dCD", k))
        return upper[lads[-1]] if lads else upper.get("BOROUGH_CODE")

    found: list[FieldChoice] = []
    for level in ("LSOA", "MSOA", "WD", "LAD"):
        keys = sorted((k for k in upper if (m := _ONS.match(k)) and m.group(1) == level), reverse=True)
        for key in keys:
            year = key[len(level) : len(level) + 2]
            base = _ONS_KIND[level]
            area_kind = base + year if level in ("LSOA", "MSOA") else base
            parent = None if level == "LAD" else newest_lad(year)
            found.append(FieldChoice(area_kind, upper[key], upper.get(f"{level}{year}NM"), parent, None))
        if level == "LSOA" and "LSOA_CODE" in upper:
            found.append(FieldChoice("lsoa", upper["LSOA_CODE"], upper.get("LSOA_NAME"), newest_lad(), None))
    if "BOROUGH_CODE" in upper:
        found.append(FieldChoice("borough", upper["BOROUGH_CODE"], upper.get("BOROUGH_NAME"), None, None))
    if kind is not None:
        # A file of some other geography: accept KIND_CODE or CODE once the kind is given.
        for key, name in ((f"{kind.upper()}_CODE", f"{kind.upper()}_NAME"), ("CODE", "NAME")):
            if key in upper:
                found.append(FieldChoice(None, upper[key], upper.get(name), None, None))
    return found


def _string_column(table: pa.Table, field: str) -> list[str | None]:
    col = table.column(field)
    if pa.types.is_floating(col.type):
        # Integral float codes (a DBF numeric field) read as "510", not "510.0".
        values = col.to_pylist()
        return [None if v is None else (str(int(v)) if float(v).is_integer() else str(v)) for v in values]
    text = pc.utf8_trim_whitespace(pc.cast(col, pa.string()))
    return [None if v is None or v == "" else v for v in text.to_pylist()]


def _float_column(path: Path, table: pa.Table, field: str, codes: list[str | None]) -> list[float | None]:
    out: list[float | None] = []
    for i, value in enumerate(table.column(field).to_pylist()):
        if value is None or value == "":
            out.append(None)
            continue
        try:
            out.append(float(str(value).replace(",", "")))
        except ValueError:
            raise InputError(
                path,
                f"feature {i + 1} (code {codes[i]!r}): population is not a number",
                column=field,
                value=str(value),
            ) from None
    return out


def _check_codes(path: Path, field: str, codes: list[str | None]) -> None:
    seen: dict[str, int] = {}
    for i, code in enumerate(codes):
        if code is None:
            raise InputError(path, f"feature {i + 1} has no code", column=field)
        if code in seen:
            raise InputError(
                path,
                f"duplicate code {code!r} in features {seen[code]} and {i + 1}: codes must be unique",
                column=field,
            )
        seen[code] = i + 1


def _check_geometries(path: str | Path, geoms: np.ndarray, codes: list[str | None], field: str) -> None:
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise InputError(path, f"feature {i + 1} ({field}={codes[i]!r}) has an empty or unreadable geometry")
    types = shapely.get_type_id(geoms)
    wrong = ~np.isin(types, list(_POLYGONAL))
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise InputError(
            path, f"feature {i + 1} ({field}={codes[i]!r}) is a {geoms[i].geom_type}, not a polygon"
        )


def _guess_crs(geoms: np.ndarray, crs: str) -> str:
    xmin, ymin, xmax, ymax = shapely.total_bounds(geoms)
    if xmin >= -180 and xmax <= 180 and ymin >= -90 and ymax <= 90:
        return WGS84
    return crs


def _reproject(geoms: np.ndarray, src: str, dst: str) -> np.ndarray:
    if pyproj.CRS.from_user_input(src) == pyproj.CRS.from_user_input(dst):
        return shapely.force_2d(geoms)
    tr = transformer(src, dst)
    return shapely.transform(shapely.force_2d(geoms), lambda x, y: tr.transform(x, y), interleaved=False)


def _make_valid(path: str | Path, geoms: np.ndarray, codes: list[str | None], field: str) -> np.ndarray:
    """Repair only the invalid ones, keeping their polygonal parts (slivers collapse to nothing)."""
    bad = np.flatnonzero(~shapely.is_valid(geoms))
    if len(bad) == 0:
        return geoms
    geoms = geoms.copy()
    fixed = shapely.make_valid(geoms[bad], method="structure", keep_collapsed=False)
    for j, i in enumerate(bad):
        geom = fixed[j]
        if shapely.get_type_id(geom) not in _POLYGONAL:
            parts = shapely.get_parts(geom)
            polys = parts[np.isin(shapely.get_type_id(parts), list(_POLYGONAL))]
            geom = shapely.union_all(polys) if len(polys) else shapely.Polygon()
        if shapely.is_empty(geom):
            raise InputError(path, f"feature {i + 1} ({field}={codes[i]!r}) has no area once repaired")
        geoms[i] = geom
    return geoms


def _area_m2(geoms: np.ndarray, crs: str) -> np.ndarray:
    target = pyproj.CRS.from_user_input(crs)
    if target.is_geographic:
        geod = pyproj.Geod(ellps="WGS84")
        return np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in geoms], dtype="float64")
    # A projected CRS may count in feet (US state planes): scale to square metres.
    factor = target.axis_info[0].unit_conversion_factor if target.axis_info else 1.0
    return shapely.area(geoms) * factor * factor


# ---------------------------------------------------------------------------------------------
# The borough -> BCU lookup
# ---------------------------------------------------------------------------------------------

_BOROUGH_CODE_HEADERS = ("borough_code", "lad22cd", "lad23cd", "lad21cd", "lad_code", "gss_code", "code")
_BOROUGH_NAME_HEADERS = ("borough", "borough_name", "lad22nm", "lad23nm", "lad21nm", "lad_name", "name")
_BCU_NAME_HEADERS = ("met_bcu", "bcu", "bcu_name", "basic_command_unit")
_BCU_CODE_HEADERS = ("bcu_code",)


def read_bcu_lookup(path: str | Path) -> pa.Table:
    """Read a borough -> BCU CSV into a :data:`BCU_LOOKUP_SCHEMA` table.

    A BCU's code is the ``bcu_code`` column where there is one, else the slug of its name
    ("Central North" -> ``central-north``). Rows with a blank BCU (the City of London is not policed by
    the Met) are left out, so those boroughs keep no BCU.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    try:
        raw = pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                strings_can_be_null=True, null_values=["", "NULL", "null", "NA", "N/A"]
            ),
        )
    except (pa.ArrowInvalid, OSError) as err:
        raise InputError(path, f"cannot read as CSV: {_one_line(err)}") from err
    lower = {c.strip().lower(): c for c in raw.column_names}

    def pick(options: Sequence[str]) -> str | None:
        return next((lower[o] for o in options if o in lower), None)

    code_col = pick(_BOROUGH_CODE_HEADERS)
    name_col = pick(_BOROUGH_NAME_HEADERS)
    bcu_col = pick(_BCU_NAME_HEADERS)
    bcu_code_col = pick(_BCU_CODE_HEADERS)
    if (code_col is None and name_col is None) or (bcu_col is None and bcu_code_col is None):
        raise InputError(
            path,
            "expected a borough column (borough, lad22cd or borough_code) and a BCU column (met_bcu or bcu); "
            f"columns: {', '.join(raw.column_names)}",
        )
    n = raw.num_rows
    codes = _string_column(raw, code_col) if code_col else [None] * n
    names = _string_column(raw, name_col) if name_col else [None] * n
    bcu_names = _string_column(raw, bcu_col) if bcu_col else [None] * n
    bcu_codes = _string_column(raw, bcu_code_col) if bcu_code_col else [None] * n

    out: dict[str, list[str | None]] = {k: [] for k in BCU_LOOKUP_SCHEMA.names}
    seen: dict[str, tuple[int, str]] = {}
    for i in range(n):
        borough = codes[i] or names[i]
        bcu_code = bcu_codes[i] or (slugify(bcu_names[i]) if bcu_names[i] else None)
        if borough is None:
            raise InputError(path, "no borough code or name", row=i + 1, column=code_col or name_col)
        if bcu_code is None:
            continue
        key = borough.lower()
        if key in seen and seen[key][1] != bcu_code:
            raise InputError(
                path,
                f"borough {borough!r} is given two BCUs ({seen[key][1]!r} in row {seen[key][0]})",
                row=i + 1,
                column=bcu_col or bcu_code_col,
            )
        if key in seen:
            continue
        seen[key] = (i + 1, bcu_code)
        out["borough_code"].append(codes[i])
        out["borough_name"].append(names[i])
        out["bcu_code"].append(bcu_code)
        out["bcu_name"].append(bcu_names[i] or bcu_code)
    return pa.table(out, schema=BCU_LOOKUP_SCHEMA)
