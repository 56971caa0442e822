"""data.police.uk files: finding them, telling their kind, and turning their rows into canonical ones.

A path may be one file, a folder (e.g. the unzipped bulk archive's ``YYYY-MM/`` folders) or the bulk
archive zip itself, read member by member without extracting it. Files are ``.csv`` or ``.csv.gz``.
``stage`` knows the police.uk columns: it types them, lists the rows each check fails and says how
rows are keyed. ``store.load`` does the rest (filters, projection, areas, replacement of republished
months, the transaction).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from safestreets import vocab
from safestreets.errors import InputError
from safestreets.sources import casts
from safestreets.sources.csvread import ROW, TextSource
from safestreets.sources.staged import FILE, Problem, Staged

STREET_COLUMNS = [
    "Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
    "LSOA code", "LSOA name", "Crime type", "Last outcome category", "Context",
]  # fmt: skip
OUTCOME_COLUMNS = [*STREET_COLUMNS[:9], "Outcome type"]
STOP_COLUMNS = [
    "Type", "Date", "Part of a policing operation", "Policing operation", "Latitude", "Longitude",
    "Gender", "Age range", "Self-defined ethnicity", "Officer-defined ethnicity", "Legislation",
    "Object of search", "Outcome", "Outcome linked to object of search",
    "Removal of more than just outer clothing",
]  # fmt: skip
KIND_COLUMNS: dict[str, list[str]] = {
    "street": STREET_COLUMNS,
    "outcomes": OUTCOME_COLUMNS,
    "stop-and-search": STOP_COLUMNS,
}
# The one column that tells each kind apart from the others.
KIND_MARKERS = {"street": "Crime type", "outcomes": "Outcome type", "stop-and-search": "Object of search"}
KINDS = tuple(KIND_COLUMNS)

FILE_NAME = re.compile(
    r"(?P<month>\d{4}-\d{2})-(?P<force>[a-z0-9-]+?)-(?P<kind>street|outcomes|stop-and-search)\.csv(\.gz)?$"
)
_TEXT_SUFFIXES = (".csv", ".csv.gz")


@dataclass(frozen=True)
class PoliceFile:
    """A police.uk file and what its name says (the bulk archive's naming: YYYY-MM-force-kind.csv)."""

    source: TextSource
    month: str | None = None
    force: str | None = None
    kind: str | None = None

    @classmethod
    def of(cls, source: TextSource) -> PoliceFile:
        m = FILE_NAME.search(source.name)
        if m is None:
            return cls(source)
        return cls(source, month=m["month"], force=m["force"], kind=m["kind"])


def discover(path: str | Path) -> list[PoliceFile]:
    """Every police.uk text file at ``path``, in a stable order (by name, then by location)."""
    root = Path(path)
    if not root.exists():
        raise InputError(root, "no such file or folder")
    if root.is_dir():
        found = [p for p in root.rglob("*") if p.is_file() and p.name.endswith(_TEXT_SUFFIXES)]
        sources = [TextSource(p) for p in sorted(found, key=lambda p: (p.name, str(p)))]
    elif zipfile.is_zipfile(root):
        with zipfile.ZipFile(root) as zf:
            members = [n for n in zf.namelist() if n.endswith(_TEXT_SUFFIXES) and not n.endswith("/")]
        sources = [TextSource(root, m) for m in sorted(members, key=lambda m: (Path(m).name, m))]
    else:
        sources = [TextSource(root)]
    if not sources:
        raise InputError(root, "no .csv or .csv.gz files found here")
    return [PoliceFile.of(s) for s in sources]


def select(
    files: Iterable[PoliceFile],
    *,
    forces: set[str] | None = None,
    months: set[str] | None = None,
    kinds: set[str] | None = None,
) -> list[PoliceFile]:
    """Keep files whose name matches the filters; files without a telling name are kept (rows are
    filtered again after reading)."""
    kept = []
    for f in files:
        if forces and f.force and f.force not in forces:
            continue
        if months and f.month and f.month not in months:
            continue
        if kinds and f.kind and f.kind not in kinds:
            continue
        kept.append(f)
    return kept


def detect_kind(columns: list[str], label: str, expected: str | None = None) -> str:
    """Which police.uk kind a header belongs to; a wrong or mismatched header is a clear error."""
    present = set(columns)
    kind = next((k for k, marker in KIND_MARKERS.items() if marker in present), None)
    if expected is not None and kind is not None and kind != expected:
        raise InputError(
            label,
            f"this is {_a(kind)} file (it has the column {KIND_MARKERS[kind]!r}), not {_a(expected)} file",
            row=0,
        )
    kind = kind or expected
    if kind is None:
        raise InputError(
            label,
            "not a data.police.uk street, outcomes or stop-and-search file: its header has none of "
            + ", ".join(repr(m) for m in KIND_MARKERS.values()),
            row=0,
        )
    missing = [c for c in KIND_COLUMNS[kind] if c not in present]
    if missing:
        raise InputError(label, f"the {kind} header lacks this column", row=0, column=missing[0])
    extra = [c for c in columns if c not in KIND_COLUMNS[kind]]
    if extra:
        raise InputError(label, f"unexpected column in a {kind} file", row=0, column=extra[0])
    return kind


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


# --- typing rows --------------------------------------------------------------------------------

_MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_EPOCH_MONTH = np.datetime64("1970-01-01", "D")


def _month_days(published: str | None) -> int | None:
    """Days since 1970 of the first of a ``YYYY-MM`` month (surrounding spaces allowed), else None."""
    if published is None:
        return None
    month = published.strip(casts.ZS)
    if not _MONTH.fullmatch(month):
        return None
    return int((np.datetime64(month + "-01", "D") - _EPOCH_MONTH).astype(int))


def _force_id(name: str | None) -> str | None:
    return None if name is None else vocab.force_id(name)


def _renamed(renames: dict[str, str]) -> Callable[[str | None], str | None]:
    return lambda v: None if v is None else renames.get(v, v)


def _renamed_encoded(values: pa.DictionaryArray, renames: dict[str, str]) -> pa.DictionaryArray:
    """An encoded text column with old wording renamed (the dictionary only)."""
    names = [None if v is None else renames.get(v, v) for v in values.dictionary.to_pylist()]
    return pa.DictionaryArray.from_arrays(values.indices, pa.array(names, pa.string()))


def _constant(value: Any, n: int, type_: pa.DataType) -> pa.Array:
    return pa.array([value] * n, type_) if n < 64 else pa.repeat(pa.scalar(value, type_), n)


def _coordinate_problems(c: _Columns, lon: pa.Array, lat: pa.Array) -> list[Problem]:
    """Longitude/latitude: numbers, in range, and both or neither (a row without a point is kept)."""
    lon_e, lat_e = c.encoded("Longitude"), c.encoded("Latitude")
    lon_blank = casts.spread(lon_e, casts.is_blank(lon_e.dictionary))
    lat_blank = casts.spread(lat_e, casts.is_blank(lat_e.dictionary))
    lon_null, lat_null = casts.flags(pc.is_null(lon)), casts.flags(pc.is_null(lat))

    def outside(values: pa.Array, limit: float) -> np.ndarray:
        # SQL's NOT BETWEEN: NaN sorts above every number in DuckDB, so it is outside too.
        nums = values.to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            return ~np.isnan(nums) & ((nums < -limit) | (nums > limit)) | casts.flags(pc.is_nan(values))

    def raw(name: str) -> Callable[[], pa.Array]:
        return lambda: c[name]

    def pair() -> pa.Array:
        blank = pa.scalar("", pa.string())
        return pc.binary_join_element_wise(
            pc.coalesce(c["Latitude"], blank), pc.coalesce(c["Longitude"], blank), " / "
        )

    return [
        Problem("Longitude", "not a number", ~lon_blank & lon_null, raw("Longitude")),
        Problem("Latitude", "not a number", ~lat_blank & lat_null, raw("Latitude")),
        Problem("Longitude", "longitude outside -180 to 180", outside(lon, 180), raw("Longitude")),
        Problem("Latitude", "latitude outside -90 to 90", outside(lat, 90), raw("Latitude")),
        Problem("Latitude", "a longitude without a latitude, or the other way round",
                lon_blank != lat_blank, pair),
    ]  # fmt: skip


class _Columns:
    """A batch's raw text columns, combined into one array or dictionary-encoded on first use (most
    police.uk columns repeat a few values: typing their distinct values is cheaper than every row,
    and the encoded chunks never need their text combined)."""

    def __init__(self, raw: pa.Table) -> None:
        self.raw = raw
        self.plain: dict[str, pa.Array] = {}
        self.codes: dict[str, pa.DictionaryArray] = {}

    def _column(self, name: str) -> pa.ChunkedArray:
        values = self.raw.column(name)
        if name not in (ROW, FILE) and values.null_count:
            values = values.fill_null("")  # only tables built in Python (the API) hold NULLs
        return values

    def __getitem__(self, name: str) -> pa.Array:
        if name not in self.plain:
            self.plain[name] = casts.as_array(self._column(name))
        return self.plain[name]

    def encoded(self, name: str) -> pa.DictionaryArray:
        if name not in self.codes:
            self.codes[name] = casts.encode(self.plain.get(name, self._column(name)))
        return self.codes[name]

    def text(self, name: str) -> pa.DictionaryArray:
        """``casts.text`` of a column, dictionary-encoded."""
        return casts.text_encoded(self.encoded(name))

    def typed(self, name: str, cast: Callable[[pa.Array], pa.Array]) -> pa.Array:
        """``cast`` (to_double, to_boolean...) applied to each distinct value, one result per row."""
        encoded = self.encoded(name)
        return casts.spread(encoded, cast(encoded.dictionary))


def _per_file(values: Sequence[Any], files: pa.Array, type_: pa.DataType) -> pa.Array:
    """A per-file value (force, month) as a column: one value per row of a batch of files."""
    if len(set(values)) == 1:
        return _constant(values[0], len(files), type_)
    return pc.take(pa.array(list(values), type_), files)


def stage(
    raw: pa.Table,
    kind: str,
    *,
    forces: Sequence[str | None],
    months: Sequence[str | None],
    timezone: str,
) -> Staged:
    """Type police.uk rows (all strings, plus ``_row`` and ``_file``: one or more files of one kind,
    one after the other) into canonical columns, with every check's failing rows and a way to key
    the rows that are kept. ``forces`` and ``months`` are what each file's name says (None where it
    says nothing); ``timezone`` is the workspace's, for times without an offset."""
    n = raw.num_rows
    c = _Columns(raw)
    files = c[FILE]
    lon, lat = c.typed("Longitude", casts.to_double), c.typed("Latitude", casts.to_double)
    cols: dict[str, pa.Array] = {ROW: c[ROW], FILE: files}
    problems: list[Problem] = []
    if kind == "stop-and-search":
        if any(f is None for f in forces):  # an internal guard: the loader refuses such a file first
            raise ValueError("stop-and-search rows need the file's force")
        occurred = casts.to_instant(c["Date"], timezone)
        month = _per_file([_month_days(m) for m in months], files, pa.int32()).cast(pa.date32())
        if month.null_count:  # a file whose name gives no month: the local month of its dates
            month = pc.coalesce(month, _local_months(occurred, timezone))
        flags = {name: c.typed(src, casts.to_boolean) for name, src in STOP_FLAGS.items()}
        outcome_txt = c.text("Outcome")
        cols |= {
            "force": _per_file(forces, files, pa.string()),
            "month": month,
            "occurred_at": occurred,
            "search_type": c.text("Type"),
            "part_of_operation": flags["part_of_operation"],
            "operation_name": c.text("Policing operation"),
            "lon": lon,
            "lat": lat,
            **{name: c.text(src) for name, src in STOP_TEXT.items()},
            "outcome": _renamed_encoded(outcome_txt, vocab.STOP_OUTCOME_RENAMES),
            "outcome_txt": outcome_txt,
            "outcome_linked": flags["outcome_linked"],
            "removal_more_than_outer": flags["removal_more_than_outer"],
        }
        problems.append(Problem("Date", "not an ISO 8601 date-time", casts.flags(pc.is_null(occurred)),
                                lambda: c["Date"]))  # fmt: skip
        for src in STOP_FLAGS.values():
            encoded = c.encoded(src)
            values = casts.to_boolean(encoded.dictionary)
            failing = casts.spread(
                encoded, ~casts.is_blank(encoded.dictionary) & casts.flags(pc.is_null(values))
            )
            problems.append(Problem(src, "not True or False", failing, lambda src=src: c[src]))
        problems += _coordinate_problems(c, lon, lat)
        return Staged(kind, pa.table(cols), problems)  # keys are derived by the store (``keys.stop_key_sql``)

    month = casts.map_distinct(c.encoded("Month"), _month_days, pa.int32()).cast(pa.date32())

    def force_txt() -> pa.Array:
        return pc.coalesce(casts.text(c["Reported by"]), casts.text(c["Falls within"]))

    # The file's own force (its name in the archive) wins: a BTP file's rows "fall within" other
    # forces, and a month re-load must replace exactly what that file loaded before.
    force = _per_file(forces, files, pa.string())
    if force.null_count:
        force = pc.coalesce(force, casts.map_distinct(force_txt(), _force_id, pa.string()))
    location = c.text("Location")
    location = casts.keep_entries(location, pc.not_equal(pc.utf8_lower(location.dictionary), "no location"))
    cols |= {
        "crime_id": casts.text(c["Crime ID"]),
        "force": force,
        "month": month,
        "lon": lon,
        "lat": lat,
        "location": location,
        "lsoa_code": c.text("LSOA code"),
        "lsoa_name": c.text("LSOA name"),
    }
    problems += [
        Problem("Month", "not a month of the form YYYY-MM", casts.flags(pc.is_null(month)),
                lambda: c["Month"]),
        Problem("Falls within", "no force named (Falls within and Reported by are blank)",
                casts.flags(pc.is_null(force)), force_txt),
    ]  # fmt: skip
    if kind == "street":
        crime_type = casts.map_encoded(c.encoded("Crime type"), vocab.canonical_crime_type, pa.string())
        outcome_txt = c.text("Last outcome category")
        cols |= {
            "occurred_at": pa.nulls(n, casts.UTC_MICROS),
            "crime_type": crime_type,
            "outcome": _renamed_encoded(outcome_txt, vocab.OUTCOME_RENAMES),
            "context": c.text("Context"),
            "lon_txt": c.encoded("Longitude"),
            "lat_txt": c.encoded("Latitude"),
        }
        problems.append(Problem("Crime type", "not one of the police.uk crime types",
                                casts.flags(pc.is_null(crime_type)), lambda: c["Crime type"]))  # fmt: skip
        keys: Callable[[pa.Table], pa.Array] | None = _street_keys
    else:
        # Outcomes keep "Outcome type" as published (outcome_raw), renamed to today's wording.
        outcome_txt = c.encoded("Outcome type")
        cols |= {
            "outcome": _renamed_encoded(outcome_txt, vocab.OUTCOME_RENAMES),
            "outcome_txt": outcome_txt,
        }
        problems.append(Problem("Outcome type", "blank outcome type",
                                casts.spread(outcome_txt, casts.is_blank(outcome_txt.dictionary)),
                                lambda: c["Outcome type"]))  # fmt: skip
        keys = None
    problems += _coordinate_problems(c, lon, lat)
    return Staged(kind, pa.table(cols), problems, keys)


STOP_FLAGS = {
    "part_of_operation": "Part of a policing operation",
    "outcome_linked": "Outcome linked to object of search",
    "removal_more_than_outer": "Removal of more than just outer clothing",
}
# Stop-and-search columns kept as trimmed text: canonical name -> published name.
STOP_TEXT = {
    "gender": "Gender",
    "age_range": "Age range",
    "self_defined_ethnicity": "Self-defined ethnicity",
    "officer_defined_ethnicity": "Officer-defined ethnicity",
    "legislation": "Legislation",
    "object_of_search": "Object of search",
}


def _local_months(occurred: pa.Array, timezone: str) -> pa.Array:
    """The month of each instant in the workspace time zone (for stop-searches whose file does not
    say its month). DuckDB's own date_trunc decides, so DST edges fall as they always did."""
    con = casts.duck(timezone)
    con.register("_occurred", pa.table({"t": occurred}))
    try:
        out = con.sql("SELECT CAST(date_trunc('month', t) AS DATE) AS m FROM _occurred").to_arrow_table()
    finally:
        con.unregister("_occurred")
    return casts.as_array(out.column("m"))


def _street_keys(t: pa.Table) -> pa.Array:
    """A street row's Crime ID, else ``'k' || md5(concat_ws('|', force, month, crime_type,
    printf('%.6f', lon), printf('%.6f', lat), location))``, NULL parts blank: stable across
    republications of the same row."""
    crime_id = casts.as_array(t.column("crime_id"))
    missing = casts.flags(pc.is_null(crime_id))
    if not missing.any():
        return crime_id
    sub = t.filter(pa.array(missing))
    blank = pa.scalar("", pa.string())

    def col(name: str) -> pa.Array:
        return casts.plain(casts.as_array(sub.column(name)))

    joined = pc.binary_join_element_wise(
        col("force"),
        col("month").cast(pa.string()),
        col("crime_type"),
        pc.coalesce(casts.fixed6(col("lon"), col("lon_txt")), blank),
        pc.coalesce(casts.fixed6(col("lat"), col("lat_txt")), blank),
        pc.coalesce(col("location"), blank),
        "|",
        null_handling="skip",
    )
    return pc.replace_with_mask(crime_id, pa.array(missing), casts.md5_hex(joined, "k"))
