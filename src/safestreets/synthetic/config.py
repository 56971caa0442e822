"""What shapes a synthetic city (:class:`CityConfig`) and what :func:`generate_city` wrote
(:class:`CityManifest`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from safestreets.errors import ParameterError
from safestreets.synthetic.intervention import PlantedIntervention

# progress(stage, done, total), called as generation goes.
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CityConfig:
    """Everything that shapes a synthetic city. Same config => byte-identical files."""

    seed: int = 0
    n_events: int = 50_000  # street-level rows (crime and ASB) over the whole period, all forces
    start: str = "2023-01"  # first month, YYYY-MM
    months: int = 24
    n_forces: int = 1  # >1: several cities ("synthetic-city", "synthetic-city-2", ...) in different places
    force_name: str = "Synthetic City Police"
    force_id: str = "synthetic-city"
    city_name: str = "Synthetic City"
    n_boroughs: int = 8  # per force at the default size; a larger city gets more (about 200 LSOAs each)
    n_bcus: int = 4  # per force at the default size; grows with the boroughs
    population: int | None = None  # residents of all forces; None: from n_events and crimes_per_1000
    crimes_per_1000: float = 80.0  # street-level rows per 1,000 residents per year (sets the population)
    lsoa_population: int = 1_500  # mean residents per LSOA
    residents_per_snap_point: int = 80
    centre_easting: float = 430_000.0  # BNG metres of the first city's centre
    centre_northing: float = 433_000.0
    no_location_share: float = 0.015  # street rows without a location ("No Location")
    duplicate_share: float = 0.0005  # street rows that repeat another row exactly, as in real files
    near_repeat_share: float = 0.2  # share of burglaries that are near repeats of an earlier one
    hotspot_sigma: float = 1.6  # spread (log scale) of persistent snap-point attractiveness
    stop_search_per_crime: float = 0.12  # searches per street-level row
    stop_search_no_location_share: float = 0.25
    # Published files give the UTC instant with "+00:00" all year; "local" writes local time with
    # "+01:00" in British Summer Time instead.
    stop_search_offsets: Literal["utc", "local"] = "utc"
    # Per-person search rate by group (White, Black, Asian, Mixed, Other) on top of where searches happen.
    search_rate_by_group: tuple[float, float, float, float, float] = (1.0, 2.5, 1.2, 1.5, 1.0)
    # Opt-in: a planted intervention of known size in the first force (synthetic/intervention.py).
    intervention: PlantedIntervention | None = None

    def __post_init__(self) -> None:
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", self.start):
            raise ParameterError(f"synthetic city: start must be YYYY-MM, got {self.start!r}")
        if int(self.start[:4]) < 1997:
            raise ParameterError("synthetic city: start must be 1997 or later (current UK summer-time rules)")
        checks = [
            (self.months >= 1, "months must be at least 1"),
            (self.n_events >= 0, "n_events must not be negative"),
            (self.n_forces >= 1, "n_forces must be at least 1"),
            (1 <= self.n_bcus <= self.n_boroughs, "need 1 <= n_bcus <= n_boroughs"),
            (self.lsoa_population >= 100, "lsoa_population must be at least 100"),
            (self.residents_per_snap_point >= 5, "residents_per_snap_point must be at least 5"),
            (self.crimes_per_1000 > 0, "crimes_per_1000 must be positive"),
            (self.stop_search_offsets in ("utc", "local"), "stop_search_offsets must be 'utc' or 'local'"),
            (
                len(self.search_rate_by_group) == 5 and min(self.search_rate_by_group) > 0,
                "search_rate_by_group needs five positive rates",
            ),
        ]
        for share in (
            "no_location_share",
            "duplicate_share",
            "near_repeat_share",
            "stop_search_no_location_share",
        ):
            checks.append((0.0 <= getattr(self, share) < 1.0, f"{share} must be in [0, 1)"))
        for ok, message in checks:
            if not ok:
                raise ParameterError(f"synthetic city: {message}")
        if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", self.force_id):
            raise ParameterError(f"synthetic city: force_id must be a lowercase slug, got {self.force_id!r}")


@dataclass(frozen=True)
class CityManifest:
    """What :func:`generate_city` wrote. ``rows`` counts data rows (headers excluded) per file kind."""

    out_dir: Path
    config: CityConfig
    forces: tuple[str, ...]
    force_names: tuple[str, ...]
    months: tuple[str, ...]
    files: Mapping[str, tuple[Path, ...]]
    rows: Mapping[str, int]
    file_rows: Mapping[Path, int] = field(repr=False)

    def paths(self, kind: str) -> tuple[Path, ...]:
        return self.files.get(kind, ())
