"""ANPR reads and cameras as a back office exports them: read and type them, name every bad row.

A reads file (CSV, or Parquet with typed or text columns) is described by a small mapping (TOML); without
one, the columns are taken to be named as the synthetic generator writes them (``plate``, ``read_at``,
``camera_id``, ``direction``, ``confidence``)::

    [source]
    timezone = "Europe/London"      # of local times without an offset
    delimiter = ","

    [columns]
    plate = "VRM"
    read_at = "ReadDate"            # ISO 8601 unless read_format is given
    read_format = "%d/%m/%Y %H:%M:%S"
    camera_id = "CameraID"
    direction = "Lane"              # optional
    confidence = "Confidence"       # optional
    confidence_scale = 100          # the file gives percentages

Plates are normalised (spaces dropped, upper case) and must be 2 to 8 letters and digits: the current
(AB12CDE), prefix (A123BCD), suffix (ABC123D) and dateless (1234AB) formats are named, and any other
string of 2 to 8 letters and digits is accepted as ``other`` (foreign and Northern Irish plates, cherished
marks). Everything else is refused with its reason. Checks that need the store (unknown cameras,
duplicates of stored reads, times in the future) are ``store.anpr``'s. This module writes nothing, and the
clear plate never leaves the typed table it returns: the caller pseudonymises it.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from safestreets.errors import InputError
from safestreets.sources.csvread import ROW, BadRow, TextSource, parse_text
from safestreets.sources.staged import ErrorRow

#: A plate after normalising: letters and digits only, 2 to 8 of them.
PLATE_PATTERN = r"^[A-Z0-9]{2,8}$"
#: The GB formats by name, tried in order; a plate matching none but PLATE_PATTERN is ``other``.
PLATE_FORMATS: tuple[tuple[str, str], ...] = (
    ("current", r"^[A-Z]{2}[0-9]{2}[A-Z]{3}$"),  # since 2001: AB12 CDE
    ("prefix", r"^[A-Z][0-9]{1,3}[A-Z]{3}$"),  # 1983-2001: A123 BCD
    ("suffix", r"^[A-Z]{3}[0-9]{1,3}[A-Z]$"),  # 1963-1983: ABC 123D
    ("dateless", r"^([0-9]{1,4}[A-Z]{1,3}|[A-Z]{1,3}[0-9]{1,4})$"),  # before 1963, and cherished marks
)
_PLATE = re.compile(PLATE_PATTERN)


def normalise_plate(text: str | None) -> str | None:
    """A plate as compared and hashed: spaces dropped, upper case; None if it is not a plate."""
    if text is None:
        return None
    plate = "".join(text.split()).upper()
    return plate if _PLATE.match(plate) else None


def plate_problem(text: str | None) -> str | None:
    """Why ``text`` is not a plate (None when it is one). Never quotes the text: it may be personal data."""
    if text is None or not "".join(text.split()):
        return "no plate"
    plate = "".join(text.split()).upper()
    if not plate.isascii() or not plate.isalnum():
        return "a plate holds only letters and digits (after dropping spaces)"
    if not 2 <= len(plate) <= 8:
        return f"a plate has 2 to 8 letters and digits, this one {len(plate)}"
    return None


def plate_format(plate: str) -> str:
    """The named format of a normalised plate: current, prefix, suffix, dateless or other."""
    return next((name for name, pattern in PLATE_FORMATS if re.match(pattern, plate)), "other")


# --- the mapping ----------------------------------------------------------------------------------


class ReadsSource(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timezone: str = "UTC"
    delimiter: str = ","


class ReadsColumns(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plate: str = "plate"
    read_at: str = "read_at"
    read_format: str | None = None  # strptime format; ISO 8601 when not given
    camera_id: str = "camera_id"
    direction: str | None = "direction"
    confidence: str | None = "confidence"
    confidence_scale: float = Field(1.0, gt=0)


class ReadsMapping(BaseModel):
    """How a back office's export names its columns (the defaults: the synthetic generator's)."""

    model_config = ConfigDict(extra="forbid")
    source: ReadsSource = Field(default_factory=ReadsSource)
    columns: ReadsColumns = Field(default_factory=ReadsColumns)

    def params(self) -> dict[str, object]:
        return self.model_dump()


DEFAULT_MAPPING = ReadsMapping()


def read_mapping(path: str | Path | None) -> ReadsMapping:
    """The mapping in a TOML file, or the built-in one when ``path`` is None."""
    if path is None:
        return DEFAULT_MAPPING
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise InputError(path, "no such mapping file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(path, f"not a valid TOML mapping: {err}") from err
    try:
        return ReadsMapping.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "mapping"
        raise InputError(path, f"{where}: {str(first['msg']).removeprefix('Value error, ')}") from err


# --- reading a file -------------------------------------------------------------------------------


@dataclass
class RawFile:
    """A file's rows as read (``_row`` numbers data rows from 1), its sha256, and rows the reader refused."""

    path: Path
    table: pa.Table
    sha256: str
    rows_read: int
    bad_rows: list[BadRow]


def read_file(path: str | Path, delimiter: str = ",") -> RawFile:
    """A CSV (plain or gzipped) or Parquet file as an Arrow table; Parquet columns keep their types."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as err:
            raise InputError(path, f"not a readable Parquet file ({err})") from err
        h = hashlib.sha256()
        with path.open("rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
        table = table.append_column(ROW, pa.array(np.arange(1, table.num_rows + 1, dtype="int64")))
        return RawFile(path, table, h.hexdigest(), table.num_rows, [])
    parsed = parse_text(TextSource(path), delimiter=delimiter)
    return RawFile(path, parsed.table, parsed.sha256, parsed.rows_read, parsed.bad_rows)


def _col(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _failing(con: duckdb.DuckDBPyConnection, checks: list[tuple[str, str, str, str]]) -> tuple[list[ErrorRow], str]:
    """Every row of the ``checked`` table that fails a check, as (row, column, reason, value), in row and
    check order; and the condition that keeps the rows failing none. ``checks``: (column, reason as SQL,
    failing condition, value shown as SQL)."""
    union = " UNION ALL ".join(
        f"SELECT {ROW}, {i} AS k, {_lit(col)} AS col, {reason} AS reason, {value} AS value "
        f"FROM checked WHERE {failing}"
        for i, (col, reason, failing, value) in enumerate(checks)
    )
    errors: list[ErrorRow] = [
        (int(r), col, reason, value)
        for r, _, col, reason, value in con.execute(f"SELECT * FROM ({union}) ORDER BY {ROW}, k").fetchall()
    ]
    return errors, " AND ".join(f"NOT coalesce({failing}, FALSE)" for _, _, failing, _ in checks)


def _text(raw: pa.Table, name: str) -> str:
    return f"nullif(trim(CAST({_col(name)} AS VARCHAR)), '')"


def _time_sql(raw: pa.Table, m: ReadsMapping) -> str:
    c, tz = m.columns, m.source.timezone.replace("'", "''")
    kind = raw.schema.field(c.read_at).type
    if pa.types.is_timestamp(kind):
        # A Parquet timestamp with a zone is an instant; one without is wall-clock time in the mapping's zone.
        return _col(c.read_at) if kind.tz else f"timezone('{tz}', {_col(c.read_at)})"
    text = _text(raw, c.read_at)
    if c.read_format:
        fmt = c.read_format.replace("'", "''")
        return f"timezone('{tz}', try_strptime({text}, '{fmt}'))"
    return (
        f"CASE WHEN regexp_matches({text}, '(Z|[+-][0-9]{{2}}:?[0-9]{{2}})$') "
        f"THEN TRY_CAST({text} AS TIMESTAMPTZ) ELSE timezone('{tz}', TRY_CAST({text} AS TIMESTAMP)) END"
    )


@dataclass
class TypedReads:
    """Reads typed and checked on their own: ``table`` has ``_row, plate`` (normalised, clear),
    ``read_at, camera_id, direction, confidence``, good rows only; ``errors`` names every bad row."""

    table: pa.Table
    errors: list[ErrorRow]
    out_of_order: int  # reads earlier than the read before them at the same camera (loaded, counted)


def type_reads(raw: RawFile, m: ReadsMapping = DEFAULT_MAPPING) -> TypedReads:
    """Type a reads file by ``m`` and check each row alone (plate, time, camera id, confidence)."""
    c = m.columns
    t = raw.table
    needed = [c.plate, c.read_at, c.camera_id]
    # Without a mapping file, direction and confidence may be absent; a mapping that names them needs them.
    if m is not DEFAULT_MAPPING:
        needed += [n for n in (c.direction, c.confidence) if n]
    for name in needed:
        if name not in t.column_names:
            raise InputError(raw.path, "the file lacks a column the mapping names", row=0, column=name)
    direction = c.direction if c.direction in t.column_names else None
    confidence = c.confidence if c.confidence in t.column_names else None

    # Plates in Python over distinct values (few compared with reads), then joined back by value.
    plate_text = pc.cast(t.column(c.plate), pa.string())
    distinct = pc.unique(plate_text).to_pylist()
    problems = [plate_problem(p) for p in distinct]
    plates = pa.table({
        "p_txt": pa.array(distinct, pa.string()),
        "p_plate": pa.array([None if q else "".join((p or "").split()).upper()
                             for p, q in zip(distinct, problems, strict=True)], pa.string()),
        "p_problem": pa.array(problems, pa.string()),
    })  # fmt: skip
    scale = float(c.confidence_scale)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_progress_bar = false")
        con.register("raw", t.set_column(t.column_names.index(c.plate), c.plate, plate_text))
        con.register("plates", plates)
        conf_txt = _text(t, confidence) if confidence else "NULL::VARCHAR"
        con.execute(
            f"""CREATE TEMP TABLE checked AS SELECT {ROW},
                p.p_plate AS plate, p.p_problem AS plate_problem,
                {_time_sql(t, m)} AS read_at, CAST({_col(c.read_at)} AS VARCHAR) AS read_txt,
                {_text(t, c.camera_id)} AS camera_id,
                {_text(t, direction) if direction else "NULL::VARCHAR"} AS direction,
                {conf_txt} AS conf_txt, TRY_CAST({conf_txt} AS DOUBLE) / {scale!r} AS confidence
            FROM raw LEFT JOIN plates p ON p.p_txt IS NOT DISTINCT FROM raw.{_col(c.plate)}"""
        )
        fmt = f" in the format {c.read_format}" if c.read_format else " (ISO 8601)"
        scaled = f" (after dividing by {scale:g})" if scale != 1 else ""
        conf = confidence or "confidence"
        # (column, reason: SQL, failing: SQL, value shown: SQL). A plate is never shown: it is personal data.
        checks = [
            (c.plate, "plate_problem", "plate_problem IS NOT NULL", "NULL"),
            (c.read_at, _lit("not a date-time" + fmt), "read_at IS NULL", "read_txt"),
            (c.camera_id, _lit("no camera id"), "camera_id IS NULL", "NULL"),
            (conf, _lit("not a number"), "conf_txt IS NOT NULL AND confidence IS NULL", "conf_txt"),
            (conf, _lit("outside 0 to 1" + scaled),
             "confidence IS NOT NULL AND (confidence < 0 OR confidence > 1 OR isnan(confidence))", "conf_txt"),
        ]  # fmt: skip
        errors, good = _failing(con, checks)
        table = con.sql(
            f"SELECT {ROW}, plate, read_at, camera_id, direction, confidence FROM checked WHERE {good} "
            f"ORDER BY {ROW}"
        ).to_arrow_table()
        con.register("good", table)
        (late,) = con.execute(
            f"""SELECT count(*) FROM (SELECT read_at < lag(read_at) OVER (PARTITION BY camera_id ORDER BY {ROW})
                AS late FROM good) WHERE late"""
        ).fetchall()[0]
    finally:
        con.close()
    errors = [(r, None, reason, None) for r, _, reason in raw.bad_rows] + errors
    errors.sort(key=lambda e: e[0])
    return TypedReads(table, errors, int(late))


# --- cameras --------------------------------------------------------------------------------------

CAMERA_COLUMNS = ("camera_id", "lon", "lat", "road", "direction")
CAMERA_OPTIONAL = ("name", "area")
AREA_NAMES = ("area", "area_code")  # either name is read as the camera's area


@dataclass
class Cameras:
    table: pa.Table  # camera_id, lon, lat, road, direction, name, area (strings but lon/lat)
    errors: list[ErrorRow]
    sha256: str
    rows_read: int


def read_cameras(path: str | Path) -> Cameras:
    """A cameras CSV: camera_id, lon, lat (WGS84), road, direction, and optionally name and area (or
    area_code, as the synthetic generator names it)."""
    raw = read_file(path)
    t = raw.table
    if "area" not in t.column_names and "area_code" in t.column_names:
        t = t.rename_columns(["area" if n == "area_code" else n for n in t.column_names])
    for name in CAMERA_COLUMNS:
        if name not in t.column_names:
            raise InputError(raw.path, "a cameras file needs camera_id, lon, lat, road, direction", row=0,
                             column=name)  # fmt: skip
    con = duckdb.connect()
    try:
        con.register("raw", t)
        opt = ", ".join(
            f"{_text(t, n)} AS {n}" if n in t.column_names else f"NULL::VARCHAR AS {n}" for n in CAMERA_OPTIONAL
        )
        con.execute(
            f"""CREATE TEMP TABLE checked AS SELECT {ROW}, {_text(t, "camera_id")} AS camera_id,
                CAST(lon AS VARCHAR) AS lon_txt, TRY_CAST({_text(t, "lon")} AS DOUBLE) AS lon,
                CAST(lat AS VARCHAR) AS lat_txt, TRY_CAST({_text(t, "lat")} AS DOUBLE) AS lat,
                {_text(t, "road")} AS road, {_text(t, "direction")} AS direction, {opt},
                count(*) OVER (PARTITION BY {_text(t, "camera_id")}) AS n_same,
                row_number() OVER (PARTITION BY {_text(t, "camera_id")} ORDER BY {ROW}) AS nth
            FROM raw"""
        )
        checks = [
            ("camera_id", "no camera id", "camera_id IS NULL", "NULL"),
            ("camera_id", "the same camera id on an earlier row", "camera_id IS NOT NULL AND nth > 1", "camera_id"),
            ("lon", "not a longitude (-180 to 180)", "lon IS NULL OR lon < -180 OR lon > 180", "lon_txt"),
            ("lat", "not a latitude (-90 to 90)", "lat IS NULL OR lat < -90 OR lat > 90", "lat_txt"),
        ]  # fmt: skip
        errors, good = _failing(con, [(col, _lit(reason), failing, value) for col, reason, failing, value in checks])
        table = con.sql(
            f"SELECT {ROW}, camera_id, lon, lat, road, direction, name, area FROM checked WHERE {good} "
            f"ORDER BY {ROW}"
        ).to_arrow_table()
    finally:
        con.close()
    errors = [(r, None, reason, None) for r, _, reason in raw.bad_rows] + errors
    return Cameras(table, sorted(errors, key=lambda e: e[0]), raw.sha256, raw.rows_read)
