"""``auto``: choose the model by a short backtest on the data at hand, and say why.

Every registered model, baselines included, is backtested over the most recent origins before the
cut-off; the winner has the highest mean city-wide hit rate at the chosen coverages (1% and 5% of the
area by default). If a baseline wins, it is chosen, and the reason says so.

Given the origin of the forecast to follow (``until``), the backtest's windows are the periods just
before it, the very periods the ensemble replays there to learn its weights, and every forecast the
backtest made (in worker processes too) stays in the history's memo: the final forecast finds the member
forecasts it needs there instead of making them again (:mod:`safestreets.forecast.shared`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from safestreets.errors import ParameterError
from safestreets.evaluate.backtest import BacktestResult, backtest, summarise
from safestreets.forecast import BASELINES, MODELS, make_model
from safestreets.forecast.base import Forecaster
from safestreets.forecast.history import History, Horizon, as_time
from safestreets.forecast.shared import forecast
from safestreets.geo.units import Units


@dataclass
class Choice:
    name: str
    model: Forecaster
    reason: str
    summary: pa.Table  # the backtest summary the choice rests on
    scores: dict[str, float]
    result: BacktestResult


def choose(
    history: History,
    units: Units,
    horizon: Horizon | str,
    *,
    candidates: Sequence[str] | None = None,
    origins: int = 6,
    coverages: Sequence[float] = (0.01, 0.05),
    n_jobs: int = 1,
    progress: Callable[[str], None] | None = None,
    until: Any = None,
) -> Choice:
    """Backtest the candidates over the last ``origins`` periods and pick the best. The periods are the
    last ones inside the data, or with ``until`` (the origin of the forecast to follow, no later than the
    data reach) the ``origins`` periods that end at it."""
    horizon = Horizon.parse(horizon)
    names = list(candidates or MODELS)
    models = {n: make_model(n) for n in names}
    result = backtest(
        models,
        history,
        units,
        origins=origins if until is None else origins_before(history, horizon, as_time(until), origins),
        horizons=[horizon],
        coverages=coverages,
        by_bcu=False,
        n_jobs=n_jobs,
        progress=progress,
        keep_forecasts=True,
    )
    summary = summarise(result.metrics)
    data = summary.to_pydict()
    scores: dict[str, list[float]] = {}
    for model, hr in zip(data["model"], data["hit_rate"], strict=True):
        scores.setdefault(model, []).append(hr)
    mean = {m: float(np.nanmean(v)) for m, v in scores.items()}
    ranked = sorted(mean, key=lambda m: (-mean[m], names.index(m)))
    best = ranked[0]
    n_origins = int(max(data["origins"])) if data["origins"] else 0
    cov_text = " and ".join(f"{c:.0%}" for c in coverages)
    reason = (
        f"{best} captured {mean[best]:.1%} of next-{horizon} events on average in the top {cov_text} of the "
        f"area over the last {n_origins} origins"
    )
    baselines = [m for m in ranked if m in BASELINES and m != best]
    if baselines:
        b = baselines[0]
        ratio = mean[best] / mean[b] if mean[b] > 0 else float("inf")
        reason += f"; best baseline {b} {mean[b]:.1%} ({ratio:.2f}x)"
    others = [m for m in ranked[1:] if m not in BASELINES]
    if others:
        reason += f"; runner-up {others[0]} {mean[others[0]]:.1%}"
    if best in BASELINES:
        reason += ". A baseline won: the richer models did not beat it on this data"
    return Choice(best, make_model(best), reason, summary, mean, result)


def origins_before(
    history: History, horizon: Horizon, until: np.datetime64, count: int
) -> list[np.datetime64]:
    """The ``count`` origins one horizon apart whose windows end at ``until`` (the last one's at it), those
    after the first event."""
    origins = [horizon.add(until, -k) for k in range(count, 0, -1)]
    start = history.start
    return [o for o in origins if start is None or o > start]


class Auto(Forecaster):
    """``auto`` as a model: at each fit it picks among ``candidates`` by a backtest over the ``origins``
    periods before its cut-off (data before the cut-off only), then forecasts with the winner. Backtesting
    ``Auto`` itself is therefore a nested backtest: an honest score for the choice, not for the winner."""

    name = "auto"
    summary = "the model that did best in the recent backtest"
    composite = True

    def __init__(self, candidates: tuple[str, ...] | None = None, origins: int = 6,
                 coverages: tuple[float, ...] = (0.01, 0.05)) -> None:  # fmt: skip
        self.candidates = candidates
        self.origins = origins
        self.coverages = coverages

    def _fit(self, history: History) -> None:
        if self.origins < 1:
            raise ParameterError(f"origins must be at least 1, not {self.origins}")

    def _predict(self, units: Units, start: np.datetime64, end: np.datetime64) -> np.ndarray:
        from safestreets.forecast.base import period_of

        horizon = period_of(self.history_, start, end)

        def pick() -> Choice:
            return choose(self.history_, units, horizon, candidates=self.candidates, origins=self.origins,
                          coverages=self.coverages)  # fmt: skip

        choice = self._memo(units, ("choice", str(horizon)), pick)
        self.choice_ = choice.name
        self.reason_ = choice.reason
        # Shared: in a backtest the chosen model has usually made this very forecast already.
        return forecast(choice.model, self.history_, self.until_, units, start, end)
