"""Rolling-origin backtests: models x origins x horizons -> one tidy table of metrics.

At each origin a fresh copy of each model is fitted on the events before the origin only (the model
contract cuts the history, and every task gets a clone), then asked for the window that follows; the
window's real events score it. The same function serves the CLI, the benchmark and ``auto``.

Tasks run in worker processes (``n_jobs``); each worker receives the history and units once. Workers
are started fresh (``spawn``) rather than forked: a fork after OpenMP has run (gradient boosting) can hang.
Forecasts are shared between tasks and workers (:mod:`safestreets.forecast.shared`): models that forecast
with others (an ensemble replaying its members) run last and find most of what they need already done.
With ``keep_forecasts`` the workers also hand their forecasts back, into the caller's history's memo, so
a forecast made next in this process (``auto``'s final ensemble) finds them as a one-process backtest
would have left them.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import shutil
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from safestreets.errors import NoDataError, unknown
from safestreets.evaluate import ceiling, skips
from safestreets.evaluate.metrics import capture_curve, evaluate, flagged, stability
from safestreets.forecast import MODELS, model_class, shared
from safestreets.forecast.base import Forecaster
from safestreets.forecast.history import History, Horizon, as_time
from safestreets.forecast.surface import harm_per_event
from safestreets.geo.units import Units

DEFAULT_COVERAGES = (0.01, 0.05, 0.10)
CURVE_COVERAGES = tuple(np.round(np.arange(0, 0.2001, 0.005), 4))

_STATE: dict[str, Any] = {}


@dataclass
class BacktestResult:
    """``metrics``: one row per model, horizon, origin, scope (city or command unit) and coverage.
    ``curves``: city-wide hit rate at coverages 0-20% per model, horizon and origin."""

    metrics: pa.Table
    curves: pa.Table
    params: dict[str, Any] = field(default_factory=dict)


def default_origins(history: History, horizon: Horizon | str, count: int) -> list[np.datetime64]:
    """The last ``count`` origins whose whole window lies inside the data, one horizon apart."""
    horizon = Horizon.parse(horizon)
    end = history.end
    if end is None:
        raise NoDataError("the history is empty: nothing to backtest")
    if horizon.unit == "D":  # the last whole day observed
        end = end.astype("datetime64[D]").astype("datetime64[s]")
    last = horizon.add(end, -1)
    origins = [horizon.add(last, -k) for k in range(count)][::-1]
    start = history.start
    return [o for o in origins if start is None or o > start]


def backtest(
    models: dict[str, Forecaster],
    history: History,
    units: Units,
    *,
    origins: Sequence[Any] | int = 12,
    horizons: Sequence[str | Horizon] = ("1m",),
    coverages: Sequence[float] = DEFAULT_COVERAGES,
    rank_by: str = "count",
    by_bcu: bool = True,
    n_jobs: int = 1,
    progress: Callable[[str], None] | None = None,
    keep_forecasts: bool = False,
    skip_failing: bool = False,
) -> BacktestResult:
    """Score every model at every origin and horizon. ``origins`` is a list of times or a count of the
    latest possible ones (per horizon). ``rank_by="harm"`` ranks units by expected harm.

    ``keep_forecasts``: leave every forecast made in ``history``'s memo (:mod:`safestreets.forecast.shared`),
    those of worker processes too, for forecasts made afterwards on the same history. A backtest in this
    process (``n_jobs=1``) always leaves them there.

    Every model is asked first whether it can run on these units (:meth:`Forecaster.feasible`), before any
    work. ``skip_failing``: a model that cannot (then, or when one of its tasks fails with a
    :class:`~safestreets.errors.SafestreetsError`) is left out of the results, and named with the reason
    in ``params["skipped"]``, instead of failing the whole backtest."""
    if rank_by not in ("count", "harm"):
        raise unknown("rank_by", rank_by, ("count", "harm"))
    models, skipped = skips.preflight(models, history, units, skip_failing)
    tasks: list[tuple[str, Forecaster, np.datetime64, Horizon]] = []
    for h in (Horizon.parse(h) for h in horizons):
        history.check_horizon(h)
        hs_origins = (
            default_origins(history, h, origins)
            if isinstance(origins, int)
            else [as_time(o) for o in origins]
        )
        if not hs_origins:
            raise NoDataError(
                f"no origin leaves a whole {h} window inside the data: use a shorter horizon or load more months"
            )
        # Models that use others go last, so their members' forecasts are already shared when they run.
        for composite in (False, True):
            for o in hs_origins:
                tasks.extend(
                    (name, model, o, h) for name, model in models.items() if model.composite == composite
                )
    options = {"coverages": tuple(float(c) for c in coverages), "rank_by": rank_by, "by_bcu": by_bcu,
               "skip_failing": skip_failing, "skipped": skipped}  # fmt: skip

    results: list[dict[str, Any]] = []
    if n_jobs <= 1 or len(tasks) == 1:
        # In this process, perhaps inside a worker's task (auto backtests its candidates): the caller's
        # state is put back afterwards, and its thread limit still holds.
        outer = dict(_STATE)
        try:
            _init(history, units, options, limit_threads=False)
            _STATE["limits"] = outer.get("limits")
            for task in tasks:
                results.append(_run(task))
                if progress:
                    progress(f"{task[0]} @ {str(task[2])[:10]}")
        finally:
            _STATE.clear()
            _STATE.update(outer)
        return _assemble(results, units, options, history)
    else:
        ctx = multiprocessing.get_context("spawn")
        folder = tempfile.mkdtemp(prefix="safestreets-forecasts-")
        try:
            with ProcessPoolExecutor(
                max_workers=n_jobs, mp_context=ctx, initializer=_init,
                initargs=(history, units, options, True, folder, keep_forecasts),
            ) as pool:  # fmt: skip
                memo = history.shared_cache.setdefault("forecasts", {})
                for task, res in zip(tasks, pool.map(_run, tasks), strict=True):
                    for key, made in res.pop("forecasts", ()):
                        memo.setdefault(key, made)
                    results.append(res)
                    if progress:
                        progress(f"{task[0]} @ {str(task[2])[:10]}")
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    _STATE.clear()
    return _assemble(results, units, options, history)


def _init(
    history: History,
    units: Units,
    options: dict[str, Any],
    limit_threads: bool,
    folder: str | None = None,
    hand_back: bool = False,
) -> None:
    if limit_threads:  # one busy thread per worker process: the pool already uses every core
        from threadpoolctl import threadpool_limits

        _STATE["limits"] = threadpool_limits(1)
    if folder is not None:
        shared.set_dir(folder)
    _STATE.update(history=history, units=units, options=options, hand_back=hand_back)
    _STATE["ceiling"] = {}  # the oracle and noise ceiling of each scored period, shared by its models


def task_limits(model: Forecaster | None = None) -> contextlib.AbstractContextManager[Any]:
    """The thread limit a task runs under in a worker: one thread per native library. Re-applied per
    task: OpenMP (gradient boosting) loads when a task's model is unpickled, after the worker started, so
    a limit set at start-up would not reach it. A composite ``model`` (the ensemble, auto) makes its
    members inside the task, so every registered model is loaded before the limit is set: a worker whose
    first gbm forecast was an ensemble's ran it on every core."""
    if _STATE.get("limits") is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    if model is not None and model.composite:
        for name in MODELS:
            model_class(name)
    return threadpool_limits(1)


def _run(task: tuple[str, Forecaster, np.datetime64, Horizon]) -> dict[str, Any]:
    memo = _STATE["history"].shared_cache.setdefault("forecasts", {})
    known = len(memo)
    with task_limits(task[1]):
        res = _run_task(task)
    if _STATE.get("hand_back"):
        # What this task added to the worker's memo (made here or read from the folder): the memo is a
        # dict, so the new entries are its last ones. The caller keeps one copy of each.
        res["forecasts"] = list(memo.items())[known:]
    return res


def _run_task(task: tuple[str, Forecaster, np.datetime64, Horizon]) -> dict[str, Any]:
    if _STATE["options"].get("skip_failing"):
        return skips.guarded(_score_task, task)
    return _score_task(task)


def _score_task(task: tuple[str, Forecaster, np.datetime64, Horizon]) -> dict[str, Any]:
    name, model, origin, horizon = task
    history: History = _STATE["history"]
    units: Units = _STATE["units"]
    opts = _STATE["options"]
    end = horizon.add(origin)
    # A fresh fit on the data before the origin, or the same forecast another task already made.
    done = shared.forecast_many([shared.Job(model, origin, origin, end)], history, units)[0]
    pred = done.prediction
    window = history.between(origin, end)
    edges = np.array([origin, end], dtype="datetime64[s]")
    actual = units.counts(window, edges)[:, 0]
    actual_harm = units.counts(window, edges, weights=window.harm)[:, 0]
    harm_scores = None
    if opts["rank_by"] == "harm":
        harm_scores = pred * harm_per_event(history.before(origin), units)
    ranking = harm_scores if harm_scores is not None else pred
    rows = evaluate(
        ranking if opts["rank_by"] == "harm" else pred,
        actual,
        units.area,
        coverages=opts["coverages"],
        actual_harm=actual_harm,
        harm_scores=harm_scores,
        groups=units.bcu if opts["by_bcu"] else None,
    )
    refs = ceiling.reference_rows(history, units, actual, actual_harm, opts, _STATE["ceiling"], (origin, str(horizon)))
    rows = ceiling.annotate(rows, refs)
    values = actual_harm if opts["rank_by"] == "harm" else actual
    curve = capture_curve(ranking, values, units.area, CURVE_COVERAGES)
    flags = {c: np.flatnonzero(flagged(ranking, units.area, c)) for c in opts["coverages"]}
    return {
        "model": name,
        "origin": origin,
        "horizon": str(horizon),
        "rows": rows,
        "curve": curve,
        "flags": flags,
        "fit_seconds": done.fit_seconds,
        "predict_seconds": done.predict_seconds,
        "train_events": len(history.before(origin)),
    }


# The columns each scored row of ``_evaluate`` carries into the metrics table.
_ROW_METRICS = (
    "scope",
    "coverage",
    "hit_rate",
    "pai",
    "pei",
    "harm_captured",
    "flagged_units",
    "actual_total",
    "predicted_total",
    "deviance",
    *ceiling.COLUMNS,
)


def _assemble(
    results: list[dict[str, Any]], units: Units, options: dict[str, Any], history: History
) -> BacktestResult:
    results, skipped = skips.drop_failed(results, options)
    # Stability: overlap of the flagged cells with the same model's previous origin.
    prev: dict[tuple[str, str, float], np.ndarray] = {}
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "model",
            "horizon",
            "origin",
            *_ROW_METRICS,
            "stability",
            "fit_seconds",
            "predict_seconds",
            "train_events",
        )
    }
    curves: dict[str, list[Any]] = {k: [] for k in ("model", "horizon", "origin", "coverage", "hit_rate")}
    for res in sorted(results, key=lambda r: (r["model"], r["horizon"], r["origin"])):
        stab: dict[float, float] = {}
        for c, flags in res["flags"].items():
            key = (res["model"], res["horizon"], c)
            if key in prev:
                a = np.zeros(len(units), dtype=bool)
                b = np.zeros(len(units), dtype=bool)
                a[prev[key]] = True
                b[flags] = True
                stab[c] = float(stability(a, b))
            prev[key] = flags
        for row in res["rows"]:
            cols["model"].append(res["model"])
            cols["horizon"].append(res["horizon"])
            cols["origin"].append(res["origin"].astype("datetime64[s]").item())
            for k in _ROW_METRICS:
                cols[k].append(row[k])
            cols["stability"].append(stab.get(row["coverage"], np.nan) if row["scope"] == "city" else np.nan)
            cols["fit_seconds"].append(res["fit_seconds"])
            cols["predict_seconds"].append(res["predict_seconds"])
            cols["train_events"].append(res["train_events"])
        for c, hr in zip(CURVE_COVERAGES, res["curve"], strict=True):
            curves["model"].append(res["model"])
            curves["horizon"].append(res["horizon"])
            curves["origin"].append(res["origin"].astype("datetime64[s]").item())
            curves["coverage"].append(float(c))
            curves["hit_rate"].append(float(hr))
    params = {**options, "units": units.describe(), "data": history.meta, "skipped": skipped}
    params.pop("skip_failing", None)
    params["coverages"] = list(params["coverages"])
    return BacktestResult(pa.table(cols), pa.table(curves), params)


def summarise(
    metrics: pa.Table, *, scope: str = "city", n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> pa.Table:
    """Mean of each measure across origins per model, horizon and coverage, with bootstrap intervals
    (origins resampled with replacement) for hit rate, PAI and PEI.

    ``fit_seconds`` is the median time to fit a model and make its forecast: gbm and the ensemble learn
    when first asked for a forecast (the units and horizon decide what they learn), so fitting alone costs
    them nothing. Forecasts shared between tasks count at what they cost to make
    (:mod:`safestreets.forecast.shared`), so the time does not depend on which task made them first."""
    data = metrics.filter(pc.equal(metrics["scope"], scope)).to_pydict()
    groups: dict[tuple[str, str, float], list[int]] = {}
    for i, key in enumerate(zip(data["model"], data["horizon"], data["coverage"], strict=True)):
        groups.setdefault(key, []).append(i)
    rng = np.random.default_rng(seed)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    out: dict[str, list[Any]] = {
        k: []
        for k in (
            "model",
            "horizon",
            "coverage",
            "origins",
            "hit_rate",
            "hit_rate_lo",
            "hit_rate_hi",
            "pai",
            "pai_lo",
            "pai_hi",
            "pei",
            "pei_lo",
            "pei_hi",
            "harm_captured",
            "deviance",
            "stability",
            "fit_seconds",
            *ceiling.SUMMARY,
        )
    }
    for (model, horizon, cov), idx in sorted(groups.items()):
        out["model"].append(model)
        out["horizon"].append(horizon)
        out["coverage"].append(cov)
        out["origins"].append(len(idx))
        for measure in ("hit_rate", "pai", "pei"):
            v = np.array([data[measure][i] for i in idx], dtype="float64")
            v = v[np.isfinite(v)]
            out[measure].append(float(v.mean()) if len(v) else np.nan)
            if len(v) > 1:
                boots = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
                out[f"{measure}_lo"].append(float(np.quantile(boots, lo_q)))
                out[f"{measure}_hi"].append(float(np.quantile(boots, hi_q)))
            else:
                out[f"{measure}_lo"].append(np.nan)
                out[f"{measure}_hi"].append(np.nan)
        for measure in ("harm_captured", "deviance", "stability"):
            v = np.array([data[measure][i] for i in idx], dtype="float64")
            out[measure].append(float(np.nanmean(v)) if np.isfinite(v).any() else np.nan)
        out["fit_seconds"].append(
            float(np.median([data["fit_seconds"][i] + data["predict_seconds"][i] for i in idx]))
        )
        for measure, value in ceiling.summary_means(data, idx, out["hit_rate"][-1]).items():
            out[measure].append(value)
    return pa.table(out)
