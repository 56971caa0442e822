"""``safestreets forecast`` and ``backtest`` end to end on a small synthetic city."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from test_cli import run


@pytest.fixture(scope="module")
def city(demo_city: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shared demo city: these tests add forecast runs that later tests must not see."""
    import shutil

    assert list((demo_city / "outputs").glob("forecast-violence-*.gpkg"))
    assert (demo_city / "outputs" / "backtest-violence-coverage.png").stat().st_size > 10_000
    copy = tmp_path_factory.mktemp("forecast-cli") / "demo"
    shutil.copytree(demo_city, copy)
    return copy


def test_forecast_stores_exports_and_lists_hotspots(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "surface.geojson"
    r = run(
        "forecast", "--target", "robbery", "--model", "kde", "--top", "2", "--out", str(out), workspace=city
    )
    assert r.returncode == 0, r.stderr
    assert "Top 2 hotspots per command unit" in r.stdout and "kde chosen by the user" in r.stdout
    surface = json.loads(out.read_text())
    assert surface["features"] and {"rank", "expected_count", "expected_harm", "bcu"} <= set(
        surface["features"][0]["properties"]
    )
    lon, lat = surface["features"][0]["geometry"]["coordinates"][0][0]
    assert -10 < lon < 5 and 45 < lat < 60  # WGS84
    prov = json.loads((tmp_path / "surface.geojson.provenance.json").read_text())
    assert prov["forecast"]["model"] == "kde"
    assert prov["forecast"]["data"]["target"]["types"] == ["Robbery"]
    assert prov["forecast"]["harm_weights"] == {"Robbery": 365.0}
    con = duckdb.connect(str(city / "safestreets.duckdb"), read_only=True)
    runs = con.execute("SELECT model, target, police_found FROM forecast_runs ORDER BY run_id").fetchall()
    n = con.execute("SELECT count(*), min(rank), count(DISTINCT rank) FROM forecasts "
                    "WHERE run_id = (SELECT max(run_id) FROM forecast_runs)").fetchall()[0]  # fmt: skip
    con.close()
    assert runs[-1] == ("kde", "robbery", False)
    assert n[0] > 100 and n[1] == 1 and n[2] == n[0]


def test_weekly_forecast_uses_the_timestamped_records(city: Path, tmp_path: Path) -> None:
    r = run("forecast", "--target", "burglary", "--horizon", "1w", "--model", "last-period", "--rank-by", "count",
            "--out", str(tmp_path / "w.gpkg"), workspace=city)  # fmt: skip
    assert r.returncode == 0, r.stderr
    prov = json.loads((tmp_path / "w.gpkg.provenance.json").read_text())
    assert prov["forecast"]["data"]["source"] == "force-records"
    assert prov["forecast"]["horizon"] == "1w"


def test_police_found_crime_is_an_explicit_labelled_choice(city: Path, tmp_path: Path) -> None:
    r = run("forecast", "--target", "drugs", "--model", "last-period", workspace=city)
    assert r.returncode == 1 and "--include-police-found" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run("forecast", "--target", "drugs", "--model", "last-period", "--include-police-found",
            "--out", str(tmp_path / "d.gpkg"), workspace=city)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "police-found" in r.stdout
    prov = json.loads((tmp_path / "d.gpkg.provenance.json").read_text())
    assert prov["forecast"]["data"]["target"]["police_found"] is True


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "crystal-ball"], "is not one of"),
        (["--target", "knife crime"], "unknown target"),
        (["--horizon", "1y"], "bad horizon"),
        (["--horizon", "1w", "--source", "police.uk", "--model", "last-period"], "month-only"),
        (["--units", "ward", "--model", "last-period"], "no 'ward' boundaries"),
        (["--harm-table", "/nonexistent/w.csv", "--model", "last-period"], "cannot read harm table"),
    ],
)
def test_forecast_errors_are_one_line(city: Path, args: list[str], message: str) -> None:
    r = run("forecast", *args, workspace=city)
    assert r.returncode != 0
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_backtest_prints_table_and_saves_chart(city: Path, tmp_path: Path) -> None:
    r = run("backtest", "--models", "last-period,kde", "--origins", "3", "--coverages", "1,5",
            "--out", str(tmp_path / "bt"), "--jobs", "1", workspace=city)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Backtest" in r.stdout and "kde" in r.stdout and "last-period" in r.stdout
    for name in ("metrics.csv", "summary.csv", "coverage_curves.csv", "coverage.png", "provenance.json"):
        assert (tmp_path / "bt" / name).stat().st_size > 0
    header = (tmp_path / "bt" / "metrics.csv").read_text().splitlines()[0]
    for col in (
        "model",
        "origin",
        "scope",
        "coverage",
        "hit_rate",
        "pai",
        "pei",
        "harm_captured",
        "stability",
    ):
        assert f'"{col}"' in header or col in header.split(",")


def test_backtest_rejects_unknown_models(city: Path) -> None:
    r = run("backtest", "--models", "last-period,oracle", workspace=city)
    assert r.returncode == 1 and "oracle" in r.stderr


def test_forecast_prints_and_exports_intervals(city: Path, tmp_path: Path) -> None:
    out = tmp_path / "iv.geojson"
    r = run("forecast", "--target", "robbery", "--model", "last-period", "--top", "2", "--out", str(out), workspace=city)
    assert r.returncode == 0, r.stderr
    assert "80% interval" in r.stdout
    props = json.loads(out.read_text())["features"][0]["properties"]
    assert props["count_lower"] <= props["count_upper"]
    r = run("forecast", "--target", "robbery", "--model", "last-period", "--top", "2", "--format", "json", workspace=city)
    rows = json.loads(r.stdout)
    assert all(row["lower"] <= row["upper"] for row in rows)
    r = run("forecast", "--target", "robbery", "--model", "last-period", "--interval", "0", "--format", "json",
            workspace=city)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert all(row["lower"] is None for row in json.loads(r.stdout))


def test_backtest_by_shift_and_intervals(city: Path, tmp_path: Path) -> None:
    r = run("backtest", "--models", "last-period", "--origins", "2", "--horizon", "1w", "--target", "burglary",
            "--coverages", "5", "--by-shift", "--intervals", "--out", str(tmp_path / "bt"), "--jobs", "1",
            workspace=city)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "Hit rate per shift" in r.stdout and "Forecast intervals" in r.stdout
    for name in ("shifts.csv", "shifts_summary.csv", "intervals.csv", "intervals_summary.csv"):
        assert (tmp_path / "bt" / name).stat().st_size > 0
    header = (tmp_path / "bt" / "intervals_summary.csv").read_text().splitlines()[0]
    assert "coverage_80" in header and "coverage_95" in header
    # month-only data has no shifts: one line, exit 1
    r = run("backtest", "--models", "last-period", "--origins", "2", "--by-shift", workspace=city)
    assert r.returncode == 1 and "timestamped" in r.stderr and len(r.stderr.strip().splitlines()) == 1
