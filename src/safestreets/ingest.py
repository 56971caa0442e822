"""Ingest: one path in, validated rows in the store, one batch per file.

Dispatches on what the path holds: data.police.uk files (one file, a folder, or the bulk archive zip),
or a force's own records with a mapping file. Each file loads in its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from safestreets.errors import InputError
from safestreets.sources import policeuk
from safestreets.sources.csvread import ROW, parse_text
from safestreets.store.load import (
    LoadOptions,
    LoadResult,
    already_loaded,
    cleanup,
    load_staged,
    stage_policeuk,
)

Progress = Callable[[str, int, int], None]  # (label, done, total)


def ingest_policeuk(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    opts: LoadOptions = LoadOptions(),
    *,
    kind: str | None = None,
    progress: Progress | None = None,
) -> list[LoadResult]:
    """Load every police.uk file at ``path`` that passes the filters. Stops at the first bad file
    (earlier files stay loaded: each is its own transaction) unless ``opts.skip_bad_rows``."""
    found = policeuk.discover(path)
    # One file named on its own is checked against ``kind`` by its header (a clear error), not
    # passed over in silence because its name says another kind.
    single = Path(path).is_file() and found[0].source.member is None
    files = policeuk.select(
        found,
        forces=set(opts.forces) if opts.forces else None,
        months=set(opts.months) if opts.months else None,
        kinds={kind} if kind and not single else None,
    )
    results = []
    for i, pf in enumerate(files):
        if progress:
            progress(pf.source.name, i, len(files))
        results.append(load_policeuk_file(con, pf, opts, kind=kind))
    if progress:
        progress("", len(files), len(files))
    return results


def load_policeuk_file(
    con: duckdb.DuckDBPyConnection,
    pf: policeuk.PoliceFile,
    opts: LoadOptions = LoadOptions(),
    *,
    kind: str | None = None,
) -> LoadResult:
    label = pf.source.label
    data = pf.source.read_bytes()
    parsed = parse_text(pf.source, data=data)
    found = policeuk.detect_kind(
        [c for c in parsed.table.column_names if c != "_row"], label, expected=kind or pf.kind
    )
    previous = already_loaded(con, found, parsed.sha256, opts)
    if previous is not None:
        return LoadResult(source=label, kind=found, skipped_as=previous, rows_read=parsed.rows_read)
    file_force = opts.force or pf.force
    if found == "stop-and-search" and file_force is None:
        raise InputError(
            label,
            "stop-and-search files do not name their force: name the file "
            "YYYY-MM-<force>-stop-and-search.csv or pass --force",
        )
    if parsed.table.num_rows == 0 and not parsed.bad_rows:
        raise InputError(label, "the file has a header but no data rows")
    try:
        stage_policeuk(con, parsed.table, found, file_force=file_force, file_month=pf.month)
        return load_staged(
            con,
            kind=found,
            label=label,
            sha256=parsed.sha256,
            rows_read=parsed.rows_read,
            bad_rows=parsed.bad_rows,
            opts=opts,
        )
    finally:
        cleanup(con)


def load_policeuk_table(
    con: duckdb.DuckDBPyConnection,
    table: pa.Table,
    *,
    kind: str,
    label: str,
    sha256: str,
    force: str,
    opts: LoadOptions = LoadOptions(),
) -> LoadResult:
    """Load rows fetched from the API (already in a police.uk file's columns) through the same checks
    as files. Rows replace earlier rows with the same keys, so fetching a month again adds nothing."""
    previous = already_loaded(con, kind, sha256, opts)
    if previous is not None:
        return LoadResult(source=label, kind=kind, skipped_as=previous, rows_read=table.num_rows)
    detect_columns = [c for c in table.column_names if c != ROW]
    policeuk.detect_kind(detect_columns, label, expected=kind)
    if ROW not in table.column_names:
        table = table.append_column(ROW, pa.array(np.arange(1, table.num_rows + 1, dtype="int64")))
    try:
        stage_policeuk(con, table, kind, file_force=force, file_month=None)
        return load_staged(
            con,
            kind=kind,
            label=label,
            sha256=sha256,
            rows_read=table.num_rows,
            bad_rows=[],
            opts=opts,
            source="police.uk-api",
            replace="keys",
        )
    finally:
        cleanup(con)
