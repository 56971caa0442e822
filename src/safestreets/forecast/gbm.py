"""GBM: a gradient-boosted Poisson model of the next period's count in each unit.

A ``HistGradientBoostingRegressor`` with Poisson loss learns the count in a unit over one horizon from
features known at the forecast origin: the unit's own recent counts, its neighbourhood (the recent events
smoothed in space at two scales), the time since its last event, other crime nearby (``history.context``),
the season of the target window, its size and, where the units carry them, fixed covariates (distance to
stations and night-time places, population density).

Fit does not know the units, so the model learns on first sight of them inside ``predict`` and memoises the
result per units and horizon. The training rows come from ``origins`` past origins, stepping back one
horizon at a time from the cut-off: at origin ``o`` the target is the count in ``[o, o + h)`` and the
features use only events before ``o``. One function (:func:`_features`) builds the features for the training
origins and for the forecast origin alike, so the two can never drift apart.

When the history is too short to give at least two training origins with events, the forecast falls back
to each unit's mean count per period over the last three periods.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from safestreets.errors import ParameterError
from safestreets.forecast.base import Forecaster, period_of
from safestreets.forecast.history import History, Horizon, as_time
from safestreets.forecast.shared import units_token
from safestreets.geo.units import GridSpec, Units

#: Periods of history each origin looks back over (the long-run rate uses all of them).
LOOKBACK = 24
#: Windows (in periods) of the unit's own mean count.
OWN_WINDOWS = (1, 3, 6, 12, LOOKBACK)
#: Spatial smoothing scales in metres; on a grid coarser than the small scale, one and three cells.
SCALES_M = (250.0, 750.0)
#: A window shorter than this many periods of data is treated as this long, so a rate from a few days
#: of data cannot blow up.
MIN_COVERAGE = 0.25
#: Covariates the units may carry; any other numeric per-unit covariate is used too, after these.
KNOWN_COVARIATES = ("dist_station_m", "dist_night_time_m", "population_density")
#: Below this many training rows one thread is faster: OpenMP start-up and barriers cost more than they
#: save, and on a busy machine they cost far more.
SERIAL_ROWS = 50_000
#: Training origins for monthly horizons, and the most for short ones (a year of weeks).
DEFAULT_ORIGINS = 12
MAX_ORIGINS = 52
#: Histogram bins per feature (scikit-learn's most).
MAX_BINS = 255
#: Fallback: the mean over this many recent periods.
FALLBACK_PERIODS = 3
_FALLBACK_FEATURE = f"mean_{FALLBACK_PERIODS}p"


@dataclass(frozen=True)
class _Located:
    """Events placed once on the units and the smoothing raster, in time order."""

    t: np.ndarray  # int64 seconds
    unit: np.ndarray  # unit index, -1 outside every unit
    cell: np.ndarray  # flat raster index, -1 off the raster


@dataclass(frozen=True)
class _Inputs:
    """Everything the feature builder reads for one set of units."""

    units: Units
    spec: GridSpec
    sigmas: tuple[float, float]  # smoothing scales in raster cells
    own: _Located
    context: _Located | None
    covariates: tuple[tuple[str, np.ndarray], ...]
    log_area: np.ndarray


@dataclass(frozen=True)
class _Trained:
    """A fitted booster and its feature names, or a fallback (``booster`` is ``None``)."""

    booster: HistGradientBoostingRegressor | None
    feature_names: tuple[str, ...]
    rows: int
    origins: int
    edges: tuple[np.ndarray | None, ...] = ()  # per feature: the bin edges it is quantised to, if any

    def predict(self, X: np.ndarray) -> np.ndarray:
        assert self.booster is not None
        with threadpool_limits(limits=1 if len(X) < SERIAL_ROWS else None, user_api="openmp"):
            return self.booster.predict(_quantise(X, self.edges))


def _bin_edges(X: np.ndarray, weight: np.ndarray, max_bins: int = MAX_BINS) -> tuple[np.ndarray | None, ...]:
    """Weighted quantile edges of each feature with more than ``max_bins`` distinct values (``None`` for
    the others). The booster would find the same edges itself, but with sample weights and fewer than
    200,000 rows scikit-learn computes each of its 255 weighted percentiles with a sort of its own: 80% of
    the fit's time. One sort per feature here does the same."""
    out: list[np.ndarray | None] = []
    for j in range(X.shape[1]):
        order = np.argsort(X[:, j], kind="stable")
        col = X[order, j]
        if np.count_nonzero(col[1:] != col[:-1]) < max_bins:
            out.append(None)
            continue
        cum = np.cumsum(weight[order])
        at = np.searchsorted(cum, np.linspace(0.0, cum[-1], max_bins + 1)[1:-1], side="left")
        out.append(np.unique(col[np.minimum(at, len(col) - 1)]))
    return tuple(out)


def _quantise(X: np.ndarray, edges: tuple[np.ndarray | None, ...]) -> np.ndarray:
    """Each feature with edges replaced by its bin number (a value in ``(e[k-1], e[k]]`` becomes ``k``), so
    the booster sees few enough distinct values to split on them directly."""
    if not any(e is not None for e in edges):
        return X
    out = X.copy()
    for j, e in enumerate(edges):
        if e is not None:
            out[:, j] = np.searchsorted(e, X[:, j], side="left")
    return out


def _locate(units: Units, spec: GridSpec, history: History) -> _Located:
    unit = units.locate_history(history)
    cell = spec.index(history.x, history.y)
    return _Located(history.t.astype("datetime64[s]").astype("int64"), unit, cell)


def _inputs(units: Units, history: History) -> _Inputs:
    """Locate the events of ``history`` (and its context) on ``units`` and gather the static features."""
    spec = units.raster()
    if units.grid is not None:
        small = max(SCALES_M[0], spec.cell) / spec.cell
        sigmas = (small, small * SCALES_M[1] / SCALES_M[0])
    else:
        sigmas = (SCALES_M[0] / spec.cell, SCALES_M[1] / spec.cell)
    names = [k for k in KNOWN_COVARIATES if k in units.covariates]
    names += sorted(k for k in units.covariates if k not in KNOWN_COVARIATES)
    covariates = []
    for name in names:
        values = np.asarray(units.covariates[name])
        if values.shape == (len(units),) and np.issubdtype(values.dtype, np.number):
            covariates.append((name, values.astype("float64")))
    context = None if history.context is None else _locate(units, spec, history.context)
    return _Inputs(
        units,
        spec,
        sigmas,
        _locate(units, spec, history),
        context,
        tuple(covariates),
        np.log(np.maximum(units.area, 1.0)),
    )


def _shared_inputs(units: Units, history: History) -> _Inputs:
    """:func:`_inputs` for ``history``, sliced from those of the whole history it was cut from, which every
    prefix shares (locating a million events is a tenth of a second per fit otherwise)."""
    key = ("gbm-inputs", units_token(units))
    whole: _Inputs | None = history.shared_cache.get(key)
    if whole is None:
        whole = history.shared_cache[key] = _inputs(
            units, history.root if history.root is not None else history
        )

    def cut(located: _Located, n: int) -> _Located:
        return _Located(located.t[:n], located.unit[:n], located.cell[:n])

    context = None
    if whole.context is not None and history.context is not None:
        context = cut(whole.context, len(history.context))
    return dataclasses.replace(whole, own=cut(whole.own, len(history)), context=context)


def _coverage(edges: np.ndarray, first: np.int64 | None) -> np.ndarray:
    """The share of each period ``[edges[k], edges[k+1])`` after the first event's day: how much of it
    the data could have seen."""
    if first is None:
        return np.zeros(len(edges) - 1)
    lo, hi = edges[:-1], edges[1:]
    return np.clip((hi - np.maximum(lo, first)) / (hi - lo), 0.0, 1.0)


def _period_counts(located: _Located, edges: np.ndarray, n_units: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Counts per unit and period within ``edges`` (``units x periods``), the events' slice and its start."""
    lo, hi = np.searchsorted(located.t, edges[[0, -1]], side="left")
    period = np.searchsorted(edges, located.t[lo:hi], side="right") - 1
    unit = located.unit[lo:hi]
    ok = unit >= 0
    periods = len(edges) - 1
    flat = np.bincount(unit[ok] * periods + period[ok], minlength=n_units * periods)
    return flat.reshape(n_units, periods).astype("float64"), period, int(lo)


def _smoothed(
    inputs: _Inputs,
    located: _Located,
    lo: int,
    period: np.ndarray,
    first_period: int,
    sigma: float,
    per: float,
) -> np.ndarray:
    """Events of periods ``first_period..`` on the raster, Gaussian-smoothed, summed back to units, per
    period of data seen."""
    cell = located.cell[lo : lo + len(period)][period >= first_period]
    cell = cell[cell >= 0]
    raster = np.bincount(cell, minlength=inputs.spec.size).astype("float64")
    raster = raster.reshape(inputs.spec.nrows, inputs.spec.ncols)
    # Constant edges: mass smoothed off the study area is lost rather than folded back onto edge cells.
    raster = gaussian_filter(raster, sigma, mode="constant", truncate=3.0)
    return inputs.units.from_raster(inputs.spec, raster) / per


def _season(start: np.datetime64, end: np.datetime64) -> tuple[float, float]:
    """The month of year at the middle of the target window, on a circle."""
    middle = start + (end - start) // 2
    month = int(middle.astype("datetime64[M]").astype("int64") % 12)
    angle = 2.0 * np.pi * (month + 0.5) / 12.0
    return float(np.sin(angle)), float(np.cos(angle))


def _features(
    inputs: _Inputs, origin: np.datetime64, horizon: Horizon, start: np.datetime64, end: np.datetime64
) -> tuple[np.ndarray, list[str]]:
    """The feature matrix (``units x features``) at ``origin`` for a target window ``[start, end)``.

    Reads only events strictly before ``origin``: every count below is over periods that end at it.
    """
    n = len(inputs.units)
    edges = horizon.edges_before(np.datetime64(origin, "s"), LOOKBACK).astype("int64")
    own = inputs.own
    seen = int(np.searchsorted(own.t, edges[-1], side="left"))
    # The first event's day stands for the start of the data, so early origins are not read as quiet.
    first = None if seen == 0 else np.int64(own.t[0] - own.t[0] % 86400)
    coverage = _coverage(edges, first)
    counts, period, lo = _period_counts(own, edges, n)

    cols: list[np.ndarray] = []
    names: list[str] = []
    for k in OWN_WINDOWS:
        cols.append(counts[:, -k:].sum(axis=1) / max(coverage[-k:].sum(), MIN_COVERAGE))
        names.append(f"mean_{k}p")

    # Periods since the last event, from the event times (finer than periods for timestamped data).
    last = np.full(n, edges[0], dtype="int64")
    u = own.unit[lo : lo + len(period)]
    ok = u >= 0
    np.maximum.at(last, u[ok], own.t[lo : lo + len(period)][ok])
    mean_period = (edges[-1] - edges[0]) / LOOKBACK
    cols.append(np.minimum((edges[-1] - last) / mean_period, LOOKBACK))
    names.append("periods_since_last")

    small, large = inputs.sigmas
    last_period = LOOKBACK - 1
    recent = LOOKBACK - 12
    cols.append(_smoothed(inputs, own, lo, period, last_period, small, max(coverage[-1], MIN_COVERAGE)))
    names.append("near_1p_small")
    per12 = max(coverage[-12:].sum(), MIN_COVERAGE)
    cols.append(_smoothed(inputs, own, lo, period, recent, small, per12))
    names.append("near_12p_small")
    cols.append(_smoothed(inputs, own, lo, period, recent, large, per12))
    names.append("near_12p_large")

    if inputs.context is not None:
        ctx = inputs.context
        ctx_seen = int(np.searchsorted(ctx.t, edges[-1], side="left"))
        ctx_first = None if ctx_seen == 0 else np.int64(ctx.t[0] - ctx.t[0] % 86400)
        ctx_cov = _coverage(edges, ctx_first)
        ctx_counts, ctx_period, ctx_lo = _period_counts(ctx, edges, n)
        cols.append(ctx_counts[:, -1] / max(ctx_cov[-1], MIN_COVERAGE))
        names.append("context_1p")
        ctx12 = max(ctx_cov[-12:].sum(), MIN_COVERAGE)
        cols.append(ctx_counts[:, -12:].sum(axis=1) / ctx12)
        names.append("context_12p")
        cols.append(_smoothed(inputs, ctx, ctx_lo, ctx_period, recent, small, ctx12))
        names.append("context_near_12p_small")

    sin, cos = _season(np.datetime64(start, "s"), np.datetime64(end, "s"))
    cols += [np.full(n, sin), np.full(n, cos), inputs.log_area]
    names += ["month_sin", "month_cos", "log_area"]
    for name, values in inputs.covariates:
        cols.append(values)
        names.append(name)
    return np.column_stack(cols), names


def build_features(
    units: Units, history: History, origin: Any, horizon: Horizon | str, start: Any = None, end: Any = None
) -> tuple[np.ndarray, list[str]]:
    """The features GBM uses at ``origin`` (the target window defaults to one horizon from it); for
    inspection and tests. Uses only events of ``history`` (and its context) before ``origin``."""
    horizon = Horizon.parse(horizon)
    origin = as_time(origin)
    start = origin if start is None else as_time(start)
    end = horizon.add(start) if end is None else as_time(end)
    return _features(_inputs(units, history), origin, horizon, start, end)


def _anchor(until: np.datetime64, horizon: Horizon) -> np.datetime64:
    """The forecast origin the features are cut at: the cut-off, floored to a month for monthly horizons
    (only whole months are counted then)."""
    if horizon.unit == "M":
        return until.astype("datetime64[M]").astype("datetime64[s]")
    return until


class GBM(Forecaster):
    """Gradient-boosted Poisson counts from lagged, neighbourhood, context, season and covariate features."""

    name = "gbm"
    summary = "gradient-boosted Poisson model on recent counts, neighbourhood, other crime and covariates"

    def __init__(
        self,
        origins: int | None = None,
        max_iter: int = 200,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 50,
        l2_regularization: float = 1.0,
        zero_fraction: float = 0.2,
        max_rows: int | None = 150_000,
        max_row_rounds: int | None = 15_000_000,
        random_state: int = 0,
    ) -> None:
        self.origins = origins
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.zero_fraction = zero_fraction
        self.max_rows = max_rows
        self.max_row_rounds = max_row_rounds
        self.random_state = random_state

    def _fit(self, history: History) -> None:
        if self.origins is not None and self.origins < 1:
            raise ParameterError(f"origins must be at least 1 (or None), not {self.origins}")
        if not 0.0 < self.zero_fraction <= 1.0:
            raise ParameterError(f"zero_fraction must be in (0, 1], not {self.zero_fraction}")
        if self.max_iter < 1 or self.learning_rate <= 0:
            raise ParameterError("max_iter must be at least 1 and learning_rate positive")
        if self.max_rows is not None and self.max_rows < 1000:
            raise ParameterError(f"max_rows must be at least 1000 (or None), not {self.max_rows}")
        if self.max_row_rounds is not None and self.max_row_rounds < 1:
            raise ParameterError(f"max_row_rounds must be positive (or None), not {self.max_row_rounds}")
        self.__dict__.pop("memo_", None)  # a refit must not reuse boosters trained on the previous history

    @property
    def feature_names_(self) -> list[str]:
        """The features of the most recently trained model (empty for the short-history fallback)."""
        trained = [v for v in self.__dict__.get("memo_", {}).values() if isinstance(v, _Trained)]
        if not trained:
            raise AttributeError("feature_names_ is set once the model has predicted for some units")
        return list(trained[-1].feature_names)

    def _predict(self, units: Units, start: np.datetime64, end: np.datetime64) -> np.ndarray:
        horizon = period_of(self.history_, start, end)
        inputs: _Inputs = self._memo(units, ("inputs",), lambda: _shared_inputs(units, self.history_))
        trained: _Trained = self._memo(units, ("train", horizon), lambda: self._train(inputs, horizon))
        origin = _anchor(self.until_, horizon)
        X, names = _features(inputs, origin, horizon, start, end)
        if trained.booster is None:
            return X[:, names.index(_FALLBACK_FEATURE)]
        return trained.predict(X)

    def training_origins(self, horizon: Horizon) -> int:
        """How many past origins to train on: ``origins``, or by default twelve for monthly horizons and a
        year's worth for shorter ones (12 to 52). Twelve weekly windows held too few events: on Cincinnati
        burglary 52 lifted the hit rate at 1% from 16.3% to 17.7% and at 5% from 41.3% to 44.5%; on
        Vancouver thefts it held (24.5% / 49.0% against 24.3% / 48.9%). Rows stay capped by ``max_rows``."""
        if self.origins is not None:
            return int(self.origins)
        if horizon.unit == "M":
            return DEFAULT_ORIGINS
        return min(MAX_ORIGINS, max(DEFAULT_ORIGINS, round(365 / horizon.n)))

    def _block(
        self, inputs: _Inputs, horizon: Horizon, origin: np.datetime64, target_end: np.datetime64
    ) -> tuple[np.ndarray, list[str], np.ndarray]:
        """One training origin's features and targets. They depend only on the events before the target
        window's end, so they are shared by every fit whose data include that whole window: a backtest's
        next origin reuses all but one of this one's."""
        key = (
            "gbm-block",
            units_token(inputs.units),
            str(horizon),
            str(origin),
            self.history_.before(target_end).prefix_key,
        )
        memo = self.history_.shared_cache
        if key not in memo:
            X, names = _features(inputs, origin, horizon, origin, target_end)
            y, _, _ = _period_counts(
                inputs.own,
                np.array([origin, target_end], dtype="datetime64[s]").astype("int64"),
                len(inputs.units),
            )
            memo[key] = (X, names, y[:, 0])
        X, names, y = memo[key]
        return X, list(names), y

    def _train(self, inputs: _Inputs, horizon: Horizon) -> _Trained:
        """Learn from past origins ``anchor - h, anchor - 2h, ...`` of the fitted history."""
        anchor = _anchor(self.until_, horizon)
        t = inputs.own.t
        first = None if not len(t) else np.int64(t[0] - t[0] % 86400)
        blocks: list[np.ndarray] = []
        targets: list[np.ndarray] = []
        names: list[str] = []
        for k in range(1, self.training_origins(horizon) + 1):
            origin = horizon.add(anchor, -k)
            target_end = horizon.add(origin)
            # An origin needs one whole period of data before it, or its features are guesses.
            if first is None or horizon.add(origin, -1).astype("int64") < first:
                break
            X, names, y = self._block(inputs, horizon, origin, target_end)
            if y.sum() == 0 and X[:, 0].sum() == 0:
                continue
            blocks.append(X)
            targets.append(y)
        if len(blocks) < 2:
            return _Trained(None, (), 0, len(blocks))

        X = np.concatenate(blocks)
        y = np.concatenate(targets)
        weight = np.ones(len(y))
        if self.zero_fraction < 1.0:
            # Rows with no event now or in the look-back teach little but dominate a city grid: keep a
            # share and up-weight it, so the fitted mean (and the Poisson deviance) are unchanged on average.
            quiet = (y == 0) & (X[:, names.index(f"mean_{LOOKBACK}p")] == 0)
            rng = np.random.default_rng(self.random_state)
            keep = ~quiet | (rng.random(len(y)) < self.zero_fraction)
            weight = np.where(quiet, 1.0 / self.zero_fraction, 1.0)[keep]
            X, y = X[keep], y[keep]
        if self.max_rows is not None and len(y) > self.max_rows:
            # A city-wide grid gives hundreds of thousands of rows; a uniform sample of them, weighted up
            # to the whole, fits as well (hit rates on Met burglary and the 1M-event city unchanged at 150k
            # rows) at half the cost or less.
            rng = np.random.default_rng(self.random_state + 1)
            share = self.max_rows / len(y)
            keep = rng.random(len(y)) < share
            X, y, weight = X[keep], y[keep], weight[keep] / share
        rounds, rate = self.max_iter, self.learning_rate
        if self.max_row_rounds is not None and len(y) * rounds > self.max_row_rounds:
            # A large training set: fewer rounds at a proportionally higher rate (the same learning rate x
            # rounds), at most four times fewer. On city-wide grids (150k rows: 100 rounds at 0.1) hit rates
            # matched 200 at 0.05; on small sets (20k rows, untouched) fewer rounds did worse.
            rounds = max(-(-self.max_iter // 4), int(self.max_row_rounds // len(y)))
            rate = self.learning_rate * self.max_iter / rounds
        booster = HistGradientBoostingRegressor(
            loss="poisson",
            learning_rate=rate,
            max_iter=rounds,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,  # a fixed budget keeps the cost predictable and the fit deterministic
            random_state=self.random_state,
        )
        edges = _bin_edges(X, weight)
        with threadpool_limits(limits=1 if len(y) < SERIAL_ROWS else None, user_api="openmp"):
            booster.fit(_quantise(X, edges), y, sample_weight=weight)
        return _Trained(booster, tuple(names), len(y), len(blocks), edges)
