"""docs/anpr-analyses.md's Python example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "anpr-analyses.md"


def test_the_example_runs(capsys) -> None:  # type: ignore[no-untyped-def]
    # The runnable example (the one-line workspace call beside it needs a workspace of reads).
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", DOC.read_text("utf-8"), flags=re.S) if "generate_anpr" in b]
    namespace: dict[str, object] = {}
    exec(compile(block, DOC.name, "exec"), namespace)
    assert namespace["trips"].num_rows > 0  # type: ignore[attr-defined]
    assert "score" in capsys.readouterr().out
