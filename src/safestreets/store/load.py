"""Loading batches: check, filter, key, project, then replace, insert, assign and record atomically.

(About 600 lines, kept whole: preparing and committing share the staged-row contract, and the atomicity
argument below reads best in one place.)

A load has two halves. ``prepare`` works on one source's rows alone, in Arrow, outside any
transaction (and so may run in a worker thread while another file is being stored): it applies the
checks, sets bad rows aside or stops, applies the filters, numbers repeated keys, projects points and
builds the rows of the target table. ``commit`` then stores one or more prepared sources in one
transaction: a failure (or a killed process) leaves the store exactly as it was before that
transaction. Inside it, each load replaces what it supersedes: police.uk files replace the same force
and month from earlier loads (police.uk republishes months as outcomes update); keyed sources (the API,
a force's records) replace rows with the same keys.

Several files may share one transaction (``ingest`` groups them): each file is still stored whole or
not at all, and files in one group never touch the same force and month, so the group stores exactly
what loading them one by one would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from safestreets import harm
from safestreets.errors import InputError
from safestreets.geo.project import lonlat_to_crs
from safestreets.sources.casts import as_array, duck, flags, map_distinct, repeated_rows
from safestreets.sources.csvread import ROW, BadRow
from safestreets.sources.keys import STOP_KEY_TEXT, STOP_KEY_VALUES, stop_same
from safestreets.sources.staged import FILE, ErrorRow, Staged
from safestreets.store import fetch_one, transaction
from safestreets.store.batches import BatchRecord, find_loaded, next_batch_ids, record_batches

POLICE_UK_SOURCES = ("police.uk", "police.uk-api")
TARGET = {"street": "events", "outcomes": "outcomes", "stop-and-search": "stop_searches",
          "force-records": "events"}  # fmt: skip
KEY_COLUMN = {"events": "event_id"}


@dataclass(frozen=True)
class LoadOptions:
    """Filters and choices that shape a load (recorded with the batch)."""

    forces: frozenset[str] | None = None  # police.uk force ids to keep
    months: frozenset[str] | None = None  # YYYY-MM months to keep
    skip_bad_rows: bool = False  # load the good rows, set the bad ones aside in ``rejects``
    force: str | None = None  # the force to assume when a file does not say

    def params(self) -> dict[str, Any]:
        return {
            "forces": sorted(self.forces) if self.forces else None,
            "months": sorted(self.months) if self.months else None,
            "force": self.force,
        }


@dataclass
class LoadResult:
    source: str
    kind: str
    batch_id: int | None = None
    skipped_as: int | None = None  # the earlier batch that already holds this exact data
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_filtered: int = 0
    rows_no_location: int = 0
    rows_replaced: int = 0
    months: list[str] = field(default_factory=list)
    forces: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    """One source checked, filtered, keyed and projected: the rows to store and what to record."""

    kind: str
    target: str
    source: str  # the events.source value: police.uk, police.uk-api, force-records
    replace: Literal["months", "keys"]
    sha256: str | None
    params: dict[str, Any]
    rows: pa.Table | None  # the target table's columns (batch_id is added at commit)
    errors: list[ErrorRow]
    result: LoadResult
    force_months: set[tuple[str, int]] = field(default_factory=set)  # (force, month days) held
    staged: tuple[str, int] | None = None  # rows held in DuckDB instead: (temp table, file index)

    @property
    def label(self) -> str:
        return self.result.source


@dataclass
class Source:
    """One file (or API answer) among the rows of a ``Staged``: what a batch records about it."""

    label: str
    sha256: str | None
    rows_read: int
    bad_rows: Sequence[BadRow] = ()  # rows the CSV reader could not split
    errors: list[ErrorRow] | None = None  # found by the caller (SQL checks) instead of ``problems``


# --- prepare: everything that needs only the sources' own rows ----------------------------------


def _problem_rows(staged: Staged, files: np.ndarray, n_sources: int) -> list[list[ErrorRow]]:
    """Per source, every (row, column, reason, value) that fails a check, in check order."""
    found: list[list[ErrorRow]] = [[] for _ in range(n_sources)]
    rows = None
    for p in staged.problems:
        if not p.failing.any():
            continue
        if rows is None:
            rows = as_array(staged.table.column(ROW)).to_numpy()
        where = np.flatnonzero(p.failing)
        values = pc.take(as_array(p.value()), pa.array(where)).to_pylist()
        for i, v in zip(where.tolist(), values, strict=True):
            found[files[i]].append((int(rows[i]), p.column, p.reason, v))
    return found


def _input_error(label: str, errors: list[ErrorRow]) -> InputError:
    row, column, reason, value = errors[0]
    more = len({e[0] for e in errors})
    hint = f"; {more} rows have problems (--skip-bad-rows loads the rest)" if more > 1 else ""
    return InputError(label, reason + hint, row=row, column=column, value=value)


def prepare(
    staged: Staged,
    sources: Sequence[Source],
    *,
    opts: LoadOptions,
    crs: str,
    source: str = "police.uk",
    replace: Literal["months", "keys"] = "months",
    extra_params: dict[str, Any] | None = None,
) -> list[Prepared | InputError]:
    """Apply checks and filters, key, project, and build the target rows of each source.

    ``staged`` holds the rows of ``sources`` one after the other (column ``_file`` says whose each
    row is). Returns one item per source, in order. A source with a bad row ends the list with an
    InputError naming its first one (the sources after it are left out), unless
    ``opts.skip_bad_rows``, which sets bad rows aside instead."""
    kind, target = staged.kind, TARGET[staged.kind]
    t = staged.table
    n_src = len(sources)
    files = as_array(t.column(FILE)).to_numpy() if FILE in t.column_names else np.zeros(t.num_rows, np.int32)
    found = _problem_rows(staged, files, n_src)
    for i, src in enumerate(sources):
        found[i] = [(r, col or None, reason, None) for r, col, reason in src.bad_rows] + (
            found[i] if src.errors is None else list(src.errors)
        )
        found[i].sort(key=lambda e: e[0])  # stable: keeps each row's errors in check order
    stop = n_src
    if not opts.skip_bad_rows:
        stop = next((i for i in range(n_src) if found[i]), n_src)

    keep = files < stop
    bad = [sorted({e[0] for e in found[i]}) for i in range(stop)]
    if any(bad):
        rows = as_array(t.column(ROW)).to_numpy()
        for i in (i for i in range(stop) if bad[i]):
            keep &= ~((files == i) & np.isin(rows, np.asarray(bad[i], dtype=rows.dtype)))
    if opts.forces:
        keep &= flags(pc.is_in(t.column("force"), pa.array(sorted(opts.forces), pa.string())))
    if opts.months:
        month_text = pc.utf8_slice_codeunits(pc.cast(t.column("month"), pa.string()), 0, 7)
        keep &= flags(pc.is_in(month_text, pa.array(sorted(opts.months), pa.string())))
    if not keep.all():
        t = t.filter(pa.array(keep))
        files = files[keep]

    key0 = staged.keys(t) if staged.keys is not None else None
    if key0 is None and "key0" in t.column_names:
        key0 = as_array(t.column("key0"))
    lon, lat = as_array(t.column("lon")), as_array(t.column("lat"))
    x, y = project_points(lon, lat, crs)
    columns = _final_columns(target, t, key0, x, y)
    if target == "stop_searches":
        columns["key_repeat"] = number_repeats(files, pa.table({c: columns[c] for c in CONTENT[target]}))
    elif key0 is not None:
        key = KEY_COLUMN[target]
        columns[key] = number_duplicate_keys(key0, files, pa.table({c: columns[c] for c in CONTENT[target]}))
    columns["source"] = pa.repeat(pa.scalar(source, pa.string()), t.num_rows)
    rows_out = pa.table(columns)

    # Per source: its slice of the rows (they stay in file order) and what to record.
    counts = np.bincount(files, minlength=stop)[:stop]
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    no_location = np.bincount(files[flags(pc.is_null(lon))], minlength=stop)[:stop]
    held = _force_months(as_array(t.column("force")), as_array(t.column("month")), files, stop)
    params = {"kind": kind, **opts.params(), **(extra_params or {})}
    out: list[Prepared | InputError] = []
    for i in range(stop):
        src = sources[i]
        result = LoadResult(source=src.label, kind=kind, rows_read=src.rows_read)
        result.rows_rejected = len(bad[i])
        result.rows_loaded = int(counts[i])
        result.rows_no_location = int(no_location[i])
        result.rows_filtered = src.rows_read - result.rows_rejected - result.rows_loaded
        result.months = sorted({month_of_days(m) for _, m in held[i]})
        result.forces = sorted({f for f, _ in held[i]})
        out.append(
            Prepared(
                kind=kind,
                target=target,
                source=source,
                replace=replace,
                sha256=src.sha256,
                params=params,
                rows=rows_out.slice(int(starts[i]), int(counts[i])),
                errors=found[i],
                result=result,
                force_months=held[i] if replace == "months" else set(),
            )
        )
    if stop < n_src:
        out.append(_input_error(sources[stop].label, found[stop]))
    return out


def month_of_days(days: int) -> str:
    """YYYY-MM of a date given as days since 1970."""
    return str(np.datetime64(int(days), "D").astype("datetime64[M]"))


def _force_months(force: pa.Array, month: pa.Array, files: np.ndarray, n: int) -> list[set[tuple[str, int]]]:
    """Per source, the distinct (force, month days) of its rows (usually one pair per file)."""
    held: list[set[tuple[str, int]]] = [set() for _ in range(n)]
    if not len(files):
        return held
    ef = pc.dictionary_encode(force)
    names = ef.dictionary.to_pylist()
    fi = pc.fill_null(ef.indices, -1).to_numpy().astype(np.int64)
    days = pc.fill_null(month.cast(pa.int32()), np.iinfo(np.int32).min).to_numpy().astype(np.int64)
    code = (files.astype(np.int64) * (len(names) + 1) + fi + 1) * (1 << 32) + days - np.iinfo(np.int32).min
    for c in np.unique(code).tolist():
        file_force, d = divmod(c, 1 << 32)
        file, f = divmod(file_force, len(names) + 1)
        if f > 0 and d != 0:
            held[file].add((names[f - 1], d + np.iinfo(np.int32).min))
    return held


def _final_columns(
    target: str, t: pa.Table, key0: pa.Array | None, x: pa.Array, y: pa.Array
) -> dict[str, pa.Array]:
    """The target table's columns by name (those left out are NULL: areas are assigned in the
    transaction, where the loaded areas are known)."""

    def col(name: str) -> pa.Array:
        return as_array(t.column(name))

    if target == "events":
        weights = harm.weights()
        crime_type = col("crime_type")
        return {
            "event_id": key0, "crime_id": col("crime_id"), "force": col("force"), "month": col("month"),
            "occurred_at": col("occurred_at"), "crime_type": crime_type,
            "harm": map_distinct(crime_type, weights.get, pa.float64()),
            "lon": col("lon"), "lat": col("lat"), "x": x, "y": y, "location": col("location"),
            "lsoa_code": col("lsoa_code"), "lsoa_name": col("lsoa_name"), "outcome": col("outcome"),
            "context": col("context"),
        }  # fmt: skip
    if target == "outcomes":
        return {
            "crime_id": col("crime_id"), "force": col("force"), "month": col("month"), "lon": col("lon"),
            "lat": col("lat"), "x": x, "y": y, "location": col("location"), "lsoa_code": col("lsoa_code"),
            "lsoa_name": col("lsoa_name"), "outcome_type": col("outcome"),
            "outcome_raw": col("outcome_txt"),
        }  # fmt: skip
    return {
        "force": col("force"), "month": col("month"), "occurred_at": col("occurred_at"),
        "search_type": col("search_type"), "part_of_operation": col("part_of_operation"),
        "operation_name": col("operation_name"), "lon": col("lon"), "lat": col("lat"), "x": x, "y": y,
        "gender": col("gender"), "age_range": col("age_range"),
        "self_defined_ethnicity": col("self_defined_ethnicity"),
        "officer_defined_ethnicity": col("officer_defined_ethnicity"), "legislation": col("legislation"),
        "object_of_search": col("object_of_search"), "outcome": col("outcome"),
        "outcome_raw": col("outcome_txt"), "outcome_linked": col("outcome_linked"),
        "removal_more_than_outer": col("removal_more_than_outer"),
    }  # fmt: skip


# The columns whose values order rows that share a key (everything the row says, in the target table).
CONTENT = {
    "events": ("crime_id", "force", "month", "occurred_at", "crime_type", "harm", "lon", "lat", "location",
               "lsoa_code", "lsoa_name", "outcome", "context"),
    "stop_searches": ("force", "month", "occurred_at", "search_type", "part_of_operation", "operation_name",
                      "lon", "lat", "gender", "age_range", "self_defined_ethnicity",
                      "officer_defined_ethnicity", "legislation", "object_of_search", "outcome",
                      "outcome_raw", "outcome_linked", "removal_more_than_outer"),
}  # fmt: skip


def number_duplicate_keys(keys: pa.Array, files: np.ndarray, content: pa.Table) -> pa.Array:
    """Repeated keys within a file (a Crime ID published twice, identical rows) become key, key#2,
    key#3, ordered by the rows' ``content`` (``repeat_suffixes_sql``): deterministic, independent of the
    order of the rows in the file, and every row is kept. NULL keys stay NULL."""
    n = len(keys)
    if n - keys.null_count < 2:
        return keys
    # Rows whose (file, key) hash repeats are the only candidates; their values decide exactly.
    candidates = repeated_rows(keys=keys, f=pa.array(files.astype(np.int32)))
    if not len(candidates):
        return keys  # the common case: no repeats
    take = pa.array(candidates)
    rows = content.take(take)
    for name, values in (("i", take), ("f", pa.array(files[candidates])), ("key", pc.take(keys, take))):
        rows = rows.append_column(name, values)
    return _replaced(keys, rows, repeat_suffixes_sql("_repeats", content.column_names), "k")


def number_repeats(files: np.ndarray, content: pa.Table) -> pa.Array:
    """``key_repeat`` of stop-and-search rows: 2, 3... for the rows of a file after the first with the
    same ``stop_same`` values, ordered by ``content`` (``repeat_numbers_sql``); NULL for the rest."""
    n = content.num_rows
    out = pa.nulls(n, pa.int32())
    if n < 2:
        return out
    # Rows whose hash of (file, values) repeats are the only candidates; their values decide exactly.
    same = {c: as_array(content.column(c)) for c in STOP_KEY_VALUES}
    same |= {c: pc.fill_null(as_array(content.column(c)), "") for c in STOP_KEY_TEXT}
    candidates = repeated_rows(f=pa.array(files.astype(np.int32)), **same)
    if not len(candidates):
        return out  # the common case: no repeats
    take = pa.array(candidates)
    rows = content.take(take).append_column("i", take).append_column("f", pa.array(files[candidates]))
    return _replaced(out, rows, repeat_numbers_sql("_repeats", stop_same(), content.column_names), "n")


def _replaced(values: pa.Array, rows: pa.Table, sql: str, column: str) -> pa.Array:
    """``values`` with ``column`` of ``sql`` (over ``rows`` as ``_repeats``; it gives i in order) at i."""
    con = duck()
    con.register("_repeats", rows)
    try:
        found = con.sql(sql).to_arrow_table()
    finally:
        con.unregister("_repeats")
    if not found.num_rows:
        return values
    mask = np.zeros(len(values), dtype=bool)
    mask[found.column("i").to_numpy()] = True  # rows come ordered by i, as replace_with_mask fills
    return pc.replace_with_mask(values, pa.array(mask), as_array(found.column(column)).cast(values.type))


def repeat_numbers_sql(relation: str, same: Sequence[str], content: Sequence[str]) -> str:
    """SQL giving (i, n): every row of ``relation`` (columns i, f and ``content``) after the first of its
    file with the same values of ``same`` (SQL over its columns), numbered from 2 in content order
    (NULL first), ordered by i. Rows that tie on all of ``content`` are the same row as stored, so which
    of them is first is moot."""
    return f"SELECT i, n FROM ({_numbered(relation, same, content)}) WHERE n > 1 ORDER BY i"


def repeat_suffixes_sql(relation: str, content: Sequence[str]) -> str:
    """SQL giving (i, k): the new key of every row of ``relation`` (columns i, f, key and ``content``)
    after the first with the same file and key: key#2, key#3... as ``repeat_numbers_sql`` numbers them."""
    numbered = _numbered(f"(SELECT * FROM {relation} WHERE key IS NOT NULL)", ["key"], content)
    return f"SELECT i, key || '#' || n AS k FROM ({numbered}) WHERE n > 1 ORDER BY i"


def _numbered(relation: str, same: Sequence[str], content: Sequence[str]) -> str:
    order = ", ".join(f"{c} ASC NULLS FIRST" for c in content)
    return (
        f"SELECT *, row_number() OVER (PARTITION BY f, {', '.join(same)} ORDER BY {order}, i) AS n "
        f"FROM {relation}"
    )


def project_points(lon: pa.Array, lat: pa.Array, crs: str) -> tuple[pa.Array, pa.Array]:
    """x/y in ``crs`` for rows with both coordinates (NULL otherwise), each distinct point projected
    once: police.uk points are shared snap points, so there are far fewer points than rows."""
    n = len(lon)
    has = ~(flags(pc.is_null(lon)) | flags(pc.is_null(lat)))
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    if has.any():
        px = lon.to_numpy(zero_copy_only=False)[has]
        py = lat.to_numpy(zero_copy_only=False)[has]
        bx, by = px.view(np.uint64), py.view(np.uint64)
        with np.errstate(over="ignore"):
            mixed = bx * np.uint64(0x9E3779B97F4A7C15) ^ (by + np.uint64(0x632BE59BD9B4E019))
        encoded = pc.dictionary_encode(pa.array(mixed))
        idx = encoded.indices.to_numpy()
        first = np.empty(len(encoded.dictionary), dtype=np.int64)
        first[idx[::-1]] = np.arange(len(idx) - 1, -1, -1)  # each point's first row
        if np.array_equal(bx[first][idx], bx) and np.array_equal(by[first][idx], by):
            ux, uy = lonlat_to_crs(px[first], py[first], crs)
            x[has], y[has] = ux[idx], uy[idx]
        else:  # two points mixed to the same value: project every row
            x[has], y[has] = lonlat_to_crs(px, py, crs)
    return pa.array(x, mask=~has), pa.array(y, mask=~has)


# --- commit: one transaction for one or more prepared sources ------------------------------------


Inserter = Callable[[duckdb.DuckDBPyConnection, str, list[tuple[int, "Prepared"]]], None]


def commit(
    con: duckdb.DuckDBPyConnection, group: Sequence[Prepared], *, insert: Inserter | None = None
) -> list[LoadResult]:
    """Store ``group`` in one transaction: replace what each source supersedes, insert its rows (with
    ``insert`` for rows staged elsewhere), assign areas, keep its rejects and record one batch per
    source. Sources of one group must not share a (target, force, month) or a key; ``ingest`` forms
    groups so."""
    ids = next_batch_ids(con, len(group))
    with transaction(con):
        for target in dict.fromkeys(p.target for p in group):
            members = [(batch_id, p) for batch_id, p in zip(ids, group, strict=True) if p.target == target]
            _replace(con, target, members)
            (insert or _insert)(con, target, members)
            _assign(con, target, [batch_id for batch_id, _ in members])
        _insert_rejects(con, ids, group)
        record_batches(con, [(batch_id, _record(p)) for batch_id, p in zip(ids, group, strict=True)])
    for batch_id, p in zip(ids, group, strict=True):
        p.result.batch_id = batch_id
    return [p.result for p in group]


def _replace(con: duckdb.DuckDBPyConnection, target: str, members: list[tuple[int, Prepared]]) -> None:
    """Delete what the members supersede, counting it per member."""
    months = [(i, p) for i, (_, p) in enumerate(members) if p.replace == "months" and p.force_months]
    if months:
        keys = pa.table({
            "i": pa.array([i for i, p in months for _ in p.force_months], pa.int32()),
            "f": pa.array([f for _, p in months for f, _ in sorted(p.force_months)], pa.string()),
            "m": pa.array([m for _, p in months for _, m in sorted(p.force_months)], pa.int32()).cast(pa.date32()),
        })  # fmt: skip
        sources = ", ".join(_quote(s) for s in POLICE_UK_SOURCES)
        # The month range lets DuckDB skip row groups by their min/max before joining.
        lo, hi = pc.min_max(keys.column("m")).values()
        match = (
            f"FROM {target} AS old, _replace_keys AS k WHERE old.force = k.f AND old.month = k.m "
            f"AND old.source IN ({sources}) AND old.month BETWEEN DATE '{lo}' AND DATE '{hi}'"
        )
        con.register("_replace_keys", keys)
        try:
            counts = dict(con.execute(f"SELECT k.i, count(*) {match} GROUP BY k.i").fetchall())
            if counts:
                con.execute(
                    f"DELETE FROM {target} AS old USING _replace_keys AS k WHERE old.force = k.f "
                    f"AND old.month = k.m AND old.source IN ({sources}) "
                    f"AND old.month BETWEEN DATE '{lo}' AND DATE '{hi}'"
                )
        finally:
            con.unregister("_replace_keys")
        for i, p in months:
            p.result.rows_replaced = int(counts.get(i, 0))
    for _, p in members:
        if p.replace != "keys":
            continue
        assert p.rows is not None
        if target == "stop_searches":  # keys are derived: equal values are equal keys (no md5 to compute)
            con.register("_replace_rows", p.rows)
            pairs = zip(
                [*stop_same("old"), "old.key_repeat"], [*stop_same("new"), "new.key_repeat"], strict=True
            )
            same = " AND ".join(f"{a} IS NOT DISTINCT FROM {b}" for a, b in pairs)
            delete = (
                "DELETE FROM stop_searches WHERE rowid IN (SELECT old.rowid FROM stop_searches AS old "
                f"JOIN _replace_rows AS new ON {same})"
            )
        else:
            con.register("_replace_rows", pa.table({"k": p.rows.column(KEY_COLUMN[target])}))
            delete = f"DELETE FROM {target} WHERE {KEY_COLUMN[target]} IN (SELECT k FROM _replace_rows)"
        try:
            p.result.rows_replaced = _deleted(con, delete)
        finally:
            con.unregister("_replace_rows")


def _insert(con: duckdb.DuckDBPyConnection, target: str, members: list[tuple[int, Prepared]]) -> None:
    tables = [
        p.rows.append_column("batch_id", pa.repeat(pa.scalar(batch_id, pa.int32()), p.rows.num_rows))
        for batch_id, p in members
        if p.rows is not None and p.rows.num_rows
    ]
    if not tables:
        return
    rows = pa.concat_tables(tables)
    if target == "events":  # the key is stored only where it is not the Crime ID (migration 0004)
        key, crime_id = as_array(rows.column("event_id")), as_array(rows.column("crime_id"))
        own = pc.fill_null(pc.not_equal(key, crime_id), True)
        own_key = pc.if_else(own, key, pa.scalar(None, pa.string()))
        rows = rows.drop_columns(["event_id"]).append_column("event_key", own_key)
    con.register("_insert_rows", rows)
    try:
        con.execute(f"INSERT INTO {target} BY NAME SELECT * FROM _insert_rows")
    finally:
        con.unregister("_insert_rows")


def _insert_rejects(con: duckdb.DuckDBPyConnection, ids: Sequence[int], group: Sequence[Prepared]) -> None:
    rows = [
        (b, r, col, value, reason)
        for b, p in zip(ids, group, strict=True)
        for r, col, reason, value in p.errors
    ]
    if not rows:
        return
    table = pa.table({
        "batch_id": pa.array([r[0] for r in rows], pa.int32()),
        "row_number": pa.array([r[1] for r in rows], pa.int64()),
        "column_name": pa.array([r[2] for r in rows], pa.string()),
        "value": pa.array([None if r[3] is None else str(r[3]) for r in rows], pa.string()),
        "reason": pa.array([r[4] for r in rows], pa.string()),
    })  # fmt: skip
    con.register("_rejects", table)
    try:
        con.execute("INSERT INTO rejects BY NAME SELECT * FROM _rejects")
    finally:
        con.unregister("_rejects")


def _record(p: Prepared) -> BatchRecord:
    r = p.result
    return BatchRecord(
        kind=p.kind,
        source=p.label,
        sha256=p.sha256,
        force=",".join(r.forces) or None,
        months=r.months,
        params=p.params,
        rows_read=r.rows_read,
        rows_loaded=r.rows_loaded,
        rows_rejected=r.rows_rejected,
        rows_filtered=r.rows_filtered,
        rows_no_location=r.rows_no_location,
        rows_replaced=r.rows_replaced,
    )


def _assign(con: duckdb.DuckDBPyConnection, target: str, batch_ids: Sequence[int]) -> None:
    has_areas = fetch_one(con, "SELECT EXISTS (SELECT 1 FROM areas)")
    if not has_areas or not has_areas[0]:
        return
    from safestreets.store.assign import assign_areas  # areas are optional: import only when used

    assign_areas(con, target, where=f"batch_id IN ({', '.join(str(int(b)) for b in batch_ids)})")


# --- re-loads ------------------------------------------------------------------------------------


def already_loaded(
    con: duckdb.DuckDBPyConnection, kind: str, sha256: str, opts: LoadOptions, extra: dict | None = None
) -> int | None:
    """The earlier batch that loaded these bytes with these options, if all its rows are still in the
    store. A batch whose rows a later load replaced (a republished month) is not: loading the file
    again must bring its rows back, not be skipped."""
    previous = find_loaded(con, kind, sha256, {"kind": kind, **opts.params(), **(extra or {})})
    if previous is None:
        return None
    live = fetch_one(
        con,
        f"SELECT (SELECT count(*) FROM {TARGET[kind]} WHERE batch_id = ?) = rows_loaded "
        "FROM batches WHERE batch_id = ?",
        [previous, previous],
    )
    return previous if live and live[0] else None


# --- rows typed in SQL by a source (a force's own records) ------------------------------------


def load_staged(
    con: duckdb.DuckDBPyConnection,
    typed: pa.Table,
    errors: list[ErrorRow],
    *,
    kind: str,
    label: str,
    sha256: str | None,
    rows_read: int,
    bad_rows: Sequence[BadRow],
    opts: LoadOptions,
    crs: str,
    source: str,
    replace: Literal["months", "keys"] = "keys",
    extra_params: dict[str, Any] | None = None,
) -> LoadResult:
    """Store rows a source typed and checked in SQL (``sources.staged.stage_typed``: ``typed`` in
    ``_row`` order with ``key0``, and every failing check as ``errors``) in one transaction."""
    (prepared,) = prepare(
        Staged(kind, typed, []),
        [Source(label, sha256, rows_read, bad_rows, errors)],
        opts=opts, crs=crs, source=source, replace=replace, extra_params=extra_params,
    )  # fmt: skip
    if isinstance(prepared, InputError):
        raise prepared
    return commit(con, [prepared])[0]


def _deleted(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = fetch_one(con, sql)
    return int(row[0]) if row else 0


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
