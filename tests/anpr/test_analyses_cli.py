"""The CLI sub-app for the analyses, mounted as the ``anpr`` group mounts it, and ``anpr synth``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from safestreets.anpr.analyses.fixture import load_synthetic
from safestreets.api.workspace import Workspace
from safestreets.cli import anpr_analyses

app = typer.Typer()
anpr = typer.Typer()
anpr.add_typer(anpr_analyses.analyses_app, name="analyse")
anpr.command("synth")(anpr_analyses.synth)
app.add_typer(anpr, name="anpr")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("cli")
    result = CliRunner().invoke(app, ["anpr", "synth", "--reads", "20000", "--days", "14", "--out",
                                      str(root / "synth")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "reads in 14 chunks" in result.output
    ws = Workspace.init(root / "ws")
    truth = load_synthetic(ws.con, root / "synth")
    ws.close()
    return root / "ws", truth


def test_each_command_runs(workspace: tuple[Path, dict]) -> None:
    ws, truth = workspace
    runner = CliRunner()
    for args in (["journeys", "--limit", "5"], ["flows", "--format", "csv"],
                 ["county-lines", "--metro", ",".join(truth["metro_area_codes"]), "--format", "json"],
                 ["co-travel", "--all", "--format", "json"]):  # fmt: skip
        result = runner.invoke(app, ["anpr", "analyse", *args, "--workspace", str(ws)])
        assert result.exit_code == 0, (args, result.output)
    flagged = json.loads(runner.invoke(app, ["anpr", "analyse", "county-lines", "--metro",
                                             ",".join(truth["metro_area_codes"]), "--format", "json",
                                             "--workspace", str(ws)]).output.split("\n[", 1)[0])  # fmt: skip
    assert all(row["flagged"] for row in flagged)


def test_writes_the_whole_result(workspace: tuple[Path, dict], tmp_path: Path) -> None:
    ws, _ = workspace
    target = tmp_path / "trips.parquet"
    result = CliRunner().invoke(app, ["anpr", "analyse", "journeys", "--limit", "1", "--out", str(target),
                                      "--workspace", str(ws)])  # fmt: skip
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    assert pq.read_metadata(target).num_rows > 1
