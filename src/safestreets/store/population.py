"""Census populations by area and ethnic group in the store (``population_ethnicity``).

The table read by ``sources.census`` is matched to the boroughs loaded in the store before anything is
written: a local-authority row by its code, an MSOA by the borough its name starts with ("Barking and
Dagenham 001"), since the MSOA boundaries carry no parent code. A table that matches no loaded borough, or
that leaves a loaded borough without people, is refused with the field named, and the store is unchanged.
Rows for areas outside the loaded boroughs (the rest of England and Wales) are not kept.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from safestreets.errors import InputError, NoDataError
from safestreets.store import register, transaction

FIELDS = {"lad": "area_code", "msoa": "geography code"}  # the field that names the area, as published


def boroughs(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Loaded boroughs (local authorities): code -> name."""
    rows = con.execute("SELECT code, name FROM areas WHERE kind = 'borough' ORDER BY code").fetchall()
    return {str(c): str(n or c) for c, n in rows}


def _borough_of_msoa(names: list[str], by_name: dict[str, str]) -> list[str | None]:
    out: list[str | None] = []
    for name in names:
        stem = name.rsplit(" ", 1)[0] if name and name[-1:].isdigit() else name
        out.append(by_name.get((stem or "").lower()))
    return out


def load_population(con: duckdb.DuckDBPyConnection, table: pa.Table, source: str | Path) -> dict[str, Any]:
    """Match ``table`` (``sources.census.read_ts021``) to the loaded boroughs and store it, replacing an
    earlier load of the same level. Returns counts: ``level, areas, boroughs, population, outside``."""
    loaded = boroughs(con)
    if not loaded:
        raise NoDataError(
            "no boroughs in the store: load borough boundaries first ('safestreets areas load')"
        )
    level = str(table.column("level")[0].as_py())
    field = FIELDS[level]
    codes = table.column("area_code").to_pylist()
    if level == "lad":
        parent: list[str | None] = [c if c in loaded else None for c in codes]
    else:
        by_name = {n.lower(): c for c, n in loaded.items()}
        parent = _borough_of_msoa(table.column("area_name").to_pylist(), by_name)
    keep = pa.array([p is not None for p in parent])
    if not pc.any(keep).as_py():
        example = ", ".join(sorted(set(codes))[:3])
        raise InputError(
            source,
            f"no area matches a loaded borough ({len(loaded)} loaded, e.g. {next(iter(loaded))}); the table's "
            f"areas are {example}...",
            column=field,
        )
    matched = {p for p in parent if p is not None}
    lacking = sorted(set(loaded) - matched)
    if lacking:
        shown = ", ".join(f"{c} {loaded[c]}" for c in lacking[:4]) + (" ..." if len(lacking) > 4 else "")
        raise InputError(
            source, f"{len(lacking)} loaded borough(s) have no rows in the table: {shown}", column=field
        )
    kept = table.append_column("borough_code", pa.array(parent, pa.string())).filter(keep)
    with transaction(con):
        register(con, "_ss_population", kept)
        try:
            con.execute("DELETE FROM population_ethnicity WHERE level = ?", [level])
            con.execute(
                "INSERT INTO population_ethnicity SELECT level, area_code, area_name, borough_code, ethnic_group, "
                "population, ?, now() FROM _ss_population",
                [str(source)],
            )
        finally:
            con.unregister("_ss_population")
    return {
        "level": level,
        "areas": len({c for c, p in zip(codes, parent, strict=True) if p}),
        "boroughs": len(matched),
        "population": int(pc.sum(kept.column("population")).as_py() or 0),
        "outside": len(set(codes)) - len({c for c, p in zip(codes, parent, strict=True) if p}),
    }


def population_by_borough(con: duckdb.DuckDBPyConnection, level: str | None = None) -> pa.Table:
    """``borough_code, ethnic_group, population`` from the preferred loaded level (LA counts are the
    published ones; MSOA sums differ by a few people per cell, from the census's cell perturbation)."""
    levels = [r[0] for r in con.execute("SELECT DISTINCT level FROM population_ethnicity").fetchall()]
    if not levels:
        return pa.table({"borough_code": pa.array([], pa.string()), "ethnic_group": pa.array([], pa.string()),
                         "population": pa.array([], pa.int64())})  # fmt: skip
    chosen = level if level in levels else ("lad" if "lad" in levels else levels[0])
    con.complete()
    return con.sql(
        "SELECT borough_code, ethnic_group, sum(population)::BIGINT AS population FROM population_ethnicity "
        f"WHERE level = '{'lad' if chosen == 'lad' else 'msoa'}' GROUP BY ALL ORDER BY ALL"
    ).to_arrow_table()
