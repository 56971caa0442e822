"""Loading clean police.uk files straight through DuckDB, in parallel SQL from ``read_csv`` to the table.

The general path (``load.prepare``) parses with pyarrow and types in Python, file by file, which is what
an error message naming the row needs. Most files in a bulk archive have no bad row at all, and for them
DuckDB can do every step on all cores: a window of files is read by one ``read_csv``, typed, checked and
keyed by ``policeuk_sql`` into a temporary table per kind, and only when every row of every file passes
is anything stored, in one transaction, exactly as the general path would store it:

- checks: a file with any failing row, an unreadable row or no rows makes ``load_window`` return None
  with nothing stored, and the caller loads the window by the general path, which names file, row and
  column (or sets the rows aside with ``--skip-bad-rows``);
- keys: repeated keys within a file are numbered in content order (``load.repeat_suffixes_sql``;
  stop-and-search keys are derived by the store, which keeps only the number, ``key_repeat``);
- points: each distinct point is projected once with pyproj, then joined on;
- batches, month replacement and area assignment go through ``load.commit``.

Why temporary tables rather than one INSERT from ``read_csv``: the points must be projected (in
Python, by pyproj) before the rows are stored, and reading the text once more for its distinct points
cost what the temporary tables save (measured on the Met stop-and-search and synthetic files; in such an
INSERT DuckDB also builds its hash join on the CSV side, which it underestimates, unless told not to).
Projecting in SQL instead (pyproj's transform modelled by a polynomial per 0.1-degree cell, within a
micrometre) removes the second read, but then repeated keys can only be numbered after the rows are
stored, by an UPDATE, and an UPDATE of rows inserted in the same transaction makes DuckDB write the
whole window into its WAL at commit instead of pointing at the blocks already written: measured on
the Met stop-and-search, Met burglary and synthetic archives, no faster than the temporary tables.

Files qualify when their name gives kind, force and month (the archive's naming); ``ingest`` sends the
rest by the general path. DuckDB cannot read a zip member, so a member of the bulk archive is written
out as plain text for its window (``extract``, on workers while the window before loads) and the text
is removed once the window is stored (``make_spool``; a killed load's text is removed by the next);
the archive itself is never unpacked whole.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import shutil
import socket
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from safestreets.errors import InputError
from safestreets.geo.project import lonlat_to_crs
from safestreets.sources import policeuk
from safestreets.sources.csvread import TextSource, header_of
from safestreets.sources.keys import stop_same
from safestreets.sources.policeuk_sql import FILE_INDEX, KEEP, PROBLEM, SAME, literal, quote, stage_sql
from safestreets.store.load import (
    CONTENT,
    KEY_COLUMN,
    TARGET,
    LoadOptions,
    LoadResult,
    Prepared,
    commit,
    month_of_days,
    repeat_numbers_sql,
    repeat_suffixes_sql,
)

_EPOCH = np.datetime64("1970-01-01", "D")


@dataclass(frozen=True)
class DirectFile:
    """A police.uk file fit for the direct path: what its name and header say, and its bytes' hash."""

    pf: policeuk.PoliceFile
    kind: str
    header: tuple[str, ...]
    force: str
    month: str  # YYYY-MM
    path: Path  # where DuckDB reads the text: the file itself, or a zip member's extracted text
    sha256: Future[str]  # of the uncompressed bytes, as the general path records it; hashed meanwhile

    @property
    def label(self) -> str:
        return self.pf.source.label

    @property
    def extracted(self) -> bool:
        """Whether DuckDB reads a copy written out for it (a zip member's text)."""
        return self.path != self.pf.source.path


# Enough of a file's start to hold its header.
_HEAD_BYTES = 1 << 16


def head(
    pf: policeuk.PoliceFile,
    opts: LoadOptions,
    kind: str | None,
    start: Callable[[], tuple[Path, Future[str]]],
) -> DirectFile | None:
    """A file for the direct path, from its name and header, or None: no telling name, or a header the
    general path should explain. ``start`` says where DuckDB will read the text and starts hashing it
    (``sha256_of``, or ``extract`` for a zip member)."""
    src = pf.source
    force = opts.force or pf.force
    if pf.kind is None or pf.month is None or force is None:
        return None
    try:
        beginning = _beginning(src)
        header = header_of(beginning, src.label)
        found = policeuk.detect_kind(header, src.label, expected=kind or pf.kind)
    except (InputError, OSError, EOFError, zlib.error, zipfile.BadZipFile, KeyError):
        return None
    if len(set(header)) != len(header) or b"\n" not in beginning:
        return None
    path, sha256 = start()
    return DirectFile(pf, found, tuple(header), force, pf.month, path, sha256)


def _beginning(src: TextSource) -> bytes:
    """Enough of a file's text to hold its header."""
    with src.open_raw() as raw:
        if src.name.endswith(".gz"):
            with gzip.open(raw) as f:
                return f.read(_HEAD_BYTES)
        return raw.read(_HEAD_BYTES)


def sha256_of(pf: policeuk.PoliceFile) -> str:
    """sha256 of a file's uncompressed bytes (hashlib and zlib release the GIL: run it beside DuckDB)."""
    return hashlib.sha256(pf.source.read_bytes()).hexdigest()


# A spool folder's name starts with this, and it holds an owner file naming the host and process.
SPOOL_PREFIX = "safestreets-"
_OWNER = ".owner"


def make_spool() -> tempfile.TemporaryDirectory[str]:
    """A temporary folder (in ``TMPDIR``) for the text of zip members, removed when the load ends. A
    load killed before that leaves it behind, so each new spool first removes those of dead loads."""
    sweep_spools()
    spool = tempfile.TemporaryDirectory(prefix=SPOOL_PREFIX)
    (Path(spool.name) / _OWNER).write_text(f"{socket.gethostname()}\n{os.getpid()}\n", "utf-8")
    return spool


def sweep_spools(folder: Path | None = None) -> list[Path]:
    """Remove the spool folders in ``folder`` (default ``TMPDIR``) left by loads on this host whose
    process has ended (killed mid-load); folders without an owner file are not ours and are left."""
    removed = []
    for path in Path(folder or tempfile.gettempdir()).glob(SPOOL_PREFIX + "*"):
        try:
            host, pid = (path / _OWNER).read_text("utf-8").split()
            if host != socket.gethostname() or _alive(int(pid)):
                continue
        except (OSError, ValueError):  # no owner file (not a spool), or one being written
            continue
        shutil.rmtree(path, ignore_errors=True)  # another user's is not ours to remove, and stays
        if not path.exists():
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def extract(pf: policeuk.PoliceFile, target: Path) -> str:
    """Write a zip member's text to ``target`` for DuckDB to read; its sha256, as ``sha256_of``."""
    data = pf.source.read_bytes()
    target.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


@dataclass
class _Group:
    """Files of one kind and header, staged together in one temporary table."""

    table: str
    kind: str
    files: list[DirectFile]


def load_window(
    con: duckdb.DuckDBPyConnection, files: list[DirectFile], opts: LoadOptions, crs: str, seen: set[str]
) -> list[LoadResult] | None:
    """Stage, check and store ``files`` (each file whole, all in one transaction), or return None
    having stored nothing if any file needs the general path, including a file whose bytes are among
    ``seen`` or another file's of the window (the general path decides whether to skip it)."""
    groups: dict[tuple[str, tuple[str, ...]], _Group] = {}
    for f in files:
        g = groups.setdefault((f.kind, f.header), _Group(f"_direct_{len(groups)}", f.kind, []))
        g.files.append(f)
    try:
        return _load(con, list(groups.values()), files, opts, crs, seen)
    finally:
        for g in groups.values():
            con.execute(f"DROP TABLE IF EXISTS {g.table}")
        for name in ("_direct_files", "_direct_points", "_direct_batches"):
            with contextlib.suppress(duckdb.Error):  # not registered when the window stopped early
                con.unregister(name)


def _load(
    con: duckdb.DuckDBPyConnection,
    groups: list[_Group],
    files: list[DirectFile],
    opts: LoadOptions,
    crs: str,
    seen: set[str],
) -> list[LoadResult] | None:
    stats: dict[str, dict[int, tuple[int, int, int, list[Any]]]] = {}
    try:  # zip members must be written out before DuckDB reads them
        for f in files:
            if f.extracted:
                f.sha256.result()
    except (InputError, OSError):
        return None
    for g in groups:
        if not _stage(con, g, opts):
            return None
        found = _stats(con, g)
        if found is None:
            return None
        stats[g.table] = found
    # One transaction must not hold two files of one table, force and month: one would replace the other.
    held: dict[tuple[str, str, Any], int] = {}
    for g in groups:
        for i, f in enumerate(g.files):
            for month in stats[g.table][i][3]:
                if held.setdefault((TARGET[g.kind], f.force, month), id(f)) != id(f):
                    return None
    for g in groups:
        if g.kind != "outcomes":
            _number_repeats(con, g)
    _register_points(con, groups, crs)
    try:
        digests = [f.sha256.result() for f in files]
    except InputError:
        return None
    if len(set(digests)) < len(digests) or seen.intersection(digests):
        return None

    prepared: dict[int, Prepared] = {}
    for g in groups:
        for i, f in enumerate(g.files):
            read, kept, no_location, months = stats[g.table][i]
            result = LoadResult(source=f.label, kind=g.kind, rows_read=read, rows_loaded=kept,
                                rows_filtered=read - kept, rows_no_location=no_location)  # fmt: skip
            days = sorted(int((np.datetime64(m, "D") - _EPOCH).astype(int)) for m in months)
            result.months = [month_of_days(d) for d in days]
            result.forces = [f.force] if days else []
            prepared[id(f)] = Prepared(
                kind=g.kind, target=TARGET[g.kind], source="police.uk", replace="months",
                sha256=f.sha256.result(),
                params={"kind": g.kind, **opts.params()}, rows=None, errors=[], result=result,
                force_months={(f.force, d) for d in days}, staged=(g.table, i),
            )  # fmt: skip
    try:
        return commit(con, [prepared[id(f)] for f in files], insert=_insert)
    except Exception:  # the store refused the transaction: the general path stores the files before
        return None  # the one that fails, one at a time, and raises its error


def _stage(con: duckdb.DuckDBPyConnection, g: _Group, opts: LoadOptions) -> bool:
    """Read, type and check the group's files into its temporary table; False if DuckDB refuses a
    file (a row with the wrong number of fields, bytes that are not UTF-8, a broken gzip)."""
    paths = [str(f.path) for f in g.files]
    con.register("_direct_files", pa.table({
        "filename": pa.array(paths, pa.string()),
        "file_index": pa.array(np.arange(len(paths), dtype=np.int32)),
        "file_force": pa.array([f.force for f in g.files], pa.string()),
        "file_month": pa.array(np.array([f.month + "-01" for f in g.files], dtype="datetime64[D]")),
    }))  # fmt: skip
    columns = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in g.files[0].header) + "}"
    source = (
        f"read_csv($paths, columns = {columns}, header = true, auto_detect = false, delim = ',', "
        "quote = '\"', escape = '\"', filename = true, strict_mode = true, null_padding = false)"
    )
    sql = stage_sql(g.kind, source, "_direct_files", forces=_sorted(opts.forces), months=_sorted(opts.months))
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {g.table} AS {sql}", {"paths": paths})
    except duckdb.Error:
        return False
    return True


def _sorted(values: frozenset[str] | None) -> list[str] | None:
    return sorted(values) if values else None


def _stats(con: duckdb.DuckDBPyConnection, g: _Group) -> dict[int, tuple[int, int, int, list[Any]]] | None:
    """Per file: rows read, rows kept by the filters, kept rows without a point, and the months kept.
    None if any row fails a check or a file has no rows."""
    rows = con.execute(
        f"SELECT {FILE_INDEX}, count(*), count(*) FILTER ({KEEP}), "
        f"count(*) FILTER ({KEEP} AND lon IS NULL), list(DISTINCT month) FILTER ({KEEP}), "
        f"count(*) FILTER ({PROBLEM}) FROM {g.table} GROUP BY {FILE_INDEX}"
    ).fetchall()
    if len(rows) != len(g.files) or any(r[5] for r in rows):
        return None
    return {
        int(r[0]): (int(r[1]), int(r[2]), int(r[3]), [m for m in r[4] or [] if m is not None]) for r in rows
    }


def _number_repeats(con: duckdb.DuckDBPyConnection, g: _Group) -> None:
    """Repeated keys within a file become key#2, key#3... in content order, as ``load`` numbers them
    (stop-and-search rows: ``key_repeat`` 2, 3... for rows that say the same)."""
    content = CONTENT[TARGET[g.kind]]
    if g.kind == "stop-and-search":
        candidates = (
            f"(SELECT rowid AS i, {FILE_INDEX} AS f, {', '.join(content)} FROM {g.table} WHERE {KEEP} AND "
            f"{SAME} IN (SELECT {SAME} FROM {g.table} WHERE {KEEP} GROUP BY 1 HAVING count(*) > 1))"
        )
        numbers, column, value = repeat_numbers_sql(candidates, stop_same(), content), "key_repeat", "n.n"
    else:
        candidates = (
            f"(SELECT rowid AS i, {FILE_INDEX} AS f, key0 AS key, {', '.join(content)} "
            f"FROM {g.table} WHERE {KEEP} AND hash({FILE_INDEX}, key0) IN (SELECT hash({FILE_INDEX}, key0) "
            f"FROM {g.table} WHERE {KEEP} AND key0 IS NOT NULL GROUP BY 1 HAVING count(*) > 1))"
        )
        numbers, column, value = repeat_suffixes_sql(candidates, content), "key0", "n.k"
    con.execute(f"UPDATE {g.table} SET {column} = {value} FROM ({numbers}) AS n WHERE {g.table}.rowid = n.i")


def _register_points(con: duckdb.DuckDBPyConnection, groups: list[_Group], crs: str) -> None:
    """``_direct_points``: every distinct kept point of the window, projected once."""
    union = " UNION ".join(
        f"SELECT DISTINCT lon, lat FROM {g.table} WHERE {KEEP} AND lon IS NOT NULL AND lat IS NOT NULL"
        for g in groups
    )
    points = con.sql(union).to_arrow_table()
    lon = points.column("lon").to_numpy()
    lat = points.column("lat").to_numpy()
    x, y = lonlat_to_crs(lon, lat, crs)
    con.register("_direct_points", pa.table({"lon": lon, "lat": lat, "x": x, "y": y}))


def _insert(con: duckdb.DuckDBPyConnection, target: str, members: list[tuple[int, Prepared]]) -> None:
    """Insert the members' staged rows, with their batch ids and projected points."""
    by_table: dict[str, list[tuple[int, int]]] = {}
    for batch_id, p in members:
        assert p.staged is not None
        by_table.setdefault(p.staged[0], []).append((p.staged[1], batch_id))
    key = KEY_COLUMN.get(target)
    for table, pairs in by_table.items():
        con.register("_direct_batches", pa.table({
            FILE_INDEX: pa.array([i for i, _ in pairs], pa.int32()),
            "batch_id": pa.array([b for _, b in pairs], pa.int32()),
        }))  # fmt: skip
        internal = [FILE_INDEX, PROBLEM, KEEP] + ([SAME] if target == "stop_searches" else ["key0"])
        key_sql = f", d.key0 AS {quote(key)}" if key else ""
        if target == "events":  # the key is stored only where it is not the Crime ID (migration 0004)
            key_sql = ", CASE WHEN d.key0 IS DISTINCT FROM d.crime_id THEN d.key0 END AS event_key"
        con.execute(
            f"INSERT INTO {target} BY NAME SELECT d.* EXCLUDE ({', '.join(internal)}){key_sql}, "
            f"p.x, p.y, b.batch_id, 'police.uk' AS source FROM {table} AS d "
            f"JOIN _direct_batches AS b USING ({FILE_INDEX}) "
            f"LEFT JOIN _direct_points AS p ON d.lon = p.lon AND d.lat = p.lat WHERE d.{KEEP}"
        )
