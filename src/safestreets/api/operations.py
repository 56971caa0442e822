"""Operations jobs of the API: record, edit, list, tallies (typed, or a CSV), and the results report.

The register lives in the operational database; areas, BCU names and the patrol plan an operation
followed come from the store, and are passed down to ``accountability.operations``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from safestreets.accountability import operations as ops
from safestreets.db import Database
from safestreets.errors import InputError, NotFoundError
from safestreets.sources.tallies import read_tallies


def known_areas(con: duckdb.DuckDBPyConnection | None) -> dict[str, tuple[str, str]]:
    """Lower-case code or name of each loaded BCU and borough -> (kind, code). BCUs win a shared name."""
    if con is None:
        return {}
    rows = con.execute(
        "SELECT kind, code, name FROM areas WHERE kind IN ('borough', 'bcu') ORDER BY kind DESC"
    ).fetchall()
    out: dict[str, tuple[str, str]] = {}
    for kind, code, name in rows:
        for key in (str(code).lower(), str(name or code).lower()):
            out[key] = (str(kind), str(code))
    return out


def known_bcus(con: duckdb.DuckDBPyConnection | None) -> dict[str, str]:
    return {k: code for k, (kind, code) in known_areas(con).items() if kind == "bcu"}


def bcu_names(con: duckdb.DuckDBPyConnection | None) -> dict[str, str]:
    if con is None:
        return {}
    return {
        str(c): str(n or c)
        for c, n in con.execute("SELECT code, name FROM areas WHERE kind = 'bcu'").fetchall()
    }


def _check_plan(con: duckdb.DuckDBPyConnection | None, plan_id: int | None) -> None:
    if plan_id is None or con is None:
        return
    if not con.execute("SELECT 1 FROM plan_runs WHERE plan_id = ?", [plan_id]).fetchall():
        raise NotFoundError(f"plan: no patrol plan {plan_id} in the store (see 'safestreets plan')")


def add_operation(db: Database, con: duckdb.DuckDBPyConnection | None, *, name: str, start: str | date,
                  end: str | date, areas: Sequence[str], tactics: Sequence[str], plan_id: int | None = None,
                  notes: str = "", actor: str) -> ops.Operation:  # fmt: skip
    parsed = ops.parse_areas(areas, known_areas(con))
    _check_plan(con, plan_id)
    return ops.add_operation(db, name=name, start=start, end=end, areas=parsed, tactics=tactics, plan_id=plan_id,
                             notes=notes, actor=actor)  # fmt: skip


def edit_operation(db: Database, con: duckdb.DuckDBPyConnection | None, op_id: int, *, actor: str,
                   areas: Sequence[str] | None = None, plan_id: int | None = None, **changes: Any) -> ops.Operation:  # fmt: skip
    if areas:
        changes["areas"] = ops.parse_areas(areas, known_areas(con))
    if plan_id is not None:
        _check_plan(con, plan_id)
        changes["plan_id"] = plan_id
    return ops.edit_operation(db, op_id, actor=actor, **changes)


def list_operations(db: Database) -> list[ops.Operation]:
    with db.session() as s:
        return ops.list_operations(s)


def operation(db: Database, ref: str | int) -> ops.Operation:
    with db.session() as s:
        return ops.find_operation(s, ref)


def operation_history(db: Database, ref: str | int) -> list[ops.Operation]:
    with db.session() as s:
        return ops.operation_history(s, ops.find_operation(s, ref).id)


def add_tallies(db: Database, con: duckdb.DuckDBPyConnection | None, ref: str | int | None, *,
                rows: Sequence[Mapping[str, Any]] | None = None, csv: str | Path | None = None,
                actor: str, source: str = "api") -> list[ops.Tally]:  # fmt: skip
    """Tallies typed (``rows``) or from a CSV: every row checked first; all stored, or none."""
    if csv is not None:
        table = read_tallies(csv)
        named = table.column("operation").to_pylist()
        given = {n for n in named if n}
        if ref is None:
            if len(given) != 1 or "" in named:
                row = next((i for i, n in enumerate(named, 1) if not n), None)
                raise InputError(csv, "name one operation: in every row, or with --operation", row=row,
                                 column="operation")  # fmt: skip
            ref = given.pop()
        op = operation(db, ref)
        for i, n in enumerate(named, 1):
            if n and n != str(op.id) and n.lower() != op.name.lower():
                raise InputError(csv, f"this file's tallies are for operation {op.id} {op.name!r}", row=i,
                                 column="operation", value=n)  # fmt: skip
        rows = table.drop_columns(["operation"]).to_pylist()
        source = Path(csv).name
    else:
        if ref is None:
            raise InputError(source, "name the operation", column="operation")
        op = operation(db, ref)
    return ops.add_tallies(
        db, op.id, rows or [], actor=actor, source=source, known_bcus=known_bcus(con) or None
    )


def correct_tally(db: Database, tally_id: int, changes: Mapping[str, Any], *, actor: str) -> ops.Tally:
    return ops.correct_tally(db, tally_id, changes, actor=actor)


def tallies(db: Database, ref: str | int, *, history: bool = False) -> list[ops.Tally]:
    with db.session() as s:
        return ops.operation_tallies(s, ops.find_operation(s, ref).id, history=history)


def planned_visits(con: duckdb.DuckDBPyConnection | None, plan_id: int | None) -> dict[tuple[str, date], int]:
    """Visits a stored patrol plan schedules, per (BCU, day)."""
    if con is None or plan_id is None:
        return {}
    rows = con.execute(
        "SELECT h.bcu, v.day, count(*) FROM plan_visits v JOIN (SELECT DISTINCT plan_id, team_id, unit_id, bcu "
        "FROM plan_hotspots WHERE plan_id = ?) h USING (plan_id, team_id, unit_id) WHERE v.plan_id = ? GROUP BY ALL",
        [plan_id, plan_id],
    ).fetchall()  # fmt: skip
    return {(str(b), d): int(n) for b, d, n in rows}


def operation_report(
    db: Database, con: duckdb.DuckDBPyConnection | None, ref: str | int
) -> ops.OperationReport:
    op = operation(db, ref)
    planned = planned_visits(con, op.plan_id)
    with db.session() as s:
        return ops.operation_report(s, op.id, planned or None, bcu_names(con))
