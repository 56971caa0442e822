"""docs/anpr.md's Python example runs as written; the command line's errors are one line with exit 1."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "anpr.md"


def test_the_python_example_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("SAFESTREETS_DATABASE_URL", raising=False)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), flags=re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), {})
    out = capsys.readouterr().out
    assert "AB12CDE" in out and "stolen vehicle" not in out


def _run(*args: str, ws: Path) -> subprocess.CompletedProcess[str]:
    src = Path(__file__).resolve().parents[2] / "src"
    env = {"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", "HOME": str(ws.parent)}
    return subprocess.run([sys.executable, "-m", "safestreets", *args, "--workspace", str(ws)],
                          capture_output=True, text=True, env=env, timeout=120)  # fmt: skip


def test_the_commands_answer_in_one_line(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert _run("init", ws=ws).returncode == 0
    (tmp_path / "c.csv").write_text("camera_id,lon,lat,road,direction\nC1,-0.1,51.5,A1,N\n", "utf-8")
    r = _run("anpr", "load-cameras", str(tmp_path / "c.csv"), ws=ws)
    assert r.returncode == 0 and "1 loaded" in r.stdout
    r = _run("anpr", "hotlist", "add", "AB12CDE", "--source", "PNC", "--expires", "+3d", ws=ws)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "needs a reason" in r.stderr
    (tmp_path / "r.csv").write_text("plate,read_at,camera_id\nAB12CDE,2026-01-01T00:00:00+00:00,C7\n", "utf-8")
    r = _run("anpr", "load", str(tmp_path / "r.csv"), ws=ws)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "row 1 (line 2)" in r.stderr
    r = _run("anpr", "reads", "AB12CDE", "--purpose", "enquiry 1", "--since", "2020-01-01", ws=ws)
    assert r.returncode == 1 and "reach" in r.stderr
    r = _run("anpr", "purge", "--dry-run", ws=ws)
    assert r.returncode == 0 and "0 reads" in r.stdout
