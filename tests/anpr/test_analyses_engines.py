"""DuckDB and Spark (local mode) agree row for row on every analysis.

One Spark session for the module (starting one takes seconds) and one small synthetic set.
"""

from __future__ import annotations

import importlib.util
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from safestreets.anpr.analyses import (
    AnalysisResult,
    CountyLinesParams,
    DuckDBEngine,
    SparkEngine,
    co_travel,
    county_lines,
    flows,
    journeys,
)
from safestreets.anpr.analyses.fixture import export_parquet, load_synthetic
from safestreets.synthetic.anpr import AnprConfig, generate_anpr

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("pyspark") is None, reason="PySpark is not installed"),
    pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs a Java runtime"),
]


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DuckDBEngine, SparkEngine, dict[str, Any]]]:
    out = tmp_path_factory.mktemp("anpr")
    generate_anpr(out / "synth", AnprConfig(seed=4, reads=30_000, days=14, n_county_lines=3, n_groups=3))
    con = duckdb.connect()
    truth = load_synthetic(con, out / "synth")
    paths = export_parquet(con, out / "parquet")
    spark = SparkEngine.start("local[2]", driver_memory="1g")
    for name, path in paths.items():
        spark.register_parquet(name, path)
    yield DuckDBEngine(con), spark, truth
    spark.close()


def same_rows(a: pa.Table, b: pa.Table) -> None:
    assert a.schema.names == b.schema.names
    assert a.num_rows == b.num_rows
    for name in a.schema.names:
        assert a.schema.field(name).type == b.schema.field(name).type, name
        for x, y in zip(a[name].to_pylist(), b[name].to_pylist(), strict=True):
            if isinstance(x, float) and isinstance(y, float):
                # Sums of floats in another order differ in the last bits; nothing more.
                assert math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12), (name, x, y)
            else:
                assert x == y, (name, x, y)


def agree(duck: AnalysisResult, spark: AnalysisResult) -> None:
    assert (duck.engine, spark.engine) == ("duckdb", "spark")
    same_rows(duck.to_arrow(), spark.to_arrow())
    if duck.evidence is not None:
        assert spark.evidence is not None
        same_rows(duck.evidence, spark.evidence)


def test_journeys_and_flows_agree(engines: tuple[DuckDBEngine, SparkEngine, dict[str, Any]]) -> None:
    duck, spark, _ = engines
    agree(journeys(duck), journeys(spark))
    agree(flows(duck, gap_minutes=20), flows(spark, gap_minutes=20))


def test_county_lines_agree(engines: tuple[DuckDBEngine, SparkEngine, dict[str, Any]]) -> None:
    duck, spark, truth = engines
    params = CountyLinesParams()
    a = county_lines(duck, truth["metro_area_codes"], params)
    agree(a, county_lines(spark, truth["metro_area_codes"], params))
    assert len(a.flagged()) >= 2  # the comparison covers flagged vehicles and their evidence


def test_co_travel_agrees(engines: tuple[DuckDBEngine, SparkEngine, dict[str, Any]]) -> None:
    duck, spark, _ = engines
    a = co_travel(duck)
    agree(a, co_travel(spark))
    assert len(a.flagged()) >= 2


def test_spark_reads_parquet_it_was_given(tmp_path: Path,
                                          engines: tuple[DuckDBEngine, SparkEngine, dict[str, Any]]) -> None:
    _, spark, _ = engines
    n = spark.result("SELECT COUNT(*) AS n FROM anpr_reads")["n"][0].as_py()
    assert n > 10_000
