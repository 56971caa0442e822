"""police.uk rows typed by DuckDB SQL, straight from ``read_csv``: the same meaning as ``policeuk.stage``.

``policeuk.stage`` types rows that pyarrow has parsed; this module says the same in SQL, so that clean
files in the bulk archive's naming can be read, typed, checked and keyed by DuckDB in one parallel pass
(``store.direct``). Every expression here is the SQL that ``casts`` documents as the meaning of its
pyarrow fast paths (``nullif(trim(x), '')``, ``TRY_CAST``, ``md5``), and a test loads the same files both
ways and compares every stored value.

The SQL only has to be right for rows that pass every check: a file with any failing row (or any CSV
the reader refuses) is loaded again by the general path, which names the file, row and column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from safestreets import harm, vocab
from safestreets.sources.casts import ZS
from safestreets.sources.keys import stop_same
from safestreets.sources.policeuk import STOP_FLAGS, STOP_TEXT

# Columns of the staged table besides each kind's canonical ones.
FILE_INDEX = "_file"  # position of the row's file in the files table
PROBLEM = "_problem"  # true where any check fails
KEEP = "_keep"  # false where --force/--months leave the row out
SAME = "_same"  # stop-and-search: hash of the file and what the row's key says


def quote(name: str) -> str:
    """A SQL identifier (police.uk column names hold spaces)."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _text(column: str) -> str:
    return f"nullif(trim({quote(column)}), '')"


# Code points trim() strips (Unicode Zs, as ``casts.ZS``).
_SPACES = "(" + ", ".join(str(ord(c)) for c in ZS) + ")"


def _long_text(column: str) -> str:
    """``_text`` for a column of long values (a Crime ID is 64 characters): trim copies each string,
    so it only runs where an end is a space."""
    c = quote(column)
    return (
        f"CASE WHEN ascii({c}) IN {_SPACES} OR ascii(right({c}, 1)) IN {_SPACES} "
        f"THEN nullif(trim({c}), '') ELSE nullif({c}, '') END"
    )


def _lookup(expr: str, mapping: Mapping[str, str | float], default: str) -> str:
    """``mapping[expr]``, else ``default``, as a CASE over the few published values."""
    if not mapping:
        return default
    whens = " ".join(f"WHEN {literal(k)} THEN {_value(v)}" for k, v in mapping.items())
    return f"CASE {expr} {whens} ELSE {default} END"


def _value(v: str | float) -> str:
    return literal(v) if isinstance(v, str) else f"CAST({float(v)!r} AS DOUBLE)"


def _coordinates() -> tuple[list[tuple[str, str]], list[str]]:
    lon, lat = _text("Longitude"), _text("Latitude")
    columns = [("lon", f"TRY_CAST({lon} AS DOUBLE)"), ("lat", f"TRY_CAST({lat} AS DOUBLE)")]
    checks = [
        f"({lon} IS NOT NULL AND TRY_CAST({lon} AS DOUBLE) IS NULL)",
        f"({lat} IS NOT NULL AND TRY_CAST({lat} AS DOUBLE) IS NULL)",
        f"(TRY_CAST({lon} AS DOUBLE) NOT BETWEEN -180 AND 180)",
        f"(TRY_CAST({lat} AS DOUBLE) NOT BETWEEN -90 AND 90)",
        f"(({lon} IS NULL) <> ({lat} IS NULL))",
    ]
    return columns, checks


def stage_sql(
    kind: str, source: str, files: str, *, forces: Sequence[str] | None, months: Sequence[str] | None
) -> str:
    """A SELECT of one kind's staged rows from ``source`` (a ``read_csv`` with ``filename = true``)
    joined to ``files`` (filename, file_index, file_force, file_month): the canonical columns, ``key0`` (``key_repeat``
    for stop-and-search, whose keys the store derives), ``_problem``, ``_keep`` and ``_file``."""
    columns, checks = _coordinates()
    if kind == "stop-and-search":
        occurred = f"TRY_CAST({_text('Date')} AS TIMESTAMPTZ)"
        outcome = _text("Outcome")
        columns += [
            ("force", "f.file_force"),
            ("month", "f.file_month"),
            ("occurred_at", occurred),
            ("search_type", _text("Type")),
            ("operation_name", _text("Policing operation")),
            ("outcome", _lookup(outcome, vocab.STOP_OUTCOME_RENAMES, outcome)),
            ("outcome_raw", outcome),
        ]
        columns += [(name, _text(src)) for name, src in STOP_TEXT.items()]
        checks.append(f"({occurred} IS NULL)")
        for name, src in STOP_FLAGS.items():
            flag = f"TRY_CAST({_text(src)} AS BOOLEAN)"
            columns.append((name, flag))
            checks.append(f"({_text(src)} IS NOT NULL AND {flag} IS NULL)")
        columns.append(("key_repeat", "NULL::INTEGER"))  # the key itself is derived by the store
    else:
        month_txt = f"trim({quote('Month')})"
        month = (
            f"CASE WHEN regexp_full_match({month_txt}, '[0-9]{{4}}-(0[1-9]|1[0-2])') "
            f"THEN CAST({month_txt} || '-01' AS DATE) END"
        )
        location = _text("Location")
        columns += [
            ("crime_id", _long_text("Crime ID")),
            ("force", "f.file_force"),
            ("month", month),
            ("location", f"CASE WHEN lower({location}) = 'no location' THEN NULL ELSE {location} END"),
            ("lsoa_code", _text("LSOA code")),
            ("lsoa_name", _text("LSOA name")),
        ]
        checks.append(f"({month} IS NULL)")
        if kind == "street":
            crime_type = _lookup(f"lower(trim({quote('Crime type')}))", vocab.crime_type_lookup(), "NULL")
            outcome = _text("Last outcome category")
            columns += [
                ("occurred_at", "NULL::TIMESTAMPTZ"),
                ("crime_type", crime_type),
                ("outcome", _lookup(outcome, vocab.OUTCOME_RENAMES, outcome)),
                ("context", _text("Context")),
            ]
            checks.append(f"({crime_type} IS NULL)")
        else:
            outcome = quote("Outcome type")  # kept as published (outcome_raw)
            columns += [
                ("outcome_type", _lookup(outcome, vocab.OUTCOME_RENAMES, outcome)),
                ("outcome_raw", outcome),
            ]
            checks.append(f"({_text('Outcome type')} IS NULL)")
    keep = ["TRUE"]
    if forces:
        keep.append(f"force IN ({', '.join(literal(f) for f in sorted(forces))})")
    if months:
        keep.append(f"strftime(month, '%Y-%m') IN ({', '.join(literal(m) for m in sorted(months))})")
    outer = [f"{' AND '.join(keep)} AS {KEEP}"]
    if kind == "stop-and-search":  # rows that may repeat another's key, for ``store.direct`` to number
        outer.append(f"hash({FILE_INDEX}, {', '.join(stop_same())}) AS {SAME}")
    if kind == "street":
        outer.append(f"{_lookup('crime_type', harm.weights(), 'NULL::DOUBLE')} AS harm")
        outer.append(
            "coalesce(crime_id, 'k' || md5(concat_ws('|', force, CAST(month AS VARCHAR), crime_type, "
            "coalesce(printf('%.6f', lon), ''), coalesce(printf('%.6f', lat), ''), coalesce(location, ''))))"
            " AS key0"
        )
    elif kind == "outcomes":
        columns.append(("key0", "NULL::VARCHAR"))  # outcomes rows have no key
    inner = ", ".join(f"{expr} AS {name}" for name, expr in columns)
    return (
        f"SELECT *, {', '.join(outer)} FROM ("
        f"SELECT f.file_index AS {FILE_INDEX}, {inner}, ({' OR '.join(checks)}) AS {PROBLEM} "
        f"FROM {source} JOIN {files} AS f USING (filename))"
    )
