"""Areas in the store: load boundaries and the borough -> BCU lookup, then re-assign every row.

``sources.boundaries`` reads the files into Arrow tables; ``load_areas`` writes either kind in one
transaction, fills the parents and BCU shapes that follow from it, records the batch and re-assigns
events, outcomes and stop-searches to their areas (``store.assign``).
"""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from safestreets.errors import InputError
from safestreets.sources.boundaries import AREA_SCHEMA, BCU_LOOKUP_SCHEMA
from safestreets.store import one_row, register, transaction
from safestreets.store.assign import TABLES as _ASSIGNED_TABLES
from safestreets.store.assign import assign_areas, locate
from safestreets.store.batches import BatchRecord, find_live_batch, next_batch_id, record_batch


def load_areas(
    con: duckdb.DuckDBPyConnection,
    table: pa.Table,
    *,
    source: str,
    sha256: str | None,
    params: dict[str, Any],
) -> int:
    """Write areas (or a BCU lookup) and re-assign events, all in one transaction; return the batch id.

    Areas are upserted by (kind, code). A load that names no parent keeps the parent already stored, so
    the BCU lookup and the borough boundaries can be loaded in either order. Loading the same bytes with
    the same options again returns the earlier batch id and changes nothing.
    """
    is_lookup = "bcu_code" in table.column_names
    with transaction(con):
        earlier = find_live_batch(con, "areas", "areas", sha256, params)
        if earlier is not None:
            return earlier
        batch_id = next_batch_id(con)
        if is_lookup:
            loaded, replaced, kinds = _load_bcu_lookup(con, table, source, batch_id)
        else:
            loaded, replaced, kinds = _upsert_areas(con, table, source, batch_id)
        _fill_missing_parents(con)
        if kinds & {"borough", "bcu"}:
            _refresh_bcu_geometry(con)
        record_batch(
            con,
            batch_id,
            BatchRecord(
                kind="areas",
                source=source,
                sha256=sha256,
                params=params,
                rows_read=table.num_rows,
                rows_loaded=loaded,
                rows_replaced=replaced,
            ),
        )
        for name in _ASSIGNED_TABLES:
            assign_areas(con, name)
    return batch_id


def _upsert_areas(
    con: duckdb.DuckDBPyConnection, table: pa.Table, source: str, batch_id: int
) -> tuple[int, int, set[str]]:
    missing = [c for c in AREA_SCHEMA.names if c not in table.column_names]
    if missing:
        raise InputError(source, f"not an areas table: missing columns {', '.join(missing)}")
    table = table.select(AREA_SCHEMA.names).cast(AREA_SCHEMA)
    if table.num_rows == 0:
        raise InputError(source, "no areas to load")
    keys = pc.binary_join_element_wise(table.column("kind"), table.column("code"), "\x1f")
    if pc.count_distinct(keys).as_py() != table.num_rows:
        raise InputError(source, "duplicate (kind, code) pairs: codes must be unique within a kind")
    register(con, "_ss_incoming_areas", table)
    try:
        (replaced,) = one_row(
            con, "SELECT count(*) FROM areas a JOIN _ss_incoming_areas i USING (kind, code)"
        )
        cols = ", ".join(AREA_SCHEMA.names)
        updates = ", ".join(
            f"{c} = excluded.{c}" for c in AREA_SCHEMA.names if c not in ("kind", "code", "parent")
        )
        con.execute(
            f"INSERT INTO areas ({cols}, batch_id) SELECT {cols}, $1 FROM _ss_incoming_areas "
            f"ON CONFLICT (kind, code) DO UPDATE SET {updates}, "
            "parent = coalesce(excluded.parent, areas.parent), batch_id = excluded.batch_id",
            [batch_id],
        )
        kinds = {str(k) for k in pc.unique(table.column("kind")).to_pylist()}
    finally:
        con.unregister("_ss_incoming_areas")
    return table.num_rows, int(replaced), kinds


def _load_bcu_lookup(
    con: duckdb.DuckDBPyConnection, table: pa.Table, source: str, batch_id: int
) -> tuple[int, int, set[str]]:
    """Upsert the BCUs, point each borough's parent at its BCU, and add boroughs not loaded yet.

    Boroughs not yet loaded get a row without geometry, so code-based assignment finds their BCU and a
    later boundary load (which names no parent) keeps it.
    """
    table = table.select(BCU_LOOKUP_SCHEMA.names).cast(BCU_LOOKUP_SCHEMA)
    rows = table.to_pylist()
    boroughs = con.execute("SELECT code, name FROM areas WHERE kind = 'borough'").fetchall()
    by_code = {str(code): str(code) for code, _ in boroughs}
    by_name = {str(name).strip().lower(): str(code) for code, name in boroughs if name}
    links: dict[str, tuple[str | None, str]] = {}
    unresolved = []
    for r in rows:
        code = r["borough_code"]
        if code is None:
            code = by_name.get((r["borough_name"] or "").strip().lower())
        if code is None:
            unresolved.append(r["borough_name"])
            continue
        links[code] = (r["borough_name"], r["bcu_code"])
    if unresolved:
        raise InputError(
            source,
            f"{len(unresolved)} boroughs named without a code match no loaded borough "
            f"({', '.join(map(str, unresolved[:5]))}): load the borough boundaries first or add codes",
        )
    bcus = {r["bcu_code"]: r["bcu_name"] for r in rows}
    (replaced,) = one_row(
        con,
        "SELECT count(*) FROM areas WHERE kind = 'bcu' AND list_contains($1::VARCHAR[], code)",
        [list(bcus)],
    )
    con.executemany(
        "INSERT INTO areas (code, name, kind, batch_id) VALUES (?, ?, 'bcu', ?) "
        "ON CONFLICT (kind, code) DO UPDATE SET name = excluded.name, batch_id = excluded.batch_id",
        [[code, name, batch_id] for code, name in sorted(bcus.items())],
    )
    new = [[code, name, bcu, batch_id] for code, (name, bcu) in links.items() if code not in by_code]
    if new:
        con.executemany(
            "INSERT INTO areas (code, name, kind, parent, batch_id) VALUES (?, ?, 'borough', ?, ?)", new
        )
    known = [[bcu, code] for code, (_, bcu) in links.items() if code in by_code]
    if known:
        con.executemany("UPDATE areas SET parent = ? WHERE kind = 'borough' AND code = ?", known)
    return len(bcus) + len(new), int(replaced), {"bcu", "borough"}


def _fill_missing_parents(con: duckdb.DuckDBPyConnection) -> None:
    """Give areas loaded without a parent field the borough that holds them.

    ONS's own LSOA and MSOA boundary downloads carry no local authority field; without a parent their
    codes would place events in no borough. An area goes to the borough holding a point inside it.
    """
    rows = con.execute(
        "SELECT kind, code, geometry FROM areas WHERE parent IS NULL AND geometry IS NOT NULL "
        "AND kind NOT IN ('borough', 'bcu')"
    ).fetchall()
    if not rows:
        return
    boroughs = con.execute(
        "SELECT code, geometry FROM areas WHERE kind = 'borough' AND geometry IS NOT NULL ORDER BY code"
    ).fetchall()
    if not boroughs:
        return
    inside = shapely.point_on_surface(shapely.from_wkb([r[2] for r in rows]))
    idx = locate(shapely.get_x(inside), shapely.get_y(inside), shapely.from_wkb([b[1] for b in boroughs]))
    found = idx >= 0
    if not found.any():
        return
    parents = pa.table(
        {
            "kind": pa.array([r[0] for r, ok in zip(rows, found, strict=True) if ok], pa.string()),
            "code": pa.array([r[1] for r, ok in zip(rows, found, strict=True) if ok], pa.string()),
            "parent": pa.array([boroughs[i][0] for i in idx[found]], pa.string()),
        }
    )
    register(con, "_ss_parents", parents)
    try:
        con.execute(
            "UPDATE areas SET parent = p.parent FROM _ss_parents p "
            "WHERE areas.kind = p.kind AND areas.code = p.code"
        )
    finally:
        con.unregister("_ss_parents")


def _refresh_bcu_geometry(con: duckdb.DuckDBPyConnection) -> None:
    """A BCU's shape is the union of its boroughs' shapes (NULL until some borough has one)."""
    # Area is the boroughs' sum: the union's own area would gain or lose shared-edge slivers.
    rows = con.execute(
        "SELECT b.code, list(a.geometry) FILTER (WHERE a.geometry IS NOT NULL), sum(a.area_m2) "
        "FROM areas b LEFT JOIN areas a ON a.kind = 'borough' AND a.parent = b.code "
        "WHERE b.kind = 'bcu' GROUP BY b.code ORDER BY b.code"
    ).fetchall()
    if not rows:
        return
    names = ("geometry", "xmin", "ymin", "xmax", "ymax", "area_m2")
    out: dict[str, list[Any]] = {c: [] for c in ("code", *names)}
    for code, parts, area in rows:
        out["code"].append(code)
        if not parts:
            for c in names:
                out[c].append(None)
            continue
        geom = shapely.union_all(shapely.from_wkb(parts))
        xmin, ymin, xmax, ymax = (float(v) for v in shapely.bounds(geom))
        for c, v in zip(names, (shapely.to_wkb(geom), xmin, ymin, xmax, ymax, area), strict=True):
            out[c].append(v)
    shapes = pa.table(
        out,
        schema=pa.schema(
            [("code", pa.string()), ("geometry", pa.binary())] + [(c, pa.float64()) for c in names[1:]]
        ),
    )
    register(con, "_ss_bcu_shapes", shapes)
    try:
        con.execute(
            "UPDATE areas SET geometry = s.geometry, xmin = s.xmin, ymin = s.ymin, xmax = s.xmax, "
            "ymax = s.ymax, area_m2 = s.area_m2 FROM _ss_bcu_shapes s "
            "WHERE areas.kind = 'bcu' AND areas.code = s.code"
        )
    finally:
        con.unregister("_ss_bcu_shapes")
