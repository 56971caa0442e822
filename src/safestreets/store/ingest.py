"""Ingest: one path in, validated rows in the store, one batch per file.

Dispatches on what the path holds: data.police.uk files (one file, a folder, or the bulk archive zip),
or a force's own records with a mapping file.

Files named as in the bulk archive take the direct path (``store.direct``): windows of files are read,
typed, checked and keyed by DuckDB SQL on all cores, and stored in one transaction when every row
passes; their sha256 is computed on a thread meanwhile. Everything else, and any window the direct path
hands back with nothing stored, takes the general path below, which names a bad file's row and column.

The general path is a pipeline on two threads: a worker reads, parses, checks, keys and projects the
next files (pyarrow, numpy, pyproj and DuckDB all release the GIL while they work) while this thread
stores the ones before them. Consecutive files are stored in one transaction of up to ``GROUP_ROWS``
rows: DuckDB stores a few large inserts far faster than many small ones, and a fixed cost per
transaction would otherwise dominate archives of many small files. Each file is still stored whole or
not at all:

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

import contextlib
import hashlib
import itertools
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from safestreets.errors import InputError
from safestreets.sources import policeuk
from safestreets.sources.csvread import ROW, ParsedText, header_of, parse_text
from safestreets.sources.staged import FILE
from safestreets.store import direct, fetch_one, get_setting
from safestreets.store.load import (
    LoadOptions,
    LoadResult,
    Prepared,
    Source,
    already_loaded,
    commit,
    prepare,
)

Progress = Callable[[str, int, int], None]  # (label, done, total)

# Rows per table per transaction. From about two DuckDB row groups (2 x 122,880 rows) on, DuckDB writes
# the rows straight to the database file, compressed, instead of through the write-ahead log and a
# checkpoint later; a larger group gains little more, and a kill loses at most this much work.
GROUP_ROWS = 500_000
# Text per window of the direct path (about 2.5M rows): one transaction, and the memory its temporary
# tables hold. Smaller windows cost more per row (commits, and tables too small for DuckDB to write
# their rows straight to the file).
WINDOW_BYTES = 512 << 20
# Threads preparing batches while this one stores them. Most of that work (pyarrow, DuckDB, zlib,
# hashing, PROJ) runs without the GIL; on 2 cores a second worker cost more CPU than it saved.
WORKERS = 1
# Batches prepared ahead of the one being stored.
AHEAD = 1
# A worker batch: about this much text (some 100,000 rows), or this many files.
BATCH_BYTES = 24 << 20
BATCH_FILES = 256


@dataclass(frozen=True)
class _Context:
    """What a worker needs from the store, read once before the load starts."""

    crs: str
    timezone: str
    known_sha256: frozenset[str]  # every sha256 a batch has recorded: a file not among them is new
    known_sources: frozenset[str] = frozenset()  # every source a batch has recorded


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
    use_direct: bool = True,
) -> list[LoadResult]:
    """Load every police.uk file at ``path`` that passes the filters. Stops at the first bad file
    (earlier files stay loaded) unless ``opts.skip_bad_rows``. ``group_rows=0`` stores each file of
    the general path in a transaction of its own; ``use_direct=False`` sends every file that way."""
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
        known_sources=frozenset(r[0] for r in con.execute("SELECT DISTINCT source FROM batches").fetchall()),
    )
    store = _GroupStore(con, group_rows)
    tick = _Ticker(files, progress)
    general: list[policeuk.PoliceFile] = []  # consecutive files for the general path, not yet loaded
    window: list[direct.DirectFile] = []  # consecutive files for the direct path, not yet loaded
    window_bytes = 0
    seen = set(ctx.known_sha256)  # bytes loaded before or in this load: the general path decides

    def load_general() -> None:
        if general:
            _load_general(con, general, opts, kind, ctx, store, tick)
            general.clear()

    def load_window() -> None:
        nonlocal window_bytes
        if not window:
            return
        store.flush()
        seen.update(store.all_sha256)
        try:
            results = direct.load_window(con, window, opts, ctx.crs, seen)
        finally:
            for f in window:
                if f.extracted:  # a zip member's text, written out for this window
                    f.sha256.cancel()
                    with contextlib.suppress(InputError, OSError, CancelledError):
                        f.sha256.result()  # written (or failed) before it is removed
                    f.path.unlink(missing_ok=True)
        if results is None:  # a file needs the general path: it names the bad row, or loads the rest
            _load_general(con, [f.pf for f in window], opts, kind, ctx, store, tick)
        else:
            store.results += results
            store.all_sha256.update(f.sha256.result() for f in window)
            tick(len(window))
        window.clear()
        window_bytes = 0

    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-hash") as hashing,
        ThreadPoolExecutor(max_workers=2, thread_name_prefix="ingest-extract") as extracting,
        contextlib.ExitStack() as cleanup,
    ):
        # Files are hashed on a worker while DuckDB loads the windows (hashlib and zlib release the GIL),
        # and zip members written out on two for DuckDB to read. Reading headers there as well measured
        # slower: they are cheap, and read here.
        spool: list[Path] = []  # a folder for members' text, made when the first member comes
        names = itertools.count()

        def start(pf: policeuk.PoliceFile) -> tuple[Path, Future[str]]:
            if pf.source.member is None:
                return pf.source.path, hashing.submit(direct.sha256_of, pf)
            if not spool:
                spool.append(Path(cleanup.enter_context(direct.make_spool())))
            target = spool[0] / f"{next(names)}.csv"
            return target, extracting.submit(direct.extract, pf, target)

        def head(pf: policeuk.PoliceFile) -> direct.DirectFile | None:
            return direct.head(pf, opts, kind, lambda: start(pf)) if use_direct else None

        try:
            for pf, found, size in _read_ahead(files, head, WINDOW_BYTES):
                if found is not None and found.label in ctx.known_sources:
                    # Loaded from here before: probably the same bytes, which the general path skips.
                    with contextlib.suppress(InputError):
                        if found.sha256.result() in seen:
                            found = None
                if found is None:
                    load_window()
                    general.append(pf)
                    continue
                load_general()
                window.append(found)
                window_bytes += size
                if window_bytes >= WINDOW_BYTES:
                    load_window()
            load_window()
            load_general()
        finally:
            hashing.shutdown(cancel_futures=True)
            extracting.shutdown(cancel_futures=True)
    tick.finish()
    return store.results


def _read_ahead(
    files: list[policeuk.PoliceFile],
    head: Callable[[policeuk.PoliceFile], direct.DirectFile | None],
    limit: int,
) -> Iterator[tuple[policeuk.PoliceFile, direct.DirectFile | None, int]]:
    """Each file with its ``head`` and size of text, in order; heads are read up to ``limit`` bytes of
    text beyond the file given, so that the workers hash (or write out) the next window while this one
    loads."""
    pending: deque[tuple[policeuk.PoliceFile, direct.DirectFile | None, int]] = deque()
    held = 0
    for pf in files:
        size = pf.source.text_size()
        pending.append((pf, head(pf), size))
        held += size
        while pending and held - pending[0][2] >= limit:
            first = pending.popleft()
            held -= first[2]
            yield first
    yield from pending


class _Ticker:
    """Progress by file, for loads that finish files in runs."""

    def __init__(self, files: list[policeuk.PoliceFile], progress: Progress | None) -> None:
        self.files, self.progress, self.done = files, progress, 0

    def __call__(self, n: int = 1) -> None:
        for _ in range(n):
            if self.progress:
                self.progress(self.files[self.done].source.name, self.done, len(self.files))
            self.done += 1

    def finish(self) -> None:
        if self.progress:
            self.progress("", len(self.files), len(self.files))


def _load_general(
    con: duckdb.DuckDBPyConnection,
    files: list[policeuk.PoliceFile],
    opts: LoadOptions,
    kind: str | None,
    ctx: _Context,
    store: _GroupStore,
    tick: _Ticker,
) -> None:
    """Load ``files`` by the general path: a worker thread prepares batches of files (pyarrow) while
    this thread stores the ones before them in groups."""
    batches = _batches(files)
    pending: deque[Future[list[_Item]]] = deque()
    submitted = 0
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="ingest") as pool:
        try:
            for _ in batches:
                while submitted < len(batches) and len(pending) <= AHEAD:
                    pending.append(pool.submit(_prepare_batch, batches[submitted], opts, kind, ctx))
                    submitted += 1
                try:
                    items = pending.popleft().result()
                except BaseException:
                    store.flush()  # the files before a bad one stay loaded
                    raise
                for item in items:
                    tick()
                    if isinstance(item, BaseException):
                        store.flush()  # the files before a bad one stay loaded
                        raise item
                    if isinstance(item, _Seen) or (item.sha256 and item.sha256 in store.all_sha256):
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


def _batches(files: list[policeuk.PoliceFile]) -> list[list[policeuk.PoliceFile]]:
    """Consecutive files in batches of about ``BATCH_BYTES`` of text: the worker types a batch's files
    of each kind together, so its per-call costs are paid per batch, not per file."""
    batches: list[list[policeuk.PoliceFile]] = []
    size = 0
    for pf in files:
        if not batches or size >= BATCH_BYTES or len(batches[-1]) >= BATCH_FILES:
            batches.append([])
            size = 0
        batches[-1].append(pf)
        size += pf.source.text_size()
    return batches


@dataclass
class _Group:
    files: list[tuple[int, Prepared]] = field(default_factory=list)  # (position in the load, file)
    rows: int = 0
    held: set[tuple[str, int]] = field(default_factory=set)  # (force, month) the group holds
    sha256: set[str] = field(default_factory=set)


class _GroupStore:
    """Collects prepared files and commits them in groups, one per target table (a transaction's
    inserts are cheapest when each is large); see the module docstring."""

    def __init__(self, con: duckdb.DuckDBPyConnection, group_rows: int) -> None:
        self.con = con
        self.group_rows = group_rows
        self.groups: dict[str, _Group] = {}
        self.all_sha256: set[str] = set()  # of every file added in this load
        self.results: list[LoadResult] = []

    def add(self, p: Prepared) -> None:
        g = self.groups.setdefault(p.target, _Group())
        if p.replace != "months" or p.force_months & g.held or (p.sha256 and p.sha256 in g.sha256):
            self.flush(p.target)
            g = self.groups.setdefault(p.target, _Group())
        g.files.append((len(self.results), p))
        self.results.append(p.result)
        g.rows += p.rows.num_rows
        g.held |= p.force_months
        if p.sha256:
            g.sha256.add(p.sha256)
            self.all_sha256.add(p.sha256)
        if p.replace != "months" or g.rows >= self.group_rows:
            self.flush(p.target)

    def flush(self, target: str | None = None) -> None:
        """Commit the pending group of ``target``, or every pending group (in file order)."""
        targets = (
            [target]
            if target is not None
            else sorted(self.groups, key=lambda t: min((f[0] for f in self.groups[t].files), default=0))
        )
        for t in targets:
            g = self.groups.pop(t, None)
            if g is None or not g.files:
                continue
            try:
                commit(self.con, [p for _, p in g.files])
            except Exception as err:
                self._one_by_one(g, err)

    def _one_by_one(self, failed: _Group, err: Exception) -> None:
        """After a group failed to commit: store the pending files one at a time in file order, up to
        the one that fails, as a load without groups would have, and raise its error."""
        pending = sorted(
            [*failed.files, *(f for g in self.groups.values() for f in g.files)], key=lambda f: f[0]
        )
        self.groups = {}
        alone = failed.files[0][0] if len(failed.files) == 1 else None  # known to fail: not tried again
        for position, p in pending:
            if position == alone:
                raise err
            commit(self.con, [p])


_Item = Prepared | _Seen | BaseException


def _prepare_batch(
    pfs: list[policeuk.PoliceFile], opts: LoadOptions, kind: str | None, ctx: _Context, *, seen: bool = False
) -> list[_Item]:
    """Read, parse, check, key and project a batch of files (in the worker thread: nothing here
    touches the store). One item per file in order, ending early at the first file that fails (its
    error is its item). A file whose bytes a batch recorded before comes back as ``_Seen`` unread,
    unless ``seen`` says the store has already found that batch gone."""
    try:
        return _prepare_together(pfs, opts, kind, ctx, seen=seen)
    except Exception as err:
        if len(pfs) == 1:
            return [err]
    # Something failed for the batch as a whole: one file at a time finds which file it was.
    items: list[_Item] = []
    for pf in pfs:
        items += _prepare_batch([pf], opts, kind, ctx, seen=seen)
        if isinstance(items[-1], BaseException):
            break
    return items


def _prepare_together(
    pfs: list[policeuk.PoliceFile], opts: LoadOptions, kind: str | None, ctx: _Context, *, seen: bool
) -> list[_Item]:
    items: list[_Item | None] = []
    parsed: dict[str, list[tuple[int, policeuk.PoliceFile, ParsedText, str | None]]] = {}
    for pf in pfs:
        try:
            item = _read_file(pf, opts, kind, ctx, seen=seen)
        except InputError as err:
            items.append(err)
            break
        if isinstance(item, _Seen):
            items.append(item)
            continue
        found, text, file_force = item
        parsed.setdefault(found, []).append((len(items), pf, text, file_force))
        items.append(None)  # filled in below, once its kind's files are prepared
    for found, group in parsed.items():
        columns = [*policeuk.KIND_COLUMNS[found], ROW]
        raw = pa.concat_tables([p.table.select(columns) for _, _, p, _ in group])
        raw = raw.append_column(FILE, pa.array(np.repeat(
            np.arange(len(group), dtype=np.int32), [p.table.num_rows for _, _, p, _ in group])))  # fmt: skip
        staged = policeuk.stage(
            raw,
            found,
            forces=[file_force for _, _, _, file_force in group],
            months=[pf.month for _, pf, _, _ in group],
            timezone=ctx.timezone,
        )
        sources = [Source(pf.source.label, p.sha256, p.rows_read, p.bad_rows) for _, pf, p, _ in group]
        for (position, *_), prepared in zip(
            group, prepare(staged, sources, opts=opts, crs=ctx.crs), strict=False
        ):
            items[position] = prepared
    # In file order, up to and including the first file that failed.
    out: list[_Item] = []
    for item in items:
        if item is None:
            break  # after a failed file of another kind
        out.append(item)
        if isinstance(item, BaseException):
            break
    return out


def _read_file(
    pf: policeuk.PoliceFile, opts: LoadOptions, kind: str | None, ctx: _Context, *, seen: bool
) -> _Seen | tuple[str, ParsedText, str | None]:
    """One file read and parsed, with the checks that need no typing: its kind, force and rows."""
    label = pf.source.label
    data = pf.source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if not seen and digest in ctx.known_sha256:
        columns = header_of(data, label)
        return _Seen(pf, policeuk.detect_kind(columns, label, expected=kind or pf.kind), digest)
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
    return found, parsed, file_force


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
    (prepared,) = _prepare_batch([item.pf], opts, kind, ctx, seen=True)
    if isinstance(prepared, BaseException):
        raise prepared
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
    table = table.append_column(FILE, pa.array(np.zeros(table.num_rows, dtype=np.int32)))
    staged = policeuk.stage(table, kind, forces=[force], months=[None], timezone=get_setting(con, "timezone"))
    (prepared,) = prepare(
        staged,
        [Source(label, sha256, table.num_rows)],
        opts=opts,
        crs=get_setting(con, "crs"),
        source="police.uk-api",
        replace="keys",
    )
    if isinstance(prepared, InputError):
        raise prepared
    return commit(con, [prepared])[0]
