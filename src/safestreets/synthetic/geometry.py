"""Where the cities sit and what shape they are: outlines, jittered grids, kernels, k-means, snap points and
street names. Coordinates are British National Grid metres.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from safestreets.errors import ParameterError
from safestreets.synthetic.config import CityConfig
from safestreets.synthetic.draws import choice
from safestreets.synthetic.names import STREET_STEMS, STREET_SUFFIX_P, STREET_SUFFIXES

BNG = "EPSG:27700"
DENSITY = 3_000 / 1e6  # mean residents per square metre over the city

# Where further cities go (BNG metres): points at English towns and cities, tried in order, skipping any
# that would overlap a city already placed. London is left out so nothing lands on the real Met area.
# fmt: off
_CITY_SITES: tuple[tuple[int, int], ...] = (
    (407_000, 287_000), (384_000, 398_000), (425_000, 564_000), (359_000, 173_000), (457_000, 340_000),
    (335_000, 390_000), (435_000, 387_000), (458_000, 304_000), (509_000, 429_000), (442_000, 113_000),
    (248_000, 55_000), (623_000, 308_000), (545_000, 258_000), (451_000, 206_000), (388_000, 346_000),
    (460_000, 452_000), (497_000, 371_000), (354_000, 429_000), (340_000, 556_000), (449_000, 519_000),
    (519_000, 299_000), (475_000, 260_000), (385_000, 255_000), (383_000, 218_000), (471_000, 173_000),
    (292_000, 92_000), (408_000, 92_000), (531_000, 104_000), (615_000, 158_000), (571_000, 207_000),
    (616_000, 244_000), (509_000, 221_000), (499_000, 149_000), (349_000, 312_000), (351_000, 240_000),
    (322_000, 124_000), (347_000, 461_000), (340_000, 366_000), (182_000, 44_000), (415_000, 185_000),
    (433_000, 279_000), (464_000, 101_000), (576_000, 155_000), (599_000, 225_000), (486_000, 238_000),
    (531_000, 330_000), (570_000, 290_000), (300_000, 480_000), (395_000, 160_000), (520_000, 360_000),
)
# fmt: on


def disc_grid(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """About n jittered grid points in the unit disc (well spaced, no clumps), with their grid indices."""
    h = math.sqrt(math.pi / max(n, 1))
    k = math.ceil(1 / h) + 1
    gi, gj = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1), indexing="xy")
    gi, gj = gi.ravel(), gj.ravel()
    u = np.stack([gi * h, gj * h], axis=1) + rng.uniform(-0.35 * h, 0.35 * h, size=(gi.size, 2))
    keep = np.hypot(u[:, 0], u[:, 1]) < 0.985
    return u[keep], gi[keep], gj[keep]


def kernel(points: np.ndarray, sources: np.ndarray, sigma: float, k: int = 12) -> np.ndarray:
    """Sum of Gaussian bumps from the k nearest sources (cut at 4 sigma), vectorised with a KD-tree."""
    if len(sources) == 0:
        return np.zeros(len(points))
    k = min(k, len(sources))
    d, _ = cKDTree(sources).query(points, k=k, distance_upper_bound=4 * sigma)
    d = d.reshape(len(points), k)
    return np.where(np.isfinite(d), np.exp(-0.5 * (np.nan_to_num(d, posinf=0.0) / sigma) ** 2), 0.0).sum(
        axis=1
    )


def kmeans(xy: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means from k random points: (centres, label of each point)."""
    centres = xy[rng.choice(len(xy), size=k, replace=False)]
    labels = np.zeros(len(xy), dtype=np.int64)
    for _ in range(40):
        labels = cKDTree(centres).query(xy)[1]
        counts = np.bincount(labels, minlength=k)
        sums = np.stack([np.bincount(labels, weights=xy[:, c], minlength=k) for c in range(2)], axis=1)
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
        if np.allclose(moved, centres):
            break
        centres = moved
    return centres, labels


def force_layout(config: CityConfig, populations: np.ndarray) -> np.ndarray:
    """Centres of the cities: the configured one first, then English town sites, then a wider ring.

    Each city takes the first site that keeps it clear of the cities already placed.
    """
    radii = np.sqrt(populations / DENSITY / math.pi) * 1.2  # the outline's lobes reach ~1.18 radii
    first = np.array([config.centre_easting, config.centre_northing])
    step = 2 * radii.max() + 5_000
    rings = [
        first + step * np.array([i, j])
        for ring in range(1, 12)
        for i in range(-ring, ring + 1)
        for j in range(-ring, ring + 1)
        if max(abs(i), abs(j)) == ring
    ]
    sites = [np.asarray(site, dtype=float) for site in _CITY_SITES] + rings
    chosen = [first]
    for k in range(1, len(populations)):
        for site in sites:
            gaps = np.hypot(*(np.array(chosen) - site).T)
            if (gaps > radii[k] + radii[: len(chosen)] + 5_000).all():
                chosen.append(site)
                break
        else:
            raise ParameterError(
                f"synthetic city: no room for {len(populations)} forces: ask for fewer forces"
            )
    return np.array(chosen)


@dataclass(frozen=True)
class Shape:
    """A city's outline (a circle with gentle lobes) and its radial density (dense centre)."""

    centre: np.ndarray
    radius: float
    amps: np.ndarray
    phases: np.ndarray

    def factor(self, theta: np.ndarray) -> np.ndarray:
        out = np.ones_like(theta)
        for j, (a, p) in enumerate(zip(self.amps, self.phases, strict=True), start=2):
            out += a * np.cos(j * theta + p)
        return out

    def polygon(self) -> shapely.Geometry:
        theta = np.linspace(0, 2 * math.pi, 512, endpoint=False)
        r = self.radius * self.factor(theta)
        return shapely.Polygon(self.centre + np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))

    def warp(self, u: np.ndarray, core: float) -> np.ndarray:
        """Map uniform unit-disc points into the city so density falls off as exp(-r / core) + 0.3."""
        r_grid = np.linspace(0.0, 1.0, 4097)
        density = (np.exp(-r_grid / core) + 0.3) * r_grid
        mass = np.concatenate([[0.0], np.cumsum(density[1:] * np.diff(r_grid))])
        theta = np.arctan2(u[:, 1], u[:, 0])
        r = np.interp((u**2).sum(axis=1), mass / mass[-1], r_grid) * self.radius * self.factor(theta)
        return self.centre + np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)

    def relative(self, xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rel = (xy - self.centre) / self.radius
        return rel, np.hypot(rel[:, 0], rel[:, 1])


def snap_points(
    rng: np.random.Generator, shape: Shape, seeds: np.ndarray, n_snap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Street centres on a finer jittered grid, even denser in the centre: (xy, LSOA, grid i, grid j)."""
    u, gi, gj = disc_grid(n_snap, rng)
    snaps = shape.warp(u, 0.25)
    # Keep points clear of LSOA edges and the outline so a 6-decimal lon/lat falls in one polygon only.
    # A point's LSOA is its nearest seed (that is what a Voronoi cell is).
    d, i = cKDTree(seeds).query(snaps, k=2)
    gap = np.hypot(*(seeds[i[:, 1]] - seeds[i[:, 0]]).T)
    margin = (d[:, 1] ** 2 - d[:, 0] ** 2) / (2 * gap)
    inner = shapely.buffer(shape.polygon(), -3.0)
    keep = (margin >= 3.0) & shapely.contains_xy(inner, snaps[:, 0], snaps[:, 1])
    return snaps[keep], i[keep, 0], gi[keep], gj[keep]


def street_names(
    rng: np.random.Generator, shape: Shape, snaps: np.ndarray, gi: np.ndarray, gj: np.ndarray, nn: np.ndarray
) -> tuple[list[str], np.ndarray]:
    """A street name per snap point (runs of grid neighbours share one), radial A-roads and a ring road."""
    vertical = gi % 5 == 0
    street_key = np.where(
        vertical,
        (gi + 10_000) * 100_000 + (gj + 10_000) // 4 + 5 * 10**9,
        (gj + 10_000) * 100_000 + (gi + 10_000) // 4,
    )
    _, street = np.unique(street_key, return_inverse=True)
    n_streets = int(street.max()) + 1
    stems = rng.integers(0, len(STREET_STEMS), n_streets).tolist()
    suffixes = choice(rng, STREET_SUFFIX_P, n_streets).tolist()
    names = [f"{STREET_STEMS[a]} {STREET_SUFFIXES[b]}" for a, b in zip(stems, suffixes, strict=True)]
    location = [names[s] for s in street.tolist()]
    offset = snaps - shape.centre
    a_road = np.zeros(len(snaps), dtype=bool)
    numbers = rng.choice(np.arange(58, 700), size=5 + int(shape.radius // 6000), replace=False).tolist()
    for number, angle in zip(numbers, rng.uniform(0, 2 * math.pi, len(numbers)).tolist(), strict=True):
        along = offset @ np.array([math.cos(angle), math.sin(angle)])
        across = np.abs(offset @ np.array([-math.sin(angle), math.cos(angle)]))
        on = (along > 0.12 * shape.radius) & (across < 0.6 * nn)
        a_road |= on
        for s in np.flatnonzero(on).tolist():
            location[s] = f"A{number}"
    ring = np.abs(np.hypot(*offset.T) - 0.12 * shape.radius) < 0.5 * nn
    for s in np.flatnonzero(ring).tolist():
        location[s] = "Inner Ring Road"
    return location, a_road
