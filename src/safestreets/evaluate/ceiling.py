"""How much any forecast could capture here: the oracle and the noise ceiling, beside every backtest row.

* The **oracle** ranks units by what actually happened in the scored period (the denominator of PEI):
  no forecast can beat it, but it is out of reach by construction, because one period's counts are mostly
  Poisson noise at fine scales.
* The **noise ceiling** is the hit rate of a clairvoyant stationary forecast: each unit's count over the
  whole span of the data except the scored period (so it has seen the future, but not the noise of the
  period it is scored on). If crime were a stationary process per unit, no forecast could expect to beat
  it: what separates it from the oracle is that period's noise. A model's **share of the ceiling**
  (``hit_rate / ceiling_hit_rate``) reads as "98% of what is achievable here"; it can pass 100% where
  the data drift (a recent model sees a change the long-run mean blurs).

The ranking of the clairvoyant forecast does not depend on how its counts are scaled to a period, so the
sum over the span is ranked as it is. With ``rank_by="harm"`` both rank by harm, as the models then do.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safestreets.evaluate.metrics import evaluate
from safestreets.forecast.history import History
from safestreets.geo.units import Units

#: Columns each scored row gains (per scope and coverage), in the tidy metrics table.
COLUMNS = (
    "oracle_hit_rate",
    "ceiling_hit_rate",
    "ceiling_harm_captured",
    "ceiling_share",
)
#: Columns of the backtest summary (means over origins; the share is of the means).
SUMMARY = ("oracle_hit_rate", "ceiling_hit_rate", "ceiling_harm_captured", "ceiling_share")


def span_totals(history: History, units: Units, cache: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Count and harm per unit over the whole history, once per backtest (``cache`` is its state)."""
    if "span_totals" not in cache:
        idx = units.locate_history(history)
        inside = idx >= 0
        counts = np.bincount(idx[inside], minlength=len(units)).astype("float64")
        harm = np.bincount(idx[inside], weights=np.asarray(history.harm, dtype="float64")[inside],
                           minlength=len(units))  # fmt: skip
        cache["span_totals"] = (counts, harm)
    return cache["span_totals"]


def reference_rows(
    history: History,
    units: Units,
    actual: np.ndarray,
    actual_harm: np.ndarray,
    opts: dict[str, Any],
    cache: dict[str, Any],
    key: Any,
) -> dict[tuple[str, float], dict[str, float]]:
    """The oracle's and the ceiling's hit rates per (scope, coverage) for one scored period, memoised
    under ``key`` (origin and horizon): every model scored on that period shares them."""
    memo = cache.setdefault("ceiling_rows", {})
    if key in memo:
        return memo[key]
    counts, harm = span_totals(history, units, cache)
    # The span without the scored period: only that period's own events are left out.
    clair = np.clip(counts - actual, 0.0, None)
    clair_harm = np.clip(harm - actual_harm, 0.0, None)
    by_harm = opts["rank_by"] == "harm"
    groups = units.bcu if opts["by_bcu"] else None
    common = {"coverages": opts["coverages"], "actual_harm": actual_harm, "groups": groups}
    oracle = evaluate(actual_harm if by_harm else actual, actual, units.area, **common)
    ceiling = evaluate(clair_harm if by_harm else clair, actual, units.area, **common)
    out = {}
    for o, c in zip(oracle, ceiling, strict=True):
        out[(o["scope"], o["coverage"])] = {
            "oracle_hit_rate": o["hit_rate"],
            "ceiling_hit_rate": c["hit_rate"],
            "ceiling_harm_captured": c["harm_captured"],
        }
    memo[key] = out
    return out


def annotate(rows: list[dict[str, Any]], refs: dict[tuple[str, float], dict[str, float]]) -> list[dict[str, Any]]:
    """Each scored row with the reference columns and its share of the ceiling."""
    for row in rows:
        ref = refs.get((row["scope"], row["coverage"]), {})
        row.update({k: ref.get(k, np.nan) for k in ("oracle_hit_rate", "ceiling_hit_rate", "ceiling_harm_captured")})
        ceil = row["ceiling_hit_rate"]
        row["ceiling_share"] = row["hit_rate"] / ceil if ceil and np.isfinite(ceil) and ceil > 0 else np.nan
    return rows


def summary_means(data: dict[str, list[Any]], idx: list[int], hit_rate: float) -> dict[str, float]:
    """The summary's reference columns for one group of rows: means over origins, and the share of the
    mean ceiling that the mean hit rate reaches (nan where the metrics predate the ceiling)."""
    out: dict[str, float] = {}
    for measure in ("oracle_hit_rate", "ceiling_hit_rate", "ceiling_harm_captured"):
        v = np.array([data[measure][i] for i in idx], dtype="float64") if measure in data else np.array([])
        out[measure] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
    ceil = out["ceiling_hit_rate"]
    out["ceiling_share"] = hit_rate / ceil if np.isfinite(ceil) and ceil > 0 else float("nan")
    return out


def share_text(share: float) -> str:
    """``98% of what is achievable here`` (the noise ceiling), or an empty string when undefined."""
    if share is None or not np.isfinite(share):
        return ""
    return f"{share:.0%} of what is achievable here (noise ceiling)"
