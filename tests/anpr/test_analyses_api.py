"""The API entry points over a DuckDB connection (a Workspace hands over its store connection the same way)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from safestreets.anpr.analyses.fixture import load_synthetic
from safestreets.api import anpr_analyses
from safestreets.errors import ParameterError
from safestreets.synthetic.anpr import AnprConfig, generate_anpr


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> tuple[duckdb.DuckDBPyConnection, dict]:
    out = tmp_path_factory.mktemp("anpr")
    generate_anpr(out, AnprConfig(seed=5, reads=20_000, days=14, n_county_lines=2, n_groups=1))
    c = duckdb.connect()
    return c, load_synthetic(c, out)


def test_api_runs_each_analysis(con: tuple[duckdb.DuckDBPyConnection, dict]) -> None:
    c, truth = con
    trips = anpr_analyses.journeys(c)
    assert trips.engine == "duckdb" and trips.to_arrow().num_rows > 0
    assert anpr_analyses.flows(c).to_arrow().num_rows > 0
    cl = anpr_analyses.county_lines(c, metro_areas=",".join(truth["metro_area_codes"]))
    assert cl.params["metro_areas"] == sorted(truth["metro_area_codes"])
    assert cl.to_pandas().shape[0] == cl.to_arrow().num_rows
    assert anpr_analyses.co_travel(c, evidence=False).evidence is None


def test_api_errors_are_clear(con: tuple[duckdb.DuckDBPyConnection, dict]) -> None:
    c, _ = con
    with pytest.raises(ParameterError, match="metro area codes"):
        anpr_analyses.county_lines(c)
    with pytest.raises(ParameterError, match="engine must be"):
        anpr_analyses.journeys(c, engine="postgres")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="no anpr_cameras, anpr_reads"):
        anpr_analyses.journeys(duckdb.connect())
    with pytest.raises(ParameterError, match="pass a DuckDB connection"):
        anpr_analyses.flows(Path("."))


def test_a_workspace_is_refused_its_reads_go_through_the_access_check(tmp_path: Path) -> None:
    from safestreets.api.workspace import Workspace

    with Workspace.init(tmp_path / "ws") as ws, pytest.raises(ParameterError, match=r"ws\.anpr\.analyse"):
        anpr_analyses.journeys(ws)
