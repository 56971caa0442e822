"""The synthetic ANPR generator: realistic shapes, planted ground truth, deterministic and chunked."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from safestreets.errors import ParameterError
from safestreets.synthetic.anpr import (
    READ_SCHEMA,
    AnprConfig,
    chunk_table,
    generate_anpr,
    iter_chunks,
    plan_anpr,
    plates,
)

PLATE = re.compile(r"[A-HJ-PR-Y]{2}(0[2-9]|1\d|2[0-5]|5[1-9]|6\d|7[0-5]) [A-HJ-PR-Z]{3}")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("anpr")
    generate_anpr(out, AnprConfig(seed=3, reads=20_000, days=14, n_county_lines=3, n_groups=2))
    return out


def test_files_and_columns(small: Path) -> None:
    parts = sorted((small / "reads").glob("*.parquet"))
    assert len(parts) == 14  # one chunk a day at this size
    table = pq.read_table(parts[0])
    assert table.schema.equals(READ_SCHEMA)
    assert all(PLATE.fullmatch(p) for p in table["plate"].to_pylist())
    conf = table["confidence"].to_numpy()
    assert ((conf >= 0) & (conf <= 1)).all()
    with (small / "cameras.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["camera_id", "lon", "lat", "road", "direction", "name", "area_code"]
    ids = {r["camera_id"] for r in rows}
    assert set(table["camera_id"].to_pylist()) <= ids
    truth = json.loads((small / "ground_truth.json").read_text())
    total = sum(pq.ParquetFile(p).metadata.num_rows for p in parts)
    assert truth["reads_written"] == total
    assert 14_000 < total < 28_000  # the fleet is sized to about the reads asked for
    assert len(truth["county_lines"]) == 3 and len(truth["co_travel_groups"]) == 2
    # County towns lie tens of kilometres out: their cameras are away from the city's.
    towns = [r for r in rows if r["area_code"] in truth["towns"]]
    metro = [r for r in rows if r["area_code"] in truth["metro_area_codes"]]
    assert towns and metro
    lat_spread = max(abs(float(t["lat"]) - np.mean([float(m["lat"]) for m in metro])) for t in towns)
    lon_spread = max(abs(float(t["lon"]) - np.mean([float(m["lon"]) for m in metro])) for t in towns)
    assert max(lat_spread * 111, lon_spread * 66) > 20  # km


def test_daily_and_weekly_cycles(small: Path) -> None:
    table = pq.read_table(small / "reads")
    ts = table["read_at"].to_numpy().astype("datetime64[s]").astype(np.int64)
    hour = (ts % 86_400) // 3_600
    by_hour = np.bincount(hour, minlength=24)
    assert by_hour[7] > 3 * by_hour[3]  # morning rush over the small hours
    day = (ts // 86_400 + 3) % 7  # 0 Monday
    by_day = np.bincount(day, minlength=7)
    assert by_day[:5].mean() > 1.3 * by_day[5:].mean()


def test_plates_are_distinct_per_vehicle() -> None:
    idx = np.arange(200_000)
    got = plates(idx, seed=5).to_pylist()
    assert len(set(got)) == len(got)
    assert all(PLATE.fullmatch(p) for p in got[:1000])


def test_deterministic_and_chunks_stand_alone() -> None:
    config = AnprConfig(seed=11, reads=30_000, days=3, chunk_reads=10_000, n_groups=1, n_county_lines=1)
    plan = plan_anpr(config)
    assert plan.slices >= 2  # a day is split when it would exceed chunk_reads
    whole = list(iter_chunks(plan))
    assert len(whole) == plan.n_chunks
    # Any chunk made alone, from a fresh plan, is the same as in the full run.
    again = plan_anpr(config)
    for i in (plan.n_chunks - 1, 0):
        assert chunk_table(again, i).equals(whole[i])
    # Memory stays at one chunk: no chunk is much larger than asked for.
    assert max(t.num_rows for t in whole) < 1.5 * config.chunk_reads
    other = plan_anpr(AnprConfig(seed=12, reads=30_000, days=3, chunk_reads=10_000))
    assert not chunk_table(other, 0).equals(whole[0])


def test_bad_config_is_refused() -> None:
    with pytest.raises(ParameterError, match="start"):
        AnprConfig(start="2025-13-01")
    with pytest.raises(ParameterError, match="reads"):
        AnprConfig(reads=10)
