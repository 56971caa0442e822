"""Ensemble: a weighted blend of other models, the weights learnt from its own small backtest.

On first sight of the units (and horizon) the ensemble replays the last few periods before the cut-off:
each member is fitted at each of those origins on the data before it, and its forecast scored against
what then happened. The members' forecasts go through :mod:`safestreets.forecast.shared`, so a member
fitted on the same data is fitted once: in a backtest the replays are mostly the forecasts the members
made at earlier origins, and the final forecasts are those the members made at this one. The weights are
those that would have captured most crime in the flagged area (mean hit rate over the chosen coverages),
searched over the simplex: every single member, the equal blend and random blends. The blend mixes the
members' spatial shares and scales them to the members' weighted mean total.

Everything it learns comes from before the cut-off, so it can be backtested like any other model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safestreets.errors import ParameterError
from safestreets.forecast.base import Forecaster, period_of
from safestreets.forecast.history import History, Horizon
from safestreets.forecast.ranking import Ranking, capture
from safestreets.forecast.shared import Job, forecast_many, units_token
from safestreets.geo.units import Units


def _member(name: str) -> Forecaster:
    from safestreets.forecast import make_model

    return make_model(name)


class Ensemble(Forecaster):
    name = "ensemble"
    summary = "blend of models weighted by their recent backtest"
    composite = True

    def __init__(
        self,
        models: tuple[str, ...] = ("ewma", "kde", "prospective", "etas", "gbm"),
        origins: int = 4,
        coverages: tuple[float, ...] = (0.01, 0.05),
        candidates: int = 200,
        random_state: int = 0,
    ) -> None:
        self.models = models
        self.origins = origins
        self.coverages = coverages
        self.candidates = candidates
        self.random_state = random_state

    def _fit(self, history: History) -> None:
        if not self.models:
            raise ParameterError("an ensemble needs at least one member model")
        if "ensemble" in self.models:
            raise ParameterError("an ensemble cannot contain itself")
        # Unfitted members: each forecast fits one on the data it needs (or finds that forecast shared).
        self.members_ = {name: _member(name) for name in self.models}

    def _predict(self, units: Units, start: np.datetime64, end: np.datetime64) -> np.ndarray:
        horizon = period_of(self.history_, start, end)
        key = (units_token(units), "weights", str(horizon))
        memo = self.__dict__.setdefault("memo_", {})
        members = list(self.members_.values())
        final = [Job(m, self.until_, start, end) for m in members]
        if key in memo:
            weights = memo[key]
            preds = np.vstack([t.prediction for t in forecast_many(final, self.history_, units)])
        else:
            # The replays and the final forecasts in one batch: with workers sharing forecasts, each
            # computes what nobody else has claimed before waiting on what another is computing.
            replays = self._replays(units, horizon)
            jobs = final + [
                Job(m, origin, origin, origin_end) for origin, origin_end, _ in replays for m in members
            ]
            done = [t.prediction for t in forecast_many(jobs, self.history_, units)]
            n = len(members)
            preds = np.vstack(done[:n])
            scored = [
                (np.vstack(done[n * (i + 1): n * (i + 2)]), actual,
                 (str(origin), str(origin_end), self.history_.before(origin_end).prefix_key))
                for i, (origin, origin_end, actual) in enumerate(replays)
            ]  # fmt: skip
            weights = memo[key] = self._search(scored, units)
        self.weights_ = dict(zip(self.models, weights.tolist(), strict=True))
        return blend(preds, weights)

    def _replays(
        self, units: Units, horizon: Horizon
    ) -> list[tuple[np.datetime64, np.datetime64, np.ndarray]]:
        """The recent origins with events in their window: (origin, window end, actual counts)."""
        out = []
        for k in range(1, self.origins + 1):
            origin = horizon.add(self.until_, -k)
            if origin <= self.history_.start:
                break
            end = horizon.add(origin)
            actual = units.counts(self.history_, np.array([origin, end], dtype="datetime64[s]"))[:, 0]
            if actual.sum() > 0:
                out.append((origin, end, actual))
        return out

    def _candidates(self) -> np.ndarray:
        n = len(self.models)
        rng = np.random.default_rng(self.random_state)
        return np.vstack([np.eye(n), np.full((1, n), 1.0 / n), rng.dirichlet(np.ones(n), self.candidates)])

    def _search(
        self, scored: list[tuple[np.ndarray, np.ndarray, tuple[Any, ...]]], units: Units
    ) -> np.ndarray:
        """Weights that maximise the mean hit rate over the replayed origins."""
        n = len(self.models)
        if not scored or n == 1:
            return np.full(n, 1.0 / n)
        candidates = self._candidates()
        cov = np.asarray(self.coverages, dtype="float64")
        memo = self.history_.shared_cache.setdefault("ensemble-replay-scores", {})
        score = np.zeros(len(candidates))
        for preds, actual, key in scored:
            # A replayed period's scores are the same for every later cut-off that sees the whole period:
            # the next origin's ensemble finds three of its four replays already scored.
            key = (key, tuple(self.models), self.candidates, self.random_state, tuple(cov.tolist()),
                   units_token(units))  # fmt: skip
            if key not in memo:
                memo[key] = mean_hit_rates(candidates @ shares(preds), actual, units.area, cov)
            score += memo[key]
        self.search_score_ = float(score.max() / len(scored))
        return candidates[int(np.argmax(score))]

    def get_weights(self) -> dict[str, Any]:
        return dict(getattr(self, "weights_", {}))


def shares(preds: np.ndarray) -> np.ndarray:
    """Each member's forecast as a share of its total (zero for a member forecasting nothing)."""
    totals = preds.sum(axis=1)
    return np.divide(preds, totals[:, None], out=np.zeros_like(preds), where=totals[:, None] > 0)


def blend(preds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mix the members' shares of the total with ``weights``, scaled to their weighted mean total."""
    totals = preds.sum(axis=1)
    w = np.asarray(weights, dtype="float64")
    w = w / w.sum()
    return (w @ shares(preds)) * float(w @ totals)


def mean_hit_rates(
    scores: np.ndarray, actual: np.ndarray, area: np.ndarray, coverages: np.ndarray
) -> np.ndarray:
    """The mean over ``coverages`` of the hit rate of each row of ``scores`` (``evaluate.metrics.capture_curve``'s rule).

    Only the densest part of the ranking decides hit rates at small coverages, so each row ranks just a
    head of its units found by partial sorting: every unit at least as dense as the ``k``-th densest, ties
    included, is a prefix of the full ranking, and when its area covers the largest coverage the capture
    curve up to there is the full one's. A row whose head falls short is ranked in full.
    """
    total_area = float(area.sum())
    total = float(actual.sum())
    out = np.full(len(scores), np.nan)
    if total <= 0:
        return out
    budget = float(coverages.max()) * total_area
    n = scores.shape[1]
    k = min(n, max(64, int(np.ceil(2.0 * budget / float(np.median(area))))))
    density = scores / area
    for i, d in enumerate(density):
        if k < n:
            head = np.argpartition(-d, k - 1)[:k]
            head = np.flatnonzero(d >= d[head].min())
            if float(area[head].sum()) >= budget:
                r = Ranking.of(scores[i, head], area[head])
                captured = np.concatenate(([0.0], np.cumsum(actual[head][r.order])[r.block_ends]))
                out[i] = np.clip(
                    np.interp(coverages * total_area, r.block_area, captured) / total, 0, 1
                ).mean()
                continue
        out[i] = capture(scores[i], actual, area, coverages).mean()
    return out
