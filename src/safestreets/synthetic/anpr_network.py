"""The synthetic ANPR camera network: cameras on the synthetic city's A-roads and inner ring, and on
corridors out to a few county towns tens of kilometres away, with every route precomputed.

The road model is deliberately simple. Each radial A-road of the city (``synthetic.geometry.street_names``)
is a line of camera sites from the inner ring outwards; some radials carry on as a corridor to a county
town. A vehicle's location is "just beyond site k of radial r" (or the centre, inside the ring). A trip
from one location to another runs inwards along its radial to the ring, round the ring the shorter way and
outwards along the other radial, passing the cameras on the way in their direction of travel. Every
(origin, destination) pair's cameras and time offsets are kept in padded arrays, so a day's trips expand
into reads with a few numpy gathers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from safestreets.geo.project import crs_to_lonlat
from safestreets.synthetic.city import City
from safestreets.synthetic.geometry import BNG

#: Fictional county towns, nearest first; a town takes the next free corridor.
TOWN_NAMES = ("Ashcombe", "Brackley Vale", "Coldharbour", "Dunmere", "Eastwick Magna", "Fenwold")

CITY_SPEED = 9.0  # m/s (about 32 km/h) inside the city
CORRIDOR_SPEED = 24.0  # m/s (about 86 km/h) on the corridors


@dataclass(frozen=True)
class Camera:
    camera_id: str
    x: float
    y: float
    road: str
    direction: str
    name: str
    area_code: str


@dataclass
class Network:
    """Cameras, locations and every route between two locations.

    ``route_cams[p, :route_len[p]]`` are the camera indices a trip for pair ``p = o * n_loc + d`` passes
    and ``route_secs`` the free-flow seconds from the start at which it passes each; ``route_total`` is
    the trip's duration.
    """

    cameras: list[Camera]
    metro_area_codes: tuple[str, ...]
    towns: tuple[str, ...]
    loc_kind: np.ndarray  # per location: 0 centre, 1 city, 2 corridor, 3 town
    loc_town: np.ndarray  # per location: index into towns, -1 if not in a town
    route_cams: np.ndarray
    route_secs: np.ndarray
    route_len: np.ndarray
    route_total: np.ndarray

    @property
    def n_loc(self) -> int:
        return len(self.loc_kind)

    def pair(self, origin: np.ndarray, dest: np.ndarray) -> np.ndarray:
        return origin * self.n_loc + dest

    def locations(self, kind: int) -> np.ndarray:
        return np.flatnonzero(self.loc_kind == kind)

    def town_centre(self, town: int) -> int:
        """The innermost location of a town (just beyond its centre camera)."""
        return int(np.flatnonzero(self.loc_town == town)[-1])


@dataclass
class _Site:
    radial: int
    dist: float  # metres from the city centre along the radial
    x: float
    y: float
    area: str
    label: str


def build_network(city: City, *, n_towns: int = 4) -> Network:
    """Cameras for ``city``: four sites per A-road, one ring site between neighbouring A-roads, and a
    corridor of cameras every ~10 km to each of ``n_towns`` county towns (25-60 km out)."""
    offset = city.snap_xy - city.centre
    roads: dict[str, list[int]] = {}
    for i, loc in enumerate(city.snap_location):
        name = loc.removeprefix("On or near ")
        if name.startswith("A") and name[1:].isdigit():
            roads.setdefault(name, []).append(i)
    radials = []
    for name, idx in roads.items():
        mean = offset[idx].mean(axis=0)
        radials.append((math.atan2(mean[1], mean[0]), name))
    radials.sort()
    angles = np.array([a for a, _ in radials])
    names = [n for _, n in radials]
    r_city = city.radius
    borough_of_snap = np.asarray(city.lsoa_borough)[city.snap_lsoa]

    def borough_at(x: float, y: float) -> str:
        i = int(city.snap_tree.query([x, y])[1])
        return city.borough_code[int(borough_of_snap[i])]

    towns = TOWN_NAMES[: min(n_towns, len(radials), len(TOWN_NAMES))]
    # The corridors: the radials spread evenly round the compass, one town each.
    corridor_of = {round(t * len(radials) / max(len(towns), 1)) % len(radials): t for t in range(len(towns))}
    sites: list[list[_Site]] = []
    for r, (angle, name) in enumerate(zip(angles, names, strict=True)):
        u = np.array([math.cos(angle), math.sin(angle)])
        line: list[_Site] = []
        for j, frac in enumerate((0.14, 0.35, 0.6, 0.92)):
            d = frac * r_city
            x, y = city.centre + d * u
            line.append(_Site(r, d, x, y, borough_at(x, y), f"{name} city {j}"))
        if r in corridor_of:
            t = corridor_of[r]
            town_dist = 25_000 + 35_000 * t / max(len(towns) - 1, 1)
            edge = 0.92 * r_city
            n_corr = max(1, int((town_dist - edge - 3_000) // 10_000))
            for j in range(n_corr):
                d = edge + (town_dist - 3_000 - edge) * (j + 1) / (n_corr + 1)
                x, y = city.centre + d * u
                line.append(_Site(r, d, x, y, f"{name} corridor", f"{name} corridor {j + 1}"))
            for label, d in (("edge", town_dist - 1_500), ("centre", town_dist)):
                x, y = city.centre + d * u
                line.append(_Site(r, d, x, y, towns[t], f"{towns[t]} {label}"))
        sites.append(line)

    cameras: list[Camera] = []
    # radial cameras: (radial, k, inbound?) -> camera index
    radial_cam: dict[tuple[int, int, bool], int] = {}
    for r, line in enumerate(sites):
        for k, s in enumerate(line):
            for inbound in (True, False):
                radial_cam[(r, k, inbound)] = len(cameras)
                word = "inbound" if inbound else "outbound"
                cameras.append(
                    Camera(f"CAM{r:02d}{k:02d}{'I' if inbound else 'O'}", s.x, s.y, names[r], word,
                           f"{s.label} {word}", s.area)
                )
    ring_r = 0.12 * r_city
    n_rad = len(radials)
    ring_cam: dict[tuple[int, bool], int] = {}  # (segment between radial g and g+1, clockwise?) -> camera
    ring_angle = np.zeros(n_rad)
    for g in range(n_rad):
        a0, a1 = angles[g], angles[(g + 1) % n_rad] + (2 * math.pi if g == n_rad - 1 else 0.0)
        ring_angle[g] = (a0 + a1) / 2
        x, y = city.centre + ring_r * np.array([math.cos(ring_angle[g]), math.sin(ring_angle[g])])
        for cw in (True, False):
            ring_cam[(g, cw)] = len(cameras)
            word = "clockwise" if cw else "anticlockwise"
            cameras.append(
                Camera(f"CAMR{g:02d}{'C' if cw else 'A'}", x, y, "Inner Ring Road", word,
                       f"Inner Ring Road {g} {word}", borough_at(x, y))
            )

    # Locations: 0 is the centre; then (r, k) for every site.
    loc_of: dict[tuple[int, int], int] = {}
    kind = [0]
    town = [-1]
    for r, line in enumerate(sites):
        for k, s in enumerate(line):
            loc_of[(r, k)] = len(kind)
            if s.area in towns:
                kind.append(3)
                town.append(towns.index(s.area))
            elif s.area.endswith("corridor"):
                kind.append(2)
                town.append(-1)
            else:
                kind.append(1)
                town.append(-1)
    n_loc = len(kind)

    def speed(d: float) -> float:
        return CITY_SPEED if d <= r_city else CORRIDOR_SPEED

    def inward(r: int, k: int) -> list[tuple[int, float]]:
        """Cameras passed from just beyond site k of radial r to the ring, with metres travelled."""
        out, pos, secs = [], sites[r][k].dist + 300.0, 0.0
        for j in range(k, -1, -1):
            secs += (pos - sites[r][j].dist) / speed(pos)
            pos = sites[r][j].dist
            out.append((radial_cam[(r, j, True)], secs))
        secs += (pos - ring_r) / CITY_SPEED
        return [*out, (-1, secs)]

    def outward(r: int, k: int, t0: float) -> list[tuple[int, float]]:
        out, pos, secs = [], ring_r, t0
        for j in range(k + 1):
            secs += (sites[r][j].dist - pos) / speed(sites[r][j].dist)
            pos = sites[r][j].dist
            out.append((radial_cam[(r, j, False)], secs))
        secs += 300.0 / speed(pos)
        return [*out, (-1, secs)]

    def ring(r1: int, r2: int, t0: float) -> list[tuple[int, float]]:
        """Round the ring from radial r1 to r2 the shorter way, passing the ring cameras between."""
        steps_cw = (r2 - r1) % n_rad  # increasing angle is anticlockwise in map coordinates
        steps_acw = (r1 - r2) % n_rad
        out, secs = [], t0
        arc = 2 * math.pi * ring_r / n_rad
        if steps_cw <= steps_acw:
            for s in range(steps_cw):
                secs += arc / 2 / CITY_SPEED
                out.append((ring_cam[((r1 + s) % n_rad, False)], secs))
                secs += arc / 2 / CITY_SPEED
        else:
            for s in range(steps_acw):
                secs += arc / 2 / CITY_SPEED
                out.append((ring_cam[((r1 - s - 1) % n_rad, True)], secs))
                secs += arc / 2 / CITY_SPEED
        return [*out, (-1, secs)]

    def route(o: tuple[int, int] | None, d: tuple[int, int] | None) -> list[tuple[int, float]]:
        if o is None and d is None:
            return [(-1, 240.0)]
        if o is None:
            assert d is not None
            return outward(d[0], d[1], ring_r / CITY_SPEED)
        if d is None:
            legs = inward(*o)
            return [*legs[:-1], (-1, legs[-1][1] + ring_r / CITY_SPEED)]
        (r1, k1), (r2, k2) = o, d
        if r1 == r2:
            out, pos, secs = [], sites[r1][k1].dist + 300.0, 0.0
            target = sites[r1][k2].dist + 300.0
            if k1 > k2:
                for j in range(k1, k2, -1):
                    secs += (pos - sites[r1][j].dist) / speed(pos)
                    pos = sites[r1][j].dist
                    out.append((radial_cam[(r1, j, True)], secs))
            elif k2 > k1:
                for j in range(k1 + 1, k2 + 1):
                    secs += (sites[r1][j].dist - pos) / speed(sites[r1][j].dist)
                    pos = sites[r1][j].dist
                    out.append((radial_cam[(r1, j, False)], secs))
            secs += max(abs(target - pos), 400.0) / speed(max(pos, target))
            return [*out, (-1, secs)]
        legs = inward(r1, k1)
        around = ring(r1, r2, legs[-1][1])
        back = outward(r2, k2, around[-1][1])
        return [*legs[:-1], *around[:-1], *back]

    keys: list[tuple[int, int] | None] = [None] * n_loc
    for key, i in loc_of.items():
        keys[i] = key
    routes = [route(keys[o], keys[d]) for o in range(n_loc) for d in range(n_loc)]
    width = max(len(rt) - 1 for rt in routes)
    route_cams = np.zeros((len(routes), max(width, 1)), dtype=np.int32)
    route_secs = np.zeros((len(routes), max(width, 1)))
    route_len = np.zeros(len(routes), dtype=np.int32)
    route_total = np.zeros(len(routes))
    for p, rt in enumerate(routes):
        passes = rt[:-1]
        route_len[p] = len(passes)
        route_total[p] = rt[-1][1]
        for j, (cam, secs) in enumerate(passes):
            route_cams[p, j] = cam
            route_secs[p, j] = secs
    metro = tuple(sorted({c.area_code for c in cameras} & set(city.borough_code)))
    return Network(
        cameras=cameras,
        metro_area_codes=metro,
        towns=tuple(towns),
        loc_kind=np.array(kind),
        loc_town=np.array(town),
        route_cams=route_cams,
        route_secs=route_secs,
        route_len=route_len,
        route_total=route_total,
    )


def camera_lonlat(cameras: list[Camera]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([c.x for c in cameras])
    y = np.array([c.y for c in cameras])
    return crs_to_lonlat(x, y, BNG)
