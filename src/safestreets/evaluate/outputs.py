"""A backtest's files: the per-origin metrics, their summary, the coverage curves, a chart, provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from safestreets import __version__
from safestreets.evaluate.backtest import BacktestResult
from safestreets.evaluate.charts import coverage_chart


def write_backtest(
    result: BacktestResult, summary: pa.Table, folder: Path, *, title: str, extra: dict[str, Any]
) -> list[Path]:
    """Write ``metrics.csv``, ``summary.csv``, ``coverage_curves.csv``, ``coverage.png`` and
    ``provenance.json`` (the backtest's parameters plus ``extra``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, table in (
        ("metrics", result.metrics),
        ("summary", summary),
        ("coverage_curves", result.curves),
    ):
        pacsv.write_csv(table, folder / f"{name}.csv")
        files.append(folder / f"{name}.csv")
    files.append(coverage_chart(result.curves, folder / "coverage.png", title=title))
    provenance = folder / "provenance.json"
    provenance.write_text(
        json.dumps({**result.params, **extra, "version": __version__}, indent=2, default=str), "utf-8"
    )
    files.append(provenance)
    return files
