"""Ensemble: a weighted blend of other models, the weights learnt from its own small backtest.

At fit time the members are fitted on all the data. On first sight of the units (and horizon) the
ensemble replays the last few periods before the cut-off: each member is refitted at each of those
origins on the data before it, and its forecast scored against what then happened. The weights are
those that would have captured most crime in the flagged area (mean hit rate over the chosen coverages),
searched over the simplex: every single member, the equal blend and random blends. The blend mixes the
members' spatial shares and scales them to the members' weighted mean total.

Everything it learns comes from before the cut-off, so it can be backtested like any other model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from safestreets.evaluate.metrics import capture_curve
from safestreets.forecast.base import Forecaster, clone, period_of
from safestreets.forecast.history import History, Horizon
from safestreets.geo.units import Units


def _member(name: str) -> Forecaster:
    from safestreets.forecast import make_model

    return make_model(name)


class Ensemble(Forecaster):
    name = "ensemble"
    summary = "blend of models weighted by their recent backtest"

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
            raise ValueError("an ensemble needs at least one member model")
        if "ensemble" in self.models:
            raise ValueError("an ensemble cannot contain itself")
        self.members_ = {name: _member(name).fit(history, self.until_) for name in self.models}

    def _predict(self, units: Units, start: np.datetime64, end: np.datetime64) -> np.ndarray:
        horizon = period_of(self.history_, start, end)
        weights = self._memo(units, ("weights", str(horizon)), lambda: self._learn(units, horizon))
        self.weights_ = dict(zip(self.models, weights.tolist(), strict=True))
        preds = np.vstack([m.predict(units, start, end) for m in self.members_.values()])
        return blend(preds, weights)

    def _learn(self, units: Units, horizon: Horizon) -> np.ndarray:
        """Weights that maximise the mean hit rate over the recent origins."""
        scored: list[tuple[np.ndarray, np.ndarray]] = []
        for k in range(1, self.origins + 1):
            origin = horizon.add(self.until_, -k)
            if origin <= self.history_.start:
                break
            end = horizon.add(origin)
            actual = units.counts(self.history_, np.array([origin, end], dtype="datetime64[s]"))[:, 0]
            if actual.sum() == 0:
                continue
            preds = np.vstack([
                clone(m).fit(self.history_, origin).predict(units, origin, end) for m in self.members_.values()
            ])
            scored.append((preds, actual))
        n = len(self.models)
        if not scored or n == 1:
            return np.full(n, 1.0 / n)
        rng = np.random.default_rng(self.random_state)
        candidates = np.vstack([np.eye(n), np.full((1, n), 1.0 / n), rng.dirichlet(np.ones(n), self.candidates)])
        cov = np.asarray(self.coverages, dtype="float64")
        score = np.zeros(len(candidates))
        for preds, actual in scored:
            for j, w in enumerate(candidates):
                score[j] += capture_curve(blend(preds, w), actual, units.area, cov).mean()
        self.search_score_ = float(score.max() / len(scored))
        return candidates[int(np.argmax(score))]

    def get_weights(self) -> dict[str, Any]:
        return dict(getattr(self, "weights_", {}))


def blend(preds: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Mix the members' shares of the total with ``weights``, scaled to their weighted mean total."""
    totals = preds.sum(axis=1)
    shares = np.divide(preds, totals[:, None], out=np.zeros_like(preds), where=totals[:, None] > 0)
    w = np.asarray(weights, dtype="float64")
    w = w / w.sum()
    return (w @ shares) * float(w @ totals)
