"""ANPR analyses for notebooks, the CLI and the web app: journeys, flows, county lines, co-travel.

Each function takes a DuckDB connection holding ``anpr_reads`` and ``anpr_cameras`` (a synthetic set, an
export) and an engine. A workspace's reads are analysed through ``ws.anpr.analyse(kind, actor=...,
purpose=..., since=...)``, which checks the window against the reach, logs the query with its purpose and
hands these functions a connection that sees only the reads inside the window. Engines: ``"duckdb"`` (the
default, nothing to start) or ``"spark"`` with ``master`` (``local[2]``, ``spark://host:7077``, or a Spark
Connect ``sc://host:15002``). For Spark the two tables are written to Parquet under ``spark_dir`` (the
workspace's outputs by default) and read from there; on a cluster, point ``spark_dir`` at storage every
node can read. Results are :class:`~safestreets.anpr.analyses.AnalysisResult` (``to_arrow()``,
``to_pandas()``, ``flagged()``, ``evidence``)::

    from safestreets import Workspace
    from safestreets.api import anpr_analyses

    ws = Workspace("my-workspace")
    ws.anpr.analyse("county-lines", actor="analyst", purpose="Op Orochi: lines into Kent",
                    metro_areas=["E09000001", "E09000002"]).flagged()
    anpr_analyses.co_travel(con, engine="spark", master="local[2]").to_pandas()  # con: any DuckDB connection
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import duckdb

from safestreets.anpr import analyses as an
from safestreets.anpr.analyses.fixture import export_parquet
from safestreets.errors import ParameterError
from safestreets.synthetic.anpr import AnprConfig, generate_anpr

EngineName = Literal["duckdb", "spark"]
Source = Any  # a Workspace or a duckdb connection (Workspace is not imported: it imports this layer)

#: The store setting that lists the metro area codes when a call does not name them (comma separated).
METRO_SETTING = "anpr_metro_areas"


def _connection(source: Source) -> duckdb.DuckDBPyConnection:
    if isinstance(source, duckdb.DuckDBPyConnection):
        return source
    if hasattr(source, "anpr"):  # a Workspace: its reads are personal data, queried with a purpose
        raise ParameterError("ANPR analyses of a workspace go through ws.anpr.analyse(kind, actor=..., "
                             "purpose=...): every query of reads is checked against the reach and logged")
    raise ParameterError("ANPR analyses: pass a DuckDB connection holding anpr_reads and anpr_cameras")


@contextmanager
def windowed(con: duckdb.DuckDBPyConnection, since: Any, until: Any = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the same store on which ``anpr_reads`` holds only the reads in ``[since, until)``: a
    temporary view of that name, private to the connection, shadows the table for every query on it."""
    from datetime import UTC

    def literal(at: Any) -> str:
        return f"TIMESTAMPTZ '{at.astimezone(UTC).isoformat()}'"  # a datetime's own text: nothing user-typed

    catalog = con.execute("SELECT current_database()").fetchall()[0][0]
    cur = con.cursor()
    try:
        cond = f"read_at >= {literal(since)}" + (f" AND read_at < {literal(until)}" if until is not None else "")
        cur.execute(f'CREATE TEMP VIEW anpr_reads AS SELECT * FROM "{catalog}".main.anpr_reads WHERE {cond}')
        yield cur
    finally:
        cur.close()


def _has_tables(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name IN ('anpr_reads', 'anpr_cameras')"
    ).fetchall()
    missing = {"anpr_reads", "anpr_cameras"} - {r[0] for r in rows}
    if missing:
        raise ParameterError(
            f"ANPR analyses: the store has no {', '.join(sorted(missing))}: load ANPR reads and cameras first"
        )


@contextmanager
def open_engine(source: Source, engine: EngineName = "duckdb", *, master: str = "local[2]",
                spark_dir: str | Path | None = None, timezone: str = "Europe/London") -> Iterator[an.Engine]:
    """An engine over ``source``'s ANPR tables, closed (Spark stopped) at the end of the block."""
    con = _connection(source)
    _has_tables(con)
    if engine == "duckdb":
        yield an.DuckDBEngine(con, timezone)
        return
    if engine != "spark":
        raise ParameterError(f"ANPR analyses: engine must be duckdb or spark, got {engine!r}")
    with tempfile.TemporaryDirectory(prefix="anpr-spark-", dir=_spark_dir(source, spark_dir)) as tmp:
        paths = export_parquet(con, tmp)
        spark = an.SparkEngine.start(master, timezone=timezone)
        try:
            for name, path in paths.items():
                spark.register_parquet(name, path)
            yield spark
        finally:
            spark.close()


def _spark_dir(source: Source, spark_dir: str | Path | None) -> str | None:
    if spark_dir is not None:
        Path(spark_dir).mkdir(parents=True, exist_ok=True)
        return str(spark_dir)
    outputs = getattr(source, "outputs", None)
    return str(outputs) if isinstance(outputs, Path) else None


def _metro(source: Source, metro_areas: list[str] | tuple[str, ...] | str | None) -> list[str]:
    if isinstance(metro_areas, str):
        metro_areas = [m.strip() for m in metro_areas.split(",") if m.strip()]
    if metro_areas:
        return list(metro_areas)
    con = _connection(source)
    try:
        row = con.execute("SELECT value FROM settings WHERE key = ?", [METRO_SETTING]).fetchall()
    except duckdb.Error:
        row = []
    if row and str(row[0][0]).strip():
        return [m.strip() for m in str(row[0][0]).split(",") if m.strip()]
    raise ParameterError(
        "county lines: name the metro area codes (--metro E09000001,E09000002) or store them in the "
        f"{METRO_SETTING!r} setting"
    )


def _run(source: Source, engine: EngineName, master: str, spark_dir: str | Path | None,
         fn: Callable[[an.Engine], an.AnalysisResult]) -> an.AnalysisResult:
    with open_engine(source, engine, master=master, spark_dir=spark_dir) as e:
        return fn(e)


def journeys(source: Source, *, gap_minutes: float = 30.0, engine: EngineName = "duckdb",
             master: str = "local[2]", spark_dir: str | Path | None = None) -> an.AnalysisResult:
    """Reads chained into trips (a gap over ``gap_minutes`` ends one)."""
    return _run(source, engine, master, spark_dir, lambda e: an.journeys(e, gap_minutes=gap_minutes))


def flows(source: Source, *, gap_minutes: float = 30.0, engine: EngineName = "duckdb",
          master: str = "local[2]", spark_dir: str | Path | None = None) -> an.AnalysisResult:
    """Trips between areas: origin area, destination area, trips, vehicles, mean minutes."""
    return _run(source, engine, master, spark_dir, lambda e: an.flows(e, gap_minutes=gap_minutes))


def county_lines(source: Source, *, metro_areas: list[str] | tuple[str, ...] | str | None = None,
                 params: an.CountyLinesParams | None = None, engine: EngineName = "duckdb",
                 master: str = "local[2]", spark_dir: str | Path | None = None) -> an.AnalysisResult:
    """County-lines indicators per vehicle, the score, the flag and the return trips behind it."""
    metro = _metro(source, metro_areas)
    p = params or an.CountyLinesParams()
    return _run(source, engine, master, spark_dir, lambda e: an.county_lines(e, metro, p))


def co_travel(source: Source, *, params: an.CoTravelParams | None = None, evidence: bool = True,
              engine: EngineName = "duckdb", master: str = "local[2]",
              spark_dir: str | Path | None = None) -> an.AnalysisResult:
    """Pairs of vehicles seen together more often than chance."""
    p = params or an.CoTravelParams()
    return _run(source, engine, master, spark_dir, lambda e: an.co_travel(e, p, evidence=evidence))


def synth_anpr(out_dir: str | Path, *, reads: int = 100_000, days: int = 28, seed: int = 0,
               progress: Callable[[int, int], None] | None = None) -> Any:
    """Write a synthetic ANPR set (reads, cameras, ground truth) under ``out_dir``; returns its manifest."""
    return generate_anpr(out_dir, AnprConfig(seed=seed, reads=reads, days=days), progress=progress)
