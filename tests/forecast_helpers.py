"""Small synthetic histories and units for model and metric tests (fast, deterministic)."""

from __future__ import annotations

import numpy as np
import shapely

from safestreets.forecast.history import History
from safestreets.geo.units import Units, make_grid, polygon_units

SIDE = 5000.0  # a 5 km square town


def toy_units(cell: float = 250.0) -> Units:
    area = shapely.box(0, 0, SIDE, SIDE)
    west, east = shapely.box(0, 0, SIDE / 2, SIDE), shapely.box(SIDE / 2, 0, SIDE, SIDE)
    return make_grid(area, cell, bcu_geoms=np.array([west, east]), bcu_codes=np.array(["west", "east"]))


def toy_polygons() -> Units:
    """Sixteen square 'neighbourhoods' of the same town."""
    side = SIDE / 4
    boxes = [
        shapely.box(i * side, j * side, (i + 1) * side, (j + 1) * side) for i in range(4) for j in range(4)
    ]
    return polygon_units(
        np.array([f"N{k:02d}" for k in range(16)]),
        np.array(boxes),
        kind="neighbourhood",
        study_area=shapely.box(0, 0, SIDE, SIDE),
    )


def toy_history(
    resolution: str = "month",
    *,
    months: int = 36,
    per_month: int = 400,
    seed: int = 0,
    start: str = "2021-01",
) -> History:
    """Persistent hot spots (60%), uniform background (25%) and near-repeat follow-ons (15%)."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(500, SIDE - 500, size=(6, 2))
    strength = rng.dirichlet(np.ones(6) * 2)
    xs, ys, ts = [], [], []
    t0 = np.datetime64(start, "M")
    for m in range(months):
        n = rng.poisson(per_month * (1 + 0.2 * np.sin(2 * np.pi * m / 12)))
        kind = rng.choice(3, size=n, p=[0.6, 0.25, 0.15])
        hot = rng.choice(6, size=n, p=strength)
        x = np.where(kind == 0, centres[hot, 0] + rng.normal(0, 150, n), rng.uniform(0, SIDE, n))
        y = np.where(kind == 0, centres[hot, 1] + rng.normal(0, 150, n), rng.uniform(0, SIDE, n))
        if m > 0 and (kind == 2).any():  # follow-ons near last month's events
            k = int((kind == 2).sum())
            src = rng.integers(0, len(xs[-1]), k)
            x[kind == 2] = xs[-1][src] + rng.normal(0, 100, k)
            y[kind == 2] = ys[-1][src] + rng.normal(0, 100, k)
        x, y = np.clip(x, 1, SIDE - 1), np.clip(y, 1, SIDE - 1)
        month = (t0 + m).astype("datetime64[s]")
        if resolution == "month":
            t = np.full(n, month)
        else:
            days = ((t0 + m + 1).astype("datetime64[D]") - (t0 + m).astype("datetime64[D]")).astype(int)
            t = month + rng.integers(0, days * 86400, n).astype("timedelta64[s]")
        xs.append(x)
        ys.append(y)
        ts.append(t)
    x, y, t = np.concatenate(xs), np.concatenate(ys), np.concatenate(ts)
    types = rng.choice(["Burglary", "Robbery", "Violence and sexual offences"], size=len(x))
    harm = np.select([types == "Burglary", types == "Robbery"], [225.0, 365.0], 200.0)
    # Other crime: half of it near the target events, half anywhere; twice as common.
    k = 2 * len(x)
    near = rng.random(k) < 0.5
    src = rng.integers(0, len(x), k)
    cx = np.where(near, x[src] + rng.normal(0, 200, k), rng.uniform(0, SIDE, k))
    cy = np.where(near, y[src] + rng.normal(0, 200, k), rng.uniform(0, SIDE, k))
    context = History.from_arrays(
        np.clip(cx, 1, SIDE - 1),
        np.clip(cy, 1, SIDE - 1),
        t[src],
        np.full(k, "Anti-social behaviour"),
        np.zeros(k),
        resolution=resolution,  # type: ignore[arg-type]
    )
    return History.from_arrays(
        x,
        y,
        t,
        types,
        harm,
        resolution=resolution,
        meta={"source": "toy"},  # type: ignore[arg-type]
        context=context,
    )
