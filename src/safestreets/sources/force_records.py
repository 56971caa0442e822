"""A force's own crime records: CSV or Parquet with timestamps, described by a small mapping file.

The mapping (TOML) names the columns, their coordinate system and how the force's own offence
wording maps to the 14 police.uk types, so hour-level records join the same events table as
police.uk's month-level files. This module reads and types them (``read_table``, ``type_records``);
``store.records.ingest_force_records`` stores them::

    [source]
    force = "synthetic-city"        # police.uk force id (or any name)
    crs = "EPSG:27700"              # of the x/y columns (EPSG:4326 for lon/lat)
    timezone = "Europe/London"      # of local times without an offset

    [columns]
    id = "incident_ref"             # optional: without it rows get a content hash
    occurred_at = "occurred"        # or occurred_parts = {year = "YEAR", month = "MONTH", ...}
    occurred_format = "%Y-%m-%d %H:%M"
    crime_type = "offence"
    x = "easting"                   # or lon / lat
    y = "northing"

    [crime_types]
    "ASSAULT - ABH" = "Violence and sexual offences"
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from safestreets import vocab
from safestreets.errors import InputError
from safestreets.geo.project import crs_to_lonlat
from safestreets.sources.csvread import ROW, BadRow, TextSource, parse_text
from safestreets.sources.staged import KEEP, Check, ErrorRow, find_errors, stage_typed

PARTS = ("year", "month", "day", "hour", "minute", "second")


class SourceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    force: str
    crs: str = "EPSG:4326"
    timezone: str = "Europe/London"
    delimiter: str = ","


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    occurred_at: str | None = None
    occurred_format: str | None = None  # strptime format; ISO 8601 when not given
    occurred_parts: dict[str, str] | None = None  # year/month/day/hour/minute/second -> column
    crime_type: str
    x: str | None = None
    y: str | None = None
    lon: str | None = None
    lat: str | None = None
    location: str | None = None
    lsoa_code: str | None = None
    outcome: str | None = None

    # These checks (and ForceMapping's) raise ValueError as pydantic expects: it wraps them in a
    # ValidationError, which read_mapping reports as an InputError naming the mapping file.
    @model_validator(mode="after")
    def _complete(self) -> ColumnSpec:
        if (self.occurred_at is None) == (self.occurred_parts is None):
            raise ValueError("give exactly one of occurred_at or occurred_parts")
        if self.occurred_parts is not None:
            unknown = set(self.occurred_parts) - set(PARTS)
            if unknown or not {"year", "month", "day"} <= set(self.occurred_parts):
                raise ValueError(f"occurred_parts needs year, month, day (and may have {', '.join(PARTS)})")
        xy = self.x is not None and self.y is not None
        lonlat = self.lon is not None and self.lat is not None
        if xy == lonlat:
            raise ValueError("give coordinates as either x and y, or lon and lat")
        return self


class ForceMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: SourceSpec
    columns: ColumnSpec
    crime_types: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _types_known(self) -> ForceMapping:
        for theirs, ours in self.crime_types.items():
            if vocab.canonical_crime_type(ours) is None:
                raise ValueError(f"crime_types: {theirs!r} maps to {ours!r}, not a police.uk crime type")
        return self

    def used_columns(self) -> list[str]:
        c = self.columns
        names = [
            c.id,
            c.occurred_at,
            c.crime_type,
            c.x,
            c.y,
            c.lon,
            c.lat,
            c.location,
            c.lsoa_code,
            c.outcome,
        ]
        names += list((c.occurred_parts or {}).values())
        return [n for n in names if n]


def read_mapping(path: str | Path) -> ForceMapping:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InputError(path, "no such mapping file") from None
    except OSError as err:
        raise InputError(path, f"cannot read the mapping file: {err.strerror or err}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(path, f"not a valid TOML mapping: {err}") from err
    try:
        return ForceMapping.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "mapping"
        message = str(first["msg"]).removeprefix("Value error, ")  # pydantic's prefix for our own checks
        raise InputError(path, f"{where}: {message}") from err


def read_table(path: Path, delimiter: str) -> tuple[pa.Table, str, int, list[BadRow]]:
    """A records file's rows as text (with ``_row``), its sha256, rows read and rows the reader refused."""
    if path.suffix.lower() == ".parquet":
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as err:
            raise InputError(path, f"not a readable Parquet file ({err})") from err
        table = pa.table({name: table.column(name).cast(pa.string()) for name in table.column_names})
        table = table.append_column(ROW, pa.array(np.arange(1, table.num_rows + 1, dtype="int64")))
        import hashlib

        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return table, digest, table.num_rows, []
    parsed = parse_text(TextSource(path), delimiter=delimiter)
    return parsed.table, parsed.sha256, parsed.rows_read, parsed.bad_rows


def _col(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(name: str | None) -> str:
    return f"nullif(trim({_col(name)}), '')" if name else "NULL::VARCHAR"


def _occurred_sql(m: ForceMapping) -> tuple[str, str]:
    """(instant expression, published text expression). Local times are read in the mapping's time
    zone; an ISO 8601 text with its own offset (or Z) is taken as it says."""
    c = m.columns
    tz = m.source.timezone.replace("'", "''")
    if c.occurred_parts:
        parts = c.occurred_parts
        args = [f"TRY_CAST({_text(parts[p])} AS INTEGER)" if p in parts else "0" for p in PARTS[:5]]
        sec = f"TRY_CAST({_text(parts['second'])} AS DOUBLE)" if "second" in parts else "0"
        expr = f"timezone('{tz}', try(make_timestamp({', '.join(args)}, {sec})))"
        text = " || '-' || ".join(f"coalesce({_col(parts[p])}, '')" for p in PARTS if p in parts)
        return expr, text
    assert c.occurred_at is not None
    if c.occurred_format:
        fmt = c.occurred_format.replace("'", "''")
        return f"timezone('{tz}', try_strptime(trim({_col(c.occurred_at)}), '{fmt}'))", _col(c.occurred_at)
    text = _text(c.occurred_at)
    expr = (
        f"CASE WHEN regexp_matches({text}, '(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$') "
        f"THEN TRY_CAST({text} AS TIMESTAMPTZ) ELSE timezone('{tz}', TRY_CAST({text} AS TIMESTAMP)) END"
    )
    return expr, _col(c.occurred_at)


def stage_force_records(con: duckdb.DuckDBPyConnection, raw: pa.Table, m: ForceMapping) -> list[Check]:
    """Build ``typed`` from a force's records; return the checks its rows were held to."""
    c = m.columns
    missing = [n for n in m.used_columns() if n not in raw.column_names]
    if missing:
        raise InputError("records", "the mapping names a column the file lacks", row=0, column=missing[0])
    con.register("raw", raw)
    occurred, occurred_txt = _occurred_sql(m)
    xcol, ycol = (c.x, c.y) if c.x else (c.lon, c.lat)
    tz = m.source.timezone.replace("'", "''")
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW extracted AS SELECT {ROW},
            {_text(c.id)} AS crime_id,
            {occurred_txt} AS occurred_txt, {occurred} AS occurred_at,
            {_col(c.crime_type)} AS type_txt,
            {_col(xcol)} AS x_txt, TRY_CAST({_text(xcol)} AS DOUBLE) AS x_src,
            {_col(ycol)} AS y_txt, TRY_CAST({_text(ycol)} AS DOUBLE) AS y_src,
            {_text(c.location)} AS location, {_text(c.lsoa_code)} AS lsoa_code,
            {_text(c.outcome)} AS outcome
        FROM raw"""
    )
    # Coordinates: each distinct source point to WGS84 once.
    pts = con.sql("SELECT DISTINCT x_src, y_src FROM extracted WHERE x_src IS NOT NULL AND y_src IS NOT NULL")
    arr = pts.fetchnumpy()
    xs, ys = np.asarray(arr["x_src"], "float64"), np.asarray(arr["y_src"], "float64")
    lon, lat = crs_to_lonlat(xs, ys, m.source.crs)
    con.register("src_pts", pa.table({"x_src": xs, "y_src": ys, "lon": lon, "lat": lat}))
    known = {k.strip().lower(): vocab.canonical_crime_type(v) for k, v in m.crime_types.items()}
    values = [r[0] for r in con.execute("SELECT DISTINCT type_txt FROM extracted").fetchall()]
    con.register(
        "type_map",
        pa.table({
            "txt": pa.array(values, pa.string()),
            "val": pa.array(
                [known.get((v or "").strip().lower()) or vocab.canonical_crime_type(v or "") for v in values],
                pa.string(),
            ),
        }),
    )  # fmt: skip
    force = vocab.force_id(m.source.force).replace("'", "''")
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW checked AS
            SELECT t.*, '{force}' AS force, ty.val AS crime_type,
                CAST(date_trunc('month', timezone('{tz}', occurred_at)) AS DATE) AS month,
                p.lon, p.lat, NULL::VARCHAR AS lsoa_name, NULL::VARCHAR AS context
            FROM extracted t
            LEFT JOIN type_map ty ON ty.txt = t.type_txt
            LEFT JOIN src_pts p ON p.x_src = t.x_src AND p.y_src = t.y_src"""
    )
    checks = [
        Check(c.occurred_at or "occurred", "not a date-time in the mapping's format",
              "occurred_at IS NULL", "occurred_txt"),
        Check(c.crime_type, "not in the mapping's [crime_types] nor a police.uk type",
              "crime_type IS NULL", "type_txt"),
        Check(xcol or "x", "not a number", "nullif(trim(x_txt), '') IS NOT NULL AND x_src IS NULL", "x_txt"),
        Check(ycol or "y", "not a number", "nullif(trim(y_txt), '') IS NOT NULL AND y_src IS NULL", "y_txt"),
        Check(xcol or "x", f"not a valid coordinate in {m.source.crs}",
              "x_src IS NOT NULL AND y_src IS NOT NULL AND lon IS NULL", "x_txt"),
        Check(ycol or "y", "an x without a y, or the other way round",
              "(nullif(trim(x_txt), '') IS NULL) <> (nullif(trim(y_txt), '') IS NULL)",
              "coalesce(x_txt, '') || ' / ' || coalesce(y_txt, '')"),
    ]  # fmt: skip
    key = (
        f"'{force}:' || crime_id"
        if c.id
        else f"""'k' || md5(concat_ws('|', '{force}', occurred_txt, type_txt, coalesce(x_txt, ''),
                 coalesce(y_txt, '')))"""
    )
    stage_typed(con, KEEP["street"], key, checks)
    return checks


def type_records(raw: pa.Table, m: ForceMapping, *, timezone: str) -> tuple[pa.Table, list[ErrorRow]]:
    """Type a records file's rows (``read_table``) by ``m`` on a DuckDB connection of its own.

    Returns the typed rows in file order (canonical columns, ``_row`` and the key ``key0``) and every
    failing check, as ``sources.staged.find_errors`` lists them. ``timezone`` is the session time zone
    the rows are typed in: the workspace's, as the store's own connection has it.
    """
    con = duckdb.connect()
    try:
        con.execute(f"SET TimeZone = '{timezone.replace(chr(39), chr(39) * 2)}'")
        con.execute("SET enable_progress_bar = false")  # a progress bar would go to stdout
        checks = stage_force_records(con, raw, m)
        errors = find_errors(con, checks)
        typed = con.sql("SELECT * EXCLUDE (problem) FROM typed ORDER BY _row").to_arrow_table()
    finally:
        con.close()
    return typed, errors
