"""Run the analyses of :mod:`safestreets.anpr.analyses.queries` on an engine and shape the results.

The statistics that follow the SQL (the co-travel Poisson test) run in Python on the small per-pair
table both engines return, so they cannot differ between engines.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from scipy import stats

from safestreets.anpr.analyses import queries as q
from safestreets.anpr.analyses.engines import Engine
from safestreets.errors import ParameterError


def _double(x: float) -> str:
    """A number as a DOUBLE literal (Spark reads ``1.5`` as a DECIMAL, DuckDB as a DOUBLE)."""
    return f"CAST({float(x)!r} AS DOUBLE)"


@dataclass(frozen=True)
class CountyLinesParams:
    """What makes an excursion a short-dwell return trip, and how the score weighs the features."""

    night_start_h: int = 22  # unusual hours: from this local hour...
    night_end_h: int = 6  # ...to this one
    max_dwell_min: float = 120.0  # the longest stop outside the metro area that still counts as short
    max_leg_h: float = 3.0  # the last metro read before and the first after must be this close
    per_week_full: float = 2.0  # short return trips a week that earn the full repetition points
    unusual_full: float = 0.5  # share of excursion reads at unusual hours that earns the full points
    weights: tuple[float, float, float, float] = (30.0, 30.0, 20.0, 20.0)  # repeat, unusual, regular, short
    min_returns: int = 3  # flagged only with at least this many short return trips...
    min_per_week: float = 1.5  # ...this many a week on average over the period...
    min_unusual: float = 0.3  # ...at least this share of them at unusual hours...
    threshold: float = 60.0  # ...and a score of at least this (0-100)

    def sql_params(self) -> dict[str, Any]:
        checks = [
            (0 <= self.night_start_h <= 24 and 0 <= self.night_end_h <= 24, "night hours must be 0-24"),
            (self.max_dwell_min > 0 and self.max_leg_h > 0, "max_dwell_min and max_leg_h must be positive"),
            (self.per_week_full > 0 and self.unusual_full > 0, "per_week_full and unusual_full must be positive"),
            (len(self.weights) == 4 and min(self.weights) >= 0, "weights needs four non-negative numbers"),
            (self.min_returns >= 1, "min_returns must be at least 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ParameterError(f"county lines: {message}")
        w = [float(x) for x in self.weights]
        return {
            "night_start_s": int(self.night_start_h * 3600),
            "night_end_s": int(self.night_end_h * 3600),
            "max_dwell_s": _double(self.max_dwell_min * 60),
            "max_leg_s": _double(self.max_leg_h * 3600),
            "per_week_full": _double(self.per_week_full),
            "unusual_full": _double(self.unusual_full),
            "w_repeat": _double(w[0]),
            "w_unusual": _double(w[1]),
            "w_regular": _double(w[2]),
            "w_short": _double(w[3]),
            "min_returns": int(self.min_returns),
            "min_per_week": _double(self.min_per_week),
            "min_unusual": _double(self.min_unusual),
            "threshold": _double(self.threshold),
        }


@dataclass(frozen=True)
class CoTravelParams:
    window_s: int = 30  # two reads at one camera this close in time are a co-occurrence
    min_days: int = 4  # a pair is examined only if it co-occurs on this many days...
    min_cameras: int = 3  # ...at this many cameras
    # False discovery rate over the pairs examined (Benjamini-Hochberg): about this share of flagged
    # pairs may be chance.
    fdr: float = 0.01

    def sql_params(self) -> dict[str, Any]:
        if not (1 <= self.window_s <= 3600 and self.min_days >= 1 and self.min_cameras >= 1):
            raise ParameterError("co-travel: need 1 <= window_s <= 3600, min_days >= 1, min_cameras >= 1")
        if not 0 < self.fdr < 1:
            raise ParameterError("co-travel: fdr must be between 0 and 1")
        return {
            "window_s": int(self.window_s),
            "window_f": f"{float(self.window_s):.1f}",
            "window_span": 2 * int(self.window_s) + 1,
            "min_days": int(self.min_days),
            "min_cameras": int(self.min_cameras),
        }


@dataclass
class AnalysisResult:
    """One analysis's output: ``table`` (the rows), ``evidence`` where the analysis has it."""

    analysis: str
    engine: str
    params: dict[str, Any]
    table: pa.Table
    evidence: pa.Table | None = None
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_arrow(self) -> pa.Table:
        return self.table

    def to_pandas(self) -> Any:
        return self.table.to_pandas()

    def flagged(self) -> pa.Table:
        """Rows flagged by the analysis's rule (county lines, co-travel); every row otherwise."""
        if "flagged" not in self.table.column_names:
            return self.table
        return self.table.filter(self.table["flagged"])

    def __len__(self) -> int:
        return self.table.num_rows


def prepare(engine: Engine, metro_areas: list[str] | tuple[str, ...] = ()) -> None:
    """The base view ``anpr_r`` (reads with area, epoch and local seconds) and the metro area list."""
    metro = pa.table({"area_code": pa.array(sorted(set(metro_areas)), type=pa.string())})
    engine.register_arrow("anpr_metro", metro)
    engine.view(
        "anpr_r",
        q.BASE.format(epoch=engine.fn("epoch", "r.read_at"), local_epoch=engine.fn("local_epoch", "r.read_at")),
    )


def _steps(engine: Engine, steps: list[tuple[Any, ...]], params: dict[str, Any]) -> None:
    for name, sql, *keep in steps:
        if keep and keep[0]:
            engine.table(name, sql.format(**params))
        else:
            engine.view(name, sql.format(**params))


def journeys(engine: Engine, *, gap_minutes: float = 30.0) -> AnalysisResult:
    """Reads chained into trips: one row per (vehicle, trip)."""
    if gap_minutes <= 0:
        raise ParameterError("journeys: gap_minutes must be positive")
    start = time.perf_counter()
    prepare(engine)
    params = {"gap_s": _double(gap_minutes * 60)}
    _steps(engine, q.JOURNEY_STEPS, params)
    table = engine.result(q.JOURNEYS)
    return AnalysisResult("journeys", engine.name, {"gap_minutes": gap_minutes}, table,
                          seconds=time.perf_counter() - start)


def flows(engine: Engine, *, gap_minutes: float = 30.0) -> AnalysisResult:
    """Trips between areas: origin area, destination area, trips, vehicles, mean minutes."""
    if gap_minutes <= 0:
        raise ParameterError("flows: gap_minutes must be positive")
    start = time.perf_counter()
    prepare(engine)
    _steps(engine, q.JOURNEY_STEPS, {"gap_s": _double(gap_minutes * 60)})
    table = engine.result(q.FLOWS)
    return AnalysisResult("flows", engine.name, {"gap_minutes": gap_minutes}, table,
                          seconds=time.perf_counter() - start)


def county_lines(
    engine: Engine, metro_areas: list[str] | tuple[str, ...], params: CountyLinesParams = CountyLinesParams()
) -> AnalysisResult:
    """Per vehicle with at least one short-dwell return trip: the features, the score, and whether the
    rule flags it; ``evidence`` lists the return trips of the flagged vehicles."""
    if not metro_areas:
        raise ParameterError("county lines: name the metro area codes (the areas that make up the city)")
    start = time.perf_counter()
    prepare(engine, metro_areas)
    sql_params = params.sql_params()
    _steps(engine, q.COUNTY_LINES_STEPS, sql_params)
    table = engine.result(q.COUNTY_LINES.format(**sql_params))
    evidence = engine.result(q.COUNTY_LINES_EVIDENCE.format(**sql_params))
    shown = {**asdict(params), "metro_areas": sorted(metro_areas)}
    return AnalysisResult("county-lines", engine.name, shown, table, evidence,
                          seconds=time.perf_counter() - start)


def co_travel(engine: Engine, params: CoTravelParams = CoTravelParams(), *,
              evidence: bool = True) -> AnalysisResult:
    """Pairs seen together on at least ``min_days`` days at ``min_cameras`` cameras, with the count expected
    by chance, a one-sided Poisson p-value, its Benjamini-Hochberg q-value over all pairs examined, and
    whether that is within ``fdr``."""
    start = time.perf_counter()
    prepare(engine)
    sql_params = params.sql_params()
    _steps(engine, q.CO_TRAVEL_STEPS, sql_params)
    table = engine.result(q.CO_TRAVEL.format(**sql_params))
    table = _poisson(table, params)
    hits = engine.result(q.CO_TRAVEL_EVIDENCE) if evidence else None
    return AnalysisResult("co-travel", engine.name, asdict(params), table, hits,
                          seconds=time.perf_counter() - start)


def _poisson(table: pa.Table, params: CoTravelParams) -> pa.Table:
    # One shared trip makes several hits, so the count tested is the days the pair met, against the
    # chance number of hits: each chance day has at least one hit, so this errs towards "chance".
    days = np.asarray(table["days"].to_numpy(zero_copy_only=False), dtype=float)
    expected = np.asarray(table["expected"].to_numpy(zero_copy_only=False), dtype=float)
    # P(X >= days) for X ~ Poisson(expected); a pair with nothing expected is as surprising as can be.
    p = stats.poisson.sf(days - 1, np.maximum(expected, 1e-12)) if len(days) else np.zeros(0)
    q = stats.false_discovery_control(p, method="bh") if len(p) else np.zeros(0)
    ratio = np.where(expected > 0, days / np.maximum(expected, 1e-12), math.inf)
    return (
        table.append_column("ratio", pa.array(np.round(ratio, 3), type=pa.float64()))
        .append_column("p_value", pa.array(p, type=pa.float64()))
        .append_column("q_value", pa.array(q, type=pa.float64()))
        .append_column("flagged", pa.array(q <= params.fdr, type=pa.bool_()))
    )
