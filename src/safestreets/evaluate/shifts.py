"""Backtests of risk by shift and of forecast intervals.

**Risk by shift** (:func:`backtest_shifts`): at each origin a model forecasts each unit's count over the
window (a shared forecast, as in :func:`safestreets.evaluate.backtest.backtest`) and the time-of-week
profiles are fitted on the events before the origin; each (day, shift) slot of the window is then scored
on its own events by hit rate at each coverage, ranking the units by their count times their profile's
share of that slot. Three profiles are compared on the same forecast:

* ``unit``: each unit's own profile shrunk towards its command unit's and the city's (the forecast);
* ``raw``: each unit's own hours, unshrunk (the city's where it has no events);
* ``city``: the city's profile applied to every unit, the baseline. It ranks units as the total does, so
  it is what a daily pattern repeated over the week gets.

Hit rates are pooled per shift over the days and origins, weighted by events (captured events over
events), since a single slot of one week holds few events.

**Intervals** (:func:`backtest_intervals`): at each origin, the dispersions are fitted on the model's
forecasts at the periods just before it (:func:`safestreets.forecast.intervals.calibrate`), and each
level's intervals are checked against what happened: per unit, per command unit and for the city. The
observed ``coverage`` is set beside ``expected``, the coverage the model itself gives its whole-count
intervals (at least the level; far above it where most units expect a fraction of an event).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from safestreets.errors import NoDataError
from safestreets.evaluate.backtest import default_origins
from safestreets.evaluate.metrics import capture_curve
from safestreets.forecast import shared
from safestreets.forecast.base import Forecaster
from safestreets.forecast.history import History, Horizon, as_time
from safestreets.forecast.intervals import calibrate, group_totals, intervals, model_coverage, total_k
from safestreets.forecast.timeofweek import (
    DEFAULT_SHIFTS,
    ShiftLike,
    fit_profiles,
    hour_of_week,
    slot_matrix,
    slot_names,
)
from safestreets.geo.units import Units

PROFILES = ("unit", "raw", "city")


def _origins(history: History, horizon: Horizon, origins: Sequence[Any] | int) -> list[np.datetime64]:
    found = default_origins(history, horizon, origins) if isinstance(origins, int) else [as_time(o) for o in origins]
    if not found:
        raise NoDataError(f"no origin leaves a whole {horizon} window inside the data")
    return found


def backtest_shifts(
    model: Forecaster, history: History, units: Units, *, origins: Sequence[Any] | int = 12,
    horizon: str | Horizon = "1w", coverages: Sequence[float] = (0.01, 0.05),
    shifts: Sequence[ShiftLike] = DEFAULT_SHIFTS, lookback_days: int | None = None, name: str | None = None,
) -> pa.Table:  # fmt: skip
    """One row per origin, (day, shift) slot, profile and coverage: events in the slot and captured ones."""
    h = Horizon.parse(horizon)
    history.check_horizon(h)
    if history.resolution != "timestamp":
        raise NoDataError("risk by shift needs timestamped events: police.uk files carry the month only")
    m = slot_matrix(shifts)
    names = slot_names(shifts)
    cols: dict[str, list[Any]] = {k: [] for k in ("model", "origin", "day", "shift", "profile", "coverage",
                                                  "events", "captured", "hit_rate")}  # fmt: skip
    for o in _origins(history, h, origins):
        end = h.add(o)
        pred = shared.forecast(model, history, o, units, o, end)
        tow = fit_profiles(history, units, until=o, lookback_days=lookback_days)
        window = history.between(o, end)
        idx = units.locate(window.x, window.y)
        ok = idx >= 0
        slot_events = m[hour_of_week(window.t[ok])]  # (events, slots) 0/1
        actual = np.zeros((len(units), m.shape[1]))
        np.add.at(actual, idx[ok], slot_events)
        shares = {p: tow.slot_shares(shifts, level=p) for p in PROFILES}
        for s, (day, shift) in enumerate(names):
            n = float(actual[:, s].sum())
            if n == 0:
                continue
            for p in PROFILES:
                hr = capture_curve(pred * shares[p][:, s], actual[:, s], units.area, list(coverages))
                for c, v in zip(coverages, hr, strict=True):
                    cols["model"].append(name or model.name)
                    cols["origin"].append(o.astype("datetime64[s]").item())
                    cols["day"].append(day)
                    cols["shift"].append(shift)
                    cols["profile"].append(p)
                    cols["coverage"].append(float(c))
                    cols["events"].append(n)
                    cols["captured"].append(float(v) * n)
                    cols["hit_rate"].append(float(v))
    return pa.table(cols)


def summarise_shifts(rows: pa.Table) -> pa.Table:
    """Per shift (and ``all``), profile and coverage: the event-weighted hit rate over days and origins."""
    d = rows.to_pydict()
    acc: dict[tuple[str, str, str, float], list[float]] = {}
    for i in range(rows.num_rows):
        for shift in (d["shift"][i], "all"):
            key = (d["model"][i], shift, d["profile"][i], d["coverage"][i])
            got = acc.setdefault(key, [0.0, 0.0])
            got[0] += d["captured"][i]
            got[1] += d["events"][i]
    out: dict[str, list[Any]] = {k: [] for k in ("model", "shift", "profile", "coverage", "events", "hit_rate")}
    for (model, shift, profile, cov), (cap, n) in acc.items():
        for k, v in zip(out, (model, shift, profile, cov, n, cap / n if n else np.nan), strict=True):
            out[k].append(v)
    return pa.table(out)


def backtest_intervals(
    model: Forecaster, history: History, units: Units, *, origins: Sequence[Any] | int = 12,
    horizon: str | Horizon = "1m", levels: Sequence[float] = (0.8, 0.95), calibration: int = 6,
    name: str | None = None,
) -> pa.Table:  # fmt: skip
    """One row per origin, level and scope (``unit``, ``bcu``, ``city``): how many outcomes the intervals
    held (``coverage``), how many the model expected them to hold, and the mean width."""
    h = Horizon.parse(horizon)
    history.check_horizon(h)
    cols: dict[str, list[Any]] = {k: [] for k in ("model", "origin", "level", "scope", "n", "coverage",
                                                  "expected", "width", "k_unit", "k_total")}  # fmt: skip
    for o in _origins(history, h, origins):
        end = h.add(o)
        disp = calibrate(model, history, units, o, h, origins=calibration)
        if not disp.origins:
            continue  # no period before this origin to calibrate on
        pred = shared.forecast(model, history, o, units, o, end)
        window = history.between(o, end)
        actual = units.counts(window, np.array([o, end], dtype="datetime64[s]"))[:, 0]
        for level in levels:
            iv = intervals(pred, units.bcu, disp, level)
            scopes: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = [
                ("unit", actual, iv.lower, iv.upper, model_coverage(pred, disp.unit, iv.lower, iv.upper))
            ]
            got = group_totals(actual, units.bcu)
            mus = group_totals(pred, units.bcu)
            labels = np.asarray([str(b) or "all" for b in units.bcu], dtype=object)
            for scope, keys in (("bcu", [g for g in iv.totals if g != "city"]), ("city", ["city"])):
                if not keys:
                    continue
                y = np.array([got[g] if g != "city" else float(actual.sum()) for g in keys])
                mu = np.array([mus[g] if g != "city" else float(pred.sum()) for g in keys])
                lo = np.array([iv.totals[g]["lower"] for g in keys])
                hi = np.array([iv.totals[g]["upper"] for g in keys])
                ks = np.array([total_k(pred if g == "city" else pred[labels == g], disp) for g in keys])
                scopes.append((scope, y, lo, hi, model_coverage(mu, ks, lo, hi)))
            for scope, y, lo, hi, exp in scopes:
                cols["model"].append(name or model.name)
                cols["origin"].append(o.astype("datetime64[s]").item())
                cols["level"].append(float(level))
                cols["scope"].append(scope)
                cols["n"].append(len(y))
                cols["coverage"].append(float(((y >= lo) & (y <= hi)).mean()))
                cols["expected"].append(float(np.mean(exp)))
                cols["width"].append(float(np.mean(hi - lo)))
                cols["k_unit"].append(disp.unit)
                cols["k_total"].append(np.nan if disp.total is None else disp.total)
    return pa.table(cols)


def summarise_intervals(rows: pa.Table) -> pa.Table:
    """Per model and scope: coverage and expected coverage at each level (``coverage_80``, ``expected_80``,
    ...), pooled over origins weighted by the outcomes scored, and the mean width."""
    d = rows.to_pydict()
    acc: dict[tuple[str, str], dict[str, list[float]]] = {}
    for i in range(rows.num_rows):
        key = (d["model"][i], d["scope"][i])
        tag = f"{round(d['level'][i] * 100):d}"
        got = acc.setdefault(key, {})
        for col in ("coverage", "expected", "width"):
            got.setdefault(f"{col}_{tag}", []).append(d[col][i] * d["n"][i] if col != "width" else d[col][i])
        got.setdefault(f"n_{tag}", []).append(d["n"][i])
    out: dict[str, list[Any]] = {"model": [], "scope": [], "scored": []}
    tags = sorted({k.split("_")[1] for v in acc.values() for k in v})
    for t in tags:
        for col in ("coverage", "expected", "width"):
            out[f"{col}_{t}"] = []
    for (model, scope), got in acc.items():
        out["model"].append(model)
        out["scope"].append(scope)
        out["scored"].append(int(sum(got[f"n_{tags[0]}"])))
        for t in tags:
            n = sum(got.get(f"n_{t}", [0]))
            out[f"coverage_{t}"].append(sum(got.get(f"coverage_{t}", [])) / n if n else np.nan)
            out[f"expected_{t}"].append(sum(got.get(f"expected_{t}", [])) / n if n else np.nan)
            w = got.get(f"width_{t}", [])
            out[f"width_{t}"].append(float(np.mean(w)) if w else np.nan)
    return pa.table(out)
