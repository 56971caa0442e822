"""docs/python.md's examples run as written, in order, on the demo city (as after ``make demo``)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "python.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), flags=re.S)


def test_the_doc_has_examples_for_every_job() -> None:
    code = "\n".join(blocks())
    for call in ("ingest", "load_areas", "status", "export", "forecast", "backtest", "plan", "hubs", "hotspots",
                 "brief", "run_demo", "to_pandas"):  # fmt: skip
        assert f"{call}(" in code, call


@pytest.mark.slow
def test_examples_run_on_the_demo_city(
    demo_city: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("pandas")
    shutil.copytree(demo_city, tmp_path / "demo-workspace")
    cwd = os.getcwd()
    os.chdir(tmp_path)
    namespace: dict[str, object] = {}
    try:
        for i, block in enumerate(blocks()):
            try:
                exec(compile(block, f"{DOC.name}[{i}]", "exec"), namespace)
            except Exception as exc:
                raise AssertionError(f"docs/python.md block {i} failed: {exc!r}\n{block}") from exc
    finally:
        os.chdir(cwd)
        ws = namespace.get("ws")
        if ws is not None:
            ws.close()  # type: ignore[attr-defined]
    printed = capsys.readouterr().out
    assert "EPSG:27700" in printed
    assert "did you mean 'kde'" in printed
    assert (tmp_path / "demo-workspace" / "outputs" / "robbery.gpkg").exists()
    assert (tmp_path / "demo-small" / "safestreets.duckdb").exists()
