"""What the workspace's outputs folder holds, read back: stored backtests, emerging hot spot results,
patrol cards and briefings (the files ``safestreets backtest``, ``hotspots``, ``plan`` and ``brief`` write).
Nothing here writes; a file that cannot be read is said so rather than failing the page that lists it."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from safestreets.api import catalog_models as m
from safestreets.api.workspace import Workspace
from safestreets.errors import NotFoundError, SafestreetsError, unknown
from safestreets.store import catalog as store


def run_files(ws: Workspace, run_id: int) -> list[str]:
    """The files made from a forecast run (named ``...-run<id>.<ext>``), provenance sidecars left out."""
    folder = ws.paths.outputs
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.glob(f"*-run{int(run_id)}.*") if not p.name.endswith(".provenance.json")
    )


def summary_rows(rows: list[dict[str, Any]]) -> list[m.BacktestRow]:
    keep = set(m.BacktestRow.model_fields)
    return [m.BacktestRow(**{k: v for k, v in r.items() if k in keep}) for r in rows]


def curves_from_summary(rows: list[m.BacktestRow]) -> list[m.CoverageCurve]:
    """Coverage curves through the stored coverages (the run's own backtest keeps these points only)."""
    from safestreets.forecast import ALIASES, BASELINES

    by_model: dict[str, list[tuple[float, float | None]]] = defaultdict(lambda: [(0.0, 0.0)])
    for r in rows:
        if r.coverage is not None:
            by_model[r.model].append((r.coverage, r.hit_rate))
    return [m.CoverageCurve(model=k, baseline=k in BASELINES or k in ALIASES, points=sorted(v, key=lambda p: p[0]))
            for k, v in sorted(by_model.items())]  # fmt: skip


def _read_csv(path: Path) -> list[dict[str, Any]]:
    """A CSV the backtest wrote, numbers as numbers (empty cells and 'nan' as None)."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))

    def value(text: str) -> Any:
        if text in ("", "nan", "NaN"):
            return None
        try:
            return int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:
            return text

    return [{k: value(v) for k, v in r.items()} for r in rows]


def stored_backtest(folder: Path) -> m.StoredBacktest | None:
    """A ``safestreets backtest`` folder: its summary and the mean coverage curve per model."""
    from safestreets.forecast import ALIASES, BASELINES

    if not (folder / "summary.csv").is_file():
        return None
    try:
        rows = summary_rows(_read_csv(folder / "summary.csv"))
        prov = (
            json.loads((folder / "provenance.json").read_text("utf-8"))
            if (folder / "provenance.json").is_file()
            else {}
        )
        curves: list[m.CoverageCurve] = []
        if (folder / "coverage_curves.csv").is_file():
            points: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
            raw = _read_csv(folder / "coverage_curves.csv")
            first = raw[0]["horizon"] if raw else None
            for r in raw:
                if r["horizon"] == first and r["hit_rate"] is not None:
                    points[str(r["model"])][float(r["coverage"])].append(float(r["hit_rate"]))
            curves = [m.CoverageCurve(model=k, baseline=k in BASELINES or k in ALIASES,
                                      points=[(c, float(np.mean(v))) for c, v in sorted(cov.items())])
                      for k, cov in sorted(points.items())]  # fmt: skip
        else:
            curves = curves_from_summary(rows)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SafestreetsError(f"the stored backtest {folder.name} cannot be read: {err}") from err
    origins = max((r.origins or 0 for r in rows), default=0) or None
    return m.StoredBacktest(
        name=folder.name, made_at=prov.get("made_at"), origins=origins,
        horizons=[str(h) for h in prov.get("horizons", [])],
        summary=m.BacktestSummary(source=f"stored backtest {folder.name}", origins=origins, rows=rows, curves=curves),
    )  # fmt: skip


_CARDS_PLAN = re.compile(r"· plan (\d+)</div>")


def stored_backtests(ws: Workspace) -> tuple[list[m.StoredBacktest], list[str]]:
    """Every ``backtest-*`` folder of the outputs, and a note for each that cannot be read."""
    folder = ws.paths.outputs
    found, notes = [], []
    for p in sorted(folder.glob("backtest-*")) if folder.is_dir() else []:
        if not p.is_dir():
            continue
        try:
            b = stored_backtest(p)
        except SafestreetsError as err:
            notes.append(str(err))
            continue
        if b is not None:
            found.append(b)
    return found, notes


def cards_file(ws: Workspace, plan_id: int, week: date) -> tuple[Path | None, str | None]:
    """The plan's patrol cards PDF, if the one in outputs was made for this plan (cards are named by week,
    so a later plan for the same week replaces them)."""
    pdf = ws.paths.outputs / f"patrol-cards-{week}.pdf"
    html = pdf.with_suffix(".html")
    if not pdf.is_file():
        return (
            None,
            f"no patrol cards for the week of {week} in the outputs folder (plan --cards writes them)",
        )
    if not html.is_file():
        return (
            None,
            f"the patrol cards for the week of {week} have no HTML beside them to say which plan they are",
        )
    with html.open(encoding="utf-8", errors="replace") as fh:
        found = _CARDS_PLAN.search(fh.read(20_000))
    if found is None or int(found.group(1)) != plan_id:
        other = f"plan {found.group(1)}" if found else "another plan"
        return None, f"the patrol cards for the week of {week} in the outputs folder are for {other}"
    return pdf, None


_HOTSPOTS_FILE = re.compile(r"^hotspots-(?P<window>.+)-run(?P<run>\d+)\.(?P<ext>gpkg|geojson)$")


def changes(ws: Workspace, *, top: int = 15) -> m.Changes:
    """What changed: the emerging hot spots ``safestreets hotspots`` wrote for the latest forecast run,
    else its latest result for any run, else a note that none were computed."""
    import pyarrow.compute as pc
    import pyogrio

    from safestreets.trends.emerging import NOTABLE

    latest = store.latest_forecast_run(ws.con)
    folder = ws.paths.outputs
    stems: dict[str, list[Path]] = defaultdict(list)
    for p in folder.glob("hotspots-*-run*.*") if folder.is_dir() else []:
        if _HOTSPOTS_FILE.match(p.name):
            stems[p.name.rsplit(".", 1)[0]].append(p)
    if not stems:
        return m.Changes(computed=False, note="no emerging hot spots computed: run 'safestreets hotspots'")

    def rank(stem: str) -> tuple[bool, float]:  # the latest run's first, then the newest
        return (stem.endswith(f"-run{latest}"), max(p.stat().st_mtime for p in stems[stem]))

    chosen = sorted(stems[max(stems, key=rank)], key=lambda p: p.suffix != ".gpkg")
    path = chosen[0]
    hit = _HOTSPOTS_FILE.match(path.name)
    assert hit is not None
    try:
        table = pyogrio.read_arrow(path, read_geometry=False)[1]
        cols = {
            c: table.column(c).to_pylist()
            for c in ("unit_id", "bcu", "category", "last_count", "mean_count", "trend_z")
        }
    except Exception as err:  # a damaged or foreign file: say so rather than fail the page
        return m.Changes(
            computed=False, file=path.name, note=f"emerging hot spots in {path.name} cannot be read: {err}"
        )
    counts = pc.value_counts(table.column("category")).to_pylist()
    summary = {str(c["values"]): int(c["counts"]) for c in counts if c["values"] != "no pattern"}
    rows = []
    for cat in NOTABLE:
        idx = [i for i, c in enumerate(cols["category"]) if c == cat]
        idx.sort(key=lambda i: -abs((cols["last_count"][i] or 0) - (cols["mean_count"][i] or 0)))
        rows += [m.ChangeRow(unit_id=cols["unit_id"][i], bcu=cols["bcu"][i] or "", category=cat,
                             last_count=cols["last_count"][i], mean_before=cols["mean_count"][i],
                             trend_z=cols["trend_z"][i]) for i in idx]  # fmt: skip
    run_id = int(hit.group("run"))
    note = None if run_id == latest else f"computed for forecast run {run_id}, not the latest ({latest})"
    window = hit.group("window").replace("to", " to ")
    return m.Changes(computed=True, run_id=run_id, latest_run=run_id == latest, window=window, file=path.name,
                     summary=summary, rows=rows[:top], note=note)  # fmt: skip


# --- briefings -----------------------------------------------------------------------------------------

_BRIEFING = re.compile(r"^tactical-assessment-(\d{4}-\d{2}-\d{2})\.(html|pdf)$")
BRIEFING_KINDS = ("html", "pdf")


def briefings(ws: Workspace) -> list[m.Briefing]:
    """The tactical assessments in the outputs folder (``safestreets brief``), the latest week first."""
    folder = ws.paths.outputs
    weeks: dict[date, dict[str, Path]] = defaultdict(dict)
    for p in folder.glob("tactical-assessment-*.*") if folder.is_dir() else []:
        hit = _BRIEFING.match(p.name)
        if hit and p.is_file():
            try:
                weeks[date.fromisoformat(hit.group(1))][hit.group(2)] = p
            except ValueError:  # a name that looks like a date but is not one
                continue
    out = []
    for week in sorted(weeks, reverse=True):
        files = weeks[week]
        prov: dict[str, Any] = {}
        sidecar = folder / f"tactical-assessment-{week}.provenance.json"
        if sidecar.is_file():
            try:
                prov = json.loads(sidecar.read_text("utf-8"))
            except (OSError, ValueError):
                prov = {}
        forecast = prov.get("forecast") or {}
        out.append(m.Briefing(
            week=week, html="html" in files, pdf="pdf" in files,
            html_bytes=files["html"].stat().st_size if "html" in files else None,
            pdf_bytes=files["pdf"].stat().st_size if "pdf" in files else None,
            made_at=prov.get("made_at"), target=(forecast.get("data") or {}).get("target", {}).get("name"),
            model=forecast.get("model"),
        ))  # fmt: skip
    return out


def briefing_file(ws: Workspace, week: date, kind: str) -> Path:
    """The briefing of ``week`` as ``html`` or ``pdf``, or NotFoundError."""
    if kind not in BRIEFING_KINDS:
        raise unknown("briefing format", kind, BRIEFING_KINDS)
    path = ws.paths.outputs / f"tactical-assessment-{week.isoformat()}.{kind}"
    if not path.is_file():
        raise NotFoundError(f"no {kind.upper()} briefing for the week of {week} in the outputs folder")
    return path
