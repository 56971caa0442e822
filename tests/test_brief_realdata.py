"""The briefing on real City of London street files that have a gap (no files 2020-12..2022-06): the gap
is drawn as a gap, not as zero crime; month-only data give hub deployments no day or time; a forecast that
starts well after the data is flagged; the PDF stays short and no table header ends a page."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from test_cli import run

pytestmark = pytest.mark.realdata

PDFINFO, PDFTOTEXT = shutil.which("pdfinfo"), shutil.which("pdftotext")
needs_poppler = pytest.mark.skipif(
    PDFINFO is None or PDFTOTEXT is None, reason="pdfinfo/pdftotext (Debian poppler-utils) are not installed"
)

#: Header rows of the briefing's tables, as pdftotext reads them.
HEADERS = (
    "coverage model hit rate",
    "area last month",
    "unit BCU category",
    "BCU team-shifts hot spots",
    "team shift BCU",
    "# hub when why",
    "source force records",
    "part what kept as",
)


def pages(pdf: Path) -> int:
    out = subprocess.run([str(PDFINFO), str(pdf)], capture_output=True, text=True, check=True).stdout
    found = re.search(r"^Pages:\s+(\d+)", out, re.M)
    assert found is not None, out
    return int(found.group(1))


def page_text(pdf: Path, page: int) -> str:
    return subprocess.run([str(PDFTOTEXT), "-f", str(page), "-l", str(page), "-layout", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip


def last_lines(text: str) -> list[str]:
    """A page's last lines of body text (the running footer left out), spaces collapsed."""
    lines = [" ".join(ln.split()) for ln in text.splitlines() if ln.strip()]
    return [ln for ln in lines if "Tactical assessment: week" not in ln and not re.search(r"page \d+ of", ln)]


def assert_no_lonely_headers(pdf: Path) -> None:
    for n in range(1, pages(pdf) + 1):
        body = last_lines(page_text(pdf, n))
        if body:
            assert not any(body[-1].startswith(h) for h in HEADERS), (
                f"page {n} ends with a table header: {body[-1]}"
            )


@pytest.fixture(scope="module")
def city_with_gap(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The City's street files for 2020-01..2020-11 and 2022-07..2023-12 (none were published between),
    the boroughs, the tube stations, a kde forecast and a briefing."""
    folder = shared_data / "police_uk" / "city_of_london"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    ws = tmp_path_factory.mktemp("colgap") / "ws"
    files = tmp_path_factory.mktemp("colgapfiles")
    for f in sorted(folder.glob("202[0123]-*-city-of-london-street.csv.gz")):
        shutil.copy(f, files / f.name)
    for args in (("ingest", str(files)),
                 ("areas", "load", str(shared_data / "boundaries" / "london_boroughs_lad22_gen20.geojson"),
                  "--kind", "borough"),
                 ("places", "load", str(shared_data / "transport" / "tube_stations.csv"), "--kind", "station"),
                 ("forecast", "--target", "violence", "--model", "kde", "--cell-size", "100",
                  "--study-area", "borough:E09000001", "--top", "0"),
                 ("brief",)):  # fmt: skip
        r = run(*args, workspace=ws)
        assert r.returncode == 0, (args, r.stderr)
    return ws


def _brief(ws: Path, name: str = "tactical-assessment-2024-01-01") -> tuple[str, Path]:
    outputs = ws / "outputs"
    return (outputs / f"{name}.html").read_text("utf-8"), outputs / f"{name}.pdf"


def test_the_gap_is_a_gap_not_zero_crime(city_with_gap: Path) -> None:
    import duckdb

    from safestreets.report.brief import trend_series

    con = duckdb.connect(str(city_with_gap / "safestreets.duckdb"), read_only=True)
    try:
        from datetime import datetime

        trend = trend_series(con, ["Violence and sexual offences", "Robbery"], "police.uk", periods=24,
                             weekly=False, until=datetime(2024, 1, 1))  # fmt: skip
    finally:
        con.close()
    gap = [n for n, m in zip(trend.names, trend.missing, strict=True) if m]
    assert gap == ["Jan 2022", "Feb 2022", "Mar 2022", "Apr 2022", "May 2022", "Jun 2022"]
    values = trend.series["all"]
    assert np.isnan(values[trend.missing]).all()  # blank, not 0
    assert (values[~trend.missing] > 0).all()
    html, pdf = _brief(city_with_gap)
    assert (
        "No police.uk records at all for Jan 2022 to Jun 2022: shaded and left blank, not drawn as zero"
        in html
    )
    assert "city-of-london: 2020-12 to 2022-06 (19 months)" in html  # the whole gap, in the text
    assert (
        "2020-12 to 2022-06 (19 months)" in html.split("Data and provenance")[1]
    )  # and in the sources table
    if PDFTOTEXT:
        text = " ".join(" ".join(page_text(pdf, n).split()) for n in range(1, pages(pdf) + 1))
        assert "no data" in text


@needs_poppler
def test_no_any_day_dash_and_the_pdf_is_short(city_with_gap: Path) -> None:
    html, pdf = _brief(city_with_gap)
    text = "\n".join(page_text(pdf, n) for n in range(1, pages(pdf) + 1))
    for doc in (html, text):
        assert "any day" not in doc and not re.search(r"\s–\s*<", doc)
    # month-only data: deployments have no day or time, and the briefing says why
    assert "any time (the data carry no times)" in html
    assert pages(pdf) <= 6, pages(pdf)  # was 8, of which 2 of raw JSON
    assert_no_lonely_headers(pdf)
    assert "{" not in text  # no JSON in the document: it is in the sidecar
    assert "tactical-assessment-2024-01-01.provenance.json" in text


def test_a_forecast_well_after_the_data_is_flagged(city_with_gap: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(city_with_gap, ws, ignore=shutil.ignore_patterns("outputs"))
    r = run("forecast", "--target", "violence", "--model", "kde", "--cell-size", "100", "--study-area",
            "borough:E09000001", "--top", "0", "--until", "2024-02-01", workspace=ws)  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = run("brief", "--no-pdf", workspace=ws)
    assert r.returncode == 0, r.stderr
    html = next((ws / "outputs").glob("tactical-assessment-*.html")).read_text("utf-8")
    assert "data to 31 Dec 2023" in html
    assert "The forecast starts 31 days after the data end (31 Dec 2023)" in html
    assert "no police.uk data for the last month before the forecast" in html
    # the fresh forecast of the fixture says when its data end, without a warning
    fresh, _ = _brief(city_with_gap)
    assert "data to 31 Dec 2023" in fresh and "days after the data end" not in fresh
