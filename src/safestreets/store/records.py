"""A force's own crime records into the store: one batch per file, replacing rows with the same record id.

``sources.force_records`` reads the mapping and the file and types the rows; this module decides whether
the file is already loaded and stores the rows (``store.load``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from safestreets.errors import InputError
from safestreets.sources.force_records import ForceMapping, read_mapping, read_table, type_records
from safestreets.store import get_setting
from safestreets.store.load import LoadOptions, LoadResult, already_loaded, load_staged


def ingest_force_records(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    mapping: ForceMapping | str | Path,
    opts: LoadOptions = LoadOptions(),
) -> LoadResult:
    """Load one records file. Rows replace earlier rows with the same record id (or content)."""
    path = Path(path)
    m = mapping if isinstance(mapping, ForceMapping) else read_mapping(mapping)
    if not path.exists():
        raise InputError(path, "no such file")
    table, digest, rows_read, bad_rows = read_table(path, m.source.delimiter)
    extra: dict[str, Any] = {"mapping": m.model_dump()}
    previous = already_loaded(con, "force-records", digest, opts, extra)
    if previous is not None:
        return LoadResult(source=str(path), kind="force-records", skipped_as=previous, rows_read=rows_read)
    if table.num_rows == 0 and not bad_rows:
        raise InputError(path, "the file has a header but no data rows")
    try:
        typed, errors = type_records(table, m, timezone=get_setting(con, "timezone"))
    except InputError as err:
        raise InputError(path, err.reason, row=err.row, column=err.column, value=err.value) from None
    return load_staged(
        con,
        typed,
        errors,
        kind="force-records",
        label=str(path),
        sha256=digest,
        rows_read=rows_read,
        bad_rows=bad_rows,
        opts=opts,
        crs=get_setting(con, "crs"),
        source="force-records",
        replace="keys",
        extra_params=extra,
    )
