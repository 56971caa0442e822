"""``safestreets anpr analyse ...`` and ``anpr synth``: each analysis of a workspace's reads needs a purpose,
stays inside the reach unless authorised, and is written to the audit trail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safestreets.anpr.analyses.fixture import load_synthetic
from safestreets.api.workspace import Workspace
from safestreets.cli import app
from safestreets.db.audit import entries

PURPOSE = ["--purpose", "tasking: lines into the county towns"]


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
        result = runner.invoke(app, ["anpr", "analyse", *args, *PURPOSE, "--workspace", str(ws)])
        assert result.exit_code == 0, (args, result.output)
    flagged = json.loads(runner.invoke(app, ["anpr", "analyse", "county-lines", "--metro",
                                             ",".join(truth["metro_area_codes"]), "--format", "json", *PURPOSE,
                                             "--workspace", str(ws)]).output.split("\n[", 1)[0])  # fmt: skip
    assert all(row["flagged"] for row in flagged)


def test_writes_the_whole_result(workspace: tuple[Path, dict], tmp_path: Path) -> None:
    ws, _ = workspace
    target = tmp_path / "trips.parquet"
    result = CliRunner().invoke(app, ["anpr", "analyse", "journeys", "--limit", "1", "--out", str(target),
                                      *PURPOSE, "--workspace", str(ws)])  # fmt: skip
    assert result.exit_code == 0, result.output
    import pyarrow.parquet as pq

    assert pq.read_metadata(target).num_rows > 1


def test_every_analysis_is_a_logged_query_inside_the_reach(workspace: tuple[Path, dict]) -> None:
    ws, _ = workspace
    runner = CliRunner()
    no_purpose = runner.invoke(app, ["anpr", "analyse", "flows", "--workspace", str(ws)])
    assert no_purpose.exit_code != 0 and "--purpose" in no_purpose.output
    too_far = runner.invoke(app, ["anpr", "analyse", "flows", "--since", "200d", *PURPOSE, "--workspace", str(ws)])
    assert too_far.exit_code != 0
    with Workspace(ws) as w:
        trail = [e for e in entries(w.db) if e["target"].startswith("anpr.analysis:")]
        assert {e["target"] for e in trail} >= {"anpr.analysis:journeys", "anpr.analysis:flows",
                                                "anpr.analysis:county-lines", "anpr.analysis:co-travel"}
        assert any(e["outcome"] == "denied" for e in trail if e["target"] == "anpr.analysis:flows")
        assert all(json.loads(e["params"])["purpose"] == PURPOSE[1] for e in trail if e["outcome"] != "denied")
        # A window that excludes every read: the analysis sees none of them.
        from datetime import UTC, datetime, timedelta

        now = datetime.now(UTC)
        empty = w.anpr.analyse("journeys", actor="ana", purpose=PURPOSE[1], since=now - timedelta(hours=1))
        assert empty.to_arrow().num_rows == 0
        whole = w.anpr.analyse("journeys", actor="ana", purpose=PURPOSE[1])
        assert whole.to_arrow().num_rows > 0
