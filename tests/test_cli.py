"""The safestreets command as a user runs it: real processes, real exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from fakes.policeuk_api import FakePoliceAPI

STREET_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context\n"
)


def run(*args: str, workspace: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "SAFESTREETS_WORKSPACE": str(workspace), **(env or {})}
    full_env.pop("SAFESTREETS_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "safestreets", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )


def counts(workspace: Path) -> dict[str, int]:
    con = duckdb.connect(str(workspace / "safestreets.duckdb"), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                for t in ("events", "stop_searches", "outcomes", "batches", "rejects")}  # fmt: skip
    finally:
        con.close()


def street_file(path: Path, rows: list[str]) -> Path:
    path.write_text(STREET_HEADER + "".join(r + "\n" for r in rows), "utf-8")
    return path


GOOD = ",2023-01,City of London Police,City of London Police,-0.09,51.51,On or near X,E01000001,City 001A,Robbery,,"


def test_ingest_status_export_round_trip(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    f = street_file(
        tmp_path / "2023-01-city-of-london-street.csv", [GOOD, GOOD.replace("Robbery", "Burglary")]
    )
    r = run("ingest", str(f), workspace=ws)
    assert r.returncode == 0, r.stderr
    assert "1 file(s) loaded" in r.stdout and "2 rows loaded of 2 read" in r.stdout
    again = run("ingest", str(f), workspace=ws)
    assert "0 file(s) loaded, 1 already in the store" in again.stdout
    assert counts(ws)["events"] == 2

    status = run("status", workspace=ws)
    assert status.returncode == 0
    assert "city-of-london (police.uk)" in status.stdout and "2023-01" in status.stdout

    for name in ("out.csv", "out.parquet", "out.geojson", "out.gpkg"):
        r = run("export", str(tmp_path / name), "--type", "Robbery", workspace=ws)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / name).exists()
        prov = json.loads((tmp_path / f"{name}.provenance.json").read_text())
        assert prov["rows"] == 1 and prov["batches"][0]["sha256"]
    geo = json.loads((tmp_path / "out.geojson").read_text())
    assert geo["features"][0]["geometry"]["coordinates"] == pytest.approx([-0.09, 51.51])
    assert geo["features"][0]["properties"]["crime_type"] == "Robbery"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (STREET_HEADER + GOOD.replace("2023-01", "2023-13") + "\n", ["row 1", "'Month'"]),
        (STREET_HEADER + GOOD.replace("-0.09", "west") + "\n", ["row 1", "'Longitude'", "not a number"]),
        ("Crime ID,Month\n1,2\n", ["not a data.police.uk"]),
        ("", ["empty"]),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(tmp_path: Path, content: str, expected: list[str]) -> None:
    ws = tmp_path / "ws"
    good = street_file(tmp_path / "good.csv", [GOOD])
    assert run("ingest", str(good), workspace=ws).returncode == 0
    before = counts(ws)
    bad = tmp_path / "bad.csv"
    bad.write_text(content, "utf-8")
    r = run("ingest", str(bad), workspace=ws)
    assert r.returncode == 1
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and "bad.csv" in lines[0]
    assert "Traceback" not in r.stderr
    for part in expected:
        assert part in lines[0]
    assert counts(ws) == before


def test_skip_bad_rows_sets_them_aside(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    f = street_file(tmp_path / "f.csv", [GOOD, GOOD.replace("Robbery", "Jaywalking"), GOOD])
    r = run("ingest", str(f), "--skip-bad-rows", workspace=ws)
    assert r.returncode == 0, r.stderr
    assert "2 rows loaded of 3 read (1 rejected" in r.stdout
    assert counts(ws)["rejects"] == 1
    status = run("status", workspace=ws)
    assert "rejected rows: 1" in status.stdout and "Crime type" in status.stdout
    # The month loaded again from a corrected file: the reject is history (kept), not a row missing now.
    fixed = street_file(tmp_path / "fixed.csv", [GOOD, GOOD.replace("Robbery", "Burglary"), GOOD])
    r = run("ingest", str(fixed), workspace=ws)
    assert r.returncode == 0 and "2 earlier rows replaced" in r.stdout, r.stdout + r.stderr
    assert counts(ws)["rejects"] == 1
    assert "rejected rows: 0" in run("status", workspace=ws).stdout


def test_usage_errors_exit_non_zero(tmp_path: Path) -> None:
    r = run("ingest", str(tmp_path / "missing.csv"), workspace=tmp_path / "ws")
    assert r.returncode == 1 and "no such file" in r.stderr
    r = run("ingest", str(tmp_path), "--months", "2023-13", workspace=tmp_path / "ws")
    assert r.returncode == 1 and "not a month" in r.stderr
    r = run("status", workspace=tmp_path / "nowhere")
    assert r.returncode == 1 and "safestreets init" in r.stderr
    r = run("ingest", workspace=tmp_path / "ws")
    assert r.returncode == 2


def test_fetch_crimes_from_loopback_api(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    with FakePoliceAPI(rate_limit=False, max_records=200) as api:
        bbox = "-0.16,51.49,-0.06,51.53"
        r = run("fetch", "crimes", "--force", "metropolitan", f"--area={bbox}", "--months", "2023-01:2023-02",
                "--base-url", api.base_url, workspace=ws)  # fmt: skip
        assert r.returncode == 0, r.stderr
        import shapely

        box = shapely.box(-0.16, 51.49, -0.06, 51.53)
        expected = len(api.crimes_in(box, "2023-01")) + len(api.crimes_in(box, "2023-02"))
        assert counts(ws)["events"] == expected
        # Fetching again adds nothing: rows replace rows with the same keys.
        r = run("fetch", "crimes", "--force", "metropolitan", f"--area={bbox}", "--months", "2023-01",
                "--base-url", api.base_url, workspace=ws)  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert counts(ws)["events"] == expected
        r = run("fetch", "stops", "--force", "metropolitan", "--months", "2023-01", "--base-url", api.base_url,
                workspace=ws)  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert counts(ws)["stop_searches"] > 0


def test_fetch_unreachable_is_one_line(tmp_path: Path) -> None:
    r = run("fetch", "forces", "--base-url", "http://127.0.0.1:9/api/", "--max-attempts", "1",
            workspace=tmp_path / "ws")  # fmt: skip
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "error:" in r.stderr


def test_demo_small(tmp_path: Path) -> None:
    ws = tmp_path / "demo"
    r = run("demo", "--events", "8000", "--months", "6", workspace=ws)
    assert r.returncode == 0, r.stderr
    assert "outputs:" in r.stdout and (ws / "outputs" / "events.gpkg").exists()
    assert "forecast: violence" in r.stdout
    c = counts(ws)
    assert c["events"] > 8000 and c["stop_searches"] > 0 and c["outcomes"] > 0
    con = duckdb.connect(str(ws / "safestreets.duckdb"), read_only=True)
    unassigned = con.execute(
        "SELECT count(*) FROM events WHERE lon IS NOT NULL AND (borough_code IS NULL OR bcu IS NULL)"
    ).fetchall()[0][0]
    con.close()
    assert unassigned == 0
    # Running the demo again adds nothing twice.
    assert run("demo", "--events", "8000", "--months", "6", workspace=ws).returncode == 0
    assert counts(ws)["events"] == c["events"]


def test_fetch_with_a_drawn_polygon_file(tmp_path: Path) -> None:
    import shapely

    poly = shapely.Polygon([(-0.15, 51.495), (-0.10, 51.495), (-0.10, 51.52), (-0.15, 51.52)])
    drawn = tmp_path / "patrol-area.geojson"
    drawn.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"note": "drawn by hand"}, "geometry": shapely.geometry.mapping(poly)}
    ]}))  # fmt: skip
    with FakePoliceAPI(rate_limit=False, max_records=200) as api:
        r = run("fetch", "crimes", "--force", "metropolitan", "--area", str(drawn), "--months", "2023-03",
                "--base-url", api.base_url, workspace=tmp_path / "ws")  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert counts(tmp_path / "ws")["events"] == len(api.crimes_in(poly, "2023-03"))


def test_batch_commands_yield_the_cores_to_the_dashboard() -> None:
    """A batch job lowers its own priority by 10 (so the dashboard's requests go first on a shared machine),
    or as ``SAFESTREETS_BATCH_NICE`` says; 0 leaves it as it is."""
    import os
    import subprocess
    import sys

    code = "import os; from safestreets.cli.common import batch_priority; a = os.nice(0); batch_priority(); print(os.nice(0) - a)"
    for value, expected in ((None, 10), ("3", 3), ("0", 0)):
        env = {k: v for k, v in os.environ.items() if k != "SAFESTREETS_BATCH_NICE"}
        if value is not None:
            env["SAFESTREETS_BATCH_NICE"] = value
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        # A process already at the lowest priority cannot go lower: the step is then smaller.
        assert int(out.stdout) == expected or (expected and os.nice(0) + expected > 19)
