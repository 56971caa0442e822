"""Synthetic ANPR traffic for the demo, the tests and the benchmark: reads, cameras and planted patterns.

Not real traffic. A camera network on the synthetic city's A-roads, inner ring and corridors to a few
county towns (:mod:`safestreets.synthetic.anpr_network`) sees:

- commuters (home to work on weekdays, leisure trips and the odd day out in a county town at weekends),
  some living in a county town and working in the city, some the other way round;
- delivery vans (chained stops from a depot, weekdays and Saturdays), a few on a regular daytime round
  to a county town with a short stop there: a deliberate look-alike for county lines;
- taxis (day or night shifts of chained fares, now and then a fare out to a county town);
- through traffic (one-off vehicles from one corridor to another);
- planted **county-lines vehicles**: repeated short-dwell return trips from the city to one or two county
  towns, mostly late at night, besides ordinary local driving;
- planted **co-travelling groups**: two or three vehicles making the same trip seconds apart, several times.

Daily and weekly cycles come from the behaviour (rush hours, weekdays, night shifts). The ground truth is
written beside the reads (``ground_truth.json``).

The reads are made and written one chunk at a time: a chunk is one day of one slice of the fleet, drawn
from its own random stream (seed, day, slice), so any chunk can be made alone, the output does not
depend on the order chunks are made in, and memory stays at one chunk whatever the total (100 thousand
to a billion reads). Layout under ``out_dir``::

    reads/part-DDDDD-SS.parquet   plate, read_at (UTC), camera_id, direction, confidence
    cameras.csv                   camera_id, lon, lat, road, direction, name, area_code
    ground_truth.json             metro area codes, towns, planted vehicles and groups (plates), sizes
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from safestreets.errors import ParameterError
from safestreets.synthetic.anpr_network import Network, build_network, camera_lonlat
from safestreets.synthetic.city import City, build_city
from safestreets.synthetic.config import CityConfig
from safestreets.synthetic.draws import random_stream
from safestreets.synthetic.geometry import force_layout
from safestreets.synthetic.names import Names

READ_COLUMNS = ("plate", "read_at", "camera_id", "direction", "confidence")
READ_SCHEMA = pa.schema(
    [
        ("plate", pa.string()),
        ("read_at", pa.timestamp("us", tz="UTC")),
        ("camera_id", pa.string()),
        ("direction", pa.string()),
        ("confidence", pa.float64()),
    ]
)
_STAGE = 700  # random-stream key of this module (the crime generator uses smaller ones)

# Kinds of vehicle in the fleet, and the share of reads each makes (planted kinds have fixed counts).
COMMUTER, TOWN_COMMUTER, TOWN_WORKER, VAN, TOWN_VAN, TAXI, COUNTY_LINES, GROUP_MEMBER = range(8)
THROUGH = 8
_READ_SHARES = {
    COMMUTER: 0.40,
    TOWN_COMMUTER: 0.08,
    TOWN_WORKER: 0.02,
    VAN: 0.14,
    TOWN_VAN: 0.02,
    TAXI: 0.22,
    THROUGH: 0.12,
}


@dataclass(frozen=True)
class AnprConfig:
    """What shapes the synthetic ANPR set. Same config => identical reads."""

    seed: int = 0
    reads: int = 100_000  # about this many reads in all (the fleet is sized to it)
    days: int = 28
    # First local day (a Monday keeps weeks whole). Empty: the latest Monday that ends the set before today,
    # so a fresh set sits inside the 90-day reach and the 12-month retention an ANPR store enforces.
    start: str = ""
    chunk_reads: int = 2_000_000  # at most about this many reads per chunk (a day is split into slices)
    n_county_lines: int = 8
    n_groups: int = 6
    group_size: tuple[int, int] = (2, 3)
    group_occasions: tuple[int, int] = (5, 8)
    n_towns: int = 4
    detection: float = 0.95  # chance a camera reads a passing plate
    city: CityConfig = field(default_factory=CityConfig)

    def first_day(self) -> dt.date:
        if self.start:
            return dt.date.fromisoformat(self.start)
        latest = dt.date.today() - dt.timedelta(days=self.days + 1)
        return latest - dt.timedelta(days=latest.weekday())

    def __post_init__(self) -> None:
        try:
            self.first_day()
        except ValueError:
            raise ParameterError(f"synthetic ANPR: start must be YYYY-MM-DD, got {self.start!r}") from None
        checks = [
            (self.reads >= 1_000, "reads must be at least 1,000"),
            (self.days >= 1, "days must be at least 1"),
            (self.chunk_reads >= 10_000, "chunk_reads must be at least 10,000"),
            (self.n_county_lines >= 0 and self.n_groups >= 0, "planted counts must not be negative"),
            (2 <= self.group_size[0] <= self.group_size[1], "group_size needs 2 <= low <= high"),
            (1 <= self.group_occasions[0] <= self.group_occasions[1], "group_occasions needs 1 <= low <= high"),
            (1 <= self.n_towns <= 6, "n_towns must be 1 to 6"),
            (0.5 <= self.detection <= 1.0, "detection must be in [0.5, 1]"),
        ]
        for ok, message in checks:
            if not ok:
                raise ParameterError(f"synthetic ANPR: {message}")


@dataclass
class Fleet:
    """Vehicles that recur from day to day: kind and the places and habits they keep."""

    kind: np.ndarray
    home: np.ndarray  # location index
    work: np.ndarray  # location index (a town centre for county-lines vehicles and town vans)
    town2: np.ndarray  # a second town for county-lines vehicles (may equal work)
    depart: np.ndarray  # usual departure, local hours
    back: np.ndarray  # usual return, local hours
    night_shift: np.ndarray  # taxis

    def __len__(self) -> int:
        return len(self.kind)


@dataclass
class Group:
    members: np.ndarray  # vehicle indices
    days: np.ndarray
    pairs: np.ndarray  # route pair per occasion
    starts: np.ndarray  # local hours per occasion
    offsets: np.ndarray  # seconds behind the lead, per member


@dataclass
class AnprPlan:
    """Everything fixed before the first chunk: the city, cameras, fleet, planted groups and sizes."""

    config: AnprConfig
    city: City
    network: Network
    fleet: Fleet
    groups: list[Group]
    through_per_day: int
    slices: int
    day_starts: np.ndarray  # UTC epoch seconds of each local midnight
    weekdays: np.ndarray

    @property
    def n_chunks(self) -> int:
        return self.config.days * self.slices

    def chunk_key(self, i: int) -> tuple[int, int]:
        return divmod(i, self.slices)


@dataclass(frozen=True)
class AnprManifest:
    out_dir: Path
    reads: int
    chunks: int
    vehicles: int
    cameras: int
    files: tuple[Path, ...]
    ground_truth: Path
    cameras_csv: Path


# --- plates ---------------------------------------------------------------------------------------

_AREA = np.frombuffer(b"ABCDEFGHJKLMNOPRSTUVWXY", dtype=np.uint8)
_AGE = np.array([*range(2, 26), *range(51, 76)], dtype=np.int64)
_TAIL = np.frombuffer(b"ABCDEFGHJKLMNOPRSTUVWXYZ", dtype=np.uint8)
_PLATES = len(_AREA) ** 2 * len(_AGE) * len(_TAIL) ** 3
_MULT = 2_654_435_761  # a prime: multiplying by it modulo the plate count is a bijection


def plates(index: np.ndarray, seed: int = 0) -> pa.Array:
    """Current-format UK plates ("AB12 CDE"), one per vehicle index, all different for different indices."""
    code = (np.asarray(index, dtype=np.int64) * _MULT + 7_919 * (abs(seed) % 10_000 + 1)) % _PLATES
    out = np.empty((len(code), 8), dtype=np.uint8)
    code, t3 = np.divmod(code, len(_TAIL))
    code, t2 = np.divmod(code, len(_TAIL))
    code, t1 = np.divmod(code, len(_TAIL))
    code, age = np.divmod(code, len(_AGE))
    a1, a2 = np.divmod(code, len(_AREA))
    digits = _AGE[age]
    out[:, 0], out[:, 1] = _AREA[a1], _AREA[a2]
    out[:, 2], out[:, 3] = 48 + digits // 10, 48 + digits % 10
    out[:, 4] = 32
    out[:, 5], out[:, 6], out[:, 7] = _TAIL[t1], _TAIL[t2], _TAIL[t3]
    return pa.array(out.view("S8").ravel(), type=pa.binary()).cast(pa.string())


# --- the plan -------------------------------------------------------------------------------------


def _city(config: CityConfig) -> City:
    """The city the crime generator builds for a one-force ``config`` (same seed, same streets)."""
    config = replace(config, n_forces=1)
    total = config.population or config.n_events * 12 / config.months / config.crimes_per_1000 * 1000
    populations = np.array([max(100_000, round(total))])
    centres = force_layout(config, populations)
    names = Names(random_stream(config.seed, 10_002))
    return build_city(config, 0, centres[0], int(populations[0]), names, {"borough": 0, "lsoa": 0})


def _fleet(rng: np.random.Generator, net: Network, counts: dict[int, int]) -> Fleet:
    kinds = np.concatenate([np.full(n, k) for k, n in sorted(counts.items())]).astype(np.int8)
    n = len(kinds)
    city = net.locations(1)
    towns = np.array([net.town_centre(t) for t in range(len(net.towns))])
    # Homes lean to the outer city sites; work leans to the centre and inner sites.
    home = rng.choice(city, n)
    work = np.where(rng.random(n) < 0.3, 0, rng.choice(city, n))
    town = rng.choice(towns, n)
    town2 = np.where(rng.random(n) < 0.5, town, rng.choice(towns, n))
    home = np.where(kinds == TOWN_COMMUTER, town, home)
    work = np.where(np.isin(kinds, [TOWN_WORKER, TOWN_VAN, COUNTY_LINES]), town, work)
    return Fleet(
        kind=kinds,
        home=home,
        work=work,
        town2=town2,
        depart=rng.normal(7.8, 0.6, n),
        back=rng.normal(17.3, 0.7, n),
        night_shift=rng.random(n) < 0.5,
    )


def _groups(rng: np.random.Generator, config: AnprConfig, net: Network, first: int) -> list[Group]:
    groups = []
    member = first
    good = np.flatnonzero(net.route_len >= 4)
    for _ in range(config.n_groups):
        size = int(rng.integers(config.group_size[0], config.group_size[1] + 1))
        k = min(config.days, int(rng.integers(config.group_occasions[0], config.group_occasions[1] + 1)))
        offsets = np.concatenate([[0.0], np.cumsum(rng.uniform(2, 12, size - 1))])  # all within 30 s
        groups.append(
            Group(
                members=np.arange(member, member + size),
                days=np.sort(rng.choice(config.days, k, replace=False)),
                pairs=rng.choice(good, k),
                starts=rng.uniform(8, 23, k),
                offsets=offsets,
            )
        )
        member += size
    return groups


def plan_anpr(config: AnprConfig = AnprConfig()) -> AnprPlan:
    """Fix the city, cameras, fleet and planted groups, sizing the fleet to ``config.reads``."""
    city = _city(config.city)
    net = build_network(city, n_towns=config.n_towns)
    tz = ZoneInfo("Europe/London")
    first = config.first_day()
    dates = [first + dt.timedelta(days=d) for d in range(config.days)]
    day_starts = np.array(
        [
            dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()
            - (dt.datetime(d.year, d.month, d.day, 12, tzinfo=tz).utcoffset() or dt.timedelta()).total_seconds()
            for d in dates
        ]
    )
    weekdays = np.array([d.weekday() for d in dates])
    rates = _calibrate(config, city, net, day_starts, weekdays)
    per_day = config.reads / config.days
    planted = config.n_county_lines * rates[COUNTY_LINES] + sum(
        (config.group_size[0] + config.group_size[1]) / 2 * rates[GROUP_MEMBER] for _ in range(config.n_groups)
    )
    left = max(per_day - planted, per_day * 0.5)
    counts = {k: max(1, round(left * share / rates[k])) for k, share in _READ_SHARES.items() if k != THROUGH}
    counts[COUNTY_LINES] = config.n_county_lines
    fleet = _fleet(random_stream(config.seed, _STAGE, 1), net, counts)
    # Group members come last, so their indices are known before the fleet is drawn.
    groups = _groups(random_stream(config.seed, _STAGE, 2), config, net, len(fleet))
    n_members = sum(len(g.members) for g in groups)
    if n_members:
        extra = _fleet(random_stream(config.seed, _STAGE, 3), net, {GROUP_MEMBER: n_members})
        fleet = Fleet(*(np.concatenate([getattr(fleet, f), getattr(extra, f)]) for f in Fleet.__dataclass_fields__))
    through = max(1, round(left * _READ_SHARES[THROUGH] / rates[THROUGH]))
    slices = max(1, math.ceil(per_day * 1.3 / config.chunk_reads))
    return AnprPlan(config, city, net, fleet, groups, through, slices, day_starts, weekdays)


def _calibrate(
    config: AnprConfig, city: City, net: Network, day_starts: np.ndarray, weekdays: np.ndarray
) -> dict[int, float]:
    """Mean reads per vehicle-day of each kind, from a week of a small fleet (sizes the real one)."""
    n = 300
    counts = {k: n for k in (*_READ_SHARES, COUNTY_LINES, GROUP_MEMBER) if k != THROUGH}
    fleet = _fleet(random_stream(config.seed, _STAGE, 99), net, counts)
    week_starts = day_starts[0] + 86_400.0 * np.arange(7)
    week_days = (weekdays[0] + np.arange(7)) % 7
    plan = AnprPlan(config, city, net, fleet, [], n, 1, week_starts, week_days)
    totals = np.zeros(THROUGH + 1)
    for d in range(7):
        veh, _, _ = _day_reads(plan, d, 0, stage=98)
        kind = np.where(veh < len(fleet), fleet.kind[np.minimum(veh, len(fleet) - 1)], THROUGH)
        totals += np.bincount(kind, minlength=THROUGH + 1)
    return {k: max(float(totals[k]) / (7 * n), 0.1) for k in range(THROUGH + 1)}


# --- one chunk ------------------------------------------------------------------------------------


class _Trips:
    """Trips collected for a chunk: vehicle, route pair, local start (seconds) and speed factor."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, veh: np.ndarray, origin: np.ndarray, dest: np.ndarray, start_h: np.ndarray,
            net: Network, speed: np.ndarray | None = None) -> np.ndarray:
        """Add trips; returns each trip's arrival, local hours (for chaining)."""
        veh, origin, dest, start_h = np.broadcast_arrays(veh, origin, dest, start_h)
        pair = net.pair(origin.astype(np.int64), dest.astype(np.int64))
        if speed is None:
            speed = np.ones(len(pair))
        self.parts.append((veh.astype(np.int64), pair, start_h * 3600.0, np.broadcast_to(speed, pair.shape)))
        return start_h + net.route_total[pair] * speed / 3600.0

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if not self.parts:
            z = np.zeros(0)
            return z.astype(np.int64), z.astype(np.int64), z, z
        return tuple(np.concatenate(a) for a in zip(*self.parts, strict=True))  # type: ignore[return-value]


def _rush(start_h: np.ndarray) -> np.ndarray:
    h = start_h % 24
    return np.where(((h > 7) & (h < 9.5)) | ((h > 16.5) & (h < 18.5)), 1.3, 1.0)


def _day_reads(plan: AnprPlan, day: int, part: int, stage: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One chunk's reads: (vehicle index, camera index, UTC epoch seconds)."""
    rng = random_stream(plan.config.seed, _STAGE, stage, day, part)
    net, f = plan.network, plan.fleet
    weekday = int(plan.weekdays[day])
    workday = weekday < 5
    trips = _Trips()
    mine = np.flatnonzero(np.arange(len(f)) % plan.slices == part)
    city = net.locations(1)
    towns = np.array([net.town_centre(t) for t in range(len(net.towns))])

    def speed(start_h: np.ndarray) -> np.ndarray:
        return rng.lognormal(0, 0.1, len(start_h)) * _rush(start_h)

    # Commuters (and group members and town workers): to work and back, or a weekend outing.
    v = mine[np.isin(f.kind[mine], [COMMUTER, TOWN_COMMUTER, TOWN_WORKER, GROUP_MEMBER])]
    if workday:
        go = v[rng.random(len(v)) < 0.88]
        s = f.depart[go] + rng.normal(0, 0.2, len(go))
        trips.add(go, f.home[go], f.work[go], s, net, speed(s))
        s = f.back[go] + rng.normal(0, 0.33, len(go))
        trips.add(go, f.work[go], f.home[go], s, net, speed(s))
    else:
        out = v[rng.random(len(v)) < 0.35]
        away = np.where(rng.random(len(out)) < 0.1, rng.choice(towns, len(out)), rng.choice(city, len(out)))
        s = rng.uniform(9.5, 15, len(out))
        end = trips.add(out, f.home[out], away, s, net, speed(s))
        s = end + rng.uniform(1.5, 5, len(out))
        trips.add(out, away, f.home[out], s, net, speed(s))

    # Delivery vans: chained stops from the depot; town vans also make their regular town run.
    v = mine[np.isin(f.kind[mine], [VAN, TOWN_VAN])]
    p_work = 0.95 if workday else (0.4 if weekday == 5 else 0.0)
    v = v[rng.random(len(v)) < p_work]
    if len(v):
        stops = rng.integers(3, 7, len(v))
        _chain(trips, rng, net, v, f.home[v], stops, rng.uniform(6, 8.5, len(v)), city, (10, 40), speed)
        tv = v[(f.kind[v] == TOWN_VAN) & workday]
        s = rng.uniform(9.5, 14, len(tv))
        end = trips.add(tv, f.home[tv], f.work[tv], s, net, speed(s))
        s = end + rng.uniform(20, 50, len(tv)) / 60
        trips.add(tv, f.work[tv], f.home[tv], s, net, speed(s))

    # Taxis: a shift of chained fares, now and then out to a county town.
    v = mine[f.kind[mine] == TAXI]
    v = v[rng.random(len(v)) < 0.85]
    if len(v):
        first = np.where(f.night_shift[v], rng.uniform(18, 21, len(v)), rng.uniform(7, 9, len(v)))
        _chain(trips, rng, net, v, f.home[v], rng.integers(6, 13, len(v)), first, city, (3, 25), speed,
               towns=towns, p_town=0.004)

    # County-lines vehicles: local driving, and on about 40% of days a short run to a town, mostly at night.
    v = mine[f.kind[mine] == COUNTY_LINES]
    if len(v):
        local = rng.choice(city, len(v))
        s = rng.uniform(10, 19, len(v))
        end = trips.add(v, f.home[v], local, s, net, speed(s))
        s = end + rng.uniform(1, 3, len(v))
        trips.add(v, local, f.home[v], s, net, speed(s))
        run = v[rng.random(len(v)) < 0.4]
        night = rng.random(len(run)) < 0.75
        s = np.where(night, rng.uniform(21.5, 27, len(run)), rng.uniform(10, 20, len(run)))
        town = np.where(rng.random(len(run)) < 0.7, f.work[run], f.town2[run])
        end = trips.add(run, f.home[run], town, s, net, speed(s))
        s = end + rng.uniform(10, 60, len(run)) / 60
        trips.add(run, town, f.home[run], s, net, speed(s))

    # Planted groups (all in slice 0): the same trip seconds apart.
    if part == 0:
        for g in plan.groups:
            for occ in np.flatnonzero(g.days == day):
                factor = float(rng.lognormal(0, 0.1))
                n = len(g.members)
                s = g.starts[occ] + g.offsets / 3600.0
                trips.add(g.members, np.full(n, g.pairs[occ] // net.n_loc), np.full(n, g.pairs[occ] % net.n_loc),
                          s, net, np.full(n, factor))

    # Through traffic: one-off vehicles from one corridor's far end to another's.
    n = plan.through_per_day // plan.slices + (1 if part < plan.through_per_day % plan.slices else 0)
    if n and len(towns) >= 2:
        base = len(f) + (day * plan.slices + part) * (plan.through_per_day // plan.slices + 1)
        ids = base + np.arange(n)
        o = rng.choice(towns, n)
        d = rng.choice(towns, n)
        d = np.where(d == o, towns[(np.searchsorted(towns, o) + 1) % len(towns)], d)
        s = np.clip(rng.normal(13, 4, n), 4, 23.5)
        trips.add(ids, o, d, s, net, speed(s))

    veh, pair, start, factor = trips.arrays()
    lens = net.route_len[pair]
    idx = np.repeat(np.arange(len(pair)), lens)
    pos = np.arange(len(idx)) - np.repeat(np.cumsum(lens) - lens, lens)
    cam = net.route_cams[pair[idx], pos]
    t = plan.day_starts[day] + start[idx] + net.route_secs[pair[idx], pos] * factor[idx]
    t += rng.normal(0, 1.5, len(t))
    keep = rng.random(len(t)) < plan.config.detection
    return veh[idx][keep], cam[keep], t[keep]


def _chain(trips: _Trips, rng: np.random.Generator, net: Network, veh: np.ndarray, base: np.ndarray,
           stops: np.ndarray, first_h: np.ndarray, places: np.ndarray, wait_min: tuple[float, float],
           speed: Callable[[np.ndarray], np.ndarray], towns: np.ndarray | None = None,
           p_town: float = 0.0) -> None:
    """Chained trips: base -> stop 1 -> ... -> stop k -> base, waiting between; vectorised over vehicles."""
    k = int(stops.max())
    here = base.copy()
    clock = first_h.copy()
    for j in range(k + 1):
        active = j <= stops
        dest = np.where(j == stops, base, rng.choice(places, len(veh)))
        if towns is not None and p_town > 0:
            dest = np.where((j < stops) & (rng.random(len(veh)) < p_town), rng.choice(towns, len(veh)), dest)
        a = np.flatnonzero(active)
        end = trips.add(veh[a], here[a], dest[a], clock[a], net, speed(clock[a]))
        clock[a] = end + rng.uniform(*wait_min, len(a)) / 60
        here[a] = dest[a]


def chunk_table(plan: AnprPlan, i: int) -> pa.Table:
    """Chunk ``i`` (day ``i // slices``, slice ``i % slices``) as an Arrow table in read order."""
    day, part = plan.chunk_key(i)
    veh, cam, t = _day_reads(plan, day, part)
    order = np.argsort(t, kind="stable")
    veh, cam, t = veh[order], cam[order], t[order]
    rng = random_stream(plan.config.seed, _STAGE, 11, day, part)
    ids = pa.array([c.camera_id for c in plan.network.cameras], type=pa.string())
    dirs = pa.array([c.direction for c in plan.network.cameras], type=pa.string())
    cam_idx = pa.array(cam, type=pa.int32())
    confidence = np.round(np.clip(rng.beta(30, 1.2, len(t)), 0, 1), 3)
    return pa.table(
        [
            plates(veh, plan.config.seed),
            pa.array((t * 1e6).astype(np.int64), type=pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            ids.take(cam_idx),
            dirs.take(cam_idx),
            pa.array(confidence, type=pa.float64()),
        ],
        schema=READ_SCHEMA,
    )


def iter_chunks(plan: AnprPlan) -> Iterator[pa.Table]:
    """Every chunk in order; only one is in memory at a time."""
    for i in range(plan.n_chunks):
        yield chunk_table(plan, i)


# --- files ----------------------------------------------------------------------------------------


def write_cameras(plan: AnprPlan, path: Path) -> Path:
    lon, lat = camera_lonlat(plan.network.cameras)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["camera_id", "lon", "lat", "road", "direction", "name", "area_code"])
        for c, x, y in zip(plan.network.cameras, lon.tolist(), lat.tolist(), strict=True):
            w.writerow([c.camera_id, f"{x:.6f}", f"{y:.6f}", c.road, c.direction, c.name, c.area_code])
    return path


def ground_truth(plan: AnprPlan) -> dict[str, object]:
    f, net, seed = plan.fleet, plan.network, plan.config.seed
    cl = np.flatnonzero(f.kind == COUNTY_LINES)
    cl_plates = plates(cl, seed).to_pylist()
    town_of = {int(net.town_centre(t)): name for t, name in enumerate(net.towns)}
    lookalikes = np.flatnonzero(np.isin(f.kind, [TOWN_VAN, TOWN_WORKER]))
    config = asdict(plan.config)
    config.pop("city")
    return {
        "config": config,
        "city_seed": plan.config.city.seed,
        "metro_area_codes": list(net.metro_area_codes),
        "towns": list(net.towns),
        "county_lines": [
            {"plate": p, "towns": sorted({town_of[int(f.work[v])], town_of[int(f.town2[v])]})}
            for p, v in zip(cl_plates, cl.tolist(), strict=True)
        ],
        "co_travel_groups": [
            {"group": k + 1, "plates": plates(g.members, seed).to_pylist(), "occasions": len(g.days)}
            for k, g in enumerate(plan.groups)
        ],
        "lookalikes": {
            "town_vans_and_workers": plates(lookalikes, seed).to_pylist(),
            "why": "regular daytime short-dwell town rounds (vans) or daily long-dwell town commutes",
        },
        "fleet_vehicles": len(f),
        "through_vehicles_per_day": plan.through_per_day,
    }


def generate_anpr(
    out_dir: Path | str, config: AnprConfig = AnprConfig(), *,
    progress: Callable[[int, int], None] | None = None,
) -> AnprManifest:
    """Write the synthetic ANPR set under ``out_dir`` (see the module docstring for the layout)."""
    out = Path(out_dir)
    (out / "reads").mkdir(parents=True, exist_ok=True)
    plan = plan_anpr(config)
    files, total = [], 0
    for i, table in enumerate(iter_chunks(plan)):
        day, part = plan.chunk_key(i)
        path = out / "reads" / f"part-{day:05d}-{part:02d}.parquet"
        pq.write_table(table, path, compression="zstd", row_group_size=1_000_000)
        files.append(path)
        total += table.num_rows
        if progress:
            progress(i + 1, plan.n_chunks)
    cameras = write_cameras(plan, out / "cameras.csv")
    truth = ground_truth(plan)
    truth["reads_written"] = total
    truth["chunks"] = plan.n_chunks
    gt = out / "ground_truth.json"
    gt.write_text(json.dumps(truth, indent=1), encoding="utf-8")
    return AnprManifest(out, total, plan.n_chunks, len(plan.fleet), len(plan.network.cameras), tuple(files),
                        gt, cameras)
