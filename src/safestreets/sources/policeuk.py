"""data.police.uk files: finding them, telling their kind, and turning their rows into canonical ones.

A path may be one file, a folder (e.g. the unzipped bulk archive's ``YYYY-MM/`` folders) or the bulk
archive zip itself, read member by member without extracting it. Files are ``.csv`` or ``.csv.gz``.
The SQL here knows the police.uk columns; ``store.load`` does the rest (keys, projection, areas,
replacement of republished months, the transaction).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from safestreets.errors import InputError
from safestreets.sources.csvread import TextSource

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


def _text(column: str) -> str:
    return f"nullif(trim(\"{column}\"), '')"


def _number(column: str) -> str:
    return f"TRY_CAST(nullif(trim(\"{column}\"), '') AS DOUBLE)"


_MONTH = (
    "CASE WHEN regexp_full_match(trim(\"Month\"), '[0-9]{4}-(0[1-9]|1[0-2])') "
    "THEN CAST(trim(\"Month\") || '-01' AS DATE) END"
)

# Street files say "No Location", outcomes files "No location": either means none.
_LOCATION = f"CASE WHEN lower(trim(\"Location\")) <> 'no location' THEN {_text('Location')} END"

# The nine columns street and outcomes files share.
_CRIME_COLUMNS = f"""{_text("Crime ID")} AS crime_id,
            "Month" AS month_txt, {_MONTH} AS month,
            coalesce({_text("Reported by")}, {_text("Falls within")}) AS force_txt,
            "Longitude" AS lon_txt, {_number("Longitude")} AS lon,
            "Latitude" AS lat_txt, {_number("Latitude")} AS lat,
            {_LOCATION} AS location,
            {_text("LSOA code")} AS lsoa_code,
            {_text("LSOA name")} AS lsoa_name,"""

# Typed views over the raw all-string table ``raw``. Each keeps the published text of the fields it
# checks (``*_txt``) so an error can show what was there.
TYPED_SQL: dict[str, str] = {
    "street": f"""
        SELECT _row,
            {_CRIME_COLUMNS}
            "Crime type" AS type_txt,
            {_text("Last outcome category")} AS outcome_txt,
            {_text("Context")} AS context
        FROM raw""",
    "outcomes": f"""
        SELECT _row,
            {_CRIME_COLUMNS}
            "Outcome type" AS outcome_txt
        FROM raw""",
    "stop-and-search": f"""
        SELECT _row,
            {_text("Type")} AS search_type,
            "Date" AS date_txt, TRY_CAST(nullif(trim("Date"), '') AS TIMESTAMPTZ) AS occurred_at,
            "Part of a policing operation" AS operation_txt,
            TRY_CAST({_text("Part of a policing operation")} AS BOOLEAN) AS part_of_operation,
            {_text("Policing operation")} AS operation_name,
            "Longitude" AS lon_txt, {_number("Longitude")} AS lon,
            "Latitude" AS lat_txt, {_number("Latitude")} AS lat,
            {_text("Gender")} AS gender,
            {_text("Age range")} AS age_range,
            {_text("Self-defined ethnicity")} AS self_defined_ethnicity,
            {_text("Officer-defined ethnicity")} AS officer_defined_ethnicity,
            {_text("Legislation")} AS legislation,
            {_text("Object of search")} AS object_of_search,
            {_text("Outcome")} AS outcome_txt,
            "Outcome linked to object of search" AS linked_txt,
            TRY_CAST({_text("Outcome linked to object of search")} AS BOOLEAN) AS outcome_linked,
            "Removal of more than just outer clothing" AS removal_txt,
            TRY_CAST({_text("Removal of more than just outer clothing")} AS BOOLEAN)
                AS removal_more_than_outer
        FROM raw""",
}
