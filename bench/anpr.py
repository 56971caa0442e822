"""Benchmark of the ANPR analyses on synthetic reads, DuckDB and Spark local[2] side by side.

    .venv/bin/python bench/anpr.py                       # 10M reads over 28 days; replaces "## ANPR"
    .venv/bin/python bench/anpr.py --reads 1000000 --quick   # a smoke run, docs left alone

Steps: generate the synthetic set (chunked Parquet), load it into a DuckDB file as the analyses' input
tables (``anpr_reads`` with an md5 of the plate as the pseudonym, ``anpr_cameras``), match a 1,000-vehicle
hotlist against the whole history, then time journeys, flows, county lines and co-travel on DuckDB over
everything and, on the first ``--spark-days`` days, on DuckDB and Spark ``local[2]`` alike (Spark on the
full set would not fit the time a shared two-core machine allows). Precision and recall are measured
against the planted ground truth. From the per-core rates, the section projects the cores national
volume would need (50 million reads a day, 12 months kept).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import DATA, command_line, fmt_count, machine_markdown, markdown_table, today, write_section
from safestreets.anpr.analyses import (
    AnalysisResult,
    DuckDBEngine,
    Engine,
    SparkEngine,
    co_travel,
    county_lines,
    flows,
    journeys,
)
from safestreets.anpr.analyses.fixture import export_parquet, load_synthetic
from safestreets.synthetic.anpr import AnprConfig, generate_anpr

TITLE = "ANPR analyses"
CORES = 2
MEMORY = "6GB"
NATIONAL_PER_DAY = 50_000_000
NATIONAL_YEAR = NATIONAL_PER_DAY * 365

HOTLIST = """
SELECT COUNT(*) AS matches, COUNT(DISTINCT r.vehicle) AS vehicles
FROM anpr_reads r JOIN anpr_hotlist h ON h.vehicle = r.vehicle
"""


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def limit_duckdb(con: duckdb.DuckDBPyConnection, work: Path) -> None:
    """Two threads and a memory cap (the machine is shared): past it DuckDB spills to disk."""
    con.execute(f"SET threads = {CORES}").fetchall()
    con.execute(f"SET memory_limit = '{MEMORY}'").fetchall()
    con.execute(f"SET temp_directory = '{work / 'spill'}'").fetchall()
    con.execute("SET preserve_insertion_order = false").fetchall()


def make_hotlist(con: duckdb.DuckDBPyConnection) -> None:
    """1,000 vehicles of interest: 900 that pass the cameras and 100 that never do."""
    con.execute(
        """
        CREATE OR REPLACE TABLE anpr_hotlist AS
        SELECT vehicle FROM (SELECT DISTINCT vehicle FROM anpr_reads) ORDER BY md5(vehicle) LIMIT 900
        """
    ).fetchall()
    con.execute(
        "INSERT INTO anpr_hotlist SELECT md5('absent-' || CAST(i AS VARCHAR)) FROM range(100) t(i)"
    ).fetchall()


def run_all(engine: Engine, metro: list[str]) -> dict[str, tuple[AnalysisResult | Any, float]]:
    steps: dict[str, Callable[[], Any]] = {
        "hotlist match": lambda: engine.result(HOTLIST),
        "journeys": lambda: journeys(engine),
        "flows": lambda: flows(engine),
        "county lines": lambda: county_lines(engine, metro),
        "co-travel": lambda: co_travel(engine, evidence=False),
    }
    out: dict[str, tuple[Any, float]] = {}
    for name, step in steps.items():
        out[name] = timed(step)
        print(f"  {engine.name:7s} {name:14s} {out[name][1]:8.1f} s  (load {load()})", flush=True)
    return out


def scores(results: dict[str, tuple[Any, float]], truth: dict[str, Any]) -> dict[str, tuple[float, float, int]]:
    cl = results["county lines"][0].flagged()
    found = set(cl["vehicle"].to_pylist())
    want = {md5(v["plate"]) for v in truth["county_lines"]}
    ct = results["co-travel"][0].flagged()
    pairs = set(zip(ct["vehicle_a"].to_pylist(), ct["vehicle_b"].to_pylist(), strict=True))
    want_pairs = set()
    for g in truth["co_travel_groups"]:
        m = sorted(md5(p) for p in g["plates"])
        want_pairs |= {(a, b) for i, a in enumerate(m) for b in m[i + 1 :]}

    def pr(f: set[Any], w: set[Any]) -> tuple[float, float, int]:
        hit = len(f & w)
        return (hit / len(f) if f else 1.0), (hit / len(w) if w else 1.0), len(w)

    return {"county lines": pr(found, want), "co-travel": pr(pairs, want_pairs)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", type=int, default=10_000_000)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--spark-days", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="do not write docs/benchmarks.md")
    ap.add_argument("--no-spark", action="store_true")
    args = ap.parse_args()
    load_start = load()
    work = DATA / f"anpr-{args.reads}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    config = AnprConfig(reads=args.reads, days=args.days)
    print(f"generating {args.reads:,} reads over {args.days} days ...", flush=True)
    manifest, gen_s = timed(lambda: generate_anpr(work / "synth", config))
    print(f"  {manifest.reads:,} reads in {gen_s:.1f} s ({manifest.chunks} chunks)", flush=True)

    con = duckdb.connect(str(work / "anpr.duckdb"))
    limit_duckdb(con, work)
    truth, ingest_s = timed(lambda: load_synthetic(con, work / "synth"))
    n_reads = con.execute("SELECT COUNT(*) FROM anpr_reads").fetchall()[0][0]
    n_vehicles = con.execute("SELECT COUNT(DISTINCT vehicle) FROM anpr_reads").fetchall()[0][0]
    make_hotlist(con)
    metro = list(truth["metro_area_codes"])
    print(f"loaded {n_reads:,} reads ({n_vehicles:,} vehicles) in {ingest_s:.1f} s", flush=True)
    duck = DuckDBEngine(con)
    full = run_all(duck, metro)
    quality = scores(full, truth)

    # The Spark comparison: the first spark_days days, on both engines.
    sub_reads, sub_duck, sub_spark, spark_start = 0, {}, {}, 0.0
    if not args.no_spark:
        first = con.execute("SELECT MIN(read_at) FROM anpr_reads").fetchall()[0][0]
        sub = duckdb.connect()
        limit_duckdb(sub, work)
        for name, sql in (
            ("anpr_reads", f"SELECT * FROM anpr_reads WHERE read_at < TIMESTAMPTZ '{first.isoformat()}' "
                           f"+ INTERVAL {int(args.spark_days)} DAY"),
            ("anpr_cameras", "SELECT * FROM anpr_cameras"),
            ("anpr_hotlist", "SELECT * FROM anpr_hotlist"),
        ):
            sub.register("src", con.sql(sql).to_arrow_table())
            sub.execute(f"CREATE TABLE {name} AS SELECT * FROM src").fetchall()
            sub.unregister("src")
        sub_reads = sub.execute("SELECT COUNT(*) FROM anpr_reads").fetchall()[0][0]
        paths = export_parquet(sub, work / "spark")
        hot = work / "spark" / "anpr_hotlist.parquet"
        sub.execute(f"COPY anpr_hotlist TO '{hot}' (FORMAT parquet)").fetchall()
        print(f"subset of {sub_reads:,} reads for the engine comparison", flush=True)
        sub_duck = run_all(DuckDBEngine(sub), metro)
        spark, spark_start = timed(lambda: SparkEngine.start(f"local[{CORES}]", driver_memory="4g"))
        for name, path in {**paths, "anpr_hotlist": hot}.items():
            spark.register_parquet(name, path)
        sub_spark = run_all(spark, metro)
        spark.close()
    load_end = load()

    body = section(args, manifest, gen_s, ingest_s, n_reads, n_vehicles, full, quality, sub_reads, sub_duck,
                   sub_spark, spark_start, load_start, load_end)
    print(body)
    if not args.quick:
        write_section(TITLE, body)


def rate(reads: int, secs: float | None) -> float | None:
    return reads / secs / CORES if secs else None


def section(args: argparse.Namespace, manifest: Any, gen_s: float, ingest_s: float, n_reads: int,
            n_vehicles: int, full: dict[str, Any], quality: dict[str, Any], sub_reads: int,
            sub_duck: dict[str, Any], sub_spark: dict[str, Any], spark_start: float, load_start: str,
            load_end: str) -> str:
    rows = [
        ["generate (numpy, one process)", fmt_count(manifest.reads), f"{gen_s:.1f}",
         fmt_count(manifest.reads / gen_s), "", "", "", ""],
        ["load into DuckDB (pseudonym = md5)", fmt_count(n_reads), f"{ingest_s:.1f}",
         fmt_count(rate(n_reads, ingest_s)), "", "", "", ""],
    ]
    for name, (_, secs) in full.items():
        d = sub_duck.get(name, (None, None))[1]
        s = sub_spark.get(name, (None, None))[1]
        rows.append([
            name, fmt_count(n_reads), f"{secs:.1f}", fmt_count(rate(n_reads, secs)),
            f"{d:.1f}" if d else "–", f"{s:.1f}" if s else "–", fmt_count(rate(sub_reads, d)),
            fmt_count(rate(sub_reads, s)),
        ])
    table = markdown_table(
        ["step", "reads", "DuckDB s", "DuckDB reads/s/core", f"DuckDB s ({fmt_count(sub_reads)})",
         f"Spark s ({fmt_count(sub_reads)})", "DuckDB reads/s/core (subset)", "Spark reads/s/core"],
        rows, [False, True, True, True, True, True, True, True],
    )
    q_rows = [[k, f"{p:.2f}", f"{r:.2f}", str(n)] for k, (p, r, n) in quality.items()]
    q_table = markdown_table(["pattern", "precision", "recall", "planted"], q_rows, [False, True, True, True])

    proj_rows = []
    for name, (_, secs) in full.items():
        d_rate = rate(n_reads, secs)
        s_secs = sub_spark.get(name, (None, None))[1]
        s_rate = rate(sub_reads, s_secs)
        cells = [name]
        for r in (d_rate, s_rate):
            if not r:
                cells += ["–", "–"]
                continue
            core_h = NATIONAL_YEAR / r / 3600
            cells += [fmt_count(core_h), fmt_count(math.ceil(NATIONAL_PER_DAY / r / 600))]
        proj_rows.append(cells)
    proj = markdown_table(
        ["analysis", "DuckDB core-hours, 12 months", "DuckDB cores for a day in 10 min",
         "Spark core-hours, 12 months", "Spark cores for a day in 10 min"],
        proj_rows, [False, True, True, True, True],
    )
    cl = full["county lines"][1]
    ct = full["co-travel"][1]
    per_cam = n_reads / args.days / max(manifest.cameras, 1)

    def spark_core_h(name: str) -> float | None:
        r = rate(sub_reads, sub_spark.get(name, (None, None))[1])
        return NATIONAL_YEAR / r / 3600 if r else None

    def nodes(name: str) -> str:
        core_h = spark_core_h(name)
        return str(math.ceil(core_h / 32)) if core_h else "–"
    return f"""Command: `{command_line()}` ({today()}). Load average (1/5/15 min) {load_start} at the start,
{load_end} at the end: the machine is shared, so the figures are upper bounds on time.

{machine_markdown(("duckdb", "pyarrow", "pyspark", "numpy"))}

**Data.** The issue asks for 100 million reads; on this shared two-core machine the run uses
{fmt_count(manifest.reads)} synthetic reads ({fmt_count(n_vehicles)} vehicles, {manifest.cameras} cameras, {args.days}
days, {manifest.chunks} Parquet chunks), about {fmt_count(per_cam)} reads per camera per day: national
volume (50 million reads a day from about 11,000 cameras) is about 4,500, so the per-read cost of
co-travel, which grows with the reads each camera sees within the window, is representative. Spark
`local[{CORES}]` runs on the first {args.spark_days} days ({fmt_count(sub_reads)} reads), with DuckDB beside it on
the same subset; Spark took {spark_start:.0f} s to start (not counted). Rates are per core (reads / seconds /
{CORES}). The hotlist match is a join of all reads against 1,000 vehicles (900 present). The load step
is this benchmark's own (md5 of the plate), not the ANPR ingest with keyed pseudonyms and validation.

{table}

**Planted patterns found** (DuckDB, all {fmt_count(n_reads)} reads, default parameters; Spark returns the same
rows, as the tests check):

{q_table}

**Projection to national volume** (50 million reads a day, 12 months kept = {NATIONAL_YEAR / 1e9:.2f} billion
reads), from the per-core rates above, assuming the rate per core holds as cores are added: core-hours
to run an analysis over the whole year, and the cores that would process one day's reads in ten
minutes.

{proj}

Reading it: DuckDB, one node, ran county lines in {cl:.0f} s and co-travel in {ct:.0f} s on
{fmt_count(n_reads)} reads; a force's own share (a few million reads a day, 90 days) runs on one machine.
A regional or national year is a cluster job: core-hours divided by the hours allowed give the cores.
On the Spark rates, a 12-month county-lines run in one hour needs about {fmt_count(spark_core_h("county lines"))}
cores and co-travel about {fmt_count(spark_core_h("co-travel"))} (in nodes of 32 cores, {nodes("county lines")} and
{nodes("co-travel")} nodes); keeping up with each day's reads takes a few nodes. Spark's per-core rate on two
local cores includes its fixed per-stage overhead, so it understates what a cluster achieves on large
partitions, while a real cluster adds network shuffle that local mode does not pay: treat the figures
as an order of magnitude. Co-travel is the costliest; its cost per read rises with traffic per camera
and with the window, so size it for the busiest cameras and run it over a bounded period (the 90-day
default reach of ANPR queries) rather than the whole year. A planted county-lines vehicle missed is one
whose detected short return trips fell under a flag rule (most often the 1.5 a week); its features and
score are in the full result (`--all`).
"""


if __name__ == "__main__":
    main()
