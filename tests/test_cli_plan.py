"""``safestreets plan``, ``hubs`` and ``brief`` end to end: on the demo city and on real City of London data.

The PDF checks turn pages into images with pdftoppm (poppler-utils) and look for a map: a block of the
warm colours the risk maps use, which text and tables never have.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import numpy as np
import pytest

from test_cli import run

PDFTOPPM = shutil.which("pdftoppm")
needs_pdftoppm = pytest.mark.skipif(
    PDFTOPPM is None, reason="pdftoppm (Debian poppler-utils) is not installed"
)


def page_images(pdf: Path, out: Path, dpi: int = 40) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(PDFTOPPM), "-r", str(dpi), "-png", str(pdf), str(out / "page")], check=True)
    return sorted(out.glob("page-*.png"))


def map_pixels(png: Path) -> int:
    """Pixels in the risk maps' warm colours (YlOrRd): strongly red/orange, little blue."""
    import matplotlib.image as mpimg

    img = mpimg.imread(png)[..., :3]
    if img.dtype != np.uint8:
        img = (img * 255).astype("int16")
    r, _g, b = (img[..., i].astype("int16") for i in range(3))
    return int(((r - b > 90) & (r > 150)).sum())


def test_demo_wrote_plan_cards_and_briefing(demo_city: Path) -> None:
    outputs = demo_city / "outputs"
    assert list(outputs.glob("plan-*-hotspots.geojson")) and list(outputs.glob("plan-*-visits.csv"))
    assert list(outputs.glob("patrol-cards-*.pdf"))
    html = next(outputs.glob("tactical-assessment-*.html")).read_text("utf-8")
    for section in ("Summary", "Forecast: where harm will concentrate", "Trends", "What changed",
                    "By BCU", "Deployment plan", "Transport hubs", "Caveats", "Data and provenance"):  # fmt: skip
        assert section in html
    assert "data:image/png;base64," in html  # images inline: one file to mail
    assert 'src="http' not in html  # nothing fetched from the network
    prov = json.loads(next(outputs.glob("tactical-assessment-*.provenance.json")).read_text())
    assert prov["forecast"]["model"] and prov["plan"]["rules"]["visit_minutes"] == 15.0


@needs_pdftoppm
def test_demo_briefing_pdf_has_maps(demo_city: Path, tmp_path: Path) -> None:
    pdf = next((demo_city / "outputs").glob("tactical-assessment-*.pdf"))
    pages = page_images(pdf, tmp_path)
    assert len(pages) >= 4
    assert map_pixels(pages[0]) > 2_000, "the first page should carry the citywide risk map"
    text_only = pages[-1]  # caveats and provenance
    assert map_pixels(text_only) < 50


def test_plan_with_resources_file_and_pool(demo_city: Path, tmp_path: Path) -> None:
    con = duckdb.connect(str(demo_city / "safestreets.duckdb"), read_only=True)
    bcus = [r[0] for r in con.execute("SELECT DISTINCT bcu FROM forecasts WHERE run_id = 1 AND bcu <> '' "
                                      "ORDER BY 1").fetchall()]  # fmt: skip
    con.close()
    res = tmp_path / "teams.csv"
    rows = [("bcu", "shift", "teams")] + [(b, s, "1") for b in bcus for s in ("early", "late", "night")]
    rows.append(("*", "late", "2"))
    res.write_text("\n".join(",".join(r) for r in rows) + "\n")
    r = run("plan", "--forecast-run", "1", "--resources", str(res), "--week", "2024-01-08", "--no-cards",
            "--seed", "5", "--min-bcu-share", "0.1", workspace=demo_city)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "patrol plan" in r.stdout and "gap" in r.stdout
    con = duckdb.connect(str(demo_city / "safestreets.duckdb"), read_only=True)
    plan_id = con.execute(
        "SELECT max(plan_id) FROM plan_runs WHERE week_start = DATE '2024-01-08'"
    ).fetchall()[0][0]
    teams = con.execute("SELECT home, shift, count(DISTINCT team_id) FROM plan_hotspots WHERE plan_id = ? "
                        "GROUP BY 1, 2", [plan_id]).fetchall()  # fmt: skip
    visits = con.execute("SELECT count(*), min(starts_at), max(ends_at) FROM plan_visits WHERE plan_id = ?",
                         [plan_id]).fetchall()[0]  # fmt: skip
    con.close()
    for home, shift, n in teams:
        assert n <= (2 if home == "*" else 1), (home, shift, n)
    assert any(home == "*" for home, _, _ in teams), "the pool teams should be used"
    assert visits[0] > 0 and str(visits[1]).startswith("2024-01-0") and str(visits[2]) < "2024-01-16"
    with open(demo_city / "outputs" / "plan-2024-01-08-visits.csv", newline="") as fh:
        assert sum(1 for _ in csv.DictReader(fh)) == visits[0]


def test_plan_bad_input_is_one_line(demo_city: Path, tmp_path: Path) -> None:
    res = tmp_path / "bad.csv"
    res.write_text("bcu,shift,teams\ncentral,early,two\n")
    r = run("plan", "--forecast-run", "1", "--resources", str(res), workspace=demo_city)
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "bad.csv, row 1" in r.stderr and "'teams'" in r.stderr
    r = run("plan", "--forecast-run", "1", "--visit-minutes", "25", workspace=demo_city)
    assert r.returncode == 1 and "Koper" in r.stderr and "Traceback" not in r.stderr
    res.write_text("bcu,shift,teams\nnowhere,early,1\n")
    r = run("plan", "--forecast-run", "1", "--resources", str(res), workspace=demo_city)
    assert r.returncode == 1 and "nowhere" in r.stderr


def test_hubs_ranks_stations_and_incident_support(demo_city: Path) -> None:
    con = duckdb.connect(str(demo_city / "safestreets.duckdb"), read_only=True)
    x, y = con.execute("SELECT x, y FROM places WHERE kind = 'station' LIMIT 1").fetchall()[0]
    con.close()
    r = run(
        "hubs", "--budget", "3", "--incident", f"{x},{y}", "--when", "2024-12-20T22:00", workspace=demo_city
    )
    assert r.returncode == 0, r.stderr
    assert "Transport hubs: 3 deployment(s)" in r.stdout
    assert "never an automatic authorisation" in r.stdout
    with open(demo_city / "outputs" / "hub-deployments.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 3


def test_hotspots_classifies_and_exports(demo_city: Path, tmp_path: Path) -> None:
    out = tmp_path / "hot.geojson"
    r = run("hotspots", "--forecast-run", "1", "--periods", "6", "--out", str(out), workspace=demo_city)
    assert r.returncode == 0, r.stderr
    assert "emerging hot spots" in r.stdout and "6 periods of 1m" in r.stdout
    features = json.loads(out.read_text())["features"]
    con = duckdb.connect(str(demo_city / "safestreets.duckdb"), read_only=True)
    n_units = con.execute("SELECT count(*) FROM forecasts WHERE run_id = 1").fetchall()[0][0]
    con.close()
    assert len(features) == n_units  # the forecast's units, one feature each
    categories = {f["properties"]["category"] for f in features}
    assert "no pattern" in categories and categories - {"no pattern"}
    lon, lat = features[0]["geometry"]["coordinates"][0][0]
    assert -10 < lon < 5 and 45 < lat < 60
    prov = json.loads((tmp_path / "hot.geojson.provenance.json").read_text())
    assert prov["emerging_hot_spots"]["periods"] == 6 and prov["crs"] == "EPSG:4326"


@pytest.fixture(scope="module")
def city_of_london(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real City of London street files (2022-07..2023-12), the City's boundary, a forecast and a brief."""
    folder = shared_data / "police_uk" / "city_of_london"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    ws = tmp_path_factory.mktemp("col") / "ws"
    files = tmp_path_factory.mktemp("colfiles")
    for f in sorted(folder.glob("202[23]-*-city-of-london-street.csv.gz")):
        shutil.copy(f, files / f.name)
    for args in (("ingest", str(files)),
                 ("areas", "load", str(shared_data / "boundaries" / "london_boroughs_lad22_gen20.geojson"),
                  "--kind", "borough"),
                 ("forecast", "--target", "violence", "--model", "kde", "--cell-size", "100",
                  "--study-area", "borough:E09000001", "--top", "0")):  # fmt: skip
        r = run(*args, workspace=ws)
        assert r.returncode == 0, (args, r.stderr)
    r = run("brief", workspace=ws)
    assert r.returncode == 0, r.stderr
    return ws


def test_brief_on_real_city_of_london(city_of_london: Path) -> None:
    outputs = city_of_london / "outputs"
    html = next(outputs.glob("tactical-assessment-*.html")).read_text("utf-8")
    assert "city-of-london" in html and "Violence and sexual offences" in html
    assert "No patrol plan is stored for this week" in html  # no plan: the section says so
    assert "Robbery" in html
    # kde was chosen by hand: the forecast ran no backtest, so the brief ran one and says so
    assert "kde was chosen by hand, so the forecast ran no backtest: computed for this briefing" in html
    assert "prospective" in html


def test_plan_on_real_data_without_bcus(city_of_london: Path) -> None:
    """No BCUs loaded: boroughs stand in, and edge slivers of the neighbouring boroughs are not command units."""
    r = run("plan", "--teams", "1", "--no-cards", "--seed", "2", workspace=city_of_london)
    assert r.returncode == 0, r.stderr
    assert "patrol plan" in r.stdout
    con = duckdb.connect(str(city_of_london / "safestreets.duckdb"), read_only=True)
    teams = con.execute("SELECT DISTINCT bcu, shift, team_id FROM plan_hotspots").fetchall()
    con.close()
    assert {b for b, _, _ in teams} == {"E09000001"} and len(teams) == 3  # the City: one team per shift


@needs_pdftoppm
def test_brief_pdf_on_real_city_of_london_has_a_map(city_of_london: Path, tmp_path: Path) -> None:
    pdf = next((city_of_london / "outputs").glob("tactical-assessment-*.pdf"))
    pages = page_images(pdf, tmp_path)
    assert map_pixels(pages[0]) > 1_000


@pytest.fixture
def city_with_stations(city_of_london: Path, shared_data: Path, tmp_path: Path) -> Path:
    """A copy of the real City of London workspace (street files only, no stop and search) with the
    tube stations loaded."""
    ws = tmp_path / "ws"
    shutil.copytree(city_of_london, ws, ignore=shutil.ignore_patterns("outputs"))
    r = run("places", "load", str(shared_data / "transport" / "tube_stations.csv"), "--kind", "station",
            workspace=ws)  # fmt: skip
    assert r.returncode == 0, r.stderr
    return ws


def test_hubs_incident_refuses_lon_lat_swapped(city_with_stations: Path) -> None:
    """'-0.09,51.515' (longitude first) used to land in Kazakhstan and report no crimes around it."""
    r = run("hubs", "--incident", "-0.09,51.515", "--when", "2023-12-20T22:00", workspace=city_with_stations)
    assert r.returncode != 0
    assert "outside the loaded areas and data" in r.stderr and "swapped" in r.stderr
    assert "did you mean '51.515,-0.09'" in r.stderr
    # Far from everything and not a swap: refused, without the swap hint.
    r = run("hubs", "--incident", "40.0,-3.7", "--when", "2023-12-20T22:00", workspace=city_with_stations)
    assert r.returncode != 0 and "outside the loaded areas" in r.stderr and "swapped" not in r.stderr


def test_hubs_without_stop_and_search_data_say_so(city_with_stations: Path) -> None:
    """No stop-and-search files are loaded: the hubs and the incident say no data covers the window
    rather than '0 of 0 weapon searches' and '0 Section 60 searches'."""
    r = run("hubs", "--incident", "51.515,-0.09", "--when", "2023-12-20T22:00", workspace=city_with_stations)
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())  # the console wraps long lines
    assert "0 of 0 weapon searches" not in text and "weapon searches: no stop-and-search data covers" in text
    assert "0 searches in 0 episode" not in text
    assert "past Section 60 searches within 2000 m, 3 year(s): no stop-and-search data covers " \
           "2020-12-20 to 2023-12-20" in text  # fmt: skip
    assert "no stop-and-search data for the period" in text
    # the place itself is right: the City's violence is counted around it
    recent = re.search(r"violence and robbery within 1000 m: ([\d,]+) in the", text)
    assert recent is not None and int(recent.group(1).replace(",", "")) > 0
