"""A risk surface: the expected count and harm per unit for one forecast window.

Models predict counts. Expected harm is the count times the unit's typical harm per event, from its own
history shrunk toward the area-wide mean (a unit with two past robberies should not be priced as if every
future event there were a robbery).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safestreets.forecast.history import History
from safestreets.geo.units import Units

#: Pseudo-events of the area-wide mean harm added to each unit's own record.
HARM_PRIOR_EVENTS = 10.0


def harm_per_event(history: History, units: Units, *, lookback_events: int | None = None) -> np.ndarray:
    """Each unit's expected harm per event: (own harm + k * mean) / (own events + k)."""
    h = history
    if lookback_events is not None and len(h) > lookback_events:
        h = h.take(np.arange(len(h) - lookback_events, len(h)))
    idx = units.locate(h.x, h.y)
    ok = idx >= 0
    if not ok.any():
        return np.zeros(len(units))
    n = np.bincount(idx[ok], minlength=len(units)).astype("float64")
    total = np.bincount(idx[ok], weights=h.harm[ok], minlength=len(units))
    mean = float(h.harm[ok].mean())
    return (total + HARM_PRIOR_EVENTS * mean) / (n + HARM_PRIOR_EVENTS)


def expected_harm(history: History, units: Units, counts: np.ndarray) -> np.ndarray:
    return np.asarray(counts, dtype="float64") * harm_per_event(history, units)


def rank(scores: np.ndarray, area: np.ndarray) -> np.ndarray:
    """Units in order of risk density (expected per km²), highest first; ties by unit order."""
    density = np.asarray(scores, dtype="float64") / np.asarray(area, dtype="float64")
    return np.lexsort((np.arange(len(density)), -density))


def top_per_group(
    scores: np.ndarray, area: np.ndarray, groups: np.ndarray, k: int = 5
) -> dict[str, np.ndarray]:
    """The ``k`` riskiest units (indices) within each group, by density."""
    order = rank(scores, area)
    out: dict[str, list[int]] = {}
    for i in order:
        g = str(groups[i]) or "all"  # no command unit covers the study area: it is one
        bucket = out.setdefault(g, [])
        if len(bucket) < k:
            bucket.append(int(i))
    return {g: np.array(v, dtype="int64") for g, v in sorted(out.items())}


def surface_meta(
    history: History, units: Units, *, model: str, params: dict[str, Any], start: Any, end: Any, rank_by: str
) -> dict[str, Any]:
    return {
        "model": model,
        "params": {k: v for k, v in params.items() if _jsonable(v)},
        "window": [str(start), str(end)],
        "rank_by": rank_by,
        "data": history.meta,
        "units": units.describe(),
        "data_fingerprint": history.fingerprint,
    }


def _jsonable(v: Any) -> bool:
    return v is None or isinstance(v, str | int | float | bool | list | tuple | dict)
