"""ANPR analyses over the stored reads, on DuckDB or Spark with one expression each.

- :func:`journeys`: a vehicle's reads chained into trips (a gap over ``gap_minutes`` ends a trip), with
  origin and destination cameras and areas.
- :func:`flows`: trips between areas (origin-destination counts).
- :func:`county_lines`: per vehicle, repeated short-dwell return trips from the metro area to places
  outside it, the share at unusual hours and their regularity, a score built from those features, and
  the excursions behind it. Vehicles (pseudonyms) and patterns, never people.
- :func:`co_travel`: pairs of vehicles read at the same cameras within seconds of each other on several
  days, against the count expected by chance from each vehicle's hourly presence at those cameras.

Each takes an :class:`~safestreets.anpr.analyses.engines.Engine` holding ``anpr_reads`` and
``anpr_cameras`` and returns an :class:`AnalysisResult` (Arrow tables, the parameters, the engine).
"""

from __future__ import annotations

from safestreets.anpr.analyses.engines import DuckDBEngine, Engine, SparkEngine
from safestreets.anpr.analyses.run import (
    AnalysisResult,
    CoTravelParams,
    CountyLinesParams,
    co_travel,
    county_lines,
    flows,
    journeys,
)

__all__ = [
    "AnalysisResult",
    "CoTravelParams",
    "CountyLinesParams",
    "DuckDBEngine",
    "Engine",
    "SparkEngine",
    "co_travel",
    "county_lines",
    "flows",
    "journeys",
]
