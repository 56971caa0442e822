"""Four years of real Met burglary street files loaded with no boundaries, forecast and backtested as a new
user would. The files carry a few records geocoded far outside London: a convex hull through them made a
study area of about 166,000 km² (66.5 million 50 m cells for prospective hotspotting), and ``auto`` failed
after about 95 s. Now they are set aside with a count and a warning, and a candidate that cannot run is
skipped, before any work, with the reason said. Two origins only: this checks the fault, not the figures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from safestreets.api import Workspace
from safestreets.forecast.data import load_history, load_units
from safestreets.forecast.prospective import Prospective
from safestreets.forecast.targets import parse_target
from test_cli import run

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def met_burglary(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = shared_data / "police_uk" / "met_burglary_only" / "street"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    files = tmp_path_factory.mktemp("metfiles")
    for year in (2019, 2020, 2021, 2022):
        for f in sorted(folder.glob(f"{year}-*-metropolitan-street.csv.gz")):
            shutil.copy(f, files / f.name)
    ws = tmp_path_factory.mktemp("metburglary") / "ws"
    r = run("ingest", str(files), workspace=ws)
    assert r.returncode == 0, r.stderr
    return ws


def test_far_records_are_set_aside_from_the_study_area(met_burglary: Path) -> None:
    with Workspace(met_burglary) as ws:
        history = load_history(ws.con, parse_target("burglary"))
        units = load_units(ws.con, "grid", cell_size=250.0, study="auto", history=history, covariates=False)
    assert units.meta["study"] == "hull"
    aside = units.meta["set_aside"]
    assert 0 < aside < 0.001 * len(history)  # a few dozen of about 244,000
    assert f"{aside:,} of {len(history):,} events set aside" in units.meta["study_area"]
    # Greater London is about 1,570 km²; the hull of its events, padded, stays of that order.
    assert units.total_area / 1e6 < 5_000
    Prospective().feasible(history, units)  # 50 m cells fit now


def test_auto_forecast_runs_and_says_what_it_set_aside(met_burglary: Path) -> None:
    with Workspace(met_burglary) as ws:
        result = ws.forecast(target="burglary", horizon="1m", model="auto", auto_origins=2, jobs=2)
    assert any("set aside" in n for n in result.notes)
    reason = result.run.reason
    assert "strongest baseline" in reason and "noise ceiling" in reason
    assert "cannot run" not in reason  # every candidate runs on the trimmed area


def test_a_candidate_that_cannot_run_is_skipped_at_once(met_burglary: Path) -> None:
    """A 5 m raster over London is far beyond the limit: skipped in the backtest of all the models'
    kind, and named; named on its own, the backtest fails at once rather than after the others' work."""
    from safestreets.evaluate.auto import choose

    with Workspace(met_burglary) as ws:
        history = load_history(ws.con, parse_target("burglary"))
        units = load_units(ws.con, "grid", cell_size=250.0, study="auto", history=history, covariates=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Prospective, "__init__", _tiny_cells)
        choice = choose(history, units, "1m", candidates=("histavg", "last-period", "prospective"), origins=2)
    assert "prospective skipped, it cannot run on this data" in choice.reason
    assert choice.name in ("histavg", "last-period")


def _tiny_cells(self: Prospective, bandwidth: float = 400.0, time_window: str = "8w", cell: float = 5.0) -> None:
    self.bandwidth, self.time_window, self.cell = bandwidth, time_window, cell
