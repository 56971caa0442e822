"""A planted intervention of known size, so impact evaluation has a right answer to find.

Opt-in (``CityConfig.intervention``): without it the city is byte for byte what it was. With it, the
first force's crime of one type inside a disc is cut by a known factor for a run of months; the crimes
taken away are not moved anywhere else (no displacement is planted). The disc, the months and the factor
are written to ``interventions/planted.json`` so a demo or a test can evaluate exactly that area.
Near-repeat follow-ups of earlier burglaries are placed by their parents, not by the area's weights, so
the realised cut is a little smaller than the planted one when the type is Burglary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely

from safestreets.errors import ParameterError
from safestreets.vocab import CRIME_TYPES


@dataclass(frozen=True)
class PlantedIntervention:
    start: str  # first month, YYYY-MM
    months: int = 3
    effect: float = 0.6  # crime of the type in the area during the months is multiplied by this
    radius_m: float = 900.0
    offset_m: tuple[float, float] = (1200.0, 600.0)  # the disc's centre from the city centre
    # Which crime the intervention cuts; empty: every type (all street crime, as a hot spot operation).
    crime_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0.0 <= self.effect <= 2.0:
            raise ParameterError(f"synthetic city: intervention effect must be in [0, 2], not {self.effect}")
        unknown = [t for t in self.crime_types if t not in CRIME_TYPES]
        if unknown:
            raise ParameterError(f"synthetic city: unknown intervention crime type {unknown[0]!r}")
        if self.months < 1 or self.radius_m <= 0:
            raise ParameterError("synthetic city: intervention months and radius must be positive")

    def centre(self, city_centre: np.ndarray) -> tuple[float, float]:
        return float(city_centre[0] + self.offset_m[0]), float(city_centre[1] + self.offset_m[1])

    def area(self, city_centre: np.ndarray) -> Any:
        return shapely.Point(*self.centre(city_centre)).buffer(self.radius_m, quad_segs=32)

    def active(self, label: str) -> bool:
        y0, m0 = (int(v) for v in self.start.split("-"))
        y, m = (int(v) for v in label.split("-"))
        k = (y - y0) * 12 + (m - m0)
        return 0 <= k < self.months

    def end(self) -> str:
        y0, m0 = (int(v) for v in self.start.split("-"))
        k = y0 * 12 + m0 - 1 + self.months
        return f"{k // 12:04d}-{k % 12 + 1:02d}"


def apply_planted(
    planted: PlantedIntervention,
    snap_xy: np.ndarray,
    city_centre: np.ndarray,
    cdfs: tuple[np.ndarray, np.ndarray, np.ndarray],
    counts: np.ndarray,
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    """The month's snap-point weights and counts with the chosen crime in the disc cut by the effect.

    Each type's general weights are cut in the disc and its count falls by the disc's lost share, so
    crime elsewhere is as before. With every type chosen, the night-time-economy weights are cut too."""
    cdf_gen, cdf_nte, cdf_stops = cdfs
    cx, cy = planted.centre(city_centre)
    inside = np.hypot(snap_xy[:, 0] - cx, snap_xy[:, 1] - cy) <= planted.radius_m
    chosen = [i for i, t in enumerate(CRIME_TYPES) if not planted.crime_types or t in planted.crime_types]
    out_cdf = cdf_gen.copy()
    out_counts = counts.copy()
    for i in chosen:
        weights = np.diff(cdf_gen[i], prepend=0.0)
        total = weights.sum()
        share_in = float(weights[inside].sum() / total) if total > 0 else 0.0
        weights[inside] *= planted.effect
        out_cdf[i] = np.cumsum(weights)
        out_counts[i] = round(float(counts[i]) * (1.0 - share_in * (1.0 - planted.effect)))
    if not planted.crime_types:
        nte = np.diff(cdf_nte, prepend=0.0)
        nte[inside] *= planted.effect
        cdf_nte = np.cumsum(nte)
    return (out_cdf, cdf_nte, cdf_stops), out_counts


def write_planted(out: Path, planted: PlantedIntervention, city_centre: np.ndarray, crs: str) -> Path:
    area = planted.area(city_centre)
    path = out / "interventions" / "planted.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    cx, cy = planted.centre(city_centre)
    doc = {
        "what": "a planted intervention of known size (safestreets.synthetic.intervention)",
        "crime_types": list(planted.crime_types) or "all",
        "start": planted.start,
        "end": planted.end(),
        "months": planted.months,
        "effect": planted.effect,
        "centre": [round(cx, 1), round(cy, 1)],
        "radius_m": planted.radius_m,
        "crs": crs,
        "wkt": shapely.to_wkt(area, rounding_precision=1),
        "area_km2": round(area.area / 1e6, 4),
        "expected_change_percent": round(100 * (planted.effect - 1), 1),
        "note": "near-repeat follow-ups are placed by their parents, so the realised cut is a little smaller",
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def read_planted(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


__all__ = ["PlantedIntervention", "apply_planted", "read_planted", "write_planted"]
