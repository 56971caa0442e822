"""docs/accountability.md's Python example runs as written on the real Met files."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "accountability.md"


@pytest.mark.realdata
def test_the_python_example_runs(shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), flags=re.S)
    assert blocks
    monkeypatch.setenv("SAFESTREETS_DATA", str(shared_data))
    monkeypatch.setenv("ACCOUNTABILITY_WS", str(tmp_path / "ws"))
    scope: dict[str, object] = {}
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), scope)
    printed = capsys.readouterr().out
    assert "census populations loaded (lad)" in printed and "Misuse of Drugs Act" in printed
    scope["ws"].close()  # type: ignore[attr-defined]
    assert os.environ["ACCOUNTABILITY_WS"]
