"""ANPR cameras and reads into the store: one batch per file, all or nothing, a re-run adds nothing.

Rows arrive typed and checked on their own (``sources.anpr``) and already pseudonymised (``anpr.pseudonym``):
this module never sees a clear plate. It adds the checks that need the store — a camera it does not know, a
time in the future or older than the retention period, the same vehicle at the same camera within a second
of a read before it (in the file or already stored) — sets bad rows aside in ``rejects`` (or refuses the
file), and stores the rest with their batch in one transaction. A file already loaded (same bytes, same
mapping) adds nothing, even after a purge: purged reads must not come back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from safestreets.errors import InputError, NoDataError
from safestreets.geo.project import lonlat_to_crs
from safestreets.sources.staged import ErrorRow
from safestreets.store import fetch_one, get_setting, one_row, register, set_setting, transaction
from safestreets.store.assign import locate_xy
from safestreets.store.batches import BatchRecord, find_loaded, next_batch_id, record_batch

KEY_SETTING = "anpr_key_id"
DUPLICATE = "the same vehicle at the same camera within a second of a read before it"
#: Reasons that set a row aside without refusing the file: they are how cameras behave, not bad input.
ASIDE_ALWAYS = (DUPLICATE,)


@dataclass
class AnprLoad:
    """What one load read, stored and set aside (rows_read = rows_loaded + rows_rejected)."""

    source: str
    kind: str
    batch_id: int | None = None
    skipped_as: int | None = None  # the earlier batch that already holds this exact file
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    out_of_order: int = 0  # loaded, counted: a read earlier than the one before it at its camera
    new_vehicles: int = 0
    first_read: datetime | None = None
    last_read: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


def check_key(con: duckdb.DuckDBPyConnection, key_id: str) -> None:
    """Refuse to mix pseudonyms of two keys in one store; the first load records its key's fingerprint."""
    row = fetch_one(con, "SELECT value FROM settings WHERE key = ?", [KEY_SETTING])
    if row is None:
        set_setting(con, KEY_SETTING, key_id)
    elif row[0] != key_id:
        raise InputError(
            "anpr key", f"the store's reads were pseudonymised with key {row[0]}, this key is {key_id}: "
            "use the workspace's own key file (keys/anpr.key or SAFESTREETS_ANPR_KEY)"
        )  # fmt: skip


def _refuse(label: str, errors: list[ErrorRow]) -> InputError:
    row, column, reason, value = errors[0]
    more = len({e[0] for e in errors})
    hint = f"; {more} rows have problems (--skip-bad-rows loads the rest)" if more > 1 else ""
    return InputError(label, reason + hint, row=row, column=column, value=value)


def _rejects(con: duckdb.DuckDBPyConnection, batch_id: int, errors: list[ErrorRow]) -> None:
    if not errors:
        return
    register(con, "_anpr_rejects", pa.table({
        "row_number": pa.array([e[0] for e in errors], pa.int64()),
        "column_name": pa.array([e[1] for e in errors], pa.string()),
        "value": pa.array([e[3] for e in errors], pa.string()),
        "reason": pa.array([e[2] for e in errors], pa.string()),
    }))  # fmt: skip
    try:
        con.execute(f"INSERT INTO rejects SELECT {batch_id}, row_number, column_name, value, reason FROM _anpr_rejects")
    finally:
        con.unregister("_anpr_rejects")


# --- cameras --------------------------------------------------------------------------------------


def load_cameras(
    con: duckdb.DuckDBPyConnection,
    table: pa.Table,
    errors: list[ErrorRow],
    *,
    label: str,
    sha256: str,
    rows_read: int,
    skip_bad_rows: bool = False,
) -> AnprLoad:
    """Store cameras (``sources.anpr.read_cameras``), replacing cameras with the same id."""
    result = AnprLoad(source=label, kind="anpr-cameras", rows_read=rows_read)
    previous = find_loaded(con, "anpr-cameras", sha256, {})
    if previous is not None:
        result.skipped_as = previous
        return result
    if errors and not skip_bad_rows:
        raise _refuse(label, errors)
    crs = get_setting(con, "crs")
    lon = table.column("lon").to_numpy(zero_copy_only=False).astype("float64")
    lat = table.column("lat").to_numpy(zero_copy_only=False).astype("float64")
    x, y = lonlat_to_crs(lon, lat, crs) if len(lon) else (np.array([]), np.array([]))
    area = table.column("area").to_pylist()
    missing = [i for i, a in enumerate(area) if a is None]
    if missing:
        found = _areas_at(con, x[missing], y[missing])
        for i, code in zip(missing, found, strict=True):
            area[i] = code
    rows = pa.table({
        "camera_id": table.column("camera_id"), "lon": lon, "lat": lat, "x": x, "y": y,
        "road": table.column("road"), "direction": table.column("direction"), "name": table.column("name"),
        "area_code": pa.array(area, pa.string()),
    })  # fmt: skip
    with transaction(con):
        batch_id = next_batch_id(con)
        register(con, "_anpr_cams", rows)
        try:
            con.execute("DELETE FROM anpr_cameras WHERE camera_id IN (SELECT camera_id FROM _anpr_cams)")
            con.execute(f"INSERT INTO anpr_cameras SELECT *, {batch_id} FROM _anpr_cams")
        finally:
            con.unregister("_anpr_cams")
        _rejects(con, batch_id, errors)
        result.batch_id, result.rows_loaded = batch_id, rows.num_rows
        result.rows_rejected = len({e[0] for e in errors})
        result.rejected_by_reason = dict(Counter(e[2] for e in errors))
        record_batch(con, batch_id, BatchRecord(kind="anpr-cameras", source=label, sha256=sha256,
                                                rows_read=rows_read, rows_loaded=result.rows_loaded,
                                                rows_rejected=result.rows_rejected))  # fmt: skip
    return result


def _areas_at(con: duckdb.DuckDBPyConnection, x: np.ndarray, y: np.ndarray) -> list[str | None]:
    """The borough (else LSOA) holding each point, from the loaded areas; None outside them all."""
    located = locate_xy(con, x, y)
    return [b or s for b, s in zip(located.column("p_borough").to_pylist(),
                                   located.column("p_lsoa").to_pylist(), strict=True)]  # fmt: skip


# --- reads ----------------------------------------------------------------------------------------


def store_reads(
    con: duckdb.DuckDBPyConnection,
    rows: pa.Table,
    sealed: pa.Table,
    errors: list[ErrorRow],
    *,
    label: str,
    sha256: str,
    params: dict[str, Any],
    rows_read: int,
    columns: dict[str, str],
    now: datetime,
    retention_days: int,
    future_seconds: float = 300.0,
    skip_bad_rows: bool = False,
    out_of_order: int = 0,
) -> AnprLoad:
    """Store pseudonymised reads: ``rows`` has ``_row, vehicle, read_at, camera_id, direction, confidence``;
    ``sealed`` has ``vehicle, sealed`` for the plates among them. ``errors`` are the rows the source already
    refused; ``columns`` names the file's read_at and camera_id columns for the rows refused here."""
    result = AnprLoad(source=label, kind="anpr-reads", rows_read=rows_read, out_of_order=out_of_order)
    previous = find_loaded(con, "anpr-reads", sha256, params)
    if previous is not None:
        result.skipped_as = previous
        return result
    (cameras,) = one_row(con, "SELECT count(*) FROM anpr_cameras")
    if not cameras:
        raise NoDataError("no ANPR cameras loaded: run 'safestreets anpr load-cameras cameras.csv' first")
    future = now + timedelta(seconds=future_seconds)
    oldest = now - timedelta(days=retention_days)
    register(con, "_anpr_in", rows)
    try:
        found = con.execute(
            f"""SELECT _row, k, col, reason, value FROM (
                SELECT _row, 0 AS k, ? AS col, 'no such camera (load it with anpr load-cameras)' AS reason,
                       i.camera_id AS value
                FROM _anpr_in i ANTI JOIN anpr_cameras c ON c.camera_id = i.camera_id
                UNION ALL SELECT _row, 1, ?, 'in the future (the clock is {now:%Y-%m-%d %H:%M:%S} UTC)',
                       strftime(read_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')
                FROM _anpr_in WHERE read_at > ?
                UNION ALL SELECT _row, 2, ?, 'older than the retention period ({retention_days} days)',
                       strftime(read_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')
                FROM _anpr_in WHERE read_at < ?) ORDER BY _row, k""",
            [columns["camera_id"], columns["read_at"], future, columns["read_at"], oldest],
        ).fetchall()
        errors = sorted(errors + [(int(r), c, reason, v) for r, _, c, reason, v in found], key=lambda e: e[0])
        if errors and not skip_bad_rows:
            raise _refuse(label, errors)
        # Row sets as tables and anti-joins: a list test per row would cost rows x bad rows.
        register(con, "_anpr_bad", pa.table({"_row": pa.array(sorted({e[0] for e in errors}), pa.int64())}))
        con.execute("CREATE OR REPLACE TEMP TABLE _anpr_ok AS SELECT * FROM _anpr_in ANTI JOIN _anpr_bad USING (_row)")
        con.unregister("_anpr_bad")
        # Duplicates: a read within a second of the one before it (same vehicle and camera), in this file
        # or already stored. The earliest of a burst is kept.
        dups = con.execute(
            """WITH span AS (SELECT min(read_at) - INTERVAL 1 SECOND AS lo, max(read_at) + INTERVAL 1 SECOND AS hi
                              FROM _anpr_ok),
                both_ AS (
                    SELECT _row, vehicle, camera_id, read_at FROM _anpr_ok
                    UNION ALL SELECT NULL, r.vehicle, r.camera_id, r.read_at FROM anpr_reads r, span
                    WHERE r.read_at BETWEEN span.lo AND span.hi
                      AND r.vehicle IN (SELECT vehicle FROM _anpr_ok)),
                ordered AS (
                    SELECT _row, camera_id, read_at, lag(read_at) OVER w AS before
                    FROM both_ WINDOW w AS (PARTITION BY vehicle, camera_id ORDER BY read_at, _row NULLS FIRST))
                SELECT _row, camera_id FROM ordered
                WHERE _row IS NOT NULL AND before IS NOT NULL AND read_at - before < INTERVAL 1 SECOND
                ORDER BY _row"""
        ).fetchall()
        dup_rows = pa.table({"_row": pa.array([int(r) for r, _ in dups], pa.int64())})
        aside = [(int(r), columns["camera_id"], DUPLICATE, cam) for r, cam in dups]
        errors = sorted(errors + aside, key=lambda e: e[0])
        with transaction(con):
            batch_id = next_batch_id(con)
            register(con, "_anpr_dup", dup_rows)
            con.execute(
                f"""INSERT INTO anpr_reads SELECT vehicle, read_at, camera_id, direction, confidence, {batch_id}
                    FROM _anpr_ok ANTI JOIN _anpr_dup USING (_row) ORDER BY read_at"""
            )
            con.unregister("_anpr_dup")
            (loaded, first, last) = one_row(
                con, "SELECT count(*), min(read_at), max(read_at) FROM anpr_reads WHERE batch_id = ?", [batch_id]
            )
            register(con, "_anpr_sealed", sealed)
            try:
                (before,) = one_row(con, "SELECT count(*) FROM anpr_plates")
                con.execute(
                    """INSERT INTO anpr_plates SELECT DISTINCT ON (s.vehicle) s.vehicle, s.sealed FROM _anpr_sealed s
                       WHERE s.vehicle IN (SELECT vehicle FROM anpr_reads WHERE batch_id = ?)
                       ON CONFLICT DO NOTHING""",
                    [batch_id],
                )
                (after,) = one_row(con, "SELECT count(*) FROM anpr_plates")
            finally:
                con.unregister("_anpr_sealed")
            _rejects(con, batch_id, errors)
            result.batch_id, result.rows_loaded = batch_id, int(loaded)
            result.rows_rejected = len({e[0] for e in errors})
            # One reason per rejected row for the reconciliation (its first); the rejects table has them all.
            first_reason: dict[int, str] = {}
            for r, _, reason, _ in errors:
                first_reason.setdefault(r, reason)
            result.rejected_by_reason = dict(Counter(first_reason.values()))
            result.new_vehicles = int(after) - int(before)
            result.first_read, result.last_read = first, last
            record_batch(con, batch_id, BatchRecord(
                kind="anpr-reads", source=label, sha256=sha256, params=params, rows_read=rows_read,
                rows_loaded=result.rows_loaded, rows_rejected=result.rows_rejected,
            ))  # fmt: skip
    finally:
        con.unregister("_anpr_in")
        con.execute("DROP TABLE IF EXISTS _anpr_ok")
    return result


# --- reading back, and retention ------------------------------------------------------------------


def known_vehicles(con: duckdb.DuckDBPyConnection, vehicles: pa.Array) -> pa.Array:
    """Those of ``vehicles`` whose sealed plate the store already holds."""
    register(con, "_anpr_v", pa.table({"vehicle": vehicles}))
    try:
        return con.sql("SELECT vehicle FROM anpr_plates SEMI JOIN _anpr_v USING (vehicle)").to_arrow_table().column(0)
    finally:
        con.unregister("_anpr_v")


def sealed_plates(con: duckdb.DuckDBPyConnection, vehicles: list[str]) -> dict[str, bytes]:
    if not vehicles:
        return {}
    register(con, "_anpr_want", pa.table({"vehicle": pa.array(vehicles, pa.string())}))
    try:
        rows = con.execute("SELECT vehicle, sealed FROM anpr_plates SEMI JOIN _anpr_want USING (vehicle)").fetchall()
    finally:
        con.unregister("_anpr_want")
    return {v: bytes(s) for v, s in rows}


def reads_of(
    con: duckdb.DuckDBPyConnection, vehicles: list[str], since: datetime, until: datetime | None = None
) -> pa.Table:
    """Reads of these vehicles from ``since`` (to ``until``), with their cameras, in time order."""
    register(con, "_anpr_want", pa.table({"vehicle": pa.array(vehicles, pa.string())}))
    try:
        return con.sql(
            """SELECT r.vehicle, r.read_at, r.camera_id, c.road, c.area_code, c.lon, c.lat, r.direction,
                      r.confidence
               FROM anpr_reads r SEMI JOIN _anpr_want w ON w.vehicle = r.vehicle
               LEFT JOIN anpr_cameras c ON c.camera_id = r.camera_id
               WHERE r.read_at >= $since AND ($until IS NULL OR r.read_at < $until)
               ORDER BY r.read_at, r.camera_id""",
            params={"since": since, "until": until},
        ).to_arrow_table()
    finally:
        con.unregister("_anpr_want")


def purge_due(con: duckdb.DuckDBPyConnection, before: datetime, *, dry_run: bool = False) -> dict[str, int]:
    """Delete reads older than ``before``, and the sealed plates of vehicles no read refers to any more.
    Returns what was (or, with ``dry_run``, would be) deleted; the batches stay, so a purged file loaded
    again adds nothing."""
    (reads,) = one_row(con, "SELECT count(*) FROM anpr_reads WHERE read_at < ?", [before])
    orphan = """SELECT count(*) FROM anpr_plates p WHERE NOT EXISTS
                (SELECT 1 FROM anpr_reads r WHERE r.vehicle = p.vehicle AND r.read_at >= ?)"""
    (plates,) = one_row(con, orphan, [before])
    if not dry_run and (reads or plates):
        with transaction(con):
            con.execute("DELETE FROM anpr_reads WHERE read_at < ?", [before])
            con.execute("DELETE FROM anpr_plates p WHERE NOT EXISTS (SELECT 1 FROM anpr_reads r WHERE r.vehicle = p.vehicle)")
    return {"reads": int(reads), "plates": int(plates)}


def summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    cams, reads, vehicles, first, last = one_row(
        con,
        """SELECT (SELECT count(*) FROM anpr_cameras), count(*), count(DISTINCT vehicle), min(read_at), max(read_at)
           FROM anpr_reads""",
    )
    return {"cameras": int(cams), "reads": int(reads), "vehicles": int(vehicles), "first_read": first,
            "last_read": last}  # fmt: skip


def cameras(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """The cameras (id, lon, lat, road, direction, name, area code), in id order: no reads, no vehicles."""
    return con.sql(
        "SELECT camera_id, lon, lat, road, direction, name, area_code FROM anpr_cameras ORDER BY camera_id"
    ).to_arrow_table()
