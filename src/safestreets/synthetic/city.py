"""One force's city, built once before any crime is drawn (:func:`build_city`), and what the force carries
from month to month (:class:`ForceState`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import shapely
from scipy.spatial import cKDTree

from safestreets.geo.project import crs_to_lonlat
from safestreets.synthetic.areas import build_areas, residents
from safestreets.synthetic.columns import fixed6
from safestreets.synthetic.config import CityConfig
from safestreets.synthetic.draws import random_stream
from safestreets.synthetic.geometry import BNG, DENSITY, Shape, snap_points, street_names
from safestreets.synthetic.names import Names
from safestreets.synthetic.places import places_and_features
from safestreets.synthetic.risk import risk_weights


@dataclass
class City:
    """A force's city: areas, snap points with their risk weights, places, and the text the files repeat."""

    index: int
    force_id: str
    force_name: str
    city_name: str
    centre: np.ndarray
    radius: float
    boundary: shapely.Geometry
    # LSOAs
    lsoa_xy: np.ndarray
    lsoa_geom: np.ndarray
    lsoa_code: list[str]
    lsoa_name: list[str]
    lsoa_borough: np.ndarray
    lsoa_population: np.ndarray
    lsoa_ethnicity: np.ndarray  # (L, 5) counts
    lsoa_deprivation: np.ndarray
    lsoa_beat: np.ndarray  # index into beats
    beats: list[str]
    lsoa_rank: np.ndarray  # position of the LSOA name in sorted order (police.uk sorts rows by it)
    # boroughs and BCUs
    borough_code: list[str]
    borough_name: list[str]
    borough_geom: np.ndarray
    borough_bcu: list[str]
    # snap points
    snap_xy: np.ndarray
    snap_lsoa: np.ndarray
    snap_kind: np.ndarray
    snap_location: list[str]
    snap_jitter: np.ndarray  # radius that keeps a jittered point nearest to its own snap point
    snap_tree: cKDTree
    weights: np.ndarray  # (14, S) general component
    weights_nte: np.ndarray  # (S,) night-time-economy component
    weights_stops: np.ndarray  # (S,)
    drift: np.ndarray  # (S,) slow change of attractiveness over the period
    places: dict[str, list[tuple[str, str, str, float, float]]]  # file -> (id, name, kind, x, y)
    # strings for the files
    lon_text: pa.Array = field(init=False)
    lat_text: pa.Array = field(init=False)
    location_text: pa.Array = field(init=False)  # + "No Location" at the end
    outcome_location_text: pa.Array = field(init=False)  # + "No location" at the end

    def __post_init__(self) -> None:
        lon, lat = crs_to_lonlat(self.snap_xy[:, 0], self.snap_xy[:, 1], BNG)
        self.lon_text = fixed6(lon)
        self.lat_text = fixed6(lat)
        self.location_text = pa.array([*self.snap_location, "No Location"], type=pa.string())
        self.outcome_location_text = pa.array([*self.snap_location, "No location"], type=pa.string())


def build_city(
    config: CityConfig, k: int, centre: np.ndarray, population: int, names: Names, counters: dict[str, int]
) -> City:
    """Force ``k``'s city around ``centre``; ``names`` and ``counters`` keep names and codes unique."""
    rng = random_stream(config.seed, k, 1)
    radius = math.sqrt(population / DENSITY / math.pi)
    n_lsoa = max(40, round(population / config.lsoa_population))
    n_snap = max(400, round(population / config.residents_per_snap_point))
    n_boroughs = min(max(config.n_boroughs, math.ceil(n_lsoa / 200)), max(1, n_lsoa // 4))
    n_bcus = min(n_boroughs, max(config.n_bcus, round(n_boroughs * config.n_bcus / config.n_boroughs)))
    shape = Shape(centre, radius, rng.uniform(0.02, 0.06, 3), rng.uniform(0, 2 * math.pi, 3))

    areas = build_areas(rng, shape, n_lsoa, n_boroughs, n_bcus, k, names, counters)
    pop, ethnicity, deprivation = residents(rng, config, shape, areas["seeds"], n_boroughs)
    snaps, snap_lsoa, gi, gj = snap_points(rng, shape, areas["seeds"], n_snap)
    snap_tree = cKDTree(snaps)
    nn = snap_tree.query(snaps, k=2)[0][:, 1]
    location, a_road = street_names(rng, shape, snaps, gi, gj, nn)
    places, features, kind = places_and_features(
        rng, k, shape, snaps, snap_tree, location, a_road, areas, population, names, counters
    )
    features["deprivation"] = deprivation[snap_lsoa]
    weights, weights_nte, weights_stops = risk_weights(rng, config, features, kind)

    return City(
        index=k,
        force_id=config.force_id if k == 0 else f"{config.force_id}-{k + 1}",
        force_name=_force_name(config, k),
        city_name=config.city_name if k == 0 else f"{config.city_name} {k + 1}",
        centre=centre,
        radius=radius,
        boundary=shape.polygon(),
        lsoa_xy=areas["seeds"],
        lsoa_geom=areas["geom"],
        lsoa_code=areas["code"],
        lsoa_name=areas["name"],
        lsoa_borough=areas["borough"],
        lsoa_population=pop,
        lsoa_ethnicity=ethnicity,
        lsoa_deprivation=deprivation,
        lsoa_beat=areas["beat"],
        beats=areas["beats"],
        lsoa_rank=areas["rank"],
        borough_code=areas["borough_code"],
        borough_name=areas["borough_name"],
        borough_geom=areas["borough_geom"],
        borough_bcu=areas["bcu"],
        snap_xy=snaps,
        snap_lsoa=snap_lsoa,
        snap_kind=kind,
        snap_location=[f"On or near {name}" for name in location],
        snap_jitter=np.minimum(0.45 * nn, 60.0),
        snap_tree=snap_tree,
        weights=weights,
        weights_nte=weights_nte,
        weights_stops=weights_stops,
        drift=rng.normal(0, 0.6, len(snaps)),
        places=places,
    )


def _force_name(config: CityConfig, k: int) -> str:
    if k == 0:
        return config.force_name
    if config.force_name.endswith(" Police"):
        return f"{config.force_name.removesuffix(' Police')} {k + 1} Police"
    return f"{config.force_name} {k + 1}"


@dataclass
class ForceState:
    """What one force carries from month to month."""

    # Recent burglaries (local minutes, true points): parents for next month's near repeats.
    burglary_t: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    burglary_xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    outcomes: dict[int, list[dict[str, np.ndarray]]] = field(default_factory=dict)  # month -> rows due
    year_seq: dict[int, int] = field(default_factory=dict)  # year -> last force-record number used
