"""Emerging hot spots for what a stored forecast covers: same target, source, units and cut-off."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from safestreets.forecast.history import History
from safestreets.geo.units import Units
from safestreets.trends.emerging import EmergingResult, emerging_hotspots

NAMED_TARGETS = ("violence", "robbery", "burglary", "street", "public")
#: Categories that mark a place hot for long enough to plan around (sweeps, briefings).
LASTING = ("persistent", "intensifying", "consecutive")


def forecast_inputs(
    con: duckdb.DuckDBPyConnection, provenance: dict[str, Any], until: datetime
) -> tuple[History, Units]:
    """The history (before ``until``) and units a stored forecast was made from."""
    from safestreets.forecast.data import load_history, load_units
    from safestreets.forecast.targets import parse_target

    data = provenance.get("data", {})
    target = data.get("target", {})
    name = target.get("name", "violence")
    spec = name if name in NAMED_TARGETS else ",".join(target.get("types", []))
    tgt = parse_target(spec, allow_police_found=bool(target.get("police_found")))
    history = load_history(con, tgt, source=data.get("source"), until=until, with_context=False)
    units_meta = provenance.get("units", {})
    # The forecast's own study area, resolved when it ran (older runs: worked out again as then).
    units = load_units(con, units_meta.get("kind", "grid"), cell_size=float(units_meta.get("cell_size_m") or 250.0),
                       study=units_meta.get("study", "auto"), history=history, covariates=False)  # fmt: skip
    return history, units


def emerging_for_forecast(
    con: duckdb.DuckDBPyConnection,
    provenance: dict[str, Any],
    until: datetime,
    *,
    periods: int = 12,
    inputs: tuple[History, Units] | None = None,
) -> tuple[EmergingResult, Units]:
    """Classify the forecast's units over the ``periods`` weeks (timestamped data) or months before
    ``until``, for the forecast's target and source (``inputs``: its history and units, if already loaded)."""
    history, units = inputs or forecast_inputs(con, provenance, until)
    weekly = provenance.get("data", {}).get("resolution") == "timestamp"
    result = emerging_hotspots(history, units, until=np.datetime64(until, "s"), period="1w" if weekly else "1m",
                               periods=periods)  # fmt: skip
    return result, units


def export_emerging(
    result: EmergingResult, units: Units, out: str | Path, *, crs: str, names: list[str] | None = None
) -> Path:
    """The classification per unit as polygons (``.gpkg`` or ``.geojson``) with a provenance sidecar;
    ``names``: each unit's place name, written as a ``name`` field after its id."""
    import pyarrow as pa

    from safestreets.geo.export import write_geo

    table = result.to_table()
    if names is not None:
        table = table.add_column(1, "name", pa.array([n or None for n in names], pa.string()))
    return write_geo(table, units.geometry, out, crs=crs,
                     provenance={"emerging_hot_spots": result.params})  # fmt: skip
