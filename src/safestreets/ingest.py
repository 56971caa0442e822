"""Ingest: one path in, validated rows in the store, one batch per file.

Dispatches on what the path holds: data.police.uk files (one file, a folder, or the bulk archive zip),
or a force's own records with a mapping file.

A folder of police.uk files loads as a pipeline on two threads: a worker reads, parses, checks, keys
and projects the next files (pyarrow, numpy, pyproj and DuckDB all release the GIL while they work)
while this thread stores the ones before them. Consecutive files are stored in one transaction of up to
``GROUP_ROWS`` rows: DuckDB stores a few large inserts far faster than many small ones, and a fixed
cost per transaction would otherwise dominate archives of many small files. Each file is still stored
whole or not at all:

- a file is only ever in one group, and the group commits or rolls back as one, so a kill leaves every
  file either fully stored or absent (loading the path again stores the rest and adds nothing twice);
- a file with a problem never joins a group: the files before it are committed first, then its error
  is raised, as a load one file at a time would;
- files in one group never share a (table, force, month) or their bytes, so replacing republished
  months and recognising files already loaded give the same result as one file at a time;
- if a group fails to commit, its files are committed again one by one, so the files before the one
  that fails are stored.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from safestreets.errors import InputError
from safestreets.sources import policeuk
from safestreets.sources.csvread import ROW, header_of, parse_text
from safestreets.store import fetch_one, get_setting
from safestreets.store.load import LoadOptions, LoadResult, Prepared, already_loaded, commit, prepare

Progress = Callable[[str, int, int], None]  # (label, done, total)

# Rows per transaction. Past about two DuckDB row groups (2 x 122,880 rows) a larger insert gains
# little; a kill loses at most this much work.
GROUP_ROWS = 300_000
# Files prepared ahead of the one being stored: enough to keep the worker busy, little memory.
AHEAD = 2


@dataclass(frozen=True)
class _Context:
    """What a worker needs from the store, read once before the load starts."""

    crs: str
    timezone: str
    known_sha256: frozenset[str]  # every sha256 a batch has recorded: a file not among them is new


@dataclass
class _Seen:
    """A file whose bytes a batch has recorded before: the store decides whether it is still loaded."""

    pf: policeuk.PoliceFile
    kind: str
    sha256: str

    @property
    def label(self) -> str:
        return self.pf.source.label


def ingest_policeuk(
    con: duckdb.DuckDBPyConnection,
    path: str | Path,
    opts: LoadOptions = LoadOptions(),
    *,
    kind: str | None = None,
    progress: Progress | None = None,
    group_rows: int = GROUP_ROWS,
) -> list[LoadResult]:
    """Load every police.uk file at ``path`` that passes the filters. Stops at the first bad file
    (earlier files stay loaded) unless ``opts.skip_bad_rows``. ``group_rows=0`` stores each file in a
    transaction of its own."""
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
    ctx = _Context(
        crs=get_setting(con, "crs"),
        timezone=get_setting(con, "timezone"),
        known_sha256=frozenset(
            r[0]
            for r in con.execute("SELECT DISTINCT sha256 FROM batches WHERE sha256 IS NOT NULL").fetchall()
        ),
    )
    store = _GroupStore(con, opts, group_rows)
    pending: deque[Future[Prepared | _Seen]] = deque()
    submitted = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest") as pool:
        try:
            for i, pf in enumerate(files):
                while submitted < len(files) and len(pending) <= AHEAD:
                    pending.append(pool.submit(_prepare_file, files[submitted], opts, kind, ctx))
                    submitted += 1
                if progress:
                    progress(pf.source.name, i, len(files))
                try:
                    item = pending.popleft().result()
                except BaseException:
                    store.flush()  # the files before a bad one stay loaded
                    raise
                if isinstance(item, _Seen) or item.sha256 in store.all_sha256:
                    # The same bytes were loaded before or earlier in this load (perhaps in the
                    # pending group): the store decides whether that batch still holds them.
                    store.flush()
                    item = _seen_again(con, item, opts, kind, ctx)
                    if isinstance(item, LoadResult):
                        store.results.append(item)
                        continue
                store.add(item)
            store.flush()
        finally:
            for f in pending:
                f.cancel()
    if progress:
        progress("", len(files), len(files))
    return store.results


class _GroupStore:
    """Collects prepared files and commits them in groups (see the module docstring)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, opts: LoadOptions, group_rows: int) -> None:
        self.con = con
        self.opts = opts
        self.group_rows = group_rows
        self.group: list[Prepared] = []
        self.rows = 0
        self.held: set[tuple[str, str, int]] = set()  # (target, force, month) the group holds
        self.sha256: set[str] = set()
        self.all_sha256: set[str] = set()  # of every file added in this load
        self.results: list[LoadResult] = []

    def add(self, p: Prepared) -> None:
        held = {(p.target, f, m) for f, m in p.force_months}
        if p.replace != "months" or held & self.held or (p.sha256 and p.sha256 in self.sha256):
            self.flush()
        self.group.append(p)
        self.results.append(p.result)
        self.rows += p.rows.num_rows
        self.held |= held
        if p.sha256:
            self.sha256.add(p.sha256)
            self.all_sha256.add(p.sha256)
        if p.replace != "months" or self.rows >= self.group_rows:
            self.flush()

    def flush(self) -> None:
        group, self.group = self.group, []
        self.rows = 0
        self.held = set()
        self.sha256 = set()
        if not group:
            return
        try:
            commit(self.con, group)
        except Exception:
            if len(group) == 1:
                raise
            # One by one: the files before the one that fails are stored, as without groups.
            for p in group:
                commit(self.con, [p])


def _prepare_file(
    pf: policeuk.PoliceFile, opts: LoadOptions, kind: str | None, ctx: _Context, *, seen: bool = False
) -> Prepared | _Seen:
    """Read, parse, check, key and project one file (in the worker thread: nothing here touches the
    store). A file whose bytes a batch recorded before comes back as ``_Seen`` unread, unless
    ``seen`` says the store has already found that batch gone."""
    label = pf.source.label
    data = pf.source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if not seen and digest in ctx.known_sha256:
        columns = header_of(data, label)
        found = policeuk.detect_kind(columns, label, expected=kind or pf.kind)
        return _Seen(pf, found, digest)
    parsed = parse_text(pf.source, data=data, hasher=lambda _: digest)
    found = policeuk.detect_kind(
        [c for c in parsed.table.column_names if c != ROW], label, expected=kind or pf.kind
    )
    file_force = opts.force or pf.force
    if found == "stop-and-search" and file_force is None:
        raise InputError(
            label,
            "stop-and-search files do not name their force: name the file "
            "YYYY-MM-<force>-stop-and-search.csv or pass --force",
        )
    if parsed.table.num_rows == 0 and not parsed.bad_rows:
        raise InputError(label, "the file has a header but no data rows")
    staged = policeuk.stage(
        parsed.table, found, file_force=file_force, file_month=pf.month, timezone=ctx.timezone
    )
    return prepare(
        staged,
        label=label,
        sha256=parsed.sha256,
        rows_read=parsed.rows_read,
        bad_rows=parsed.bad_rows,
        opts=opts,
        crs=ctx.crs,
    )


def _seen_again(
    con: duckdb.DuckDBPyConnection, item: _Seen | Prepared, opts: LoadOptions, kind: str | None, ctx: _Context
) -> Prepared | LoadResult:
    """A file with known bytes: skipped if the batch that loaded them is still whole, else loaded."""
    label, sha256 = item.label, item.sha256 or ""
    previous = already_loaded(con, item.kind, sha256, opts)
    if previous is not None:
        row = fetch_one(con, "SELECT rows_read FROM batches WHERE batch_id = ?", [previous])
        rows_read = int(row[0]) if row else 0
        return LoadResult(source=label, kind=item.kind, skipped_as=previous, rows_read=rows_read)
    if isinstance(item, Prepared):
        return item
    prepared = _prepare_file(item.pf, opts, kind, ctx, seen=True)
    assert isinstance(prepared, Prepared)
    return prepared


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
    staged = policeuk.stage(
        table, kind, file_force=force, file_month=None, timezone=get_setting(con, "timezone")
    )
    prepared = prepare(
        staged,
        label=label,
        sha256=sha256,
        rows_read=table.num_rows,
        bad_rows=[],
        opts=opts,
        crs=get_setting(con, "crs"),
        source="police.uk-api",
        replace="keys",
    )
    return commit(con, [prepared])[0]
