"""Near repeats: the Knox test with Monte Carlo significance, as Ratcliffe's Near Repeat Calculator does,
with no limit on the number of events.

Pairs of events closer than the largest distance band are found once (a k-d tree); each permutation
shuffles the event times over the fixed locations and recounts those pairs into distance x time bands. A
cell's expected count is the mean over permutations, its ratio observed / expected, and its p-value the
share of permutations at least as large as observed (counting the observed one, so never below
1 / (permutations + 1)). Pairs farther apart than the largest band never change band, so they are left
out: every cell of the table is exact.

Speed: pairs are sorted by distance band once; a permutation is a gather of two time arrays over the
pairs, a difference, and a ``bincount`` of the few pairs inside the last time band, all in numpy; blocks
of permutations go to threads (numpy releases the GIL). Memory is a few arrays the size of the pair count.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from safestreets.errors import NoDataError, ParameterError

DEFAULT_DISTANCE_BANDS = (0.0, 100.0, 200.0, 300.0, 400.0, 500.0)
DEFAULT_TIME_BANDS = (0, 7, 14, 21, 28, 35, 42, 56)
# Permutations per block handed to a thread: each block draws its shuffles at once and recounts them
# through scratch rows of the widest band's size, so memory stays at a few arrays of the pair count.
_BLOCK = 32


@dataclass(frozen=True)
class KnoxResult:
    """Observed and expected pair counts per distance band (rows) and time band (columns).

    Band ``i`` of distance is ``[distance_edges[i], distance_edges[i+1])`` metres, with a first band of
    "same place" (distance exactly 0) when ``same_place`` is true; time band ``j`` is
    ``[time_edges[j], time_edges[j+1])`` days apart.
    """

    distance_edges: tuple[float, ...]
    time_edges: tuple[int, ...]
    same_place: bool
    observed: np.ndarray
    expected: np.ndarray
    p_value: np.ndarray
    permutations: int
    events: int
    pairs: int
    seed: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.expected > 0, self.observed / self.expected, np.nan)

    def distance_labels(self) -> list[str]:
        edges = self.distance_edges
        out = ["same place"] if self.same_place else []
        for i in range(len(edges) - 1):
            lo, hi = edges[i], edges[i + 1]
            out.append(f"{lo:g}-{hi:g} m" if not (self.same_place and i == 0) else f"1-{hi:g} m")
        return out

    def time_labels(self) -> list[str]:
        e = self.time_edges
        return [f"{e[j]}-{e[j + 1] - 1} days" for j in range(len(e) - 1)]

    def cells(self) -> list[dict[str, Any]]:
        """One row per cell, for tables and JSON."""
        ratio = self.ratio
        rows = []
        for i, d in enumerate(self.distance_labels()):
            for j, t in enumerate(self.time_labels()):
                r = ratio[i, j]
                rows.append(
                    {
                        "distance": d,
                        "time": t,
                        "observed": int(self.observed[i, j]),
                        "expected": round(float(self.expected[i, j]), 2),
                        "ratio": None if not np.isfinite(r) else round(float(r), 3),
                        "p_value": round(float(self.p_value[i, j]), 4),
                    }
                )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "distance_edges_m": list(self.distance_edges),
            "time_edges_days": list(self.time_edges),
            "same_place": self.same_place,
            "permutations": self.permutations,
            "events": self.events,
            "pairs": self.pairs,
            "seed": self.seed,
            "cells": self.cells(),
            "meta": dict(self.meta),
        }


def _check_edges(edges: Any, name: str) -> np.ndarray:
    arr = np.asarray(edges, dtype="float64")
    if arr.ndim != 1 or len(arr) < 2 or not np.all(np.diff(arr) > 0) or arr[0] < 0:
        raise ParameterError(f"{name} must be at least two increasing, non-negative edges, not {list(edges)}")
    return arr


def days_of(t: Any) -> np.ndarray:
    """Whole days since the epoch of datetime64 values (or numbers already in days)."""
    arr = np.asarray(t)
    if np.issubdtype(arr.dtype, np.datetime64):
        return arr.astype("datetime64[D]").astype("int64")
    if not np.issubdtype(arr.dtype, np.number):
        raise ParameterError(f"event times must be datetimes or day numbers, not {arr.dtype}")
    return np.floor(arr.astype("float64")).astype("int64")


def knox_test(
    x: Any,
    y: Any,
    t: Any,
    *,
    distance_edges: Any = DEFAULT_DISTANCE_BANDS,
    time_edges: Any = DEFAULT_TIME_BANDS,
    same_place: bool = True,
    permutations: int = 999,
    seed: int = 0,
    workers: int | None = None,
) -> KnoxResult:
    """Knox test over distance bands (metres) and time bands (days) with Monte Carlo p-values.

    ``x, y`` are projected coordinates in metres; ``t`` are datetimes (or day numbers). With
    ``same_place`` the first distance band is split into "same place" (0 m, as police.uk snap points make
    common) and the rest of it, as Ratcliffe's calculator does.
    """
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    days = days_of(t)
    if not (len(x) == len(y) == len(days)):
        raise ParameterError(f"x, y and t differ in length: {len(x)}, {len(y)}, {len(days)}")
    ok = np.isfinite(x) & np.isfinite(y)
    x, y, days = x[ok], y[ok], days[ok]
    if len(x) < 10:
        raise NoDataError(f"the Knox test needs at least 10 located, dated events, not {len(x)}")
    if permutations < 19:
        raise ParameterError(
            f"use at least 19 permutations (p-values cannot go below 1/(n+1)), not {permutations}"
        )
    d_edges = _check_edges(distance_edges, "distance bands")
    t_edges = _check_edges(time_edges, "time bands").astype("int64")
    if same_place and d_edges[0] != 0:
        raise ParameterError("a 'same place' band needs distance bands starting at 0")

    # Pairs within the largest distance, once; their distance band never changes.
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(float(d_edges[-1]), output_type="ndarray")
    pairs = pairs[:0] if pairs.size == 0 else pairs
    i = pairs[:, 0].astype("int32") if len(pairs) else np.zeros(0, "int32")
    j = pairs[:, 1].astype("int32") if len(pairs) else np.zeros(0, "int32")
    dist = np.hypot(x[i] - x[j], y[i] - y[j])
    d_band = np.searchsorted(d_edges, dist, side="right") - 1
    keep = (d_band >= 0) & (dist < d_edges[-1])
    if same_place:
        # "same place" is its own row ahead of the rest of the first band.
        d_band = np.where(dist == 0, 0, d_band + 1)
    n_d = len(d_edges) - 1 + int(same_place)
    i, j, d_band = i[keep], j[keep], d_band[keep]
    # Sort pairs by distance band so each permutation counts time bands per contiguous slice.
    order = np.argsort(d_band, kind="stable")
    # Index arrays as intp: numpy would otherwise convert them on every gather of every permutation.
    i, j, d_band = i[order].astype(np.intp), j[order].astype(np.intp), d_band[order]
    bounds = np.searchsorted(d_band, np.arange(n_d + 1))

    # Time band of every possible gap in days; gaps past the last band fall into an overflow column.
    n_t = len(t_edges) - 1
    span = int(days.max() - days.min()) + 1
    lut = np.full(span, n_t, dtype="int64")
    gaps = np.arange(span)
    inside = gaps < t_edges[-1]
    lut[inside] = np.searchsorted(t_edges, gaps[inside], side="right") - 1
    lut[gaps < t_edges[0]] = n_t
    # Day numbers in the narrowest integer that holds them: the gathers below move half the bytes.
    d0 = (days - days.min()).astype("int16" if span < 2**15 else "int32")
    t_max = int(min(t_edges[-1], span))
    widest = int(np.diff(bounds).max()) if len(bounds) > 1 else 0

    def count(tt: np.ndarray) -> np.ndarray:
        """Pairs per (distance band, time band) for times ``tt`` (1-D), or for each row of ``tt`` (2-D)."""
        two_d = tt.ndim == 2
        tt2 = tt if two_d else tt[None, :]
        out = np.zeros((tt2.shape[0], n_d, n_t + 1), dtype="int64")
        # Two scratch rows reused for every band and permutation: fresh multi-megabyte arrays cost page
        # faults each time.
        ga = np.empty(widest, dtype=tt2.dtype)
        gb = np.empty(widest, dtype=tt2.dtype)
        near = np.empty(widest, dtype=bool)
        for r in range(tt2.shape[0]):
            row = tt2[r]
            for b in range(n_d):
                lo, hi = bounds[b], bounds[b + 1]
                m = hi - lo
                if m <= 0:
                    continue
                a, c, k = ga[:m], gb[:m], near[:m]
                np.take(row, i[lo:hi], out=a)
                np.take(row, j[lo:hi], out=c)
                np.subtract(a, c, out=a)
                np.abs(a, out=a)
                # Most pairs are further apart in time than the last band: band only the few that are not.
                np.less(a, t_max, out=k)
                out[r, b, :] = np.bincount(lut[a[k]], minlength=n_t + 1)
        out = out[:, :, :n_t]
        return out if two_d else out[0]

    observed = count(d0)
    rng = np.random.default_rng(seed)
    block = max(1, min(permutations, _BLOCK))
    sizes = [min(block, permutations - k) for k in range(0, permutations, block)]
    # Each block draws its own generator from the seed, so the answer is the same for any worker count.
    seeds = rng.spawn(len(sizes))

    def run(k: int) -> tuple[np.ndarray, np.ndarray]:
        g = seeds[k]
        tt = g.permuted(np.broadcast_to(d0, (sizes[k], len(d0))), axis=1)
        c = count(tt)
        return c.sum(axis=0), (c >= observed[None]).sum(axis=0)

    # Cores this process may use (a container's share, not the host's count); numpy releases the GIL in
    # the gathers and bincounts, so threads share the work without copying the pairs.
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n_workers = workers or min(len(sizes), usable, 4)
    if n_workers > 1 and len(sizes) > 1:
        with ThreadPoolExecutor(n_workers) as pool:
            parts = list(pool.map(run, range(len(sizes))))
    else:
        parts = [run(k) for k in range(len(sizes))]
    total = sum(p[0] for p in parts)
    at_least = sum(p[1] for p in parts)
    expected = total / permutations
    p_value = (1 + at_least) / (1 + permutations)
    return KnoxResult(
        distance_edges=tuple(float(v) for v in d_edges),
        time_edges=tuple(int(v) for v in t_edges),
        same_place=same_place,
        observed=observed,
        expected=expected,
        p_value=p_value,
        permutations=permutations,
        events=len(x),
        pairs=len(i),
        seed=seed,
        meta={"dropped_unlocated": int((~ok).sum())},
    )


@dataclass(frozen=True)
class NearRepeatAdvice:
    """How far and for how long risk stays raised after an event, read off a Knox table.

    ``distance_m`` and ``days`` are ``None`` when no cell near the origin is both raised and significant:
    then there is no near-repeat pattern to act on and the advice says so.
    """

    crime: str
    distance_m: float | None
    days: int | None
    ratio: float | None
    text: str
    min_ratio: float
    alpha: float

    @property
    def found(self) -> bool:
        return self.distance_m is not None and self.days is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "crime": self.crime,
            "found": self.found,
            "distance_m": self.distance_m,
            "days": self.days,
            "ratio": self.ratio,
            "text": self.text,
            "min_ratio": self.min_ratio,
            "alpha": self.alpha,
        }


def near_repeat_advice(
    result: KnoxResult, *, crime: str = "a burglary", min_ratio: float = 1.2, alpha: float = 0.05
) -> NearRepeatAdvice:
    """Patrol advice from a Knox table: the block of cells around the origin (nearest distances, soonest
    times) in which pairs are both raised (ratio at least ``min_ratio``) and significant (p below
    ``alpha``), grown outwards while it stays so.

    The distance is the outer edge of the farthest such band in the first time band, the time the outer
    edge of the latest such band in the nearest distance band (the same-place row is not enough alone:
    repeats at one address are repeat victimisation, not near repeats).
    """
    hot = (result.ratio >= min_ratio) & (result.p_value < alpha)
    hot = np.nan_to_num(hot, nan=False).astype(bool)
    rows = list(range(len(result.distance_labels())))
    near = rows[1:] if result.same_place else rows
    edges_d = result.distance_edges
    d_upper = list(edges_d) if result.same_place else list(edges_d[1:])
    if not near or not hot[near[0], 0]:
        return NearRepeatAdvice(
            crime,
            None,
            None,
            None,
            f"No near-repeat pattern after {crime}: pairs close in space and time are no more common than "
            f"chance would give (ratio >= {min_ratio:g} with p < {alpha:g} in no cell next to the origin).",
            min_ratio,
            alpha,
        )
    far = near[0]
    for r in near[1:]:
        if not hot[r, 0]:
            break
        far = r
    late = 0
    for c in range(1, hot.shape[1]):
        if not hot[near[0], c]:
            break
        late = c
    distance = float(d_upper[far])
    days = int(result.time_edges[late + 1])
    ratio = float(result.ratio[near[0], 0])
    text = (
        f"Raise patrols within {distance:g} m for {days} days after {crime}: nearby events in that window "
        f"are {ratio:.1f} times as common as chance would give (Knox test, {result.permutations} "
        f"permutations, {result.events:,} events)."
    )
    return NearRepeatAdvice(crime, distance, days, round(ratio, 3), text, min_ratio, alpha)
