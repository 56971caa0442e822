"""The analyses' input tables made straight from a synthetic ANPR folder, for tests and the benchmark.

A workspace gets ``anpr_reads`` and ``anpr_cameras`` from the ANPR ingest (with keyed pseudonyms); this
builds the same two tables in any DuckDB connection with a plain hash of the plate as the pseudonym, and
can write them as Parquet for Spark.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from pyproj import Transformer


def load_synthetic(con: duckdb.DuckDBPyConnection, folder: str | Path) -> dict[str, object]:
    """Create ``anpr_reads(vehicle, read_at, camera_id)`` and ``anpr_cameras(camera_id, x, y, lon, lat,
    road, area_code)`` in ``con`` from a folder written by :func:`safestreets.synthetic.anpr.generate_anpr`;
    returns the folder's ground truth."""
    src = Path(folder)
    reads = str(src / "reads" / "*.parquet").replace("'", "''")
    cams = str(src / "cameras.csv").replace("'", "''")
    con.execute(
        f"""
        CREATE OR REPLACE TABLE anpr_reads AS
        SELECT md5(plate) AS vehicle, read_at, camera_id FROM read_parquet('{reads}')
        """
    ).fetchall()
    con.execute(f"CREATE OR REPLACE TABLE anpr_cameras_raw AS SELECT * FROM read_csv('{cams}', header = true)").fetchall()
    cameras = con.sql("SELECT camera_id, lon, lat, road, area_code FROM anpr_cameras_raw").to_arrow_table()
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    x, y = to_bng.transform(cameras["lon"].to_numpy(), cameras["lat"].to_numpy())
    con.register("cam_xy", cameras.append_column("x", [x]).append_column("y", [y]))
    con.execute(
        """
        CREATE OR REPLACE TABLE anpr_cameras AS
        SELECT camera_id, CAST(x AS DOUBLE) AS x, CAST(y AS DOUBLE) AS y, CAST(lon AS DOUBLE) AS lon,
               CAST(lat AS DOUBLE) AS lat, road, area_code
        FROM cam_xy
        """
    ).fetchall()
    con.unregister("cam_xy")
    con.execute("DROP TABLE anpr_cameras_raw").fetchall()
    truth: dict[str, object] = json.loads((src / "ground_truth.json").read_text("utf-8"))
    return truth


def export_parquet(con: duckdb.DuckDBPyConnection, out: str | Path) -> dict[str, Path]:
    """Write ``anpr_reads`` and ``anpr_cameras`` as Parquet under ``out`` (what Spark reads)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in ("anpr_reads", "anpr_cameras"):
        path = folder / f"{name}.parquet"
        con.execute(f"COPY (SELECT * FROM {name}) TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)").fetchall()
        paths[name] = path
    return paths
