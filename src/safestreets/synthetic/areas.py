"""Small areas and their people: LSOAs, boroughs, BCUs, their codes, names and beats; residents by ethnic
group and deprivation per LSOA.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import shapely

from safestreets.synthetic.config import CityConfig
from safestreets.synthetic.geometry import Shape, disc_grid, kmeans
from safestreets.synthetic.names import BCU_DIRECTIONS, Names


def build_areas(
    rng: np.random.Generator,
    shape: Shape,
    n_lsoa: int,
    n_boroughs: int,
    n_bcus: int,
    k: int,
    names: Names,
    counters: dict[str, int],
) -> dict[str, Any]:
    """LSOAs, boroughs (unions of LSOAs) and BCUs (groups of boroughs), with codes, names and beats."""
    # LSOAs: a Voronoi tessellation of seeds that are denser in the centre (equal populations => small
    # inner areas), clipped to the city outline, so the cells tile the city exactly.
    boundary = shape.polygon()
    seeds = shape.warp(disc_grid(n_lsoa, rng)[0], 0.35)
    cells = shapely.get_parts(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=boundary, ordered=True)
    )
    if len(cells) != len(seeds):  # GEOS merges coincident seeds; the jittered grid never has any
        raise RuntimeError("Voronoi tessellation lost seeds")
    # Only cells that reach the outline need clipping (most are inside: a cheap prepared test).
    shapely.prepare(boundary)
    inside = shapely.contains_properly(boundary, cells)
    geom = cells.copy()
    geom[~inside] = shapely.intersection(cells[~inside], boundary)
    n_lsoa = len(seeds)

    # Boroughs: k-means groups of LSOAs, numbered from the centre outwards.
    b_centres, labels = kmeans(seeds, n_boroughs, rng)
    order = np.argsort(np.hypot(*(b_centres - shape.centre).T), kind="stable")
    remap = np.empty(n_boroughs, dtype=np.int64)
    remap[order] = np.arange(n_boroughs)
    b_centres, labels = b_centres[order], remap[labels]
    # LSOAs in code order: by borough, then north to south (ONS numbers small areas that way).
    order = np.lexsort((-seeds[:, 1], labels))
    seeds, geom, labels = seeds[order], geom[order], labels[order]
    borough_name = [names.place() for _ in range(n_boroughs)]
    borough_code = [f"SYN09{counters['borough'] + b + 1:06d}" for b in range(n_boroughs)]
    counters["borough"] += n_boroughs
    # The cells form an exact coverage (shared edges, no overlaps), so the fast coverage union applies.
    borough_geom = np.array([shapely.coverage_union_all(geom[labels == b]) for b in range(n_boroughs)])

    # BCUs: the central boroughs, then the rest in compass sectors.
    bcu = ["Central"] * n_boroughs
    if n_bcus > 1:
        rest = np.arange(max(1, round(n_boroughs / n_bcus)), n_boroughs)
        angles = np.arctan2(*(b_centres[rest] - shape.centre).T[::-1])
        rest = rest[np.argsort((angles - rng.uniform(-math.pi, math.pi)) % (2 * math.pi), kind="stable")]
        used: dict[str, int] = {"Central": 1}
        for group in np.array_split(rest, n_bcus - 1):
            mean = np.arctan2(*(b_centres[group] - shape.centre).mean(axis=0)[::-1])
            name = BCU_DIRECTIONS[round(mean / (math.pi / 4)) % 8]
            used[name] = used.get(name, 0) + 1
            for b in group:
                bcu[b] = name if used[name] == 1 else f"{name} {used[name]}"
    bcu = [name if k == 0 else f"{name} ({k + 1})" for name in bcu]

    # Codes and names: "<Borough> 012C", MSOA-like groups of five; beats are those groups.
    pos = np.arange(n_lsoa) - np.searchsorted(labels, labels)
    msoa = pos // 5 + 1
    lsoa_name = [
        f"{borough_name[b]} {m:03d}{'ABCDE'[p % 5]}"
        for b, m, p in zip(labels.tolist(), msoa.tolist(), pos.tolist(), strict=True)
    ]
    lsoa_code = [f"SYN01{counters['lsoa'] + i + 1:06d}" for i in range(n_lsoa)]
    counters["lsoa"] += n_lsoa
    rank = np.empty(n_lsoa, dtype=np.int64)
    rank[sorted(range(n_lsoa), key=lambda i: lsoa_name[i])] = np.arange(n_lsoa)
    seen: dict[str, int] = {}
    prefixes = []
    for name in borough_name:
        stem = name[:3].upper()
        seen[stem] = seen.get(stem, 0) + 1
        prefixes.append(stem if seen[stem] == 1 else f"{stem[:2]}{seen[stem]}")
    beat_keys, beat = np.unique(labels * 100_000 + msoa, return_inverse=True)
    beats = [f"{prefixes[key // 100_000]}{key % 100_000:02d}" for key in beat_keys.tolist()]
    return {
        "seeds": seeds,
        "geom": geom,
        "borough": labels,
        "code": lsoa_code,
        "name": lsoa_name,
        "rank": rank,
        "beat": beat,
        "beats": beats,
        "borough_centre": b_centres,
        "borough_name": borough_name,
        "borough_code": borough_code,
        "borough_geom": borough_geom,
        "bcu": bcu,
    }


def residents(
    rng: np.random.Generator, config: CityConfig, shape: Shape, seeds: np.ndarray, n_boroughs: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Population, counts by ethnic group, and deprivation (0..1) per LSOA.

    The mix comes from a few communities plus a more diverse inner city; deprivation sits in an inner
    ring and a few outer estates and is correlated with minority share, as in English cities.
    """
    n = len(seeds)
    rel, rr = shape.relative(seeds)
    mean = config.lsoa_population
    pop = np.clip(np.round(rng.normal(mean, 0.12 * mean, n)), 0.6 * mean, 1.9 * mean).astype(np.int64)
    logit = np.log(np.array([0.80, 0.04, 0.09, 0.04, 0.03]))[None, :] + rng.normal(0, 0.3, (n, 5))
    logit[:, 1:] += 0.7 * np.exp(-((rr / 0.35) ** 2))[:, None]
    for _ in range(2 + n_boroughs // 3):
        group = int(rng.choice([2, 1, 2, 1, 3, 4]))
        ang, dist = rng.uniform(0, 2 * math.pi), rng.uniform(0.1, 0.6)
        spot = np.array([math.cos(ang), math.sin(ang)]) * dist
        sigma = rng.uniform(0.08, 0.15)
        logit[:, group] += rng.uniform(1.8, 3.0) * np.exp(-0.5 * (np.hypot(*(rel - spot).T) / sigma) ** 2)
    share = np.exp(logit - logit.max(axis=1, keepdims=True))
    share /= share.sum(axis=1, keepdims=True)
    ethnicity = rng.multinomial(pop, share)
    ring = np.exp(-(((rr - 0.3) / 0.18) ** 2))
    dep_z = -1.0 + 1.6 * ring + 2.5 * (1 - share[:, 0]) + rng.normal(0, 0.5, n)
    for _ in range(2 + n_boroughs // 4):
        ang, dist = rng.uniform(0, 2 * math.pi), rng.uniform(0.55, 0.85)
        spot = np.array([math.cos(ang), math.sin(ang)]) * dist
        dep_z += 1.5 * np.exp(-0.5 * (np.hypot(*(rel - spot).T) / 0.07) ** 2)
    return pop, ethnicity, 1 / (1 + np.exp(-dep_z))
