"""``auto``: choose the model by a short backtest on the data at hand, and say why.

Every registered model, baselines included, is backtested over the most recent origins before the
cut-off; the winner has the highest mean city-wide hit rate at the chosen coverages (1% and 5% of the
area by default), or, when the forecast ranks by harm and the target is harm-weighted (violence, by
default), the highest share of next-period harm captured, with the hit rate by count beside it. If a
baseline wins, it is chosen, and the reason says so. The reason names the criterion, the strongest
baseline and the ratio against it and against the historical average (``parity`` within 2%), the share
of the noise ceiling, and every candidate skipped because it cannot run on the data.

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
from safestreets.forecast import BASELINES, MODELS, REFERENCE, canonical, make_model
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
    rank_by: str = "count",
) -> Choice:
    """Backtest the candidates over the last ``origins`` periods and pick the best. The periods are the
    last ones inside the data, or with ``until`` (the origin of the forecast to follow, no later than the
    data reach) the ``origins`` periods that end at it.

    ``rank_by="harm"`` on a harm-weighted target (events differ in harm): units are ranked by expected
    harm, as the forecast will rank them, and the criterion is the share of next-period harm captured,
    with the hit rate by count beside it in the reason. A candidate that cannot run on these data is
    skipped, and the reason says so."""
    horizon = Horizon.parse(horizon)
    names = [canonical(n) for n in (candidates or MODELS)]
    models = {n: make_model(n) for n in names}
    by_harm = rank_by == "harm" and harm_weighted(history)
    result = backtest(
        models,
        history,
        units,
        origins=origins if until is None else origins_before(history, horizon, as_time(until), origins),
        horizons=[horizon],
        coverages=coverages,
        rank_by="harm" if by_harm else "count",
        by_bcu=False,
        n_jobs=n_jobs,
        progress=progress,
        keep_forecasts=True,
        skip_failing=True,
    )
    summary = summarise(result.metrics)
    data = summary.to_pydict()
    hit = _means(data, "hit_rate")
    harm = _means(data, "harm_captured")
    share = _means(data, "ceiling_share")
    mean = harm if by_harm else hit
    ranked = sorted(mean, key=lambda m: (-_key(mean[m]), names.index(m)))
    best = ranked[0]
    n_origins = int(max(data["origins"])) if data["origins"] else 0
    reason = explain(best, ranked, mean, hit, share, by_harm=by_harm, horizon=horizon, coverages=coverages,
                     n_origins=n_origins, skipped=result.params.get("skipped") or {})  # fmt: skip
    return Choice(best, make_model(best), reason, summary, mean, result)


def harm_weighted(history: History) -> bool:
    """Whether the events differ in harm (violence under the default weights), so harm ranks differently."""
    return bool(len(history)) and float(np.ptp(history.harm)) > 0


def _means(data: dict[str, list[Any]], column: str) -> dict[str, float]:
    """Mean of ``column`` over the coverages, per model (nan where the summary has no such column)."""
    values: dict[str, list[float]] = {}
    for i, model in enumerate(data["model"]):
        values.setdefault(model, []).append(data[column][i] if column in data else np.nan)
    return {m: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for m, v in values.items()}


def _key(value: float) -> float:
    return value if np.isfinite(value) else -1.0


def ratio_text(value: float, reference: float) -> str:
    """``1.12x`` or, within 2% either side, ``parity, 1.01x``: the models add nothing a count does not."""
    if not (np.isfinite(value) and np.isfinite(reference)) or reference <= 0:
        return "no ratio (nothing captured)"
    r = value / reference
    return f"parity, {r:.2f}x" if abs(r - 1) <= PARITY else f"{r:.2f}x"


#: Ratios within this of 1 are reported as parity: below what a few origins can tell apart.
PARITY = 0.02


def explain(
    best: str,
    ranked: list[str],
    mean: dict[str, float],
    hit: dict[str, float],
    share: dict[str, float],
    *,
    by_harm: bool,
    horizon: Horizon,
    coverages: Sequence[float],
    n_origins: int,
    skipped: dict[str, str],
) -> str:
    """The reason: the criterion that chose, the winner's score, the strongest baseline and the ratio
    against it (and against the historical average, which every ratio is quoted against), the share of
    the noise ceiling, the runner-up and the skipped candidates."""
    cov_text = " and ".join(f"{c:.0%}" for c in coverages)
    if by_harm:
        reason = (f"{best} chosen by harm captured (the target is harm-weighted): {mean[best]:.1%} of next-{horizon} "
                  f"harm on average in the top {cov_text} of the area over the last {n_origins} origins "
                  f"(hit rate by count {hit[best]:.1%})")  # fmt: skip
    else:
        reason = (f"{best} chosen by hit rate: it captured {mean[best]:.1%} of next-{horizon} events on average "
                  f"in the top {cov_text} of the area over the last {n_origins} origins")  # fmt: skip
    baselines = [m for m in ranked if m in BASELINES and m != best]
    if baselines:
        b = baselines[0]
        reason += f"; strongest baseline {b} {mean[b]:.1%} ({ratio_text(mean[best], mean[b])})"
        if b != REFERENCE and REFERENCE in mean and best != REFERENCE:
            reason += f"; against the historical average {ratio_text(mean[best], mean[REFERENCE])}"
    if by_harm:
        leader = max(hit, key=lambda m: (_key(hit[m]), -ranked.index(m)))
        if leader != best:
            reason += f"; by count alone {leader} would lead ({hit[leader]:.1%})"
    if np.isfinite(share.get(best, np.nan)):
        reason += f"; {share[best]:.0%} of the noise ceiling (what is achievable here)"
    others = [m for m in ranked[1:] if m not in BASELINES]
    if others:
        reason += f"; runner-up {others[0]} {mean[others[0]]:.1%}"
    for name, why in skipped.items():
        reason += f"; {name} skipped, it cannot run on this data ({why})"
    if best in BASELINES:
        reason += ". A baseline won: the richer models did not beat it on this data"
    return reason


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
