"""The ``safestreets intel`` commands, each one call into the API, run in-process on a fresh workspace."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from safestreets.api import Workspace
from safestreets.cli import app
from safestreets.intel import codename, keys, records

PASS = "a passphrase for the cli test"


def test_keygen_to_purge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAFESTREETS_DATABASE_URL", raising=False)
    monkeypatch.delenv("SAFESTREETS_INTEL_KEY", raising=False)
    monkeypatch.setenv("SAFESTREETS_INTEL_PASSPHRASE", PASS)
    root = tmp_path / "ws"
    Workspace.init(root).close()
    runner = CliRunner()

    def cli(*args: str) -> str:
        r = runner.invoke(app, ["--workspace", str(root), *args], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        return r.output

    assert "fingerprint:" in cli("intel", "keygen", "--strength", "interactive")
    with Workspace(root) as ws:
        team = keys.load_public(root / "intel" / "team.pub")
        rid = records.store_report(ws.db, team, codename.derive(codename.new_codename()),
                                   {"what": "county lines runners using the flat above the bookies"}, [],
                                   danger_now=False, today=date.today())  # fmt: skip
    listing = json.loads(cli("intel", "list", "--format", "json"))
    assert listing[0]["id"] == rid and listing[0]["status"] == "new"
    shown = cli("intel", "show", rid)
    assert "above the bookies" in shown and "suggested: county_lines" in shown
    assert "county_lines" in cli("intel", "triage", rid, "--area", "E01000001")
    assert "graded 2BP" in cli("intel", "grade", rid, "--source", "2", "--assessment", "b", "--handling", "p")
    assert "bookies" in cli("intel", "redact", rid, "--term", "flat")
    assert "reply sealed" in cli("intel", "reply", rid, "Which bookies?")
    out = tmp_path / "export.json"
    cli("intel", "export", rid, "--out", str(out))
    assert json.loads(out.read_text())["grading"]["code"] == "2BP"
    assert "E01000001" in cli("intel", "counts", "--format", "csv")
    monkeypatch.setenv("SAFESTREETS_INTEL_PASSPHRASE_NEW", "the passphrase after rotation")
    assert "1 reports re-sealed" in cli("intel", "rotate", "--strength", "interactive")
    monkeypatch.setenv("SAFESTREETS_INTEL_PASSPHRASE", "the passphrase after rotation")
    assert "above the bookies" in cli("intel", "show", rid)
    later = (date.today() + timedelta(days=records.REPORT_DAYS + 1)).isoformat()
    assert "would delete 1 reports" in cli("intel", "purge", "--on", later, "--dry-run")
    assert "kept:" in cli("intel", "keep", rid, "--reason", "linked to an open investigation")
    assert "deleted 0 reports" in cli("intel", "purge", "--on", later)
    cli("intel", "keep", rid)
    assert "deleted 1 reports" in cli("intel", "purge", "--on", later)
    bad = runner.invoke(app, ["--workspace", str(root), "intel", "purge", "--on", "someday"])
    assert bad.exit_code != 0
