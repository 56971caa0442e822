"""One forecast from the store to a stored, exported risk surface: what ``safestreets forecast`` does.

Native threads: the model choice and the final fit and forecast run with ``threads`` threads per native
library (OpenMP, BLAS), one by default, as each backtest worker does. Left alone, gradient boosting's
OpenMP takes every core for large inputs, and beside other busy processes its threads wait on each other
at every barrier: on a shared two-core machine a gbm forecast of Vancouver thefts took 16 s against 5.6 s
with one thread, and each gbm fit of a final ensemble 70-80 s against 4-5 s, while on a quiet machine one
thread costs little (3.5 s against 3 s with every core).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from safestreets import harm as harm_weights
from safestreets.errors import NeedsTimestamps, ParameterError, unknown
from safestreets.evaluate.auto import Choice, choose
from safestreets.forecast import MODELS, make_model, model_class
from safestreets.forecast.data import for_a_horizon, load_history, load_units
from safestreets.forecast.history import History, Horizon, as_time
from safestreets.forecast.intervals import DEFAULT_LEVEL, Intervals, calibrate, intervals
from safestreets.forecast.store import StoredBacktest, Surface, save_surface
from safestreets.forecast.surface import expected_harm, surface_meta
from safestreets.forecast.targets import parse_target
from safestreets.geo.units import Units


@dataclass
class ForecastRun:
    surface: Surface
    run_id: int | None
    model: str
    reason: str
    choice: Choice | None
    history: History
    units: Units
    intervals: Intervals | None = None


#: Calibration periods for a model chosen by hand (each costs one more fit); ``auto`` uses its own
#: backtest's periods, whose forecasts it has already made.
CALIBRATION_ORIGINS = 3


def cutoff(history: History, horizon: Horizon) -> np.datetime64:
    """The default forecast origin: just after the data (the next month, or the next whole day)."""
    end = history.end
    assert end is not None
    if horizon.unit == "D":
        last_day = history.t[-1].astype("datetime64[D]")
        return (last_day + 1).astype("datetime64[s]")
    return end


@contextlib.contextmanager
def native_threads(threads: int, models: Iterable[str]) -> Iterator[None]:
    """At most ``threads`` threads per native library while the block runs. The modules of ``models`` are
    imported first: a limit reaches only the libraries loaded when it is set (gbm loads OpenMP)."""
    from threadpoolctl import threadpool_limits

    for name in models:
        model_class(name)
    with threadpool_limits(threads):
        yield


def run_forecast(
    con: duckdb.DuckDBPyConnection,
    *,
    target: str = "violence",
    horizon: str = "1m",
    model: str = "auto",
    units_kind: str = "grid",
    cell_size: float = 250.0,
    study: str = "auto",
    rank_by: str = "harm",
    harm_scheme: str = "cchi",
    harm_table: str | None = None,
    source: str | None = None,
    force: str | None = None,
    until: Any = None,
    include_police_found: bool = False,
    auto_origins: int = 6,
    n_jobs: int = 1,
    threads: int = 1,
    save: bool = True,
    progress: Callable[[str], None] | None = None,
    interval_level: float | None = DEFAULT_LEVEL,
) -> ForecastRun:
    """Load the target's history and the units, choose the model (``auto``: by a backtest with ``n_jobs``
    worker processes) and forecast the next ``horizon`` from the end of the data (or ``until``). The choice
    and the final fit run in this process with at most ``threads`` threads per native library.

    ``interval_level``: each unit's count and the command units' and city's totals get a predictive
    interval at this level (negative binomial, dispersion fitted on the model's forecasts at the periods
    before; :mod:`safestreets.forecast.intervals`); None for none."""
    if interval_level is not None and not 0.0 < interval_level < 1.0:
        raise ParameterError(f"interval level must be between 0 and 1 (0.8 = 80%), not {interval_level}")
    if rank_by not in ("count", "harm"):
        raise unknown("rank_by", rank_by, ("count", "harm"))
    if threads < 1:
        raise ParameterError(f"threads must be at least 1, not {threads}")
    tgt = parse_target(target, allow_police_found=include_police_found)
    h = Horizon.parse(horizon)
    weights = (
        harm_weights.read_table(harm_table, harm_scheme)
        if harm_table
        else (None if harm_scheme == harm_weights.DEFAULT_SCHEME else harm_weights.weights(harm_scheme))
    )
    try:
        history = load_history(
            con,
            tgt,
            source=source,
            force=force,
            harm=weights,
            harm_scheme=harm_scheme,
            need_timestamps=h.unit == "D",
            until=until,
        )
    except NeedsTimestamps as err:
        raise for_a_horizon(err) from None
    history.check_horizon(h)
    units = load_units(con, units_kind, cell_size=cell_size, study=study, history=history)
    start = as_time(until) if until is not None else cutoff(history, h)
    staleness = history.check_origin(start, h)
    end = h.add(start)
    choice = None
    # auto and composite models (the ensemble) may use any registered model.
    used = list(MODELS) if model == "auto" or model_class(model).composite else [model]
    with native_threads(threads, used):
        if model == "auto":
            # Backtested at the periods just before the forecast (unless the data stop short of it), the
            # ones the ensemble replays there, so the final forecast reuses what the backtest made.
            aligned = start if start <= cutoff(history, h) else None
            choice = choose(history, units, h, origins=auto_origins, n_jobs=n_jobs, progress=progress,
                            until=aligned, rank_by=rank_by)  # fmt: skip
            chosen, reason = choice.model, choice.reason
        else:
            chosen, reason = make_model(model), f"{model} chosen by the user"
        chosen.fit(history, start)
        counts = chosen.predict(units, start, end)
        iv = None
        if interval_level is not None:
            disp = calibrate(chosen, history, units, start, h,
                             origins=auto_origins if model == "auto" else CALIBRATION_ORIGINS)  # fmt: skip
            iv = intervals(counts, units.bcu, disp, interval_level)
    harm_values = expected_harm(history, units, counts)
    meta = surface_meta(
        history,
        units,
        model=chosen.name,
        params=chosen.get_params(deep=False),
        start=start,
        end=end,
        rank_by=rank_by,
    )
    meta["horizon"] = str(h)
    meta["staleness"] = staleness
    meta["harm_weights"] = {
        t: w for t, w in (weights or harm_weights.weights(harm_scheme)).items() if t in tgt.types
    }
    if harm_table:
        meta["harm_table"] = str(harm_table)
    backtest = None
    if choice is not None:
        meta["auto"] = {"reason": reason, "scores": choice.scores}
        # The summary table is stored beside the run (forecast_backtests), where the briefing reads it.
        rows = choice.summary.to_pylist()
        backtest = StoredBacktest(
            run_id=0, computed_by="forecast", model=chosen.name, reason=reason, scores=choice.scores, summary=rows,
            params={"origins": auto_origins, "horizon": str(h), "candidates": sorted(choice.scores),
                    "coverages": sorted({r["coverage"] for r in rows})},
        )  # fmt: skip
    if iv is not None:
        meta["intervals"] = iv.describe()
    surface = Surface(units, counts, harm_values, rank_by, meta,
                      count_lower=None if iv is None else iv.lower, count_upper=None if iv is None else iv.upper)  # fmt: skip
    run_id = save_surface(con, surface, reason=reason, backtest=backtest) if save else None
    return ForecastRun(surface, run_id, chosen.name, reason, choice, history, units, iv)
