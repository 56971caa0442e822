"""docs/impact.md's examples run as written, in order, in a fresh folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "impact.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), flags=re.S)


@pytest.mark.slow
def test_examples_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    namespace: dict[str, object] = {}
    try:
        for i, block in enumerate(blocks()):
            try:
                exec(compile(block, f"{DOC.name}[{i}]", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"docs/impact.md block {i} failed: {exc!r}\n{block}") from exc
    finally:
        os.chdir(cwd)
    printed = capsys.readouterr().out
    assert "difference-in-differences" in printed and "ran away" in printed
    assert (tmp_path / "impact-demo" / "evaluation.md").exists()
    assert (tmp_path / "impact-demo" / "outputs" / "atrs-record.json").exists()
