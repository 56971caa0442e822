"""Stop and search jobs of the API: load census denominators, and the full report (volumes, outcome rates
with intervals, breakdowns, trends, disproportionality), written as Markdown and CSV."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from safestreets.accountability import disproportionality as dispro
from safestreets.accountability import searches
from safestreets.accountability.searchreport import markdown
from safestreets.api.results import Tabular
from safestreets.errors import NoDataError
from safestreets.sources.census import read_ts021
from safestreets.store import population


@dataclass
class PopulationReport:
    path: Path
    level: str
    areas: int
    boroughs: int
    population: int
    outside: int

    def __str__(self) -> str:
        return (f"census populations loaded ({self.level}): {self.areas:,} areas in {self.boroughs} boroughs, "
                f"{self.population:,} people ({self.outside:,} areas outside the loaded boroughs left out)")  # fmt: skip


@dataclass
class StopSearchReport(Tabular):
    """The analysis (``analysis``), the disproportionality (``disproportionality``, None without census
    populations), and the files written. ``to_arrow()`` is the breakdown table."""

    analysis: searches.SearchAnalysis
    disproportionality: dispro.Disproportionality | None
    other_basis: dispro.Disproportionality | None = None  # the same on the other ethnicity (officer or self)
    paths: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    markdown: str = ""

    def to_arrow(self) -> pa.Table:
        return self.analysis.breakdown

    @property
    def summary(self) -> dict[str, Any]:
        return self.analysis.summary


def load_population(con: duckdb.DuckDBPyConnection, path: str | Path) -> PopulationReport:
    """Read a TS021 table (by local authority or MSOA) and store it, matched to the loaded boroughs."""
    table = read_ts021(path)
    got = population.load_population(con, table, Path(path).name)
    return PopulationReport(Path(path), **got)


def stopsearch_report(
    con: duckdb.DuckDBPyConnection, outputs: Path | None, *, force: str | None = None, months: str | None = None,
    legislation: str | None = None, basis: str = "self", level: str | None = None,
    boroughs: list[str] | None = None, out_dir: Path | None = None, write: bool = True,
) -> StopSearchReport:  # fmt: skip
    """The full stop-and-search report over the stored rows in scope."""
    sc = searches.scope(force, months, legislation)
    analysis = searches.analyse(con, sc)
    notes = list(analysis.notes)
    d: dispro.Disproportionality | None = None
    other: dispro.Disproportionality | None = None
    missing_note = None
    try:
        d = dispro.disproportionality(con, sc, basis=basis, level=level, boroughs=boroughs)
        other = dispro.disproportionality(con, sc, basis="officer" if basis == "self" else "self", level=level,
                                          boroughs=boroughs)  # fmt: skip
        notes += d.warnings
    except NoDataError as exc:
        missing_note = str(exc)
        notes.append(missing_note)
    text = markdown(analysis, d, missing_note, other)
    report = StopSearchReport(analysis, d, other, notes=notes, markdown=text)
    if write and outputs is not None:
        folder = out_dir or outputs / "stopsearch"
        folder.mkdir(parents=True, exist_ok=True)
        md = folder / "stopsearch-report.md"
        md.write_text(text, encoding="utf-8")
        report.paths.append(md)
        tables = {"breakdown": analysis.breakdown, "trends": analysis.trends}
        if d is not None:
            tables |= {"disproportionality": d.rates, "disproportionality-by-borough": d.by_borough,
                       "ethnicity-officer-vs-self": d.cross}  # fmt: skip
        if other is not None:
            tables[f"disproportionality-{other.basis}-defined"] = other.rates
        for name, t in tables.items():
            p = folder / f"stopsearch-{name}.csv"
            pacsv.write_csv(t, p)
            report.paths.append(p)
    return report


def jsonable(value: Any) -> Any:
    """``value`` with every NaN (a rate over no searches, the reference group's own interval) as None: JSON
    has no NaN."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def stopsearch_json(
    con: duckdb.DuckDBPyConnection, *, force: str | None = None, months: str | None = None
) -> dict[str, Any]:
    """The report as plain JSON for the dashboard's API; with no rows in scope, empty parts and a note."""
    try:
        r = stopsearch_report(con, None, force=force, months=months, write=False)
    except NoDataError as exc:
        return {
            "summary": None,
            "breakdown": [],
            "trends": [],
            "disproportionality": None,
            "notes": [str(exc)],
        }
    d = r.disproportionality
    return jsonable({"summary": r.summary, "breakdown": r.analysis.breakdown.to_pylist(), "trends": r.analysis.trends.to_pylist(),
            "disproportionality": None if d is None else {"basis": d.basis, "months": d.months, "boroughs": d.boroughs,
                                                          "rates": d.rates.to_pylist(), "missing": d.missing},
            "notes": r.notes})  # fmt: skip
