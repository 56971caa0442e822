"""What each job of the Python API returns: small typed objects that render as tables.

Every result has ``to_arrow()`` (the tidy table a notebook, the CLI's ``--format csv|json`` and the web
API all use), ``to_pandas()`` and, for results with places, ``to_geopandas()`` with the store's CRS
(GeoPandas is the optional ``geo`` extra). The objects also keep what made them (run and plan ids,
paths written, notes) so a caller never has to query the store again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from safestreets.errors import SafestreetsError


class Tabular:
    """Mixin: a result that is, at heart, one table."""

    #: The CRS of a ``geometry`` column (WKB) in :meth:`to_arrow`, or None when the table has none.
    crs: str | None = None

    def to_arrow(self) -> pa.Table:
        raise NotImplementedError

    def to_pylist(self) -> list[dict[str, Any]]:
        return self.to_arrow().to_pylist()

    def to_pandas(self) -> Any:
        """The table as a pandas DataFrame (pandas must be installed)."""
        return self.to_arrow().to_pandas()

    def to_geopandas(self) -> Any:
        """The table as a GeoDataFrame in the workspace CRS (needs the ``geo`` extra: geopandas)."""
        try:
            import geopandas as gpd
        except ImportError as exc:
            raise SafestreetsError("to_geopandas() needs geopandas: pip install 'safestreets[geo]'") from exc
        table = self.to_arrow()
        if "geometry" not in table.column_names or self.crs is None:
            raise SafestreetsError(f"{type(self).__name__} has no geometry: use to_pandas()")
        frame = table.drop_columns(["geometry"]).to_pandas()
        geometry = gpd.GeoSeries.from_wkb(table.column("geometry").to_pylist(), crs=self.crs)
        return gpd.GeoDataFrame(frame, geometry=geometry, crs=self.crs)


def place_label(code: object, names: dict[str, str]) -> str:
    """A command unit (BCU or borough) as people know it: its loaded name, else its code."""
    return names.get(str(code)) or str(code)


def _rows_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> pa.Table:
    """A table from dict rows, with the columns (and their order) fixed even when there are no rows."""
    if not rows:
        return pa.table({c: pa.array([], pa.string()) for c in columns})
    return pa.Table.from_pylist([{c: r.get(c) for c in columns} for r in rows])


@dataclass
class IngestReport(Tabular):
    """What one ``ingest`` or ``fetch`` did: one row per file (or fetched month)."""

    results: list[Any]  # store.load.LoadResult
    notes: list[str] = field(default_factory=list)
    api_summary: str | None = None  # request statistics of a fetch

    COLUMNS = ("source", "kind", "batch_id", "skipped_as", "rows_read", "rows_loaded", "rows_rejected",
               "rows_filtered", "rows_no_location", "rows_replaced", "months", "forces")  # fmt: skip

    @property
    def loaded(self) -> list[Any]:
        return [r for r in self.results if r.skipped_as is None]

    @property
    def skipped(self) -> list[Any]:
        return [r for r in self.results if r.skipped_as is not None]

    def total(self, what: str) -> int:
        return sum(getattr(r, what) for r in self.loaded)

    def summary(self) -> str:
        t = self.total
        return (
            f"{len(self.loaded)} file(s) loaded, {len(self.skipped)} already in the store: "
            f"{t('rows_loaded'):,} rows loaded of {t('rows_read'):,} read "
            f"({t('rows_rejected'):,} rejected, {t('rows_filtered'):,} outside the filters, "
            f"{t('rows_no_location'):,} without location, {t('rows_replaced'):,} earlier rows replaced)"
        )

    def to_arrow(self) -> pa.Table:
        rows = [
            {**{c: getattr(r, c) for c in self.COLUMNS[:10]}, "months": ",".join(r.months),
             "forces": ",".join(r.forces)}
            for r in self.results
        ]  # fmt: skip
        return _rows_table(rows, self.COLUMNS)


@dataclass
class LoadReport(Tabular):
    """Areas or places loaded from one file: counts per kind."""

    what: str  # "areas" or "places"
    source: Path
    batch_id: int | None
    counts: dict[str, int]

    def summary(self) -> str:
        shown = ", ".join(f"{k} {n:,}" for k, n in self.counts.items()) or "none new"
        return f"{self.what} loaded from {self.source.name} (batch {self.batch_id}): {shown}"

    def to_arrow(self) -> pa.Table:
        return _rows_table([{"kind": k, "count": n} for k, n in self.counts.items()], ("kind", "count"))


@dataclass
class Listing(Tabular):
    """A plain table the store or an API answered (area kinds, forces, neighbourhoods)."""

    title: str
    rows: list[dict[str, Any]]
    columns: tuple[str, ...]

    def to_arrow(self) -> pa.Table:
        return _rows_table(self.rows, self.columns)


@dataclass
class StatusReport(Tabular):
    """What the store holds (``store.queries.Status``) and where its data has gaps."""

    path: Path
    status: Any  # store.queries.Status

    def to_arrow(self) -> pa.Table:
        """Rows per force, month and crime type (the ``status --by-month`` matrix)."""
        rows = [{"force": f, "month": m, "crime_type": t, "rows": n} for f, m, t, n in self.status.matrix]
        return _rows_table(rows, ("force", "month", "crime_type", "rows"))


@dataclass
class ExportResult:
    path: Path
    rows: int
    provenance: Path


@dataclass
class ForecastResult(Tabular):
    """A stored forecast run: the surface, why its model was chosen, and the files written."""

    run: Any  # forecast run (surface, run_id, model, reason, choice, history, units)
    files: list[Path]
    notes: list[str] = field(default_factory=list)
    bcu_names: dict[str, str] = field(default_factory=dict)  # command unit code -> name, where loaded

    @property
    def run_id(self) -> int:
        return int(self.run.run_id)

    @property
    def surface(self) -> Any:
        return self.run.surface

    @property
    def model(self) -> str:
        return str(self.run.model)

    @property
    def reason(self) -> str:
        return str(self.run.reason)

    @property
    def crs(self) -> str:  # type: ignore[override]
        return str(self.run.surface.units.crs)

    def to_arrow(self) -> pa.Table:
        """One row per unit: id, name, BCU, rank, expected count and harm, area, centre and polygon (WKB)."""
        return self.run.surface.table()

    TOP_COLUMNS = ("bcu", "rank", "place", "unit_id", "expected_count", "expected_harm", "lat", "lon", "lower",
                   "upper")  # fmt: skip

    @property
    def interval_level(self) -> float | None:
        """The level of the forecast's predictive intervals (0.8 = 80%), None if it has none."""
        iv = self.run.surface.meta.get("intervals")
        return None if not iv else float(iv["level"])

    def totals(self) -> list[dict[str, Any]]:
        """The city's and each command unit's expected count with its predictive interval (``lower`` and
        ``upper``, whole counts; forecast/intervals.py); empty for a forecast made without intervals."""
        iv = self.run.surface.meta.get("intervals") or {}
        return [{"scope": k, "name": "citywide" if k == "city" else self.bcu_names.get(k, k), **v}
                for k, v in sorted((iv.get("totals") or {}).items(), key=lambda kv: (kv[0] != "city", kv[0]))]  # fmt: skip

    def top_per_bcu(self, k: int) -> list[dict[str, Any]]:
        """The ``k`` riskiest units of each command unit, riskiest first, with their centres in lon/lat and
        the predictive interval of each one's count (``lower``, ``upper``; None without intervals)."""
        from safestreets.forecast.surface import top_per_group
        from safestreets.geo.project import to_crs

        s = self.run.surface
        if k <= 0:
            return []
        groups = top_per_group(s.scores, s.units.area, s.units.bcu, k)
        lon, lat = to_crs(s.units.x, s.units.y, src=s.units.crs, dst="EPSG:4326")
        ranks = s.ranks()
        return [
            {"bcu": g, "rank": int(ranks[i]), "place": s.place(i), "unit_id": str(s.units.ids[i]),
             "expected_count": float(s.expected_count[i]), "expected_harm": float(s.expected_harm[i]),
             "lat": round(float(lat[i]), 6), "lon": round(float(lon[i]), 6),
             "lower": None if s.count_lower is None else float(s.count_lower[i]),
             "upper": None if s.count_upper is None else float(s.count_upper[i])}
            for g, idx in groups.items()
            for i in idx
        ]  # fmt: skip


@dataclass
class BacktestReport(Tabular):
    """A rolling-origin backtest: the per-origin metrics, their summary, and the files written."""

    result: Any  # evaluate.backtest.BacktestResult
    summary_table: pa.Table
    label: str
    folder: Path
    files: list[Path]
    #: Hit rate per shift (unit, raw and city profiles) and interval coverage (``coverage_80``, ...), when
    #: asked for (evaluate/shifts.py summaries).
    shifts: pa.Table | None = None
    intervals: pa.Table | None = None

    def to_arrow(self) -> pa.Table:
        """The summary: one row per model, horizon and coverage (means and 95% intervals)."""
        return self.summary_table

    @property
    def metrics(self) -> pa.Table:
        return self.result.metrics

    @property
    def notes(self) -> list[str]:
        """Warnings to show beside the table: events set aside from the study area, models skipped."""
        from safestreets.forecast.data import gap_warnings

        params = self.result.params
        notes = gap_warnings(params.get("data")) + list(params.get("units", {}).get("warnings", []))
        notes += [f"{name} skipped, it cannot run on this data: {why}" for name, why in
                  (params.get("skipped") or {}).items()]  # fmt: skip
        return notes

    @property
    def curves(self) -> pa.Table:
        return self.result.curves


@dataclass
class PlanResult(Tabular):
    """A week's patrol plan: teams, hot spots and visits, stored and exported."""

    run: Any  # plan run (plan, surface, week_start, visits, plan_id, seed, notes)
    files: list[Path]
    notes: list[str] = field(default_factory=list)
    bcu_names: dict[str, str] = field(default_factory=dict)  # command unit code -> name, where loaded

    @property
    def plan_id(self) -> int | None:
        return self.run.plan_id

    @property
    def week_start(self) -> date:
        return self.run.week_start

    def by_bcu(self) -> list[dict[str, Any]]:
        return list(self.run.plan.by_bcu())

    def to_arrow(self) -> pa.Table:
        """Per BCU: team-shifts, hot spots, visits a day and expected harm prevented a week."""
        return _rows_table(
            self.by_bcu(), ("bcu", "teams", "hotspots", "visits_per_day", "harm_prevented_week")
        )

    def visits(self) -> pa.Table:
        """Every scheduled visit of the week."""
        rows = [v.__dict__ if hasattr(v, "__dict__") else dict(v) for v in self.run.visits]
        return pa.Table.from_pylist(rows) if rows else pa.table({})


@dataclass
class HubsResult(Tabular):
    """Hub ranking for knife arches and drug dogs, weapons-sweep places and incident support."""

    ranking: Any  # plan.hubs ranking
    lines: list[str]
    path: Path

    def to_arrow(self) -> pa.Table:
        return self.ranking.deployments


@dataclass
class HotspotsResult(Tabular):
    """Emerging, persistent and diminishing hot spots on a forecast's units."""

    result: Any  # trends.emerging.EmergingResult
    units: Any  # geo.units.Units
    files: list[Path]
    changes: list[Any]
    names: dict[str, str] = field(default_factory=dict)  # unit id -> place name, as the forecast stored it
    bcu_names: dict[str, str] = field(default_factory=dict)  # command unit code -> name, where loaded

    COLUMNS = ("place", "unit", "bcu", "category", "last_period", "mean_before", "trend_z")

    @property
    def crs(self) -> str:  # type: ignore[override]
        return str(self.units.crs)

    def summary(self) -> dict[str, int]:
        return dict(self.result.summary())

    def to_arrow(self) -> pa.Table:
        """The largest changes: unit, its place name, BCU, category, last period's count, the mean before,
        trend z."""
        rows = [
            {"unit": c.unit_id, "place": self.names.get(c.unit_id) or c.unit_id, "bcu": c.bcu,
             "category": c.category, "last_period": c.last_count, "mean_before": c.mean_before,
             "trend_z": c.trend_z}
            for c in self.changes
        ]  # fmt: skip
        return _rows_table(rows, self.COLUMNS)


@dataclass
class BriefResult:
    """The weekly tactical assessment written as HTML (and PDF)."""

    html: Path
    pdf: Path | None
    summary: list[str]
    context: dict[str, Any]
