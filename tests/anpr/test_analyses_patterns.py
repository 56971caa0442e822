"""Journeys, flows, county-lines indicators and co-travel on DuckDB: exact on a hand-made set, and
recovering the planted patterns of the synthetic set (and nothing in a set with none planted)."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from safestreets.anpr.analyses import (
    CoTravelParams,
    CountyLinesParams,
    DuckDBEngine,
    co_travel,
    county_lines,
    flows,
    journeys,
)
from safestreets.anpr.analyses.fixture import load_synthetic
from safestreets.errors import ParameterError
from safestreets.synthetic.anpr import AnprConfig, generate_anpr


def md5(plate: str) -> str:
    return hashlib.md5(plate.encode()).hexdigest()


def synthetic_engine(folder: Path) -> tuple[DuckDBEngine, dict[str, Any]]:
    con = duckdb.connect()
    truth = load_synthetic(con, folder)
    return DuckDBEngine(con), truth


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[DuckDBEngine, dict[str, Any]]:
    out = tmp_path_factory.mktemp("planted")
    generate_anpr(out, AnprConfig(seed=1, reads=150_000, days=28))
    return synthetic_engine(out)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[DuckDBEngine, dict[str, Any]]:
    out = tmp_path_factory.mktemp("clean")
    generate_anpr(out, AnprConfig(seed=2, reads=150_000, days=28, n_county_lines=0, n_groups=0))
    return synthetic_engine(out)


def precision_recall(found: set[Any], truth: set[Any]) -> tuple[float, float]:
    hit = len(found & truth)
    return (hit / len(found) if found else 1.0), (hit / len(truth) if truth else 1.0)


# --- a hand-made set: every number known -------------------------------------------------------------


def tiny_engine() -> DuckDBEngine:
    con = duckdb.connect()
    t0 = dt.datetime(2025, 3, 4, 21, 0, tzinfo=dt.UTC)  # 21:00 GMT

    def at(minutes: float) -> dt.datetime:
        return t0 + dt.timedelta(minutes=minutes)

    reads = [
        # v1: city -> town (dwell 20 min) -> city, then a separate trip 2 h later
        ("v1", at(0), "C1"), ("v1", at(5), "C2"), ("v1", at(25), "T1"), ("v1", at(45), "T1"),
        ("v1", at(60), "C2"), ("v1", at(180), "C1"),
        # v2 follows v1 ten seconds behind on its way out
        ("v2", at(0) + dt.timedelta(seconds=10), "C1"), ("v2", at(5) + dt.timedelta(seconds=10), "C2"),
    ]
    con.register("r", pa.table({
        "vehicle": [r[0] for r in reads], "read_at": [r[1] for r in reads], "camera_id": [r[2] for r in reads],
    }))
    con.execute("CREATE TABLE anpr_reads AS SELECT vehicle, CAST(read_at AS TIMESTAMPTZ) AS read_at, camera_id FROM r")
    con.execute(
        """CREATE TABLE anpr_cameras AS SELECT * FROM (VALUES
           ('C1', 0.0, 0.0, 0.0, 0.0, 'A1', 'M1'), ('C2', 0.0, 0.0, 0.0, 0.0, 'A1', 'M2'),
           ('T1', 0.0, 0.0, 0.0, 0.0, 'A1', 'Town')) t(camera_id, x, y, lon, lat, road, area_code)"""
    )
    return DuckDBEngine(con)


def test_journeys_by_hand() -> None:
    rows = journeys(tiny_engine(), gap_minutes=30).to_arrow().to_pylist()
    v1 = [r for r in rows if r["vehicle"] == "v1"]
    assert [(r["trip"], r["n_reads"], r["origin_camera"], r["destination_camera"]) for r in v1] == [
        (1, 5, "C1", "C2"),  # the 20-minute stop is under the 30-minute gap: one trip out and back
        (2, 1, "C1", "C1"),
    ]
    assert v1[0]["duration_s"] == 3600 and v1[0]["origin_area"] == "M1" and v1[0]["destination_area"] == "M2"
    assert len(journeys(tiny_engine(), gap_minutes=15).to_arrow().filter(pa.compute.equal(
        pa.compute.field("vehicle"), "v1"))) == 4  # 0-5 | 25 | 45-60 | 180 minutes


def test_county_lines_by_hand() -> None:
    result = county_lines(tiny_engine(), ["M1", "M2"], CountyLinesParams(min_returns=1, min_per_week=0, min_unusual=0, threshold=0))
    (row,) = result.to_arrow().to_pylist()
    assert row["vehicle"] == "v1" and row["returns"] == 1 and row["short_returns"] == 1
    assert row["mean_dwell_min"] == pytest.approx(20.0)
    assert row["unusual_share"] == 0.0  # 21:25 and 21:45 in March (GMT): before the 22:00 default
    late = county_lines(tiny_engine(), ["M1", "M2"], CountyLinesParams(min_returns=1, night_start_h=21))
    assert late.to_arrow()["unusual_share"].to_pylist() == [1.0]
    (ev,) = result.evidence.to_pylist()
    assert ev["far_area"] == "Town" and ev["out_s"] == 20 * 60 and ev["back_s"] == 15 * 60


def test_co_travel_by_hand() -> None:
    result = co_travel(tiny_engine(), CoTravelParams(window_s=30, min_days=1, min_cameras=2))
    (row,) = result.to_arrow().to_pylist()
    assert (row["vehicle_a"], row["vehicle_b"], row["hits"], row["cameras"], row["days"]) == ("v1", "v2", 2, 2, 1)
    assert row["mean_gap_s"] == pytest.approx(10.0)
    assert len(co_travel(tiny_engine(), CoTravelParams(window_s=5, min_days=1, min_cameras=1))) == 0


def test_bad_parameters() -> None:
    with pytest.raises(ParameterError, match="metro"):
        county_lines(tiny_engine(), [])
    with pytest.raises(ParameterError, match="window_s"):
        co_travel(tiny_engine(), CoTravelParams(window_s=0))
    with pytest.raises(ParameterError, match="gap_minutes"):
        journeys(tiny_engine(), gap_minutes=0)


# --- the synthetic set: planted patterns found, none invented ----------------------------------------


def test_journeys_and_flows_reconcile(planted: tuple[DuckDBEngine, dict[str, Any]]) -> None:
    engine, truth = planted
    trips = journeys(engine).to_arrow()
    reads = engine.query("SELECT count(*) AS n FROM anpr_reads")["n"][0].as_py()
    assert sum(trips["n_reads"].to_pylist()) == reads
    od = flows(engine).to_arrow()
    assert sum(od["trips"].to_pylist()) == trips.num_rows
    # Every planted county-lines vehicle has trips ending in one of its towns.
    towns = {md5(v["plate"]): set(v["towns"]) for v in truth["county_lines"]}
    ends = trips.filter(pa.compute.is_in(trips["vehicle"], pa.array(list(towns)))).to_pylist()
    for vehicle, names in towns.items():
        assert sum(1 for r in ends if r["vehicle"] == vehicle and r["destination_area"] in names) >= 3


def test_county_lines_recovers_planted(planted: tuple[DuckDBEngine, dict[str, Any]]) -> None:
    engine, truth = planted
    result = county_lines(engine, truth["metro_area_codes"])
    found = set(result.flagged()["vehicle"].to_pylist())
    want = {md5(v["plate"]) for v in truth["county_lines"]}
    precision, recall = precision_recall(found, want)
    assert precision >= 0.8 and recall >= 0.8, (precision, recall)
    # The look-alikes (daytime town rounds, daily town commutes) are scored but not flagged.
    lookalikes = {md5(p) for p in truth["lookalikes"]["town_vans_and_workers"]}
    assert not found & lookalikes
    # The evidence is the return trips of the flagged vehicles, and nothing else.
    assert set(result.evidence["vehicle"].to_pylist()) == found


def test_co_travel_recovers_planted(planted: tuple[DuckDBEngine, dict[str, Any]]) -> None:
    engine, truth = planted
    result = co_travel(engine)
    flagged = result.flagged()
    found = set(zip(flagged["vehicle_a"].to_pylist(), flagged["vehicle_b"].to_pylist(), strict=True))
    want = set()
    for group in truth["co_travel_groups"]:
        members = sorted(md5(p) for p in group["plates"])
        want |= {(a, b) for i, a in enumerate(members) for b in members[i + 1 :]}
    precision, recall = precision_recall(found, want)
    assert precision >= 0.8 and recall >= 0.8, (precision, recall)
    assert result.evidence is not None and result.evidence.num_rows >= sum(flagged["hits"].to_pylist())


def test_nothing_found_where_nothing_planted(clean: tuple[DuckDBEngine, dict[str, Any]]) -> None:
    engine, truth = clean
    assert len(county_lines(engine, truth["metro_area_codes"]).flagged()) == 0
    assert len(co_travel(engine, evidence=False).flagged()) == 0
